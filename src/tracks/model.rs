//! `song-clusters.json`: everything needed to place a new song in a mood cluster and to
//! recommend from the catalogue, without the catalogue. It is the contract between `cluster`
//! (which writes it) and `infer` / `spotify` (which read it).

use super::catalog::{Catalog, CatalogSource, Track};
use super::kmeans::nearest;
use super::moods::MoodMap;
use super::pca::Pca;
use super::scale::Scaler;
use super::sweep::Sweep;
use crate::affect::{self, Affect};
use crate::emotion::Mood;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// v2: clusters are named by their place in the valence–arousal plane (`tracks::moods`).
pub const SONG_CLUSTERS_SCHEMA: &str = "workbench/song-clusters/v2";

/// Where `cluster` writes the song model and `infer` and `spotify` read it by default.
pub const DEFAULT_SONG_MODEL: &str = "models/song-clusters.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SongClusters {
    pub schema: String,
    pub created: String,
    pub git_commit: String,
    pub workbench_version: String,
    /// The command that rebuilds this file from its dataset.
    pub command: String,
    pub dataset: CatalogSource,
    pub features: Vec<String>,
    pub scaler: Scaler,
    pub k: usize,
    pub seed: u64,
    pub n_init: usize,
    /// `k × features`, in the scaler's space (what distances are measured in).
    pub centroids_scaled: Vec<Vec<f64>>,
    /// The same centroids in the features' own units.
    pub centroids: Vec<Vec<f64>>,
    /// Centroids as z-scores of the catalogue (the report's profile table).
    pub centroids_z: Vec<Vec<f64>>,
    pub sizes: Vec<usize>,
    pub inertia: f64,
    pub moods: MoodMap,
    /// Fitted on the scaled catalogue; every component, with its share of the variance.
    pub pca: Pca,
    /// The evidence for k: scores of every k in the sweep and the verdict.
    pub sweep: Option<Sweep>,
    /// For each mood with a cluster: its tracks nearest the centroid, nearest first.
    pub playlists: Vec<Playlist>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Playlist {
    pub mood: Mood,
    pub clusters: Vec<usize>,
    pub tracks: Vec<PlaylistTrack>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaylistTrack {
    #[serde(flatten)]
    pub track: Track,
    pub cluster: usize,
    /// Euclidean distance to the cluster's centroid, in the scaler's space.
    pub distance: f64,
    /// The features, in `SongClusters::features` order and original units.
    pub features: Vec<f64>,
}

impl PlaylistTrack {
    /// The one ranking rule for songs of a mood, wherever they are listed (the model's
    /// playlists, `infer`'s songs, Spotify playlists): nearest their cluster's centroid first,
    /// more popular first on a tie (unknown popularity counts as 0). Sort stably with it, so songs
    /// tied on both keep their order (the catalogue's).
    pub fn nearest_first(a: (f64, Option<f64>), b: (f64, Option<f64>)) -> std::cmp::Ordering {
        a.0.total_cmp(&b.0)
            .then(b.1.unwrap_or(0.0).total_cmp(&a.1.unwrap_or(0.0)))
    }

    /// Where this song sits in the valence–arousal plane (`names`: the model's features).
    pub fn affect(&self, names: &[String]) -> Affect {
        affect::song_affect(names, &self.features)
    }

    /// This song's keys for [`PlaylistTrack::nearest_first`].
    pub fn rank_key(&self) -> (f64, Option<f64>) {
        (self.distance, self.track.popularity)
    }
}

/// Of `points` (from [`SongClusters::mood_points`]), the one nearest `aim`.
pub fn nearest_mood_point(points: &[(Mood, Affect)], aim: Affect) -> Option<(Mood, Affect)> {
    points
        .iter()
        .copied()
        .min_by(|a, b| a.1.distance(aim).total_cmp(&b.1.distance(aim)))
}

/// Where a song falls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub cluster: usize,
    pub mood: Mood,
    pub distance: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SongModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a workbench song-clusters file: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("a song needs the {expected} features {names:?}; got {got} values")]
    FeatureCount {
        expected: usize,
        got: usize,
        names: Vec<String>,
    },
}

