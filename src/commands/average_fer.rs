use crate::cli::AverageFerArgs;
use anyhow::Result;
use workbench::fer::average;

pub fn run(args: AverageFerArgs) -> Result<()> {
    let reports_dir = &args.publish.common.reports_dir;
    let outcome = average::average(&average::AverageOptions {
        run: average::resolve_run(&args.run, reports_dir),
        last: args.last,
        name: args.name,
        test_time: args.tta,
        publish: super::publish_options(args.publish),
    })?;
    let made = &outcome.made;
    let source = made
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
    let what = format!("mean of epochs {:?} of {}", source.epochs, source.run_id);
    super::print_made(made, &what);
    Ok(())
}
