use crate::cli::AverageFerArgs;
use anyhow::Result;
use workbench::fer::average;

pub fn run(args: AverageFerArgs) -> Result<()> {
    let outcome = average::average(&average::AverageOptions {
        run: average::resolve_run(&args.run, &args.common.reports_dir),
        last: args.last,
        name: args.name,
        test_time: args.tta,
        data: args.data,
        models_dir: args.common.models_dir,
        reports_dir: args.common.reports_dir,
        batch_size: args.batch_size,
        backend: args.common.backend,
        skip_bad_rows: args.common.skip_bad_rows,
        force: args.force,
        command: super::command_line(),
    })?;
    let source = outcome
        .card
        .training
        .averaged_from
        .as_ref()
        .expect("an average names its epochs");
    if outcome.run_unfinished {
        eprintln!(
            "note: run {} is still training; this averages its epochs so far",
            source.run_id
        );
    }
    for eval in &outcome.evals {
        println!(
            "{} — mean of epochs {:?} of {}:\n{}",
            eval.split,
            source.epochs,
            source.run_id,
            eval.metrics.table()
        );
    }
    super::print_replaced(&outcome.replaced);
    let m = &outcome.card.metrics;
    println!(
        "PublicTest {:.2} %, PrivateTest {:.2} %\nmodel card: {}\nreport: {}",
        100.0 * m.public_test.accuracy,
        100.0 * m.private_test.accuracy,
        outcome.card_path.display(),
        outcome.report.display()
    );
    Ok(())
}