impl SongClusters {
    pub fn read(path: &Path) -> Result<SongClusters, SongModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| SongModelError::Io {
            path: path.into(),
            source,
        })?;
        let invalid = |message: String| SongModelError::Invalid {
            path: path.into(),
            message,
        };
        // The schema first: an older file would otherwise fail on a field name.
        let schema = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| invalid(e.to_string()))?
            .get("schema")
            .and_then(|s| s.as_str().map(str::to_string))
            .unwrap_or_default();
        if schema != SONG_CLUSTERS_SCHEMA {
            return Err(invalid(format!(
                "schema {schema:?}, expected {SONG_CLUSTERS_SCHEMA:?}{}",
                if schema == "workbench/song-clusters/v1" {
                    " (a song model from before moods were named by valence and arousal: rebuild it with `workbench cluster --force`)"
                } else {
                    ""
                }
            )));
        }
        let model: SongClusters =
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        model.check().map_err(invalid)?;
        Ok(model)
    }

    /// Shapes agree with each other (a hand-edited file fails here, not deep in `infer`).
    pub fn check(&self) -> Result<(), String> {
        let d = self.features.len();
        let k = self.k;
        let rows_ok = |m: &[Vec<f64>]| m.len() == k && m.iter().all(|r| r.len() == d);
        if d == 0 || k == 0 {
            return Err("no features or no clusters".into());
        }
        if self.scaler.offset.len() != d || self.scaler.scale.len() != d {
            return Err(format!("the scaler has not {d} features"));
        }
        if !rows_ok(&self.centroids_scaled)
            || !rows_ok(&self.centroids)
            || !rows_ok(&self.centroids_z)
        {
            return Err(format!("centroids are not {k} × {d}"));
        }
        if self.sizes.len() != k {
            return Err(format!(
                "{} cluster sizes for {k} clusters",
                self.sizes.len()
            ));
        }
        if self.moods.clusters.len() != k {
            return Err(format!(
                "the mood map names {} clusters, not {k}",
                self.moods.clusters.len()
            ));
        }
        Ok(())
    }

    pub fn mood_of(&self, cluster: usize) -> Mood {
        self.moods.clusters[cluster].mood
    }

    /// The songs of `placed` (placed by this model) that fall in `mood`, nearest first by the one
    /// ranking rule.
    pub fn songs_in(&self, mood: Mood, placed: &[PlaylistTrack]) -> Vec<PlaylistTrack> {
        let mut songs: Vec<PlaylistTrack> = placed
            .iter()
            .filter(|t| self.mood_of(t.cluster) == mood)
            .cloned()
            .collect();
        songs.sort_by(|a, b| PlaylistTrack::nearest_first(a.rank_key(), b.rank_key()));
        songs
    }

    fn centroid_matrix(&self) -> Array2<f64> {
        let d = self.features.len();
        Array2::from_shape_vec(
            (self.k, d),
            self.centroids_scaled.iter().flatten().copied().collect(),
        )
        .expect("checked shapes")
    }

    /// Places a song given its features in `self.features` order and original units.
    pub fn place(&self, features: &[f64]) -> Result<Placement, SongModelError> {
        if features.len() != self.features.len() {
            return Err(SongModelError::FeatureCount {
                expected: self.features.len(),
                got: features.len(),
                names: self.features.clone(),
            });
        }
        let scaled = self
            .scaler
            .transform_row(Array1::from(features.to_vec()).view());
        let (cluster, d2) = nearest(Array1::from(scaled).view(), &self.centroid_matrix());
        Ok(Placement {
            cluster,
            mood: self.mood_of(cluster),
            distance: d2.sqrt(),
        })
    }

    /// Places every track of a catalogue read with this model's features (e.g. the user's liked
    /// songs), in catalogue order.
    pub fn place_all(&self, catalog: &Catalog) -> Result<Vec<PlaylistTrack>, SongModelError> {
        if catalog.feature_names != self.features {
            return Err(SongModelError::FeatureCount {
                expected: self.features.len(),
                got: catalog.feature_names.len(),
                names: self.features.clone(),
            });
        }
        catalog
            .tracks
            .iter()
            .zip(catalog.features.rows())
            .map(|(track, row)| {
                let features = row.to_vec();
                let placement = self.place(&features)?;
                Ok(PlaylistTrack {
                    track: track.clone(),
                    cluster: placement.cluster,
                    distance: placement.distance,
                    features,
                })
            })
            .collect()
    }

    /// Where each mood that has a cluster sits: the size-weighted mean of its clusters' points,
    /// which is the point of its songs' mean features (the plane is linear in them).
    pub fn mood_points(&self) -> Vec<(Mood, Affect)> {
        Mood::ALL
            .into_iter()
            .filter_map(|mood| {
                let (mut v, mut a, mut n) = (0.0, 0.0, 0.0);
                for c in self.moods.clusters.iter().filter(|c| c.mood == mood) {
                    let w = self.sizes[c.cluster] as f64;
                    v += w * c.affect.valence;
                    a += w * c.affect.arousal;
                    n += w;
                }
                (n > 0.0).then(|| (mood, Affect::new(v / n, a / n)))
            })
            .collect()
    }

    /// The mood whose songs sit nearest `aim`, with their point (`None`: no mood has songs).
    pub fn mood_nearest(&self, aim: Affect) -> Option<(Mood, Affect)> {
        nearest_mood_point(&self.mood_points(), aim)
    }

    pub fn playlist(&self, mood: Mood) -> Option<&Playlist> {
        self.playlists.iter().find(|p| p.mood == mood)
    }
}
