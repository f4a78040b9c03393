//! The end every FER model comes to: measured on PublicTest (where shipping it is decided) and
//! PrivateTest (reported, never chosen on), then published as a sealed card and weights under
//! `models/` with its report under `reports/fer/`. `train-fer` measures this way; the models made
//! from trained ones without training (`ensemble-fer`, `average-fer`, `tta-fer`) also publish
//! this way.

use crate::artifacts;
use crate::backend::Backend;
use crate::fer::card::{self, ModelCard};
use crate::fer::config::is_model_name;
use crate::fer::data::{DataSource, FaceSet, Fer2013, Split};
use crate::fer::eval_fer::read_with_spinner;
use crate::fer::evaluate;
use crate::fer::model::{FerNet, ModelConfig};
use crate::fer::run_report::{self, EvalRecord};
use crate::fer::train::resolve_data_path;
use anyhow::{bail, Result};
use burn::prelude::Device;
use std::path::{Path, PathBuf};

/// Where and how a model made from trained ones (`ensemble-fer`, `average-fer`, `tta-fer`) is
/// measured and published: the settings those commands share.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// FER2013 to measure on (default: as each command finds it).
    pub data: Option<PathBuf>,
    pub models_dir: PathBuf,
    pub reports_dir: PathBuf,
    /// Faces per forward pass when measuring.
    pub batch_size: usize,
    pub backend: Backend,
    pub skip_bad_rows: bool,
    /// Replace an existing model of that name (kept under `models/replaced/`).
    pub force: bool,
    /// The command line, recorded in the card.
    pub command: String,
}

impl PublishOptions {
    /// Checked before any work: the name becomes a file name, a batch holds a face, and an
    /// existing model of that name is replaced only with `force`.
    pub fn check(&self, name: &str) -> Result<()> {
        if !is_model_name(name) {
            bail!("--name {name:?}: use letters, digits, '-' and '_' (it becomes a file name)");
        }
        if self.batch_size == 0 {
            bail!("--batch-size must be at least 1");
        }
        artifacts::check_replaceable(&card::export_paths(&self.models_dir, name), self.force)?;
        Ok(())
    }
}

/// A published model: its card, where it went, and its PublicTest then PrivateTest records.
pub struct Made {
    pub card: ModelCard,
    pub published: Published,
    pub evals: Vec<EvalRecord>,
}

/// The faces a model is measured on, and where they came from.
pub struct TestSplits<'a> {
    pub public_test: &'a FaceSet,
    pub private_test: &'a FaceSet,
    pub source: &'a DataSource,
}

/// The FER2013 file a model made from trained ones is measured on: `--data`, or else the file
/// the first source model was trained on when it is still there. Both test splits must hold
/// faces; a source model trained on another file gets a note.
pub fn read_measuring_data(
    options: &PublishOptions,
    sources: &[(&Path, &ModelCard)],
) -> Result<Fer2013> {
    let trained_on = sources
        .first()
        .map(|(_, card)| card.data.source.path.as_path())
        .filter(|p| p.exists());
    let data_path = resolve_data_path(options.data.as_deref(), trained_on)?;
    let fer = read_with_spinner(&data_path, options.skip_bad_rows)?;
    for split in [Split::PublicTest, Split::PrivateTest] {
        if fer.split(split).is_empty() {
            bail!("{}: the {split} split is empty", data_path.display());
        }
    }
    for (path, source) in sources {
        if source.data.source.sha256 != fer.source.sha256 {
            eprintln!(
                "note: {} was trained on a file with sha256 {}, not {} (sha256 {})",
                path.display(),
                &source.data.source.sha256[..12.min(source.data.source.sha256.len())],
                data_path.display(),
                &fer.source.sha256[..12]
            );
        }
    }
    Ok(fer)
}

impl<'a> TestSplits<'a> {
    pub fn of(fer: &'a Fer2013) -> Self {
        TestSplits {
            public_test: &fer.public_test,
            private_test: &fer.private_test,
            source: &fer.source,
        }
    }
}

/// PublicTest then PrivateTest metrics of `model`, read as `config` says (input and test-time
/// augmentation), as records carrying `command`, the command line that reproduces them.
pub fn measure_test_splits(
    model: &FerNet,
    config: &ModelConfig,
    splits: &TestSplits<'_>,
    batch_size: usize,
    device: &Device,
    command: &str,
) -> Vec<EvalRecord> {
    [
        (Split::PublicTest, splits.public_test),
        (Split::PrivateTest, splits.private_test),
    ]
    .into_iter()
    .map(|(split, faces)| {
        let (prep, tta) = (config.preprocessing(), config.test_time);
        let metrics =
            evaluate::measure(model, faces, &prep, tta, batch_size, device, split.usage());
        EvalRecord::new(split, tta, metrics, splits.source, command)
    })
    .collect()
}

/// Where a published model went.
pub struct Published {
    pub card_path: PathBuf,
    /// (old path, where it was kept) for each file a `force` export replaced.
    pub replaced: Vec<(PathBuf, PathBuf)>,
    pub report: PathBuf,
}

/// What a model made without training is published with: the description of how it was made
/// (`config.toml` of its run directory) and its measurements.
pub struct Derivation<'a> {
    pub description: &'a str,
    pub evals: Vec<EvalRecord>,
    pub data_sha256: &'a str,
}

/// Reserves the model's run directory `reports/fer/<name>-<stamp>` (its id goes into the card),
/// exports the weights `write_weights` writes with `card` (sealed here; weights first, then the
/// card that names them; refused over an existing model unless `force`), then builds the run
/// directory aside and renames it in place. On failure the empty reservation is removed and
/// nothing half-written stays.
pub fn publish(
    write_weights: impl FnOnce(&Path) -> Result<()>,
    mut card: ModelCard,
    options: &PublishOptions,
    derivation: Derivation<'_>,
) -> Result<Made> {
    let Derivation {
        description,
        evals,
        data_sha256,
    } = derivation;
    let (run_id, run_dir) =
        artifacts::reserve_run_dir(&options.reports_dir.join("fer"), &card.name)?;
    card.training.run_id = run_id;
    let exported = card::export(&options.models_dir, &mut card, options.force, write_weights)
        .inspect_err(|_| {
            let _ = std::fs::remove_dir(&run_dir);
        })?;
    let card_path = exported.card_path.clone();
    artifacts::write_dir_atomic(&run_dir, |tmp: &Path| -> Result<()> {
        artifacts::write_atomic(&tmp.join("config.toml"), description.as_bytes())?;
        for eval in &evals {
            let eval = EvalRecord {
                model_card: card_path.display().to_string(),
                ..eval.clone()
            };
            run_report::write_eval(tmp, &eval, data_sha256)?;
        }
        Ok(())
    })?;
    run_report::write_index(&run_dir, data_sha256)?;
    let published = Published {
        card_path,
        replaced: exported.replaced,
        report: run_dir.join("index.html"),
    };
    Ok(Made {
        card,
        published,
        evals,
    })
}
