//! A mood's playlist: the catalogue's songs of the clusters named with that mood, ranked by the
//! one rule ([`PlaylistTrack::nearest_first`]). Used by `cluster` (the model keeps the first
//! few) and by its report (whole-mood CSVs).

use super::catalog::Catalog;
use super::kmeans::KMeansFit;
use super::model::{Playlist, PlaylistTrack};
use crate::emotion::Mood;
use ndarray::Array2;

/// Each cluster's tracks, nearest its centroid first (ties: more popular first).
pub fn ranked_members(
    fit: &KMeansFit,
    scaled: &Array2<f64>,
    catalog: &Catalog,
    cluster: usize,
) -> Vec<(usize, f64)> {
    let centroid = fit.centroids.row(cluster);
    let mut members: Vec<(usize, f64)> = fit
        .labels
        .iter()
        .enumerate()
        .filter(|(_, &l)| l == cluster)
        .map(|(i, _)| {
            (
                i,
                super::kmeans::squared_distance(scaled.row(i), centroid).sqrt(),
            )
        })
        .collect();
    let popularity = |i: usize| catalog.tracks[i].popularity;
    members.sort_by(|a, b| {
        PlaylistTrack::nearest_first((a.1, popularity(a.0)), (b.1, popularity(b.0)))
            .then(a.0.cmp(&b.0))
    });
    members
}

/// A mood's playlist: the tracks of its clusters, nearest their own centroid first.
pub fn mood_playlist(
    model_moods: &super::moods::MoodMap,
    mood: Mood,
    fit: &KMeansFit,
    scaled: &Array2<f64>,
    catalog: &Catalog,
    limit: usize,
) -> Option<Playlist> {
    let clusters: Vec<usize> = model_moods
        .clusters
        .iter()
        .filter(|c| c.mood == mood)
        .map(|c| c.cluster)
        .collect();
    if clusters.is_empty() {
        return None;
    }
    let mut members: Vec<(usize, usize, f64)> = clusters
        .iter()
        .flat_map(|&c| {
            ranked_members(fit, scaled, catalog, c)
                .into_iter()
                .map(move |(i, d)| (c, i, d))
        })
        .collect();
    let popularity = |i: usize| catalog.tracks[i].popularity;
    members.sort_by(|a, b| {
        PlaylistTrack::nearest_first((a.2, popularity(a.1)), (b.2, popularity(b.1)))
            .then(a.1.cmp(&b.1))
    });
    members.truncate(limit);
    Some(Playlist {
        mood,
        clusters,
        tracks: members
            .into_iter()
            .map(|(c, i, d)| PlaylistTrack {
                track: catalog.tracks[i].clone(),
                cluster: c,
                distance: d,
                features: catalog.features.row(i).to_vec(),
            })
            .collect(),
    })
}
