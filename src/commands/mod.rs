//! One file per command: each turns its parsed arguments into the domain's options, calls the
//! domain (which checks the options and returns values), and prints. Nothing here decides
//! anything a library caller would need.

pub mod average_fer;
pub mod bench_cluster;
pub mod bench_fer;
pub mod cluster;
pub mod ensemble_fer;
pub mod eval_fer;
pub mod infer;
pub mod measure_framing;
pub mod mood_labels;
pub mod serve;
pub mod spotify;
pub mod train_fer;

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
