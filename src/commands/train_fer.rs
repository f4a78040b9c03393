use crate::cli::TrainFerArgs;
use anyhow::Result;
use workbench::fer::train;

pub fn run(args: TrainFerArgs) -> Result<()> {
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
        force: args.force,
        command: super::command_line(),
    })?;
    super::print_replaced(&outcome.replaced);
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
