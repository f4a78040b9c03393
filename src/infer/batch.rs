//! Many clips in one run: `workbench infer a.gif b.mp4 some/folder/`. Each clip gets its own
//! ordinary infer run and report; a clip that fails is recorded, not fatal; a summary
//! (`reports/infer/batch-<run-id>/index.html` and `summary.csv`) lists them all. Clips run one
//! after another: each already uses every core (detection in parallel, batched classification).

use super::{run, InferOptions, InferOutcome};
use crate::artifacts;
use crate::report::csv_field;
use crate::report::html::Page;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// File extensions read from a folder (the containers `infer` reads).
pub const CLIP_EXTENSIONS: [&str; 11] = [
    "gif", "mp4", "mov", "m4v", "mkv", "avi", "webm", "jpg", "jpeg", "png", "bmp",
];

/// The clips named: files as given, folders as the clip and image files directly inside them,
/// sorted by name. A folder with none is an error naming it.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut clips = Vec::new();
    for path in paths {
        if !path.is_dir() {
            clips.push(path.clone());
            continue;
        }
        let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| path.display().to_string())?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| CLIP_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            })
            .collect();
        anyhow::ensure!(
            !inside.is_empty(),
            "{}: no clip or image in this folder (looked for .{})",
            path.display(),
            CLIP_EXTENSIONS.join(", .")
        );
        inside.sort();
        clips.extend(inside);
    }
    Ok(clips)
}

/// How one clip of a batch went.
pub struct BatchItem {
    pub clip: PathBuf,
    pub seconds: f64,
    pub outcome: Result<InferOutcome, String>,
}

pub struct BatchOutcome {
    pub items: Vec<BatchItem>,
    pub summary_dir: PathBuf,
}

impl BatchOutcome {
    pub fn failed(&self) -> usize {
        self.items.iter().filter(|i| i.outcome.is_err()).count()
    }
}

/// Runs every clip with `base`'s settings, then writes the summary. `on_clip` is told each
/// clip's result as it ends (progress for the caller).
pub fn run_batch(
    clips: &[PathBuf],
    base: &InferOptions,
    on_clip: &dyn Fn(&BatchItem),
) -> Result<BatchOutcome> {
    base.check()?;
    let mut items = Vec::with_capacity(clips.len());
    for clip in clips {
        let started = Instant::now();
        let options = InferOptions {
            clip: clip.clone(),
            ..base.clone()
        };
        let outcome = run(&options).map_err(|e| crate::error_line(&e));
        let item = BatchItem {
            clip: clip.clone(),
            seconds: started.elapsed().as_secs_f64(),
            outcome,
        };
        on_clip(&item);
        items.push(item);
    }
    let summary_dir = write_summary(&base.reports_dir, &items)?;
    Ok(BatchOutcome { items, summary_dir })
}

/// (clip, faces, mood, confidence, outcome, seconds, report) for one item, as text.
fn row(item: &BatchItem) -> [String; 7] {
    let clip = item.clip.display().to_string();
    let seconds = format!("{:.2}", item.seconds);
    match &item.outcome {
        Ok(o) => {
            let r = &o.result;
            let kept = r.faces.iter().filter(|f| f.kept).count();
            [
                clip,
                kept.to_string(),
                r.verdict.mood.map(|m| m.to_string()).unwrap_or_default(),
                format!("{:.2}", r.verdict.confidence),
                serde_json::to_value(r.verdict.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                seconds,
                o.report_dir
                    .as_ref()
                    .map(|d| d.join("index.html").display().to_string())
                    .unwrap_or_default(),
            ]
        }
        Err(e) => [
            clip,
            String::new(),
            String::new(),
            String::new(),
            format!("failed: {e}"),
            seconds,
            String::new(),
        ],
    }
}

fn write_summary(reports_dir: &Path, items: &[BatchItem]) -> Result<PathBuf> {
    let (_, dir) = artifacts::reserve_run_dir(&reports_dir.join("infer"), "batch")?;
    let header = [
        "clip",
        "faces",
        "mood",
        "confidence",
        "outcome",
        "seconds",
        "report",
    ];
    let rows: Vec<[String; 7]> = items.iter().map(row).collect();
    artifacts::write_dir_atomic(&dir, |tmp: &Path| -> Result<()> {
        let mut csv = header.join(",") + "\n";
        for r in &rows {
            csv += &r.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
            csv.push('\n');
        }
        artifacts::write_atomic(&tmp.join("summary.csv"), csv.as_bytes())?;
        let failed = items.iter().filter(|i| i.outcome.is_err()).count();
        let mut page = Page::new(&format!("workbench infer: {} clips", items.len()));
        page.paragraph(&format!("{} clips, {} failed. Each clip's own report is linked by path; summary.csv holds the same rows.", items.len(), failed));
        page.table(
            &header,
            &rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
        );
        artifacts::write_atomic(&tmp.join("index.html"), page.finish().as_bytes())?;
        Ok(())
    })?;
    Ok(dir)
}
