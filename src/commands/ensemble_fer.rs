use crate::cli::EnsembleFerArgs;
use anyhow::Result;
use workbench::fer::ensemble;

pub fn run(args: EnsembleFerArgs) -> Result<()> {
    let made = ensemble::assemble(&ensemble::EnsembleOptions {
        members: args.members,
        name: args.name,
        test_time: args.tta,
        publish: super::publish_options(args.publish),
    })?;
    let members = made.card.training.members.len();
    super::print_made(&made, &format!("ensemble of {members}"));
    Ok(())
}
