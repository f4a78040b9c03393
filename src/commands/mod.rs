//! One file per command: each turns its parsed arguments into the domain's options, calls the
//! domain (which checks the options and returns values), and prints. Nothing here decides
//! anything a library caller would need.

pub mod average_fer;
pub mod bench_cluster;
pub mod bench_fer;
pub mod cluster;
pub mod ensemble_fer;
pub mod eval_fer;
#[cfg(feature = "vision")]
pub mod infer;
#[cfg(feature = "vision")]
pub mod measure_framing;
pub mod mood_labels;
#[cfg(feature = "vision")]
pub mod serve;
pub mod spotify;
pub mod train_fer;
pub mod tta_fer;

/// The command as typed, recorded in cards and reports so numbers can be reproduced.
pub fn command_line() -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        *first = "workbench".into();
    }
    args.join(" ")
}

/// Tells the user, on stderr, what a forced replacement moved aside.
pub fn print_replaced(replaced: &[(std::path::PathBuf, std::path::PathBuf)]) {
    for (old, kept) in replaced {
        eprintln!(
            "replaced {} (the previous file is kept as {})",
            old.display(),
            kept.display()
        );
    }
}

/// The settings `ensemble-fer`, `average-fer` and `tta-fer` share, from their arguments.
pub fn publish_options(args: crate::cli::PublishArgs) -> workbench::fer::publish::PublishOptions {
    workbench::fer::publish::PublishOptions {
        data: args.data,
        models_dir: args.common.models_dir,
        reports_dir: args.common.reports_dir,
        batch_size: args.batch_size,
        backend: args.common.backend,
        skip_bad_rows: args.common.skip_bad_rows,
        force: args.force,
        command: command_line(),
    }
}

/// What a made model (`ensemble-fer`, `average-fer`, `tta-fer`; `what` says which) scored, split by split,
/// and where it went.
pub fn print_made(made: &workbench::fer::publish::Made, what: &str) {
    for eval in &made.evals {
        println!("{} — {what}:\n{}", eval.split, eval.metrics.table());
    }
    print_replaced(&made.published.replaced);
    let m = &made.card.metrics;
    println!(
        "{what}: PublicTest {:.2} %, PrivateTest {:.2} %{}\nmodel card: {}\nreport: {}",
        100.0 * m.public_test.accuracy,
        100.0 * m.private_test.accuracy,
        match made.card.model.test_time {
            workbench::fer::evaluate::Tta::None => String::new(),
            tta => format!(" (test-time augmentation {})", tta.name()),
        },
        made.published.card_path.display(),
        made.published.report.display()
    );
}
