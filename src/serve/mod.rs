//! `workbench serve`: the local web app the original project promised. Live webcam → faces →
//! mood → songs over a WebSocket, clip upload → an ordinary `infer` report, every run's report
//! in one list, and the optional Spotify link. Everything the page needs is compiled in.
//!
//! Why axum on tokio: it is the Rust ecosystem's standard HTTP + WebSocket server (tokio, hyper
//! and tower were already in the build), it binds exactly the address it is given, and its
//! extractors make the limits (body size, Origin, paths) easy to state and test.
//!
//! Safety: the server binds loopback unless `--host` says otherwise; files are served only from
//! under `reports/` (no `..`, no absolute paths, no symlinks out); uploads over the limit get 413
//! and nothing is written; a WebSocket from another Origin is refused; a malformed frame is
//! answered with an error message and the connection keeps serving.

pub mod assets;
pub mod files;
pub mod live;
pub mod spotify;
pub mod upload;

use crate::backend::Backend;
use crate::infer::pipeline::Analyser;
use crate::tracks::model::SongClusters;
use crate::vision::faces::DetectorParams;
use anyhow::{Context, Result};
use axum::routing::{get, post};
use axum::Router;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// Settings resolved from the command line.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub host: IpAddr,
    pub port: u16,
    pub model: PathBuf,
    pub song_model: PathBuf,
    pub sources: crate::infer::Sources,
    pub detector: DetectorParams,
    pub backend: Backend,
    pub reports_dir: PathBuf,
    /// Largest clip upload, in bytes.
    pub upload_limit: usize,
    /// Frames the live verdict is decided over (the latest frames with a face).
    pub window: usize,
    pub top: usize,
    /// The liked-songs library (`workbench spotify import-liked` writes it; so does the page's
    /// import button) used when the page asks for "my liked songs".
    pub library: PathBuf,
}

impl ServeOptions {
    pub fn check(&self) -> Result<()> {
        anyhow::ensure!(
            self.upload_limit >= 1024,
            "--upload-limit-mb must be positive"
        );
        anyhow::ensure!(self.window >= 1, "--window must be at least 1");
        anyhow::ensure!(self.top >= 1, "--top must be at least 1");
        self.detector.check()?;
        Ok(())
    }

    /// Whether the address is reachable from other machines (the command warns).
    pub fn is_exposed(&self) -> bool {
        !self.host.is_loopback()
    }
}

/// What every request handler shares.
pub struct AppState {
    pub options: ServeOptions,
    pub analyser: Analyser,
    pub songs: SongClusters,
    /// Spotify logins started from the page, waiting for their callback.
    pub spotify: spotify::Pending,
}

/// Loads the models (a bad one fails here, before the port opens).
pub fn load(options: ServeOptions) -> Result<Arc<AppState>> {
    options.check()?;
    let analyser = Analyser::load(&options.model, options.backend, &options.detector)?;
    let songs = SongClusters::read(&options.song_model)?;
    std::fs::create_dir_all(&options.reports_dir)
        .with_context(|| format!("creating {}", options.reports_dir.display()))?;
    Ok(Arc::new(AppState {
        options,
        analyser,
        songs,
        spotify: Default::default(),
    }))
}

/// Every route of the app.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.options.upload_limit;
    Router::new()
        .route("/", get(assets::index))
        .route("/app.js", get(assets::script))
        .route("/style.css", get(assets::style))
        .route("/ws/live", get(live::upgrade))
        .route(
            "/api/clip",
            post(upload::clip).layer(axum::extract::DefaultBodyLimit::max(limit)),
        )
        .route("/api/runs", get(files::runs))
        .route("/api/status", get(assets::status))
        .route("/reports/{*path}", get(files::report_file))
        .route("/spotify/login", get(spotify::start))
        .route("/api/spotify/import", post(spotify::import))
        .route(
            crate::spotify::settings::CALLBACK_PATH,
            get(spotify::callback),
        )
        .with_state(state)
}

/// Binds `host:port` and serves until the process ends; `on_ready` gets the bound address
/// (port 0 picks a free one).
pub async fn serve(state: Arc<AppState>, on_ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let addr = SocketAddr::new(state.options.host, state.options.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    on_ready(listener.local_addr()?);
    axum::serve(listener, router(state))
        .await
        .context("the server stopped")?;
    Ok(())
}
