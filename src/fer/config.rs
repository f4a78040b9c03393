//! Experiment configs: one TOML file fully defines a training run (seed, data, model, optimiser,
//! schedule, augmentation). The resolved config is saved in the run directory and is what
//! `--resume` trusts.

use crate::fer::augment::AugmentConfig;
use crate::fer::model::{Arch, ModelConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Names the exported model (`models/<name>.bpk`) and prefixes run ids.
    pub name: String,
    pub seed: u64,
    #[serde(default)]
    pub data: DataConfig,
    pub model: ModelConfig,
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    pub training: TrainingConfig,
    #[serde(default)]
    pub augment: AugmentConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// FER2013 CSV (`.csv` / `.csv.gz`) or image folder. `--data` overrides it.
    pub path: Option<PathBuf>,
    /// Train and evaluate on a seeded, class-balanced sample of this many faces per class and
    /// split (smoke runs and tests). Absent: all of FER2013.
    pub subset_per_class: Option<usize>,
    #[serde(default)]
    pub skip_bad_rows: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Adamw,
    /// SGD with Nesterov momentum.
    Sgd,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    pub lr: f64,
    #[serde(default = "default_weight_decay")]
    pub weight_decay: f64,
    /// SGD only.
    #[serde(default = "default_momentum")]
    pub momentum: f64,
}

fn default_weight_decay() -> f64 {
    1e-4
}
fn default_momentum() -> f64 {
    0.9
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    Constant,
    /// Cosine decay from `lr` to `min_lr` over all steps after warm-up.
    #[default]
    Cosine,
    /// Multiply by `factor` when PublicTest accuracy has not improved for `patience` epochs.
    Plateau,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    pub kind: ScheduleKind,
    /// Linear warm-up from lr/10, in epochs.
    pub warmup_epochs: usize,
    pub min_lr: f64,
    pub patience: usize,
    pub factor: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Cosine,
            warmup_epochs: 0,
            min_lr: 1e-5,
            patience: 3,
            factor: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    pub epochs: usize,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default)]
    pub label_smoothing: f32,
    /// Stop after this many epochs without a better PublicTest accuracy (0: never).
    #[serde(default)]
    pub early_stopping_patience: usize,
    #[serde(default = "default_eval_batch_size")]
    pub eval_batch_size: usize,
    /// Start from the weights of this model card instead of a random init (a warm restart of
    /// the schedule). Its model settings must equal `[model]`; its sha256 goes in the new card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
}

