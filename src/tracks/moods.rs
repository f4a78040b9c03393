//! The one rule that names song clusters with moods. No cluster is ever named by hand.
//!
//! Each cluster's centroid is expressed in z-scores of the catalogue (how many standard
//! deviations each feature sits above or below the average song). Every mood has a score, a
//! weighted sum of those z-scores:
//!
//! | mood | score |
//! |---|---|
//! | happy | valence + ½ energy + ½ danceability |
//! | sad | −valence − ½ energy + ½ acousticness |
//! | angry | energy + ½ loudness − ½ valence − ½ acousticness |
//! | fear | instrumentalness − ½ valence − ½ danceability |
//! | surprise | liveness + ½ speechiness + ½ energy |
//! | neutral | −2 × the mean absolute z-score (a centroid near the average song) |
//!
//! This is the valence × energy circumplex (Russell 1980: happy high/high, sad low/low, angry
//! low valence/high energy), with acousticness, loudness, instrumentalness, liveness and
//! speechiness as tie-breakers. Features missing from a catalogue drop out of the sums.
//!
//! With k = 6 the clusters and moods are matched one-to-one by the assignment with the largest
//! total score (all 720 permutations). Otherwise each cluster takes its best-scoring mood, and
//! the moods that several clusters share, or that none has, are reported.

