//! Songs → standardised audio features → clusters → moods. `catalog` reads track tables,
//! `scale`, `kmeans`, `metrics`, `pca` and `sweep` are the kernels, `moods` names clusters,
//! `model` is the saved `song-clusters.json`, and `cluster` runs the command end to end.

pub mod agreement;
pub mod bench;
pub mod catalog;
pub mod cluster;
pub mod cluster_report;
pub mod kmeans;
pub mod metrics;
pub mod model;
pub mod moods;
pub mod pca;
pub mod playlists;
pub mod scale;
pub mod sweep;
pub mod weak_labels;
