//! `workbench`: parse the command line, resolve settings, run, and turn errors into one clear
//! message and a non-zero exit code.

mod cli;

use anyhow::{bail, Result};
use clap::Parser;
use cli::{BenchFerArgs, Cli, Command, EvalFerArgs, TrainFerArgs};
use std::process::ExitCode;
use workbench::fer::{bench, eval_fer, model::ModelConfig, train};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::TrainFer(args) => train_fer(args),
        Command::EvalFer(args) => eval_fer(args),
        Command::BenchFer(args) => bench_fer(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
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
