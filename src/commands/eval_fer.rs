use crate::cli::EvalFerArgs;
use anyhow::Result;
use workbench::fer::eval_fer;

pub fn run(args: EvalFerArgs) -> Result<()> {
    let outcome = eval_fer::eval(&eval_fer::EvalOptions {
        model: args.model,
        data: args.data,
        split: args.split,
        tta: args.tta,
        batch_size: args.batch_size,
        reports_dir: args.common.reports_dir,
        backend: args.common.backend,
        skip_bad_rows: args.common.skip_bad_rows,
        command: super::command_line(),
    })?;
    if let Some(note) = &outcome.data_note {
        eprintln!("note: {note}");
    }
    for r in &outcome.results {
        println!(
            "{} of {} — test-time augmentation: {}\n{}",
            r.split,
            outcome.data_path.display(),
            r.tta.name(),
            r.metrics.table()
        );
    }
    println!("report: {}", outcome.report.display());
    Ok(())
}
