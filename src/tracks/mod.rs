//! Songs → standardised audio features → clusters → moods. The kernels live here: scaling,
//! k-means, cluster-quality metrics, PCA and the mood rule. (The `cluster` command that reads
//! catalogues and writes `models/song-clusters.json` builds on them.)

pub mod kmeans;
pub mod metrics;
pub mod moods;
pub mod pca;
pub mod scale;
