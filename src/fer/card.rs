//! Model cards: the JSON beside every exported `.bpk`. A card says what the weights are
//! (architecture, labels in order, input and preprocessing), how good they are (PublicTest and
//! PrivateTest metrics) and where they came from (data hash, seed, commit, backend, time).
//! Loading a model always goes through its card.

use crate::emotion::Emotion;
use crate::fer::data::DataSource;
use crate::fer::evaluate::Metrics;
use crate::fer::model::{FerNet, ModelConfig};
use crate::fer::preprocess::Preprocessing;
use burn::prelude::*;
use burn::store::ModuleRecord;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CARD_SCHEMA: &str = "workbench/fer-model-card/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub schema: String,
    pub name: String,
    /// The Burnpack weights, relative to the card's directory.
    pub weights: String,
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
    pub split: String,
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class_recall: Vec<(Emotion, f64)>,
    pub tta: String,
}

impl EvalSummary {
    pub fn new(split: &str, tta: &str, m: &Metrics) -> Self {
        Self {
            split: split.into(),
            n: m.n,
            accuracy: m.accuracy,
            macro_f1: m.macro_f1,
            per_class_recall: m.per_class.iter().map(|c| (c.emotion, c.recall)).collect(),
            tta: tta.into(),
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
}

impl ModelCard {
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
        let text = std::fs::read_to_string(path).map_err(|source| CardError::Io {
            path: path.into(),
            source,
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
        Ok(card)
    }

    pub fn weights_path(&self, card_path: &Path) -> PathBuf {
        card_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.weights)
    }
}

/// Reads a card and builds its network with the saved weights on `device`.
pub fn load_model(card_path: &Path, device: &Device) -> Result<(ModelCard, FerNet), CardError> {
    let card = ModelCard::read(card_path)?;
    let weights = card.weights_path(card_path);
    let model = load_weights(&card.model, &weights, device)?;
    Ok((card, model))
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
        .map_err(|e| err(e.to_string()))
}
