//! `workbench eval-fer`: an exported model, through its card, on one FER2013 split, with and
//! without test-time augmentation; results land in the model's run report.

use crate::backend::Backend;
use crate::fer::card;
use crate::fer::config::Experiment;
use crate::fer::data::{self, FaceSet, Fer2013, LoadOptions, Split};
use crate::fer::evaluate::Metrics;
use crate::fer::evaluate::{self, Tta};
use crate::fer::run_report::{self, EvalRecord};
use crate::fer::train::resolve_data_path;
use crate::progress;
use anyhow::Result;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub model: PathBuf,
    pub data: Option<PathBuf>,
    pub split: Split,
    pub tta: bool,
    /// Also measure the faces as `infer` crops them (detect → align → frame).
    pub through_detector: bool,
    pub batch_size: usize,
    pub reports_dir: PathBuf,
    pub backend: Backend,
    pub skip_bad_rows: bool,
    pub command: String,
}

/// The faces as `infer` sees them: how many the detector found, and the accuracy on those.
#[derive(Debug, Clone)]
pub struct ThroughDetector {
    pub faces: usize,
    pub found: usize,
    pub metrics: Metrics,
}

impl ThroughDetector {
    /// Accuracy over every face, a face the detector missed counting as wrong.
    pub fn accuracy_of_all(&self) -> f64 {
        self.metrics.accuracy * self.found as f64 / self.faces.max(1) as f64
    }
}

pub struct EvalOutcome {
    pub results: Vec<EvalRecord>,
    pub through_detector: Option<ThroughDetector>,
    pub report: PathBuf,
    /// The data measured on.
    pub data_path: PathBuf,
    /// Said when the data is not the file the model was trained on.
    pub data_note: Option<String>,
}

/// FER2013 from `path`, with a spinner while it is read and validated (a few seconds).
pub fn read_with_spinner(path: &Path, skip_bad_rows: bool) -> Result<Fer2013> {
    let spinner = progress::spinner(&format!("reading {}", path.display()));
    let fer = data::load(path, LoadOptions { skip_bad_rows })?;
    spinner.finish_and_clear();
    Ok(fer)
}

pub fn eval(options: &EvalOptions) -> Result<EvalOutcome> {
    anyhow::ensure!(options.batch_size >= 1, "--batch-size must be at least 1");
    let device = options.backend.device()?;
    let (card, model) = card::load_model(&options.model, &device)?;
    // The card's own data path is a hint; a saved experiment may name one too.
    let card_data = Some(card.data.source.path.clone()).filter(|p| p.exists());
    let configured = toml::from_str::<Experiment>(&card.training.config)
        .ok()
        .and_then(|e| e.data.path);
    let data_path = resolve_data_path(
        options.data.as_deref(),
        card_data.as_deref().or(configured.as_deref()),
    )?;
    let fer = read_with_spinner(&data_path, options.skip_bad_rows)?;
    let data_note = (fer.source.sha256 != card.data.source.sha256).then(|| {
        format!(
            "{} (sha256 {}) is not the file this model was trained on (sha256 {}); its figures are kept apart from the run's own",
            data_path.display(),
            &fer.source.sha256[..12],
            &card.data.source.sha256[..12.min(card.data.source.sha256.len())]
        )
    });
    let faces = fer.split(options.split);
    if faces.is_empty() {
        anyhow::bail!(
            "{}: the {} split is empty",
            data_path.display(),
            options.split
        );
    }
    let prep = card.model.preprocessing();
    // The card's own recipe reproduces its figures; --tta compares every recipe.
    let own = [card.model.test_time];
    let modes: &[Tta] = if options.tta {
        &[Tta::None, Tta::Flip, Tta::TenCrop]
    } else {
        &own
    };
    let run_dir = options.reports_dir.join("fer").join(&card.training.run_id);
    std::fs::create_dir_all(&run_dir)?;
    let mut results = Vec::new();
    for &tta in modes {
        let metrics = evaluate::measure(
            &model,
            faces,
            &prep,
            tta,
            options.batch_size,
            &device,
            &format!("{} {}", options.split, tta.name()),
        );
        let mut record =
            EvalRecord::new(options.split, tta, metrics, &fer.source, &options.command);
        record.model_card = options.model.display().to_string();
        run_report::write_eval(&run_dir, &record, &card.data.source.sha256)?;
        results.push(record);
    }
    run_report::write_index(&run_dir, &card.data.source.sha256)?;
    let through_detector = if options.through_detector {
        let (seen, found) = through_detector(faces)?;
        let metrics = evaluate::measure(
            &model,
            &seen,
            &prep,
            card.model.test_time,
            options.batch_size,
            &device,
            &format!("{} through the detector", options.split),
        );
        Some(ThroughDetector {
            faces: faces.len(),
            found,
            metrics,
        })
    } else {
        None
    };
    Ok(EvalOutcome {
        results,
        through_detector,
        report: run_dir.join("index.html"),
        data_path,
        data_note,
    })
}

/// The faces as `infer` crops them, and how many the detector found.
#[cfg(feature = "vision")]
fn through_detector(faces: &FaceSet) -> Result<(FaceSet, usize)> {
    use crate::vision::{faces::DetectorParams, framing};
    Ok(framing::through_detector(
        faces,
        &DetectorParams::default(),
    )?)
}

#[cfg(not(feature = "vision"))]
fn through_detector(_: &FaceSet) -> Result<(FaceSet, usize)> {
    anyhow::bail!("--through-detector needs the face detector: this build has no `vision` feature")
}
