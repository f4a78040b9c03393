//! `workbench ensemble-fer`: trained models, through their cards, joined into one model that
//! averages their class probabilities (a soft vote). The result is an ordinary exported model:
//! one Burnpack holding every member's weights and a card whose metrics are the ensemble's own,
//! PublicTest (where the choice to ship it is made) and PrivateTest, measured here.

use crate::artifacts;
use crate::fer::card::{
    self, CardMetrics, DataSpec, EvalSummary, InitSource, ModelCard, TrainingProvenance,
};
use crate::fer::data::{Fer2013, Split};
use crate::fer::evaluate::Tta;
use crate::fer::model::{Arch, FerNet, ModelConfig};
use crate::fer::publish::{self, Derivation, Made, PublishOptions, TestSplits};
use crate::fer::run_report::EvalRecord;
use crate::fer::train::save_record;
use anyhow::{bail, Result};
use burn::prelude::Device;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct EnsembleOptions {
    /// Member model cards, in order.
    pub members: Vec<PathBuf>,
    pub name: String,
    /// Test-time augmentation around the whole vote.
    pub test_time: Tta,
    pub publish: PublishOptions,
}

fn check_options(o: &EnsembleOptions) -> Result<()> {
    if o.members.len() < 2 {
        bail!(
            "an ensemble needs at least two --member cards, got {}",
            o.members.len()
        );
    }
    o.publish.check(&o.name)
}

/// The TOML that describes the ensemble, saved in the card and the run directory.
fn description(o: &EnsembleOptions) -> String {
    let members: Vec<String> = o
        .members
        .iter()
        .map(|m| format!("    {:?},", m.display().to_string()))
        .collect();
    format!(
        "# assembled by `workbench ensemble-fer`: the members' class probabilities, averaged\nname = {:?}\nmembers = [\n{}\n]\n",
        o.name,
        members.join("\n")
    )
}

pub fn assemble(o: &EnsembleOptions) -> Result<Made> {
    check_options(o)?;
    let started = std::time::Instant::now();
    let device = o.publish.backend.device()?;
    let members = load_members(o, &device)?;
    let sources: Vec<_> = o
        .members
        .iter()
        .map(PathBuf::as_path)
        .zip(&members.cards)
        .collect();
    let fer = publish::read_measuring_data(&o.publish, &sources)?;
    // PublicTest decides whether the ensemble is worth shipping; PrivateTest is measured once.
    let evals = publish::measure_test_splits(
        &members.model,
        &members.config,
        &TestSplits::of(&fer),
        o.publish.batch_size,
        &device,
        &o.publish.command,
    );
    let described = description(o);
    let card = ensemble_card(o, &members, &fer, &evals, started);
    publish::publish(
        |to| save_record(&members.model, to),
        card,
        &o.publish,
        Derivation {
            description: &described,
            evals,
            data_sha256: &fer.source.sha256,
        },
    )
}

/// The members, read (card, weights) before any data or work, joined into one network.
struct Members {
    config: ModelConfig,
    model: FerNet,
    sources: Vec<InitSource>,
    cards: Vec<ModelCard>,
}

fn load_members(o: &EnsembleOptions, device: &Device) -> Result<Members> {
    let (mut configs, mut nets, mut sources, mut cards) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for path in &o.members {
        let (member, net) = card::load_model(path, device)?;
        if member.model.arch == Arch::Ensemble {
            bail!(
                "{}: is itself an ensemble; list its members instead",
                path.display()
            );
        }
        sources.push(InitSource {
            card: path.display().to_string(),
            weights_sha256: member.loaded_weights_sha256(path)?,
            public_test_accuracy: member.metrics.public_test.accuracy,
            private_test_accuracy: member.metrics.private_test.accuracy,
        });
        configs.push(member.model.clone());
        nets.push(net);
        cards.push(member);
    }
    let mut config = ModelConfig::ensemble(configs);
    config.test_time = o.test_time;
    if let Err(message) = config.check() {
        bail!("these members cannot form an ensemble: {message}");
    }
    Ok(Members {
        config,
        model: FerNet::Ensemble(nets),
        sources,
        cards,
    })
}

/// The ensemble's card: its members, its own metrics, and what it cost (the members' training).
fn ensemble_card(
    o: &EnsembleOptions,
    members: &Members,
    fer: &Fer2013,
    evals: &[EvalRecord],
    started: std::time::Instant,
) -> ModelCard {
    let cards = &members.cards;
    ModelCard::new(
        &o.name,
        members.config.clone(),
        members.model.parameter_count(),
        CardMetrics {
            selected_on: "PublicTest".into(),
            // Nothing is trained here; each member's epoch was chosen on its own run.
            best_epoch: 0,
            public_test: EvalSummary::new(Split::PublicTest, evals[0].tta, &evals[0].metrics),
            private_test: EvalSummary::new(Split::PrivateTest, evals[1].tta, &evals[1].metrics),
        },
        DataSpec::of(fer, None),
        TrainingProvenance {
            // Set by `publish`, which reserves the run directory.
            run_id: String::new(),
            config: description(o),
            seed: 0,
            epochs_planned: 0,
            epochs_run: cards.iter().map(|c| c.training.epochs_run).sum(),
            // The members' training time: what the ensemble cost to make.
            wall_time_s: cards.iter().map(|c| c.training.wall_time_s).sum::<f64>()
                + started.elapsed().as_secs_f64(),
            backend: o.publish.backend.describe(),
            git_commit: artifacts::git_commit(),
            workbench_version: env!("CARGO_PKG_VERSION").into(),
            created: artifacts::utc_rfc3339(),
            command: o.publish.command.clone(),
            init_from: None,
            members: members.sources.clone(),
            averaged_from: None,
            same_weights_as: None,
        },
    )
}
