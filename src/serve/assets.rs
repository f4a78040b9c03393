//! The page, its script and style (compiled into the binary: the app works offline), and the
//! status line it shows.

use super::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::Json;
use std::sync::Arc;

const INDEX: &str = include_str!("../../assets/web/index.html");
const SCRIPT: &str = include_str!("../../assets/web/app.js");
const STYLE: &str = include_str!("../../assets/web/style.css");

pub async fn index() -> impl IntoResponse {
    Html(INDEX)
}

pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

#[derive(serde::Serialize)]
pub struct Status {
    pub model: String,
    pub song_model: String,
    pub detector: String,
    /// What the Spotify tab says.
    pub spotify: String,
    /// A client id is set: the tab offers "Log in with Spotify".
    pub spotify_login: bool,
}

pub async fn status(State(state): State<Arc<AppState>>) -> Json<Status> {
    let o = &state.options;
    Json(Status {
        model: o.model.display().to_string(),
        song_model: o.song_model.display().to_string(),
        detector: o.detector.kind.name().to_string(),
        spotify: spotify_line(),
        spotify_login: crate::spotify::settings::SpotifySettings::resolve()
            .is_ok_and(|s| s.client_id.is_some()),
    })
}

/// Spotify is optional; the line says what is set up and what to do next.
fn spotify_line() -> String {
    let settings = match crate::spotify::settings::SpotifySettings::resolve() {
        Ok(s) => s,
        Err(e) => return format!("Spotify settings cannot be read: {e}"),
    };
    if settings.client_id.is_none() {
        return format!(
            "Spotify is not set up, and nothing else needs it. To use your liked songs: create an app at https://developer.spotify.com/dashboard with the redirect URI {}, then export RSPOTIFY_CLIENT_ID=<its client id> (or put client_id = \"...\" in {}) and restart `workbench serve`.",
            settings.redirect_uri(settings.redirect_port),
            settings.config_path.display()
        );
    }
    if settings.token_path.is_file() {
        format!(
            "Logged in to Spotify (token in {}). `workbench spotify import-liked` brings your liked songs; `workbench infer --from liked` and `workbench spotify playlists` use them.",
            settings.token_path.display()
        )
    } else {
        "A Spotify client id is set: log in below (register this page's /callback, e.g. http://127.0.0.1:8080/callback, as a redirect URI of your app), then `workbench spotify import-liked` brings your liked songs.".into()
    }
}
