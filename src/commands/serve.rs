use crate::cli::ServeArgs;
use anyhow::{Context, Result};
use workbench::defaults;
use workbench::infer::Sources;
use workbench::serve::{self, ServeOptions};
use workbench::vision::faces::DetectorParams;

pub fn run(args: ServeArgs) -> Result<()> {
    let model = defaults::fer_model(args.model.as_deref())?;
    let song_model = defaults::song_model(args.songs.as_deref())?;
    let detector = defaults::detector_model(args.detector, args.detector_model.as_deref())?;
    let options = ServeOptions {
        host: args.host,
        port: args.port,
        model: model.path,
        song_model: song_model.path,
        sources: Sources {
            model: model.source,
            song_model: song_model.source,
            detector: detector.source,
        },
        detector: DetectorParams {
            kind: args.detector,
            model: detector.path,
            min_face: args.min_face,
            ..Default::default()
        },
        backend: args.backend,
        reports_dir: args.reports_dir,
        upload_limit: args.upload_limit_mb.saturating_mul(1 << 20),
        window: args.window,
        top: args.top,
        library: args.library,
    };
    if options.is_exposed() {
        eprintln!(
            "warning: listening on {} makes the camera analysis reachable from other machines; the default is 127.0.0.1",
            options.host
        );
    }
    let state = serve::load(options)?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the server's runtime")?
        .block_on(serve::serve(state, |addr| {
            println!("workbench serve: open http://{addr}/ (Ctrl-C stops it)");
        }))
}