use crate::emotion::Mood;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// (feature, weight) terms of each mood's score; neutral is handled apart.
fn terms(mood: Mood) -> &'static [(&'static str, f64)] {
    match mood {
        Mood::Happy => &[("valence", 1.0), ("energy", 0.5), ("danceability", 0.5)],
        Mood::Sad => &[("valence", -1.0), ("energy", -0.5), ("acousticness", 0.5)],
        Mood::Angry => &[
            ("energy", 1.0),
            ("loudness", 0.5),
            ("valence", -0.5),
            ("acousticness", -0.5),
        ],
        Mood::Fear => &[
            ("instrumentalness", 1.0),
            ("valence", -0.5),
            ("danceability", -0.5),
        ],
        Mood::Surprise => &[("liveness", 1.0), ("speechiness", 0.5), ("energy", 0.5)],
        Mood::Neutral => &[],
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMood {
    pub cluster: usize,
    pub mood: Mood,
    pub score: f64,
    /// Why, in words: the terms that drove the score.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoodMap {
    pub clusters: Vec<ClusterMood>,
    /// Moods no cluster carries (k < 6, or k ≠ 6 with ties).
    pub empty_moods: Vec<Mood>,
    /// Moods carried by more than one cluster.
    pub shared_moods: Vec<Mood>,
    /// How the map was made: "one-to-one over 720 permutations" or "best mood per cluster".
    pub method: String,
}

/// Score of `mood` for one centroid given in z-scores.
pub fn score(mood: Mood, features: &[String], z: &[f64]) -> f64 {
    if mood == Mood::Neutral {
        let mean_abs = z.iter().map(|v| v.abs()).sum::<f64>() / z.len().max(1) as f64;
        return -2.0 * mean_abs;
    }
    terms(mood)
        .iter()
        .filter_map(|(name, w)| features.iter().position(|f| f == name).map(|j| w * z[j]))
        .sum()
}

fn reason(mood: Mood, features: &[String], z: &[f64]) -> String {
    if mood == Mood::Neutral {
        let mean_abs = z.iter().map(|v| v.abs()).sum::<f64>() / z.len().max(1) as f64;
        return format!("closest to the average song: mean |z| = {mean_abs:.2}");
    }
    let mut parts: Vec<(f64, String)> = terms(mood)
        .iter()
        .filter_map(|(name, w)| {
            features
                .iter()
                .position(|f| f == name)
                .map(|j| (w * z[j], format!("{name} {:+.2}σ", z[j])))
        })
        .collect();
    parts.sort_by(|a, b| b.0.total_cmp(&a.0));
    parts
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names each cluster (rows of `centroids_z`, in z-scores) with a mood by the rule above.
pub fn assign_moods(features: &[String], centroids_z: ArrayView2<f64>) -> MoodMap {
    let k = centroids_z.nrows();
    let scores: Vec<Vec<f64>> = centroids_z
        .rows()
        .into_iter()
        .map(|z| {
            let z = z.to_vec();
            Mood::ALL.iter().map(|&m| score(m, features, &z)).collect()
        })
        .collect();
    let (choice, method): (Vec<usize>, &str) = if k == Mood::ALL.len() {
        (
            best_permutation(&scores),
            "one-to-one: the assignment with the largest total score over all 720 permutations",
        )
    } else {
        let best = scores
            .iter()
            .map(|s| {
                (0..s.len())
                    .max_by(|&a, &b| s[a].total_cmp(&s[b]))
                    .expect("six moods")
            })
            .collect();
        (
            best,
            "best-scoring mood per cluster (k is not 6, so moods may be shared or empty)",
        )
    };
    let clusters: Vec<ClusterMood> = choice
        .iter()
        .enumerate()
        .map(|(c, &m)| {
            let z = centroids_z.row(c).to_vec();
            ClusterMood {
                cluster: c,
                mood: Mood::ALL[m],
                score: scores[c][m],
                reason: reason(Mood::ALL[m], features, &z),
            }
        })
        .collect();
    let count = |mood: Mood| clusters.iter().filter(|c| c.mood == mood).count();
    MoodMap {
        empty_moods: Mood::ALL.into_iter().filter(|&m| count(m) == 0).collect(),
        shared_moods: Mood::ALL.into_iter().filter(|&m| count(m) > 1).collect(),
        clusters,
        method: method.into(),
    }
}

/// The mood index for each of six clusters maximising the total score (ties: the first
/// permutation in lexicographic order, so the result is deterministic).
fn best_permutation(scores: &[Vec<f64>]) -> Vec<usize> {
    let n = scores.len();
    let mut perm: Vec<usize> = (0..n).collect();
    let mut best = (f64::NEG_INFINITY, perm.clone());
    loop {
        let total: f64 = perm.iter().enumerate().map(|(c, &m)| scores[c][m]).sum();
        if total > best.0 {
            best = (total, perm.clone());
        }
        if !next_permutation(&mut perm) {
            return best.1;
        }
    }
}

fn next_permutation(p: &mut [usize]) -> bool {
    let Some(i) = (1..p.len()).rev().find(|&i| p[i - 1] < p[i]) else {
        return false;
    };
    let j = (i..p.len())
        .rev()
        .find(|&j| p[j] > p[i - 1])
        .expect("exists");
    p.swap(i - 1, j);
    p[i..].reverse();
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    const FEATURES: [&str; 8] = [
        "acousticness",
        "danceability",
        "energy",
        "instrumentalness",
        "liveness",
        "loudness",
        "speechiness",
        "valence",
    ];

    fn names() -> Vec<String> {
        FEATURES.iter().map(|s| s.to_string()).collect()
    }

    /// A centroid with the given z-scores, zero elsewhere.
    fn centroid(values: &[(&str, f64)]) -> Vec<f64> {
        FEATURES
            .iter()
            .map(|f| values.iter().find(|(n, _)| n == f).map_or(0.0, |(_, v)| *v))
            .collect()
    }

    fn hand_made() -> Array2<f64> {
        let rows = [
            centroid(&[("acousticness", 1.5), ("energy", -1.2), ("valence", -1.0)]), // sad
            centroid(&[("valence", 1.3), ("danceability", 0.9), ("energy", 0.4)]),   // happy
            centroid(&[
                ("energy", 1.1),
                ("loudness", 0.9),
                ("valence", -0.6),
                ("acousticness", -0.8),
            ]), // angry
            centroid(&[("liveness", 2.0), ("speechiness", 0.5)]),                    // surprise
            centroid(&[("instrumentalness", 2.2), ("danceability", -0.5)]),          // fear
            centroid(&[("valence", 0.1), ("energy", 0.05)]),                         // neutral
        ];
        Array2::from_shape_vec((6, 8), rows.concat()).unwrap()
    }

    #[test]
    fn six_hand_made_centroids_get_six_distinct_moods_with_reasons() {
        let map = assign_moods(&names(), hand_made().view());
        let moods: Vec<Mood> = map.clusters.iter().map(|c| c.mood).collect();
        assert_eq!(
            moods,
            vec![
                Mood::Sad,
                Mood::Happy,
                Mood::Angry,
                Mood::Surprise,
                Mood::Fear,
                Mood::Neutral
            ]
        );
        assert!(map.empty_moods.is_empty() && map.shared_moods.is_empty());
        assert!(
            map.clusters[1].reason.starts_with("valence +1.30σ"),
            "{}",
            map.clusters[1].reason
        );
        assert!(map.clusters[5].reason.contains("average song"));
        assert!(map.method.contains("720"));
    }

    #[test]
    fn the_assignment_trades_off_when_two_clusters_want_the_same_mood() {
        // Two happy-ish clusters: the stronger keeps happy, the other takes its next best.
        let mut c = hand_made();
        c.row_mut(5).assign(&ndarray::Array1::from(centroid(&[
            ("valence", 0.9),
            ("danceability", 0.4),
            ("liveness", 0.3),
        ])));
        let map = assign_moods(&names(), c.view());
        assert_eq!(map.clusters[1].mood, Mood::Happy);
        assert_ne!(map.clusters[5].mood, Mood::Happy);
        let mut all: Vec<Mood> = map.clusters.iter().map(|c| c.mood).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn other_k_shares_or_leaves_moods_empty_and_says_which() {
        let c = hand_made();
        let three = assign_moods(&names(), c.slice(ndarray::s![..3, ..]));
        assert_eq!(
            three.empty_moods,
            vec![Mood::Fear, Mood::Surprise, Mood::Neutral]
        );
        let mut doubled = Array2::zeros((7, 8));
        doubled.slice_mut(ndarray::s![..6, ..]).assign(&c);
        doubled.row_mut(6).assign(&c.row(1));
        let seven = assign_moods(&names(), doubled.view());
        assert_eq!(seven.shared_moods, vec![Mood::Happy]);
        assert!(seven.method.contains("not 6"));
    }

    #[test]
    fn permutations_cover_all_720() {
        let mut p: Vec<usize> = (0..6).collect();
        let mut n = 1;
        while next_permutation(&mut p) {
            n += 1;
        }
        assert_eq!(n, 720);
    }
}
