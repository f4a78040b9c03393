use crate::cli::TtaFerArgs;
use anyhow::Result;
use workbench::fer::recipe;

pub fn run(args: TtaFerArgs) -> Result<()> {
    let made = recipe::republish(&recipe::RecipeOptions {
        model: args.model,
        name: args.name,
        test_time: args.tta,
        publish: super::publish_options(args.publish),
    })?;
    let source = made
        .card
        .training
        .same_weights_as
        .as_ref()
        .expect("a recipe names its weights' model");
    let what = format!(
        "{} read with {}",
        source.card,
        made.card.model.test_time.name()
    );
    super::print_made(&made, &what);
    Ok(())
}
