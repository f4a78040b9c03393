//! Songs for a point in the valence–arousal plane (`crate::affect`): from the mood whose songs
//! sit nearest the point, the songs nearest the point first (ties: more popular first). The
//! songs come from the song model's per-mood playlists or from the user's liked-songs library
//! (placed by the same model). `--seed` gives variety: the songs are then a seeded draw from the
//! nearest 3×N, listed nearest first.

use crate::affect::Affect;
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
    /// Where the song sits in the valence–arousal plane.
    pub affect: Affect,
    /// Its distance in the plane to the point aimed at.
    pub distance: f64,
}

/// `tracks` nearest `aim` first, more popular first on a tie, then in their given order.
fn ranked<'a>(
    tracks: &'a [PlaylistTrack],
    names: &[String],
    aim: Affect,
) -> Vec<(&'a PlaylistTrack, Affect)> {
    let mut v: Vec<(&PlaylistTrack, Affect)> =
        tracks.iter().map(|t| (t, t.affect(names))).collect();
    v.sort_by(|(a, pa), (b, pb)| {
        PlaylistTrack::nearest_first(
            (pa.distance(aim), a.track.popularity),
            (pb.distance(aim), b.track.popularity),
        )
    });
    v
}

/// From the song model's own playlist for `mood`.
pub fn recommend(
    model: &SongClusters,
    mood: Mood,
    aim: Affect,
    n: usize,
    seed: Option<u64>,
) -> Vec<Recommendation> {
    match model.playlist(mood) {
        Some(playlist) => pick(&playlist.tracks, &model.features, aim, n, seed),
        None => vec![],
    }
}

/// Where songs came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pool {
    /// The song model's playlist for the mood.
    Catalogue,
    /// The user's liked songs: this many of them are placed in the mood.
    Liked { in_mood: usize },
    /// The user's liked songs were asked for, but none is placed in the mood: the catalogue.
    CatalogueNoneLiked,
}

/// From the user's liked songs (`library`, placed by `model`) when given and some are in
/// `mood`, else from the song model's playlist: the one rule `infer` and `serve` share.
pub fn from_library_or_catalogue(
    model: &SongClusters,
    library: Option<&[PlaylistTrack]>,
    mood: Mood,
    aim: Affect,
    n: usize,
    seed: Option<u64>,
) -> (Vec<Recommendation>, Pool) {
    match library {
        Some(pool) => {
            let mine = model.songs_in(mood, pool);
            if mine.is_empty() {
                (
                    recommend(model, mood, aim, n, seed),
                    Pool::CatalogueNoneLiked,
                )
            } else {
                let in_mood = mine.len();
                (
                    pick(&mine, &model.features, aim, n, seed),
                    Pool::Liked { in_mood },
                )
            }
        }
        None => (recommend(model, mood, aim, n, seed), Pool::Catalogue),
    }
}

/// The best `n` of `tracks` for `aim` (see the module doc).
pub fn pick(
    tracks: &[PlaylistTrack],
    names: &[String],
    aim: Affect,
    n: usize,
    seed: Option<u64>,
) -> Vec<Recommendation> {
    let mut pool = ranked(tracks, names, aim);
    if let Some(seed) = seed {
        pool.truncate(3 * n);
        let mut rng = SplitMix64::for_stream(seed, 0x50f6);
        let mut order: Vec<usize> = (0..pool.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        order.truncate(n);
        // Back to nearest first: `pool` is ranked, so its indices are.
        order.sort_unstable();
        pool = order.into_iter().map(|i| pool[i]).collect();
    }
    pool.into_iter()
        .take(n)
        .enumerate()
        .map(|(i, (t, point))| Recommendation {
            rank: i + 1,
            id: t.track.id.clone(),
            name: t.track.name.clone(),
            artists: t.track.artists.clone(),
            popularity: t.track.popularity,
            url: t.track.spotify_url(),
            cluster: t.cluster,
            affect: point,
            distance: point.distance(aim),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracks::catalog::Track;

    fn song(name: &str, valence: f64, energy: f64, popularity: f64) -> PlaylistTrack {
        PlaylistTrack {
            track: Track {
                id: Some(name.into()),
                name: name.into(),
                artists: "a".into(),
                popularity: Some(popularity),
            },
            cluster: 0,
            distance: 0.0,
            features: vec![valence, energy],
        }
    }

    #[test]
    fn songs_nearest_the_aim_come_first_and_ties_go_to_the_popular() {
        let names = vec!["valence".to_string(), "energy".to_string()];
        let songs = [
            song("far", 0.1, 0.1, 90.0),
            song("near-unpopular", 0.9, 0.75, 10.0),
            song("near-popular", 0.9, 0.75, 50.0),
            song("middle", 0.6, 0.6, 99.0),
        ];
        let aim = Affect::new(0.8, 0.5);
        let got: Vec<String> = pick(&songs, &names, aim, 3, None)
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(got, ["near-popular", "near-unpopular", "middle"]);
        let drawn = pick(&songs, &names, aim, 2, Some(7));
        assert_eq!(drawn.len(), 2);
        assert!(drawn[0].distance <= drawn[1].distance);
    }
}
