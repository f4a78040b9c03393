//! `workbench tta-fer`: a trained model's weights, unchanged, published as a new model that
//! reads every face with another test-time recipe (the face and its mirror image, or ten crops).
//! A recipe changes what the model answers, so the result is measured anew on PublicTest (where
//! the recipe is chosen) and PrivateTest, and gets its own card; `infer` then reads faces the
//! way the card was measured.

use crate::artifacts;
use crate::fer::card::{self, CardMetrics, DataSpec, EvalSummary, InitSource, ModelCard};
use crate::fer::data::{Fer2013, Split};
use crate::fer::evaluate::Tta;
use crate::fer::model::ModelConfig;
use crate::fer::publish::{self, Derivation, Made, PublishOptions, TestSplits};
use crate::fer::run_report::EvalRecord;
use crate::fer::train;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct RecipeOptions {
    /// The trained model's card.
    pub model: PathBuf,
    /// The new model's name.
    pub name: String,
    /// The recipe the new model reads faces with.
    pub test_time: Tta,
    pub publish: PublishOptions,
}

pub fn republish(o: &RecipeOptions) -> Result<Made> {
    o.publish.check(&o.name)?;
    let started = Instant::now();
    let device = o.publish.backend.device()?;
    let (source, model) = card::load_model(&o.model, &device)?;
    if source.model.test_time == o.test_time {
        bail!(
            "{}: already reads faces with test-time augmentation {}; choose another --tta",
            o.model.display(),
            o.test_time.name()
        );
    }
    let fer = publish::read_measuring_data(&o.publish, &[(o.model.as_path(), &source)])?;
    let mut config = source.model.clone();
    config.test_time = o.test_time;
    let evals = publish::measure_test_splits(
        &model,
        &config,
        &TestSplits::of(&fer),
        o.publish.batch_size,
        &device,
        &o.publish.command,
    );
    let described = description(o);
    // The very bytes the source's card seals (a re-save would change their parameter ids).
    let weights = source.weights_path(&o.model);
    let card = recipe_card(o, source, config, &fer, &evals, started)?;
    publish::publish(
        |to| {
            artifacts::write_atomic_with(to, |tmp| std::fs::copy(&weights, tmp).map(drop))
                .with_context(|| format!("copying {} to {}", weights.display(), to.display()))
        },
        card,
        &o.publish,
        Derivation {
            description: &described,
            evals,
            data_sha256: &fer.source.sha256,
        },
    )
}

/// The TOML that describes the new model, saved in its run directory.
fn description(o: &RecipeOptions) -> String {
    format!(
        "# made by `workbench tta-fer`: the weights of another model, read with a test-time recipe\nname = {:?}\nsame_weights_as = {:?}\ntest_time = {:?}\n",
        o.name,
        o.model.display().to_string(),
        o.test_time.name()
    )
}

/// The source's card with the new recipe, the new measurements and this command: its training
/// record stays (the weights are that training's), with the time spent here added.
fn recipe_card(
    o: &RecipeOptions,
    source: ModelCard,
    config: ModelConfig,
    fer: &Fer2013,
    evals: &[EvalRecord],
    started: Instant,
) -> Result<ModelCard> {
    let same_weights_as = InitSource {
        card: o.model.display().to_string(),
        weights_sha256: source.loaded_weights_sha256(&o.model)?,
        public_test_accuracy: source.metrics.public_test.accuracy,
        private_test_accuracy: source.metrics.private_test.accuracy,
    };
    let mut training = source.training.clone();
    training.wall_time_s += started.elapsed().as_secs_f64();
    training.git_commit =
        train::provenance_commit(&source.training.git_commit, &artifacts::git_commit());
    training.workbench_version = env!("CARGO_PKG_VERSION").into();
    training.created = artifacts::utc_rfc3339();
    training.command = o.publish.command.clone();
    training.same_weights_as = Some(same_weights_as);
    Ok(ModelCard::new(
        &o.name,
        config,
        source.parameters,
        CardMetrics {
            // The weights' epoch was chosen by their own run; the recipe on PublicTest, here.
            public_test: EvalSummary::new(Split::PublicTest, o.test_time, &evals[0].metrics),
            private_test: EvalSummary::new(Split::PrivateTest, o.test_time, &evals[1].metrics),
            ..source.metrics
        },
        DataSpec::of(fer, None),
        training,
    ))
}
