use crate::cli::EnsembleFerArgs;
use anyhow::Result;
use workbench::fer::ensemble;

pub fn run(args: EnsembleFerArgs) -> Result<()> {
    let outcome = ensemble::assemble(&ensemble::EnsembleOptions {
        members: args.members,
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
    for eval in &outcome.evals {
        println!(
            "{} — ensemble of {}:\n{}",
            eval.split,
            outcome.card.training.members.len(),
            eval.metrics.table()
        );
    }
    super::print_replaced(&outcome.replaced);
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
