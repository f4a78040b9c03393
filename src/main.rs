//! `workbench`: parse the command line, resolve settings, run, and turn errors into one clear
//! message and a non-zero exit code.

mod cli;

use anyhow::{bail, Result};
use clap::Parser;
use cli::{
    BenchClusterArgs, BenchFerArgs, Cli, ClusterArgs, Command, EnsembleFerArgs, EvalFerArgs, InferArgs, SongSource,
    SpotifyCommand, TrainFerArgs,
};
use std::process::ExitCode;
use workbench::fer::{bench, ensemble, eval_fer, model::ModelConfig, train};
use workbench::infer;
use workbench::tracks::{bench as tracks_bench, cluster};
use workbench::vision::{faces::DetectorParams, tracker::TrackerParams};

fn main() -> ExitCode {
    init_logs();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::TrainFer(args) => train_fer(args),
        Command::EvalFer(args) => eval_fer(args),
        Command::EnsembleFer(args) => ensemble_fer(args),
        Command::BenchFer(args) => bench_fer(args),
        Command::Cluster(args) => cluster(args),
        Command::BenchCluster(args) => bench_cluster(args),
        Command::Infer(args) => infer(args),
        Command::Spotify(command) => spotify(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error_text(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: our errors already quote their source
/// ("path: No such file or directory"), which anyhow's `{:#}` would repeat.
fn error_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Logs go to stderr, filtered by RUST_LOG (default: warnings). rspotify logs whole requests,
/// `Authorization` header included, through the `log` crate; no `log` logger is installed (the
/// subscriber's `tracing-log` bridge is off), and should one ever be, records from rspotify and
/// ureq are dropped here whatever RUST_LOG says: tokens must never reach a log.
fn init_logs() {
    use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
    use tracing_subscriber::prelude::*;
    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let no_secrets = filter_fn(|meta| {
        let target = meta.target();
        !workbench::spotify::SECRET_BEARING_LOG_TARGETS
            .iter()
            .any(|t| target == *t || target.starts_with(&format!("{t}::")))
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(env.and(no_secrets)),
        )
        .init();
}

/// The command as typed, recorded in cards and reports so numbers can be reproduced.
fn command_line() -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        *first = "workbench".into();
    }
    args.join(" ")
}

fn train_fer(args: TrainFerArgs) -> Result<()> {
    let outcome = train::train(&train::TrainOptions {
        config: args.config,
        data: args.data,
        epochs: args.epochs,
        resume: args.resume,
        run_id: args.run_id,
        models_dir: args.common.models_dir,
        reports_dir: args.common.reports_dir,
        backend: args.common.backend,
        skip_bad_rows: args.common.skip_bad_rows,
        command: command_line(),
    })?;
    let m = &outcome.card.metrics;
    println!(
        "{}: PublicTest {:.2} % (selected, epoch {}), PrivateTest {:.2} % (macro-F1 {:.4})\nmodel card: {}\nreport: {}",
        outcome.card.name,
        100.0 * m.public_test.accuracy,
        m.best_epoch,
        100.0 * m.private_test.accuracy,
        m.private_test.macro_f1,
        outcome.card_path.display(),
        outcome.run_dir.join("index.html").display()
    );
    Ok(())
}

fn eval_fer(args: EvalFerArgs) -> Result<()> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    eval_fer::eval(&eval_fer::EvalOptions {
        model: args.model,
        data: args.data,
        split: args.split,
        tta: args.tta,
        batch_size: args.batch_size,
        reports_dir: args.common.reports_dir,
        backend: args.common.backend,
        skip_bad_rows: args.common.skip_bad_rows,
        command: command_line(),
    })?;
    Ok(())
}

fn ensemble_fer(args: EnsembleFerArgs) -> Result<()> {
    let outcome = ensemble::assemble(&ensemble::EnsembleOptions {
        members: args.members,
        name: args.name,
        data: args.data,
        models_dir: args.common.models_dir,
        reports_dir: args.common.reports_dir,
        batch_size: args.batch_size,
        backend: args.common.backend,
        skip_bad_rows: args.common.skip_bad_rows,
        command: command_line(),
    })?;
    let m = &outcome.card.metrics;
    println!(
        "ensemble of {}: PublicTest {:.2} %, PrivateTest {:.2} %\nmodel card: {}\nreport: {}",
        outcome.card.training.members.len(),
        100.0 * m.public_test.accuracy,
        100.0 * m.private_test.accuracy,
        outcome.card_path.display(),
        outcome.report.display()
    );
    Ok(())
}

fn bench_fer(args: BenchFerArgs) -> Result<()> {
    let mut models = Vec::new();
    for arch in &args.arch {
        let mut config = match arch.as_str() {
            "mini_xception" => ModelConfig::mini_xception(),
            "vgg" => ModelConfig::vgg(),
            "none" => continue,
            other => bail!("--arch {other}: use mini_xception, vgg or none"),
        };
        config.input_size = args.input_size;
        config.base_channels = args.base_channels;
        config.check().map_err(anyhow::Error::msg)?;
        models.push((format!("{arch} (fresh)"), config));
    }
    if !(args.infer_seconds > 0.0) {
        bail!("--infer-seconds must be positive");
    }
    let results = bench::bench(&bench::BenchOptions {
        models,
        card: args.model,
        train_batches: args.train_batches,
        infer_seconds: args.infer_seconds,
        backend: args.backend,
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print!("{}", bench::table(&results));
    }
    Ok(())
}

/// Parses `MIN..MAX` (inclusive), e.g. `2..12`.
fn parse_k_range(text: &str) -> Result<(usize, usize)> {
    let parsed = text
        .split_once("..")
        .map(|(a, b)| (a.trim().parse::<usize>(), b.trim_start_matches('=').trim().parse::<usize>()));
    match parsed {
        Some((Ok(lo), Ok(hi))) if lo >= 1 && hi >= lo => Ok((lo, hi)),
        _ => bail!("--k-range {text:?}: write MIN..MAX with 1 <= MIN <= MAX, e.g. 2..12"),
    }
}

fn cluster(args: ClusterArgs) -> Result<()> {
    if args.k == 0 {
        bail!("--k 0: ask for at least one cluster");
    }
    if args.seeds == 0 || args.silhouette_sample < 2 || args.playlist_length == 0 {
        bail!("--seeds and --playlist-length must be at least 1, --silhouette-sample at least 2");
    }
    let k_range = if args.no_sweep {
        None
    } else {
        Some(parse_k_range(&args.k_range)?)
    };
    let outcome = cluster::run(&cluster::ClusterOptions {
        data: cluster::resolve_data(args.data.as_deref())?,
        features: args.features.iter().map(|f| f.trim().to_string()).collect(),
        scaling: args.scaling,
        k: args.k,
        k_range,
        seeds: args.seeds,
        seed: args.seed,
        silhouette_sample: args.silhouette_sample,
        playlist_length: args.playlist_length,
        out: args.out,
        reports_dir: args.reports_dir,
        command: command_line(),
    })?;
    if let Some(sweep) = &outcome.model.sweep {
        println!("{}", sweep.verdict.line(outcome.model.k));
    }
    for c in &outcome.model.moods.clusters {
        println!(
            "cluster {} ({} songs): {}",
            c.cluster, outcome.model.sizes[c.cluster], c.mood
        );
    }
    println!(
        "song model: {}
report: {}",
        outcome.model_path.display(),
        outcome.report_dir.join("index.html").display()
    );
    Ok(())
}

fn bench_cluster(args: BenchClusterArgs) -> Result<()> {
    let (k_min, k_max) = parse_k_range(&args.k_range)?;
    let result = tracks_bench::bench(&tracks_bench::BenchOptions {
        data: cluster::resolve_data(args.data.as_deref())?,
        rows: args.rows,
        k_min,
        k_max,
        k: args.k,
        seeds: args.seeds,
        silhouette_sample: args.silhouette_sample,
        seed: args.seed,
        write_matrix: args.write_matrix,
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", result.table());
    }
    Ok(())
}

fn infer(args: InferArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let outcome = infer::run(&infer::InferOptions {
        clip: args.clip,
        model: args.model,
        songs: args.songs,
        every: args.every,
        max_frames: args.max_frames,
        largest_face: args.largest_face,
        key_every: args.key_every,
        detector: DetectorParams {
            cascade: args.cascade,
            min_face: args.min_face,
            detect_width: args.detect_width,
            scale_factor: args.scale_factor,
            ..Default::default()
        },
        tracker: TrackerParams {
            min_frames: args.min_track_frames,
            ..Default::default()
        },
        ema_alpha: args.ema,
        uncertain_margin: args.uncertain_margin,
        top: args.top,
        seed: args.seed,
        library: (args.from == SongSource::Liked).then_some(args.library),
        batch_size: args.batch_size,
        backend: args.backend,
        reports_dir: args.reports_dir,
        write_report: !args.no_report,
        command: command_line(),
    })?;
    let r = &outcome.result;
    tracing::info!(
        "load {:.3} s, decode {:.3} s, detect {:.3} s, classify {:.3} s, report {:.3} s",
        r.timing.load_s,
        r.timing.decode_s,
        r.timing.detect_s,
        r.timing.classify_s,
        r.timing.report_s
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        println!("{}", r.verdict.sentence);
        for s in &r.recommendations {
            println!(
                "{:>3}. {} — {}{}",
                s.rank,
                if s.name.is_empty() { "(no name)" } else { &s.name },
                s.artists,
                s.url.as_ref().map(|u| format!("  {u}")).unwrap_or_default()
            );
        }
    }
    eprintln!(
        "{} frames sampled, {} with a face: {:.1} frames/s (decode + detect + classify); {:.2} s in all; peak memory {:.0} MiB{}",
        r.clip.frames_sampled,
        r.clip.frames_with_face,
        r.timing.frames_per_s,
        started.elapsed().as_secs_f64(),
        workbench::artifacts::peak_rss_mib().unwrap_or(0.0),
        outcome
            .report_dir
            .as_ref()
            .map(|d| format!("\nreport: {}", d.join("index.html").display()))
            .unwrap_or_default()
    );
    Ok(())
}

fn spotify(command: SpotifyCommand) -> Result<()> {
    use workbench::spotify::{library, login, playlists, settings::SpotifySettings, token_store};
    let settings = SpotifySettings::resolve()?;
    match command {
        SpotifyCommand::Login(args) => {
            let outcome = login::login(
                &settings,
                &login::LoginOptions {
                    port: args.port.unwrap_or(settings.redirect_port),
                    timeout: std::time::Duration::from_secs(args.timeout),
                },
                |url| {
                    println!("Open this URL in a browser to log in to Spotify:\n{url}");
                    eprintln!("waiting for Spotify's redirect (Ctrl-C to stop)...");
                },
            )?;
            println!(
                "logged in as {}; token stored in {} (mode 600)",
                outcome.user,
                outcome.token_path.display()
            );
        }
        SpotifyCommand::Logout => {
            let store = token_store::TokenStore::new(&settings.token_path);
            if store.remove()? {
                println!("logged out: removed {}", settings.token_path.display());
            } else {
                println!("not logged in (no token at {})", settings.token_path.display());
            }
        }
        SpotifyCommand::ImportLiked(args) => {
            let summary = library::import_liked(
                &settings,
                &library::ImportOptions {
                    out: args.out,
                    songs: args.songs,
                    catalogs: args.catalogs,
                    features_endpoint: !args.no_features_endpoint,
                },
            )?;
            if let Some(why) = summary.endpoint.explanation() {
                eprintln!("{why}");
            }
            println!("{}", summary.coverage());
            if summary.local_files > 0 {
                println!("{} local files skipped (they have no Spotify id)", summary.local_files);
            }
            let without = summary.songs - summary.with_features;
            if without > 0 {
                println!(
                    "{without} songs have no features: none of the tables tried lists them (add one with --catalog; see datasets/README.md)"
                );
            }
            println!(
                "library: {} ({} songs; feature columns: {})",
                summary.out.display(),
                summary.songs,
                summary.features.join(", ")
            );
        }
        SpotifyCommand::Playlists(args) => {
            let summary = playlists::sync(
                &settings,
                &playlists::PlaylistOptions {
                    library: args.library,
                    songs: args.songs,
                    dry_run: args.dry_run,
                },
            )?;
            println!(
                "{} liked songs placed in moods ({} rows in {}, {} without features)",
                summary.placed,
                summary.library.rows_read,
                summary.library.path,
                summary.library.rows_read - summary.library.rows_used
            );
            for p in &summary.playlists {
                let action = match p.action {
                    playlists::Action::Created => "created",
                    playlists::Action::Updated => "updated",
                    playlists::Action::WouldCreate => "would be created",
                    playlists::Action::WouldUpdate => "would be updated",
                    playlists::Action::Planned => "planned",
                };
                println!(
                    "{:<22} {:>5} songs  {action:<16} {}",
                    p.name,
                    p.songs,
                    p.url.as_deref().unwrap_or("")
                );
            }
            for d in &summary.duplicates {
                println!("note: another playlist of yours is also named {d}; it was left alone");
            }
            if args.dry_run {
                println!(
                    "dry run: nothing changed{}",
                    if summary.logged_in { "" } else { " (not logged in, so existing playlists were not looked up)" }
                );
            }
        }
    }
    Ok(())
}
