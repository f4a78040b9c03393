//! The run directory `reports/fer/<run-id>/`: per-epoch metrics, training curves, evaluations
//! with their confusion matrices, and an `index.html` rebuilt from whatever the directory holds,
//! so `eval-fer` can add to the page that `train-fer` started.

use crate::artifacts;
use crate::emotion::Emotion;
use crate::fer::data::{DataSource, Split};
use crate::fer::evaluate::{Metrics, Tta};
use crate::report::html::Page;
use crate::report::plots::{self, Series};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub public_loss: f64,
    pub public_accuracy: f64,
    pub public_macro_f1: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    pub split: Split,
    pub tta: Tta,
    pub metrics: Metrics,
    pub model_card: String,
    /// The command that reproduces these numbers.
    pub command: String,
    /// The file measured on (records written before 2026-12 lack it: they were measured on
    /// the run's own data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<EvalData>,
}

/// Which data an evaluation measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalData {
    pub path: String,
    pub sha256: String,
}

impl EvalRecord {
    pub fn new(split: Split, tta: Tta, metrics: Metrics, data: &DataSource, command: &str) -> Self {
        EvalRecord {
            split,
            tta,
            metrics,
            model_card: String::new(),
            command: command.into(),
            data: Some(EvalData {
                path: data.path.display().to_string(),
                sha256: data.sha256.clone(),
            }),
        }
    }

    /// Measured on the run's own data (the file it was trained and selected on)?
    fn on_run_data(&self, run_data_sha256: &str) -> bool {
        self.data
            .as_ref()
            .is_none_or(|d| d.sha256 == run_data_sha256)
    }

    /// `eval-<split>-<tta>` on the run's own data; on other data the name says which
    /// (`…-data-<sha256 prefix>`), so it never replaces the run's own figures.
    fn stem(&self, run_data_sha256: &str) -> String {
        let base = format!("eval-{}-{}", self.split.usage(), self.tta.name());
        match &self.data {
            Some(d) if !self.on_run_data(run_data_sha256) => {
                format!("{base}-data-{}", &d.sha256[..12.min(d.sha256.len())])
            }
            _ => base,
        }
    }

    /// "path (sha256 …)", or what is known when the record predates the field.
    fn data_note(&self) -> String {
        match &self.data {
            Some(d) => format!("{} (sha256 {})", d.path, d.sha256),
            None => "the run's own data (not recorded by this older record)".into(),
        }
    }
}

const HISTORY: &str = "metrics.json";
const CURVES: &str = "curves.png";

/// Writes `metrics.json` and `curves.png` (loss and accuracy, train and PublicTest).
pub fn write_history(dir: &Path, history: &[EpochRecord]) -> Result<()> {
    artifacts::write_json_atomic(&dir.join(HISTORY), &history)?;
    let series = |name, colour, f: fn(&EpochRecord) -> f64| Series {
        name,
        colour,
        points: history.iter().map(|r| (r.epoch as f64, f(r))).collect(),
    };
    plots::render_png(&dir.join(CURVES), 1200, 480, |root| {
        let (left, right) = root.split_horizontally(600);
        plots::line_chart(
            &left,
            "Loss",
            "epoch",
            "cross-entropy",
            &[
                series("train", plots::BLUE_, |r| r.train_loss),
                series("PublicTest", plots::ORANGE_, |r| r.public_loss),
            ],
        )?;
        plots::line_chart(
            &right,
            "Accuracy",
            "epoch",
            "accuracy",
            &[
                series("train", plots::BLUE_, |r| r.train_accuracy),
                series("PublicTest", plots::ORANGE_, |r| r.public_accuracy),
            ],
        )
    })?;
    Ok(())
}

/// Writes `<stem>.json` and its normalised confusion matrix `confusion-<stem>.png` (see
/// [`EvalRecord::stem`]; `run_data_sha256` is the data the run was trained on).
pub fn write_eval(dir: &Path, eval: &EvalRecord, run_data_sha256: &str) -> Result<()> {
    let stem = eval.stem(run_data_sha256);
    artifacts::write_json_atomic(&dir.join(format!("{stem}.json")), eval)?;
    plots::heatmap(
        &dir.join(confusion_png(&stem)),
        &format!(
            "{} (TTA {}): accuracy {:.2} %",
            eval.split,
            eval.tta.name(),
            100.0 * eval.metrics.accuracy
        ),
        &eval.metrics.confusion_normalised(),
        &Emotion::names(),
        &Emotion::names(),
        "predicted",
        "true",
    )?;
    Ok(())
}

/// "the run's data (sha256 f8428a1e…)" or "other data: <path> (sha256 …)", short, for headings.
fn data_label(e: &EvalRecord, run_data_sha256: &str) -> String {
    let short = |sha: &str| format!("{}…", &sha[..12.min(sha.len())]);
    match &e.data {
        Some(d) if !e.on_run_data(run_data_sha256) => {
            format!("other data: {} (sha256 {})", d.path, short(&d.sha256))
        }
        _ => format!("the run's data (sha256 {})", short(run_data_sha256)),
    }
}

/// `eval-PrivateTest-none` → `confusion-PrivateTest-none.png` (the names older runs used).
fn confusion_png(stem: &str) -> String {
    format!("confusion-{}.png", stem.trim_start_matches("eval-"))
}

