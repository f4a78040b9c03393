//! The run directory `reports/fer/<run-id>/`: per-epoch metrics, training curves, evaluations
//! with their confusion matrices, and an `index.html` rebuilt from whatever the directory holds,
//! so `eval-fer` can add to the page that `train-fer` started.

use crate::artifacts;
use crate::emotion::Emotion;
use crate::fer::data::Split;
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
}

impl EvalRecord {
    fn stem(split: Split, tta: Tta) -> String {
        format!("eval-{}-{}", split.usage(), tta.name())
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

/// Writes `eval-<split>-<tta>.json` and its normalised confusion matrix PNG.
pub fn write_eval(dir: &Path, eval: &EvalRecord) -> Result<()> {
    let stem = EvalRecord::stem(eval.split, eval.tta);
    artifacts::write_json_atomic(&dir.join(format!("{stem}.json")), eval)?;
    plots::heatmap(
        &dir.join(format!(
            "confusion-{}-{}.png",
            eval.split.usage(),
            eval.tta.name()
        )),
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

fn read_evals(dir: &Path) -> Result<Vec<EvalRecord>> {
    let mut evals = Vec::new();
    for split in Split::ALL {
        for tta in [Tta::None, Tta::Flip, Tta::TenCrop] {
            let path = dir.join(format!("{}.json", EvalRecord::stem(split, tta)));
            if path.is_file() {
                let text = std::fs::read_to_string(&path)?;
                evals.push(
                    serde_json::from_str(&text)
                        .with_context(|| format!("{}: unreadable", path.display()))?,
                );
            }
        }
    }
    Ok(evals)
}

/// Rebuilds `index.html` from the files in the run directory.
pub fn write_index(dir: &Path) -> Result<()> {
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
    let evals = read_evals(dir)?;

    if !evals.is_empty() {
        page.heading(2, "Summary");
        let rows: Vec<Vec<String>> = evals
            .iter()
            .map(|e| {
                vec![
                    e.split.to_string(),
                    e.tta.name().into(),
                    e.metrics.n.to_string(),
                    format!("{:.2} %", 100.0 * e.metrics.accuracy),
                    format!("{:.4}", e.metrics.macro_f1),
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
            ],
            &rows,
        );
        page.muted("The weights (an epoch, or an ensemble's members) were chosen on PublicTest; PrivateTest is measured once, on those weights.");
    }

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

    for e in &evals {
        page.heading(
            2,
            &format!("{} — test-time augmentation: {}", e.split, e.tta.name()),
        );
        page.paragraph(&format!(
            "accuracy {:.2} %, macro-F1 {:.4}, on {} faces; model card {}",
            100.0 * e.metrics.accuracy,
            e.metrics.macro_f1,
            e.metrics.n,
            e.model_card
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
            &format!("confusion-{}-{}.png", e.split.usage(), e.tta.name()),
            &format!("normalised confusion matrix, {}", e.split),
        );
    }

    if let Ok(config) = std::fs::read_to_string(dir.join("config.toml")) {
        page.heading(2, "Experiment config");
        page.code_block(&config);
    }
    artifacts::write_atomic(&dir.join("index.html"), page.finish().as_bytes())?;
    Ok(())
}