fn default_batch_size() -> usize {
    64
}
fn default_eval_batch_size() -> usize {
    256
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A model name becomes the file names `<name>.bpk` and `<name>.json`: letters, digits, '-' and
/// '_' only, so it can never climb out of the models directory.
pub fn is_model_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Experiment {
    pub fn load(path: &Path) -> Result<Experiment, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.into(),
            source,
        })?;
        let experiment: Experiment = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        experiment.check().map_err(|message| ConfigError::Invalid {
            path: path.into(),
            message,
        })?;
        Ok(experiment)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("an experiment always serialises")
    }

    /// Every setting is checked before data is read or a model built.
    pub fn check(&self) -> Result<(), String> {
        if !is_model_name(&self.name) {
            return Err(format!(
                "name = {:?}: use letters, digits, '-' and '_' (it becomes a file name)",
                self.name
            ));
        }
        self.model.check()?;
        if self.model.arch == Arch::Ensemble {
            return Err(
                "model.arch = \"ensemble\" is not trained: train its members, then \
                        assemble them with `workbench ensemble-fer`"
                    .into(),
            );
        }
        self.augment.check()?;
        let o = &self.optimizer;
        if !(o.lr.is_finite() && o.lr > 0.0 && o.lr < 10.0) {
            return Err(format!("optimizer.lr = {} (use 0 < lr < 10)", o.lr));
        }
        if !(0.0..1.0).contains(&o.weight_decay) {
            return Err(format!(
                "optimizer.weight_decay = {} (use 0 <= wd < 1)",
                o.weight_decay
            ));
        }
        if !(0.0..1.0).contains(&o.momentum) {
            return Err(format!(
                "optimizer.momentum = {} (use 0 <= m < 1)",
                o.momentum
            ));
        }
        let s = &self.schedule;
        if !(s.min_lr >= 0.0 && s.min_lr <= o.lr) {
            return Err(format!(
                "schedule.min_lr = {} must lie in 0..=optimizer.lr",
                s.min_lr
            ));
        }
        if !(s.factor > 0.0 && s.factor < 1.0) {
            return Err(format!("schedule.factor = {} (use 0 < f < 1)", s.factor));
        }
        let t = &self.training;
        if t.epochs == 0 {
            return Err("training.epochs = 0".into());
        }
        if s.warmup_epochs >= t.epochs && s.warmup_epochs > 0 {
            return Err(format!(
                "schedule.warmup_epochs = {} leaves no epoch after warm-up (training.epochs = {})",
                s.warmup_epochs, t.epochs
            ));
        }
        if !(2..=4096).contains(&t.batch_size) {
            return Err(format!(
                "training.batch_size = {} (use 2..=4096)",
                t.batch_size
            ));
        }
        if !(1..=4096).contains(&t.eval_batch_size) {
            return Err(format!(
                "training.eval_batch_size = {} (use 1..=4096)",
                t.eval_batch_size
            ));
        }
        if !(0.0..0.5).contains(&t.label_smoothing) {
            return Err(format!(
                "training.label_smoothing = {} (use 0 <= s < 0.5)",
                t.label_smoothing
            ));
        }
        if self.data.subset_per_class == Some(0) {
            return Err("data.subset_per_class = 0 leaves nothing to train on".into());
        }
        Ok(())
    }

    /// Learning rate for `step` (0-based, counted over the whole run) given the plateau
    /// schedule's current scale. Warm-up and cosine are pure functions of the step, so a resumed
    /// run reproduces them exactly.
    pub fn learning_rate(&self, step: usize, steps_per_epoch: usize, plateau_scale: f64) -> f64 {
        let base = self.optimizer.lr;
        let s = &self.schedule;
        let warmup = s.warmup_epochs * steps_per_epoch;
        if step < warmup {
            let t = (step + 1) as f64 / warmup as f64;
            return base * (0.1 + 0.9 * t);
        }
        match s.kind {
            ScheduleKind::Constant => base,
            ScheduleKind::Plateau => (base * plateau_scale).max(s.min_lr),
            ScheduleKind::Cosine => {
                let total = (self.training.epochs * steps_per_epoch)
                    .saturating_sub(warmup)
                    .max(1);
                let t = ((step - warmup) as f64 / total as f64).min(1.0);
                s.min_lr + 0.5 * (base - s.min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Experiment, String> {
        let e: Experiment = toml::from_str(text).map_err(|e| e.to_string())?;
        e.check()?;
        Ok(e)
    }

    const MINIMAL: &str = r#"
name = "t"
seed = 1
[model]
arch = "mini_xception"
[optimizer]
kind = "adamw"
lr = 0.001
[training]
epochs = 10
"#;

    #[test]
    fn minimal_config_gets_defaults_and_round_trips() {
        let e = parse(MINIMAL).unwrap();
        assert_eq!(e.model.input_size, 48);
        assert_eq!(e.training.batch_size, 64);
        assert_eq!(e.schedule.kind, ScheduleKind::Cosine);
        assert_eq!(parse(&e.to_toml()).unwrap(), e);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(parse(&MINIMAL.replace("epochs = 10", "epochs = 10\nepoch = 3")).is_err());
        assert!(parse(&MINIMAL.replace("lr = 0.001", "lr = -1.0"))
            .unwrap_err()
            .contains("optimizer.lr"));
        assert!(parse(&MINIMAL.replace("name = \"t\"", "name = \"../x\""))
            .unwrap_err()
            .contains("name"));
        assert!(parse(&MINIMAL.replace("epochs = 10", "epochs = 0")).is_err());
    }

    #[test]
    fn an_ensemble_is_assembled_not_trained() {
        let member = "[[model.members]]\narch = \"mini_xception\"\n";
        let ensemble = MINIMAL.replace(
            "arch = \"mini_xception\"",
            &format!("arch = \"ensemble\"\n{member}{member}"),
        );
        assert!(parse(&ensemble).unwrap_err().contains("ensemble-fer"));
        // One member, or members on a plain network, are refused as settings.
        let single = MINIMAL.replace(
            "arch = \"mini_xception\"",
            &format!("arch = \"ensemble\"\n{member}"),
        );
        assert!(parse(&single).unwrap_err().contains("at least 2 members"));
        let stray = MINIMAL.replace(
            "arch = \"mini_xception\"",
            &format!("arch = \"vgg\"\n{member}"),
        );
        assert!(parse(&stray).unwrap_err().contains("model.members"));
    }

    #[test]
    fn cosine_schedule_warms_up_then_decays_to_min() {
        let mut e = parse(MINIMAL).unwrap();
        e.schedule.warmup_epochs = 1;
        let lr = |step| e.learning_rate(step, 10, 1.0);
        assert!((lr(0) - 0.001 * 0.19).abs() < 1e-12);
        assert!((lr(9) - 0.001).abs() < 1e-12);
        assert!((lr(10) - 0.001).abs() < 1e-12);
        assert!(lr(50) < lr(20));
        assert!((lr(100) - 1e-5).abs() < 1e-12);
    }

    /// The committed experiments are what the README tells users to run: each must load, be
    /// named after its file (that name becomes `models/<name>.bpk`), and warm-start only from
    /// a model card that is committed too.
    #[test]
    fn committed_experiments_load_and_point_at_committed_models() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(root.join("experiments")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let experiment = Experiment::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let stem = path.file_stem().unwrap().to_str().unwrap();
            assert_eq!(experiment.name, stem, "{}", path.display());
            if let Some(init) = &experiment.training.init_from {
                assert!(
                    root.join(init).is_file(),
                    "{}: init_from {} is not committed",
                    path.display(),
                    init.display()
                );
            }
            seen += 1;
        }
        assert!(seen >= 2, "experiments/ holds {seen} configs");
    }
}
