//! Reports through the server: `/reports/<path>` serves files from under the reports folder and
//! nowhere else, and `/api/runs` lists every run's report, newest first, with the figures that
//! say what it was (reading the artifacts the commands wrote, not their code).

use super::AppState;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Why a path was refused.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// `..`, an absolute path, a backslash or NUL, a hidden component: never a report.
    BadPath,
    /// Not there, or (through a link) outside the reports folder.
    NotFound,
}

/// The file `requested` names under `root`, if it is one and stays inside it.
pub fn confine(root: &Path, requested: &str) -> Result<PathBuf, Refusal> {
    if requested.is_empty() || requested.contains(['\\', '\0']) {
        return Err(Refusal::BadPath);
    }
    let relative = Path::new(requested);
    let plain = relative.components().all(|c| match c {
        Component::Normal(part) => !part.to_string_lossy().starts_with('.'),
        _ => false,
    });
    if !plain {
        return Err(Refusal::BadPath);
    }
    let root = root.canonicalize().map_err(|_| Refusal::NotFound)?;
    let file = root
        .join(relative)
        .canonicalize()
        .map_err(|_| Refusal::NotFound)?;
    if !file.starts_with(&root) || !file.is_file() {
        return Err(Refusal::NotFound);
    }
    Ok(file)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "png" => "image/png",
        "gif" => "image/gif",
        "json" => "application/json",
        "csv" => "text/csv; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "toml" | "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `GET /reports/<path>`.
pub async fn report_file(
    State(state): State<Arc<AppState>>,
    UrlPath(path): UrlPath<String>,
) -> Response {
    match confine(&state.options.reports_dir, &path) {
        Ok(file) => match tokio::fs::read(&file).await {
            Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&file))], bytes).into_response(),
            Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
        },
        Err(Refusal::BadPath) => (
            StatusCode::BAD_REQUEST,
            "refused: only files under reports/ are served",
        )
            .into_response(),
        Err(Refusal::NotFound) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// One run's report, as the runs page lists it.
#[derive(Debug, Serialize)]
pub struct Run {
    /// fer, cluster or infer.
    pub kind: &'static str,
    pub name: String,
    /// Where its report is served.
    pub url: String,
    /// Seconds since the epoch, of the report's last change.
    pub modified: u64,
    /// What it was, in a line (accuracy, k and moods, the clip's verdict).
    pub summary: String,
}

/// `GET /api/runs`.
pub async fn runs(State(state): State<Arc<AppState>>) -> Json<Vec<Run>> {
    let root = state.options.reports_dir.clone();
    let listed = tokio::task::spawn_blocking(move || list_runs(&root))
        .await
        .unwrap_or_default();
    Json(listed)
}

/// Every `<kind>/<run>/index.html` under `root`, newest first.
pub fn list_runs(root: &Path) -> Vec<Run> {
    let mut runs = Vec::new();
    for kind in ["fer", "cluster", "infer"] {
        let Ok(dirs) = std::fs::read_dir(root.join(kind)) else {
            continue;
        };
        for dir in dirs.flatten().map(|d| d.path()) {
            let name = dir.file_name().map(|n| n.to_string_lossy().to_string());
            let Some(name) = name.filter(|n| !n.starts_with('.')) else {
                continue;
            };
            let index = dir.join("index.html");
            let Ok(meta) = std::fs::metadata(&index) else {
                continue;
            };
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            runs.push(Run {
                kind,
                url: format!("/reports/{kind}/{name}/index.html"),
                summary: summary(kind, &dir),
                name,
                modified,
            });
        }
    }
    runs.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.name.cmp(&b.name)));
    runs
}

fn json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn summary(kind: &str, dir: &Path) -> String {
    match kind {
        "fer" => fer_summary(dir),
        "cluster" => cluster_summary(dir),
        _ => infer_summary(dir),
    }
}

fn fer_summary(dir: &Path) -> String {
    let mut parts = Vec::new();
    if let Some(Value::Array(epochs)) = json(&dir.join("metrics.json")) {
        let best = epochs
            .iter()
            .filter_map(|e| e["public_accuracy"].as_f64())
            .fold(f64::NAN, f64::max);
        parts.push(format!("{} epochs", epochs.len()));
        if best.is_finite() {
            parts.push(format!("best PublicTest {:.2} %", 100.0 * best));
        }
    }
    if let Some(eval) = json(&dir.join("eval-PrivateTest-none.json")) {
        if let Some(a) = eval["metrics"]["accuracy"].as_f64() {
            parts.push(format!("PrivateTest {:.2} %", 100.0 * a));
        }
    }
    parts.join(" · ")
}

fn cluster_summary(dir: &Path) -> String {
    let Some(s) = json(&dir.join("summary.json")) else {
        return String::new();
    };
    let moods: Vec<&str> = s["moods"]
        .as_array()
        .map(|m| m.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let mut line = format!("k = {} · {}", s["k"], moods.join(", "));
    if let Some(a) = s["agreement"].as_f64() {
        line.push_str(&format!(" · agrees with labels {:.1} %", 100.0 * a));
    }
    line
}

fn infer_summary(dir: &Path) -> String {
    let Some(r) = json(&dir.join("result.json")) else {
        return String::new();
    };
    let clip = r["clip"]["path"]
        .as_str()
        .and_then(|p| Path::new(p).file_name())
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    format!(
        "{clip}: {}",
        r["verdict"]["sentence"].as_str().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_inside_the_root_are_served() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("infer/a")).unwrap();
        std::fs::write(root.path().join("infer/a/index.html"), "x").unwrap();
        assert!(confine(root.path(), "infer/a/index.html").is_ok());
        for bad in [
            "../secret.txt",
            "/etc/passwd",
            "infer/../../x",
            "infer\\a",
            ".upload-1/x",
            "",
        ] {
            assert_eq!(confine(root.path(), bad), Err(Refusal::BadPath), "{bad}");
        }
        assert_eq!(
            confine(root.path(), "infer/b/index.html"),
            Err(Refusal::NotFound)
        );
        assert_eq!(
            confine(root.path(), "infer/a"),
            Err(Refusal::NotFound),
            "a folder"
        );
        // A link that leads out of the root is not followed out.
        std::os::unix::fs::symlink("/etc", root.path().join("infer/out")).unwrap();
        assert_eq!(
            confine(root.path(), "infer/out/hostname"),
            Err(Refusal::NotFound)
        );
    }
}
