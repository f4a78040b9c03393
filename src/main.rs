//! `workbench`: parse the command line, dispatch to `commands/`, and turn errors into one clear
//! message and a non-zero exit code.

mod cli;
mod commands;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    init_logs();
    #[cfg(feature = "vision")]
    limit_image_decoding();
    keep_freed_memory();
    let result = match Cli::parse().command {
        Command::TrainFer(args) => commands::train_fer::run(args),
        Command::EvalFer(args) => commands::eval_fer::run(args),
        Command::EnsembleFer(args) => commands::ensemble_fer::run(args),
        Command::AverageFer(args) => commands::average_fer::run(args),
        Command::TtaFer(args) => commands::tta_fer::run(args),
        Command::BenchFer(args) => commands::bench_fer::run(args),
        #[cfg(feature = "vision")]
        Command::MeasureFraming(args) => commands::measure_framing::run(args),
        Command::Cluster(args) => commands::cluster::run(args),
        Command::MoodLabels(args) => commands::mood_labels::run(args),
        Command::BenchCluster(args) => commands::bench_cluster::run(args),
        #[cfg(feature = "vision")]
        Command::Infer(args) => commands::infer::run(args),
        #[cfg(feature = "vision")]
        Command::Serve(args) => commands::serve::run(args),
        Command::Spotify(command) => commands::spotify::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", workbench::error_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// OpenCV decodes stills of up to 2^30 pixels by default (gigabytes of memory); ours stop at
/// the limit the workbench states for stills, also for formats it cannot pre-check.
#[cfg(feature = "vision")]
fn limit_image_decoding() {
    const VAR: &str = "OPENCV_IO_MAX_IMAGE_PIXELS";
    if std::env::var_os(VAR).is_none() {
        // Still single-threaded here: nothing else reads the environment yet.
        std::env::set_var(VAR, workbench::vision::video::MAX_STILL_PIXELS.to_string());
    }
}

/// Burn allocates a fresh buffer for every tensor op and frees it right after; glibc hands
/// buffers above its mmap threshold back to the kernel on every free, so each op paid page
/// faults and TLB shootdowns across threads (a third of `infer`'s classify time in `perf`).
/// Serving those sizes from the heap, and not trimming it, made mini-Xception's batch-16
/// inference 1.3–1.9× faster in the runs that measured it (`workbench bench-fer --arch none
/// --model models/fer-default.json --train-batches 0`); memory stays at the working set's
/// peak, which the process reaches anyway.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called before any other thread exists.
    unsafe {
        // 32 MiB is glibc's largest mmap threshold on 64-bit targets.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
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