/// Every evaluation in the run directory with its file stem: the run's own data first, each
/// group in split then test-time-augmentation order.
fn read_evals(dir: &Path, run_data_sha256: &str) -> Result<Vec<(String, EvalRecord)>> {
    let mut evals = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| dir.display().to_string())? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if !(name.starts_with("eval-") && name.ends_with(".json")) {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let eval: EvalRecord = serde_json::from_str(&text)
            .with_context(|| format!("{}: unreadable", path.display()))?;
        evals.push((eval.stem(run_data_sha256), eval));
    }
    let tta_order = |t: Tta| {
        [Tta::None, Tta::Flip, Tta::TenCrop]
            .iter()
            .position(|&x| x == t)
    };
    evals.sort_by_key(|(stem, e)| {
        let split = Split::ALL.iter().position(|&s| s == e.split);
        (
            !e.on_run_data(run_data_sha256),
            e.data.as_ref().map(|d| d.sha256.clone()),
            split,
            tta_order(e.tta),
            stem.clone(),
        )
    });
    Ok(evals)
}

/// Rebuilds `index.html` from the files in the run directory; `run_data_sha256` tells the run's
/// own evaluations from those on other data.
pub fn write_index(dir: &Path, run_data_sha256: &str) -> Result<()> {
    let run_id = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut page = Page::new(&format!("FER run {run_id}"));
    let history: Vec<EpochRecord> = match std::fs::read_to_string(dir.join(HISTORY)) {
        Ok(text) => serde_json::from_str(&text)?,
        Err(_) => Vec::new(),
    };
    let evals = read_evals(dir, run_data_sha256)?;

    summary_section(&mut page, &evals, run_data_sha256);
    training_section(&mut page, &history);
    for (stem, e) in &evals {
        eval_section(&mut page, stem, e, run_data_sha256);
    }
    if let Ok(config) = std::fs::read_to_string(dir.join("config.toml")) {
        page.heading(2, "Experiment config");
        page.code_block(&config);
    }
    artifacts::write_atomic(&dir.join("index.html"), page.finish().as_bytes())?;
    Ok(())
}

/// One row per evaluation: split, test-time augmentation, accuracy, and which data.
fn summary_section(page: &mut Page, evals: &[(String, EvalRecord)], run_data_sha256: &str) {
    if !evals.is_empty() {
        page.heading(2, "Summary");
        let rows: Vec<Vec<String>> = evals
            .iter()
            .map(|(_, e)| {
                vec![
                    e.split.to_string(),
                    e.tta.name().into(),
                    e.metrics.n.to_string(),
                    format!("{:.2} %", 100.0 * e.metrics.accuracy),
                    format!("{:.4}", e.metrics.macro_f1),
                    data_label(e, run_data_sha256),
                ]
            })
            .collect();
        page.table(
            &[
                "split",
                "test-time augmentation",
                "faces",
                "accuracy",
                "macro-F1",
                "data (sha256)",
            ],
            &rows,
        );
        page.muted("The weights (an epoch, or an ensemble's members) were chosen on PublicTest; PrivateTest is measured once, on those weights.");
    }
}

/// The curves and the per-epoch table.
fn training_section(page: &mut Page, history: &[EpochRecord]) {
    if !history.is_empty() {
        page.heading(2, "Training");
        page.image(CURVES, "loss and accuracy per epoch, train and PublicTest");
        let rows: Vec<Vec<String>> = history
            .iter()
            .map(|r| {
                vec![
                    r.epoch.to_string(),
                    format!("{:.2e}", r.lr),
                    format!("{:.4}", r.train_loss),
                    format!("{:.2} %", 100.0 * r.train_accuracy),
                    format!("{:.4}", r.public_loss),
                    format!("{:.2} %", 100.0 * r.public_accuracy),
                    format!("{:.4}", r.public_macro_f1),
                    format!("{:.0}", r.seconds),
                ]
            })
            .collect();
        page.table(
            &[
                "epoch",
                "lr",
                "train loss",
                "train acc",
                "PublicTest loss",
                "PublicTest acc",
                "PublicTest macro-F1",
                "seconds",
            ],
            &rows,
        );
    }
}

/// One evaluation: its figures, command, per-class table and confusion matrix.
fn eval_section(page: &mut Page, stem: &str, e: &EvalRecord, run_data_sha256: &str) {
    page.heading(
        2,
        &format!(
            "{} — test-time augmentation: {} — {}",
            e.split,
            e.tta.name(),
            data_label(e, run_data_sha256)
        ),
    );
    page.paragraph(&format!(
        "accuracy {:.2} %, macro-F1 {:.4}, on {} faces; model card {}; data {}",
        100.0 * e.metrics.accuracy,
        e.metrics.macro_f1,
        e.metrics.n,
        e.model_card,
        e.data_note()
    ));
    page.code_block(&e.command);
    let rows: Vec<Vec<String>> = e
        .metrics
        .per_class
        .iter()
        .map(|c| {
            vec![
                c.emotion.name().into(),
                format!("{:.3}", c.precision),
                format!("{:.3}", c.recall),
                format!("{:.3}", c.f1),
                c.support.to_string(),
            ]
        })
        .collect();
    page.table(&["class", "precision", "recall", "F1", "support"], &rows);
    page.image(
        &confusion_png(stem),
        &format!("normalised confusion matrix, {}", e.split),
    );
}
