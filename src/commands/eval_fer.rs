use crate::cli::EvalFerArgs;
use anyhow::Result;
use workbench::fer::eval_fer;

pub fn run(args: EvalFerArgs) -> Result<()> {
    let outcome = eval_fer::eval(&eval_fer::EvalOptions {
        model: args.model,
        data: args.data,
        split: args.split,
        tta: args.tta,
        through_detector: args.through_detector,
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
    if let Some(t) = &outcome.through_detector {
        println!(
            "{} through the detector (as infer crops faces: YuNet on the face upscaled 4x, eyes levelled, FER2013 framing): {} of {} faces found; accuracy {:.2} % on those, {:.2} % on all (a missed face counts as wrong); plain {:.2} %",
            outcome.results[0].split,
            t.found,
            t.faces,
            100.0 * t.metrics.accuracy,
            100.0 * t.accuracy_of_all(),
            100.0 * outcome.results[0].metrics.accuracy
        );
    }
    println!("report: {}", outcome.report.display());
    Ok(())
}
