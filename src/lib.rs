//! workbench: emotion-aware music recommendation, measured.
//!
//! Data flows one way through artifacts, which are the contracts between stages:
//! FER2013 → `fer` (train, evaluate, export a model with its checked card) · song tables →
//! `tracks` (k-means mood clusters → `song-clusters.json`) · a clip → `vision` (frames, faces,
//! face tracks) → `infer` (the FER model per face → a mood → songs from the song model) →
//! `report` (charts, pages). `spotify` is optional (login, liked songs, playlists).
//! `artifacts` makes every output complete-or-absent, never replaced without `--force`.

/// An error and its causes on one line, each cause once: our errors already quote their source
/// ("path: No such file or directory"), which anyhow's `{:#}` would repeat.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

pub mod affect;
pub mod artifacts;
pub mod backend;
pub mod defaults;
pub mod emotion;
pub mod fer;
#[cfg(feature = "vision")]
pub mod infer;
pub mod progress;
pub mod report;
pub mod rng;
#[cfg(feature = "vision")]
pub mod serve;
pub mod spotify;
pub mod tracks;
#[cfg(feature = "vision")]
pub mod vision;
