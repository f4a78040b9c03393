//! Clips through the page: an upload, or the live session's frames when the user presses
//! "Save", becomes a file beside the reports and goes through `infer` itself, so the page shows
//! exactly the result and the report `workbench infer` writes. The file is removed on every
//! path; an upload over the limit is refused (413) before anything is written.

use super::AppState;
use crate::affect::Strategy;
use crate::infer::{self, InferOptions};
use crate::vision::tracker::TrackerParams;
use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use opencv::core::Size;
use opencv::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub struct ClipQuery {
    /// The file's name as the user had it (only its stem and extension are used).
    pub name: Option<String>,
}

#[derive(serde::Serialize)]
struct ClipAnswer {
    /// Where the report is served.
    report: String,
    result: infer::InferResult,
}

/// `POST /api/clip?name=<file name>` with the file as the body.
pub async fn clip(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ClipQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let limit_mb = state.options.upload_limit as f64 / (1 << 20) as f64;
    let body = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the clip is larger than the {limit_mb:.0} MB this server accepts (serve --upload-limit-mb); nothing was written"),
            )
                .into_response()
        }
        Err(rejection) => return (rejection.status(), rejection.body_text()).into_response(),
    };
    if body.is_empty() {
        return (StatusCode::BAD_REQUEST, "the upload is empty").into_response();
    }
    let name = query.name.unwrap_or_else(|| "clip".into());
    let shared = Arc::clone(&state);
    let outcome = tokio::task::spawn_blocking(move || infer_uploaded(&shared, &name, &body)).await;
    match outcome {
        Ok(Ok(answer)) => Json(answer).into_response(),
        Ok(Err(e)) => (StatusCode::UNPROCESSABLE_ENTITY, crate::error_line(&e)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn infer_uploaded(state: &AppState, name: &str, bytes: &[u8]) -> Result<ClipAnswer> {
    let staged = Staged::new(&state.options.reports_dir, name)?;
    std::fs::write(&staged.file, bytes)
        .with_context(|| format!("writing {}", staged.file.display()))?;
    // Errors name the file as the user knows it, not the staging folder.
    let outcome =
        infer::run(&infer_options(state, &staged.file, Strategy::Match)).map_err(|e| {
            let shown = Path::new(&safe_name(name)).display().to_string();
            anyhow::anyhow!(
                crate::error_line(&e).replace(&staged.file.display().to_string(), &shown)
            )
        })?;
    let dir = outcome.report_dir.context("infer wrote no report")?;
    Ok(ClipAnswer {
        report: report_url(state, &dir),
        result: outcome.result,
    })
}

/// The live session's frames (JPEG, oldest first) as an MJPEG AVI, through `infer`.
/// Returns the report's URL and the verdict sentence.
pub fn save_session(
    state: &AppState,
    frames: &[Vec<u8>],
    strategy: Strategy,
) -> Result<(String, String)> {
    let staged = Staged::new(&state.options.reports_dir, "live.avi")?;
    write_avi(&staged.file, frames)?;
    let outcome = infer::run(&infer_options(state, &staged.file, strategy))?;
    let dir = outcome.report_dir.context("infer wrote no report")?;
    Ok((report_url(state, &dir), outcome.result.verdict.sentence))
}

/// Frames of one size (the first frame's; others are resized) at the page's 10 frames a second.
fn write_avi(path: &Path, frames: &[Vec<u8>]) -> Result<()> {
    let first = super::live::decode(&frames[0]).map_err(anyhow::Error::msg)?;
    let size = Size::new(first.cols(), first.rows());
    let fourcc = opencv::videoio::VideoWriter::fourcc('M', 'J', 'P', 'G')?;
    let mut writer = opencv::videoio::VideoWriter::new(
        path.to_str().context("the reports path is not UTF-8")?,
        fourcc,
        10.0,
        size,
        true,
    )?;
    anyhow::ensure!(
        writer.is_opened()?,
        "OpenCV cannot write {}",
        path.display()
    );
    for jpeg in frames {
        let Ok(bgr) = super::live::decode(jpeg) else {
            continue;
        };
        let mut sized = Mat::default();
        opencv::imgproc::resize(
            &bgr,
            &mut sized,
            size,
            0.0,
            0.0,
            opencv::imgproc::INTER_AREA,
        )?;
        writer.write(&sized)?;
    }
    writer.release()?;
    Ok(())
}

/// `infer`'s own defaults, with the server's models and reports folder.
fn infer_options(state: &AppState, clip: &Path, strategy: Strategy) -> InferOptions {
    let o = &state.options;
    InferOptions {
        clip: clip.to_path_buf(),
        model: o.model.clone(),
        song_model: o.song_model.clone(),
        sources: o.sources,
        every: 1,
        max_frames: None,
        largest_face: false,
        key_every: 4,
        detector: o.detector.clone(),
        tracker: TrackerParams::default(),
        ema_alpha: None,
        uncertain_margin: 0.1,
        top: o.top,
        seed: None,
        strategy,
        library: None,
        batch_size: crate::infer::DEFAULT_BATCH_SIZE,
        backend: o.backend,
        reports_dir: o.reports_dir.clone(),
        write_report: true,
        command: format!("workbench serve (clip {})", clip.display()),
    }
}

/// `/reports/...` for a report directory under the reports folder.
fn report_url(state: &AppState, dir: &Path) -> String {
    let relative = dir
        .strip_prefix(&state.options.reports_dir)
        .unwrap_or(dir)
        .to_string_lossy()
        .replace('\\', "/");
    format!("/reports/{relative}/index.html")
}

/// A private folder for one uploaded file, removed with everything in it when dropped.
struct Staged {
    dir: PathBuf,
    file: PathBuf,
}

impl Staged {
    fn new(reports: &Path, name: &str) -> Result<Staged> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = reports.join(format!(".upload-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Staged {
            file: dir.join(safe_name(name)),
            dir,
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The last path component of `name`, with anything but letters, digits, `-`, `_` and `.`
/// replaced (the report folder is named after it).
fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned = crate::artifacts::name_safe(last, ".");
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "clip".into()
    } else {
        trimmed.chars().take(80).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn upload_names_cannot_leave_their_folder() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\x\\clip one.gif"), "clip_one.gif");
        assert_eq!(safe_name(".."), "clip");
        assert_eq!(safe_name(".hidden.mp4"), "hidden.mp4");
    }
}
