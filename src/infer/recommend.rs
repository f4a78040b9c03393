//! Songs for a mood from the song model's per-mood playlists or from the user's liked-songs
//! library (placed by the same model): nearest the mood's centroid first, more popular first on
//! a tie. `--seed` gives variety: the songs are then a seeded draw from the nearest 3×N, listed
//! nearest first.

use crate::emotion::Mood;
use crate::rng::SplitMix64;
use crate::tracks::model::{PlaylistTrack, SongClusters};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub rank: usize,
    pub id: Option<String>,
    pub name: String,
    pub artists: String,
    pub popularity: Option<f64>,
    pub url: Option<String>,
    pub cluster: usize,
    pub distance: f64,
}

fn ranked(tracks: &[PlaylistTrack]) -> Vec<&PlaylistTrack> {
    let mut v: Vec<&PlaylistTrack> = tracks.iter().collect();
    v.sort_by(|a, b| PlaylistTrack::nearest_first(a.rank_key(), b.rank_key()));
    v
}

/// From the song model's own playlist for `mood`.
pub fn recommend(
    model: &SongClusters,
    mood: Mood,
    n: usize,
    seed: Option<u64>,
) -> Vec<Recommendation> {
    match model.playlist(mood) {
        Some(playlist) => pick(&playlist.tracks, n, seed),
        None => vec![],
    }
}

/// The best `n` of `tracks` (see the module doc).
pub fn pick(tracks: &[PlaylistTrack], n: usize, seed: Option<u64>) -> Vec<Recommendation> {
    let mut pool = ranked(tracks);
    if let Some(seed) = seed {
        pool.truncate(3 * n);
        let mut rng = SplitMix64::for_stream(seed, 0x50f6);
        for i in (1..pool.len()).rev() {
            pool.swap(i, rng.below(i + 1));
        }
        pool.truncate(n);
        pool = ranked(&pool.into_iter().cloned().collect::<Vec<_>>())
            .into_iter()
            .map(|t| tracks.iter().find(|x| x == &t).expect("drawn from it"))
            .collect();
    }
    pool.into_iter()
        .take(n)
        .enumerate()
        .map(|(i, t)| Recommendation {
            rank: i + 1,
            id: t.track.id.clone(),
            name: t.track.name.clone(),
            artists: t.track.artists.clone(),
            popularity: t.track.popularity,
            url: t.track.spotify_url(),
            cluster: t.cluster,
            distance: t.distance,
        })
        .collect()
}
