//! Model cards: the JSON beside every exported `.bpk`. A card says what the weights are
//! (architecture, labels in order, input and preprocessing), how good they are (PublicTest and
//! PrivateTest metrics) and where they came from (data hash, seed, commit, backend, time).
//! Loading a model always goes through its card.

use crate::artifacts;
use crate::emotion::Emotion;
use crate::fer::data::DataSource;
use crate::fer::data::Split;
use crate::fer::evaluate::{Metrics, Tta};
use crate::fer::model::{FerNet, ModelConfig};
use crate::fer::preprocess::Preprocessing;
use burn::prelude::*;
use burn::store::ModuleRecord;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CARD_SCHEMA: &str = "workbench/fer-model-card/v1";

/// The shipped FER model's card, the default of `infer`.
pub const DEFAULT_CARD: &str = "models/fer-default.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub schema: String,
    pub name: String,
    /// The Burnpack weights, relative to the card's directory.
    pub weights: String,
    /// sha256 of the weights file: damaged or swapped weights are refused on load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_sha256: Option<String>,
    /// sha256 of the `model` settings (as JSON) and `weights_sha256` together: it binds the
    /// settings to the weights, so an edited card (another input size or width) is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_sha256: Option<String>,
    /// Output order of the logits.
    pub labels: Vec<String>,
    pub model: ModelConfig,
    pub parameters: usize,
    pub input: InputSpec,
    pub preprocessing: PreprocessingSpec,
    pub metrics: CardMetrics,
    pub data: DataSpec,
    pub training: TrainingProvenance,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    pub shape: [usize; 4],
    pub layout: String,
    pub colour: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessingSpec {
    #[serde(flatten)]
    pub settings: Preprocessing,
    pub formula: String,
    pub resize: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    pub split: Split,
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class_recall: Vec<(Emotion, f64)>,
    pub tta: Tta,
}

impl EvalSummary {
    pub fn new(split: Split, tta: Tta, m: &Metrics) -> Self {
        Self {
            split,
            n: m.n,
            accuracy: m.accuracy,
            macro_f1: m.macro_f1,
            per_class_recall: m.per_class.iter().map(|c| (c.emotion, c.recall)).collect(),
            tta,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardMetrics {
    /// The split the epoch was chosen on.
    pub selected_on: String,
    pub best_epoch: usize,
    pub public_test: EvalSummary,
    /// Measured once, on the selected model.
    pub private_test: EvalSummary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    #[serde(flatten)]
    pub source: DataSource,
    /// Faces per split actually used (a subset for smoke runs).
    pub training: usize,
    pub public_test: usize,
    pub private_test: usize,
    pub subset_per_class: Option<usize>,
    pub skipped_rows: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingProvenance {
    pub run_id: String,
    pub config: String,
    pub seed: u64,
    pub epochs_planned: usize,
    pub epochs_run: usize,
    pub wall_time_s: f64,
    pub backend: String,
    pub git_commit: String,
    pub workbench_version: String,
    pub created: String,
    /// The command that reproduces this model.
    pub command: String,
    /// The model whose weights this run started from, when it was a warm restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<InitSource>,
    /// An ensemble's members, in the order of `model.members`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<InitSource>,
    /// A weight average's source epochs (`average-fer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub averaged_from: Option<AveragedFrom>,
    /// The model whose weights these are, unchanged, when this one only reads faces with another
    /// test-time recipe (`tta-fer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_weights_as: Option<InitSource>,
}

/// The run and epochs whose weights a model averages, and how its BatchNorm statistics were
/// recomputed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AveragedFrom {
    pub run_id: String,
    pub epochs: Vec<usize>,
    /// sha256 of each epoch's weights file, in the order of `epochs`.
    pub weights_sha256: Vec<String>,
    pub batch_norm: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitSource {
    pub card: String,
    pub weights_sha256: String,
    /// That model's own PublicTest / PrivateTest accuracy, for the record.
    pub public_test_accuracy: f64,
    pub private_test_accuracy: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a workbench FER model card: {message}")]
    NotACard { path: PathBuf, message: String },
    #[error("{path}: labels {found:?} do not match the workbench's {expected:?}; this model would name emotions wrongly")]
    Labels {
        path: PathBuf,
        found: Vec<String>,
        expected: Vec<String>,
    },
    #[error("{path}: invalid model settings: {message}")]
    Model { path: PathBuf, message: String },
    #[error("{path}: cannot load the weights: {message}")]
    Weights { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Integrity { path: PathBuf, message: String },
    #[error("{path}: this is a model's weights (Burnpack); give its card instead, {card}, which names the weights and says how to read them")]
    WeightsGiven { path: PathBuf, card: PathBuf },
    #[error(transparent)]
    Replace(#[from] artifacts::WouldReplace),
}

impl DataSpec {
    /// The data a model was measured on: all of it, or `subset_per_class` faces per class.
    pub fn of(fer: &crate::fer::data::Fer2013, subset_per_class: Option<usize>) -> DataSpec {
        DataSpec {
            source: fer.source.clone(),
            training: fer.training.len(),
            public_test: fer.public_test.len(),
            private_test: fer.private_test.len(),
            subset_per_class,
            skipped_rows: fer.skipped.len(),
        }
    }
}

impl ModelCard {
    /// The one way a card is made (training and `ensemble-fer`): what is derived from the
    /// settings (labels, input, preprocessing, weights file) is filled in here; the digests are
    /// added by [`export`], which seals the card with the weights it writes.
    pub fn new(
        name: &str,
        model: ModelConfig,
        parameters: usize,
        metrics: CardMetrics,
        data: DataSpec,
        training: TrainingProvenance,
    ) -> ModelCard {
        ModelCard {
            schema: CARD_SCHEMA.into(),
            name: name.into(),
            weights: format!("{name}.bpk"),
            weights_sha256: None,
            model_sha256: None,
            labels: Emotion::names(),
            parameters,
            input: ModelCard::input_spec(&model),
            preprocessing: ModelCard::preprocessing_spec(&model),
            model,
            metrics,
            data,
            training,
        }
    }

    pub fn input_spec(config: &ModelConfig) -> InputSpec {
        InputSpec {
            shape: [1, 1, config.input_size, config.input_size],
            layout: "NCHW, batch first".into(),
            colour: "grey, 1 channel".into(),
        }
    }

    pub fn preprocessing_spec(config: &ModelConfig) -> PreprocessingSpec {
        let p = config.preprocessing();
        PreprocessingSpec {
            settings: p,
            formula: p.normalization.formula().into(),
            resize: format!(
                "grey face crop resized to {0}x{0}: whole-block averaging while shrinking by 2x or more, then bilinear",
                p.input_size
            ),
        }
    }

    pub fn read(path: &Path) -> Result<ModelCard, CardError> {
        if path.extension().is_some_and(|e| e == "bpk") {
            return Err(CardError::WeightsGiven {
                path: path.into(),
                card: path.with_extension("json"),
            });
        }
        let bytes = std::fs::read(path).map_err(|source| CardError::Io {
            path: path.into(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| CardError::NotACard {
            path: path.into(),
            message: "binary content; a model card is the JSON file (models/<name>.json) beside the weights".into(),
        })?;
        let card: ModelCard = serde_json::from_str(&text).map_err(|e| CardError::NotACard {
            path: path.into(),
            message: e.to_string(),
        })?;
        if card.schema != CARD_SCHEMA {
            return Err(CardError::NotACard {
                path: path.into(),
                message: format!("schema is {:?}, expected {CARD_SCHEMA:?}", card.schema),
            });
        }
        if card.labels != Emotion::names() {
            return Err(CardError::Labels {
                path: path.into(),
                found: card.labels,
                expected: Emotion::names(),
            });
        }
        card.model.check().map_err(|message| CardError::Model {
            path: path.into(),
            message,
        })?;
        if card.preprocessing.settings != card.model.preprocessing() {
            return Err(CardError::Model {
                path: path.into(),
                message: "preprocessing disagrees with the model settings".into(),
            });
        }
        if card.input != ModelCard::input_spec(&card.model) {
            return Err(CardError::Model {
                path: path.into(),
                message: format!(
                    "input shape {:?} disagrees with the model's input size {}",
                    card.input.shape, card.model.input_size
                ),
            });
        }
        Ok(card)
    }

    /// The digest that binds `model` to weights of digest `weights_sha256`.
    pub fn model_digest(model: &ModelConfig, weights_sha256: &str) -> String {
        let settings = serde_json::to_string(model).expect("model settings serialise");
        artifacts::sha256_bytes(format!("{settings}\n{weights_sha256}").as_bytes())
    }

    /// Records the digests of the weights at `weights` (and of the settings with them).
    pub fn seal(&mut self, weights: &Path) -> Result<(), CardError> {
        let sha = artifacts::sha256_file(weights).map_err(|source| CardError::Io {
            path: weights.into(),
            source,
        })?;
        self.model_sha256 = Some(ModelCard::model_digest(&self.model, &sha));
        self.weights_sha256 = Some(sha);
        Ok(())
    }

    /// Checks the weights file against the card's digests. Cards written before digests were
    /// recorded load with a warning.
    fn verify(&self, card_path: &Path, weights: &Path) -> Result<(), CardError> {
        let (Some(expected), Some(bound)) = (&self.weights_sha256, &self.model_sha256) else {
            tracing::warn!(
                "{}: the card records no weights_sha256 (written by an older workbench): weights not verified",
                card_path.display()
            );
            return Ok(());
        };
        let found = artifacts::sha256_file(weights).map_err(|source| CardError::Io {
            path: weights.into(),
            source,
        })?;
        if &found != expected {
            return Err(CardError::Integrity {
                path: weights.into(),
                message: format!(
                    "sha256 {found} differs from the {expected} that {} records: the weights are damaged or were replaced",
                    card_path.display()
                ),
            });
        }
        if &ModelCard::model_digest(&self.model, &found) != bound {
            return Err(CardError::Integrity {
                path: card_path.into(),
                message: "its [model] settings were changed after export (model_sha256 does not match): the weights were trained for other settings".into(),
            });
        }
        Ok(())
    }

    /// The weights' sha256 of a card loaded by [`load_model`], which has checked the recorded
    /// digest against the file; hashed here only when the card (an older one) records none.
    pub fn loaded_weights_sha256(&self, card_path: &Path) -> std::io::Result<String> {
        match &self.weights_sha256 {
            Some(sha) => Ok(sha.clone()),
            None => artifacts::sha256_file(&self.weights_path(card_path)),
        }
    }

    pub fn weights_path(&self, card_path: &Path) -> PathBuf {
        card_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.weights)
    }
}

/// Reads a card, checks its weights against it, and builds its network with them on `device`.
pub fn load_model(card_path: &Path, device: &Device) -> Result<(ModelCard, FerNet), CardError> {
    let card = ModelCard::read(card_path)?;
    let weights = card.weights_path(card_path);
    if !weights.is_file() {
        return Err(CardError::Weights {
            path: weights,
            message: format!("file not found (named by {})", card_path.display()),
        });
    }
    // Structure first (weights that do not fit say so in their own words), then the digests
    // (weights that fit but were damaged or swapped, or a card edited after export).
    let model = load_weights(&card.model, &weights, device)?;
    card.verify(card_path, &weights)?;
    if model.parameter_count() != card.parameters {
        return Err(CardError::Model {
            path: card_path.into(),
            message: format!(
                "the card says {} parameters but its [model] settings build {}",
                card.parameters,
                model.parameter_count()
            ),
        });
    }
    Ok((card, model))
}

/// Where an exported model went, and what it replaced (with `force`).
pub struct Exported {
    pub card_path: PathBuf,
    pub weights_path: PathBuf,
    /// (old path, where it was kept) for each file replaced.
    pub replaced: Vec<(PathBuf, PathBuf)>,
}

/// The files `models_dir/<name>.{bpk,json}` that exporting `name` writes.
pub fn export_paths(models_dir: &Path, name: &str) -> [PathBuf; 2] {
    [
        models_dir.join(format!("{name}.bpk")),
        models_dir.join(format!("{name}.json")),
    ]
}

/// Exports a model: `write_weights` fills the weights file (atomically), then the card, sealed
/// with the weights' digests, is written beside it: a card never names missing weights. An
/// existing model of that name is refused unless `force`, and then kept under
/// `models_dir/replaced/`.
pub fn export(
    models_dir: &Path,
    card: &mut ModelCard,
    force: bool,
    write_weights: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<Exported> {
    let [weights_path, card_path] = export_paths(models_dir, &card.name);
    let both = [weights_path.clone(), card_path.clone()];
    artifacts::check_replaceable(&both, force)?;
    std::fs::create_dir_all(models_dir)?;
    let tmp_weights = models_dir.join(format!(
        ".{}.tmp.export.{}.bpk",
        std::process::id(),
        card.name
    ));
    let result = (|| -> anyhow::Result<Exported> {
        write_weights(&tmp_weights)?;
        card.weights = format!("{}.bpk", card.name);
        card.seal(&tmp_weights)?;
        let replaced = artifacts::set_aside(&both)?;
        std::fs::rename(&tmp_weights, &weights_path)?;
        artifacts::write_json_atomic(&card_path, card)?;
        Ok(Exported {
            card_path: card_path.clone(),
            weights_path: weights_path.clone(),
            replaced,
        })
    })();
    let _ = std::fs::remove_file(&tmp_weights);
    result
}

pub fn load_weights(
    config: &ModelConfig,
    weights: &Path,
    device: &Device,
) -> Result<FerNet, CardError> {
    let err = |message: String| CardError::Weights {
        path: weights.into(),
        message,
    };
    if !weights.is_file() {
        return Err(err("file not found".into()));
    }
    let record = ModuleRecord::load(weights).map_err(|e| err(e.to_string()))?;
    config
        .init(device)
        .try_load_record(record)
        .map_err(|e| err(summarise_load_error(&e.to_string())))
}

/// Burn lists every mismatched tensor (dozens of lines for weights of another width); one line
/// says enough: the first mismatch and how many more.
fn summarise_load_error(message: &str) -> String {
    let Some(list) = message
        .split_once('[')
        .and_then(|(_, rest)| rest.rsplit_once(']'))
        .map(|(list, _)| list)
    else {
        return message.to_string();
    };
    let items: Vec<&str> = list.split("\", \"").collect();
    let first = items[0].trim_matches('"');
    let more = match items.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    format!("these weights do not fit the network the card describes: {first}{more}; were they exported with another width or architecture?")
}
