//! The one rule that names song clusters with moods. No cluster is ever named by hand.
//!
//! A cluster's centroid (in the features' own units) is a point in the valence–arousal plane
//! ([`crate::affect::song_affect`]: Spotify's valence and energy), and the cluster takes the mood
//! whose point ([`Mood::affect`], sourced in [`crate::affect`]) is nearest. Several clusters may
//! share a mood and a mood may have no cluster; both are said in the map (`shared_moods`,
//! `empty_moods`), never papered over.
//!
//! Why nearest and not a one-to-one assignment of six moods to six clusters: k-means centroids
//! of real catalogues crowd the middle of the plane (they are means), and forcing every mood onto
//! some cluster names the live-recordings cluster "surprise" and the acoustic one "sad" whatever
//! their position. On the development labels a one-to-one naming agreed with people 45 % of the
//! time, the nearest point 64 % (README, "Songs that sound like the mood").

use crate::affect::{self, Affect};
use crate::emotion::Mood;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMood {
    pub cluster: usize,
    pub mood: Mood,
    /// Where the centroid sits in the valence–arousal plane.
    pub affect: Affect,
    /// Distance from that point to the mood's point.
    pub distance: f64,
    /// Why, in words: the position and the nearest mood point.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoodMap {
    pub clusters: Vec<ClusterMood>,
    /// Moods no cluster sits nearest to.
    pub empty_moods: Vec<Mood>,
    /// Moods more than one cluster sits nearest to.
    pub shared_moods: Vec<Mood>,
    /// How the map was made, and which axes the catalogue lacked.
    pub method: String,
}

/// Names each cluster (rows of `centroids`, original units, columns named by `features`).
pub fn assign_moods(features: &[String], centroids: ArrayView2<f64>) -> MoodMap {
    let clusters: Vec<ClusterMood> = centroids
        .rows()
        .into_iter()
        .enumerate()
        .map(|(cluster, row)| {
            let point = affect::song_affect(features, row.as_slice().expect("standard layout"));
            let (mood, distance) = Mood::nearest(point);
            let m = mood.affect();
            ClusterMood {
                cluster,
                mood,
                affect: point,
                distance,
                reason: format!(
                    "{}: nearest {mood} ({:+.2}, {:+.2}) at {distance:.2}",
                    point.describe(),
                    m.valence,
                    m.arousal
                ),
            }
        })
        .collect();
    let count = |mood: Mood| clusters.iter().filter(|c| c.mood == mood).count();
    let missing: Vec<&str> = affect::SONG_AXES
        .into_iter()
        .filter(|a| !features.iter().any(|f| f == a))
        .collect();
    let mut method = "nearest mood point in the valence–arousal plane (valence from Spotify's valence, arousal from energy)".to_string();
    if !missing.is_empty() {
        method.push_str(&format!(
            "; this catalogue has no {} column, so every cluster sits at 0 on that axis",
            missing.join(" or ")
        ));
    }
    MoodMap {
        empty_moods: Mood::ALL.into_iter().filter(|&m| count(m) == 0).collect(),
        shared_moods: Mood::ALL.into_iter().filter(|&m| count(m) > 1).collect(),
        clusters,
        method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn names() -> Vec<String> {
        ["acousticness", "energy", "liveness", "valence"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// A centroid at (valence, energy) in Spotify's 0..1 units; the other features are noise
    /// the rule must ignore.
    fn centroid(valence: f64, energy: f64, liveness: f64) -> [f64; 4] {
        [0.3, energy, liveness, valence]
    }

    #[test]
    fn hand_made_centroids_take_the_mood_of_their_region() {
        let rows = [
            centroid(0.92, 0.78, 0.1), // pleasant, active → happy
            centroid(0.15, 0.30, 0.1), // unpleasant, low → sad
            centroid(0.22, 0.82, 0.1), // unpleasant, active → angry
            centroid(0.18, 0.85, 0.1), // more unpleasant, as active → fear
            centroid(0.68, 0.88, 0.9), // pleasant, very active → surprise (liveness is ignored)
            centroid(0.50, 0.25, 0.1), // middle valence, calm → neutral
        ];
        let c = Array2::from_shape_vec((6, 4), rows.concat()).unwrap();
        let map = assign_moods(&names(), c.view());
        let moods: Vec<Mood> = map.clusters.iter().map(|c| c.mood).collect();
        assert_eq!(
            moods,
            vec![
                Mood::Happy,
                Mood::Sad,
                Mood::Angry,
                Mood::Fear,
                Mood::Surprise,
                Mood::Neutral
            ]
        );
        assert!(map.empty_moods.is_empty() && map.shared_moods.is_empty());
        assert!(
            map.clusters[5]
                .reason
                .starts_with("valence +0.00, arousal -0.50: nearest neutral"),
            "{}",
            map.clusters[5].reason
        );
    }

    #[test]
    fn the_average_song_is_not_neutral_and_shared_or_empty_moods_are_said() {
        // Two energetic middle-valence clusters and one calm one: no sad, no happy.
        let rows = [
            centroid(0.51, 0.79, 0.5),
            centroid(0.55, 0.70, 0.1),
            centroid(0.40, 0.40, 0.1),
        ];
        let c = Array2::from_shape_vec((3, 4), rows.concat()).unwrap();
        let map = assign_moods(&names(), c.view());
        assert_ne!(map.clusters[1].mood, Mood::Neutral, "{:?}", map.clusters[1]);
        assert_eq!(map.clusters[2].mood, Mood::Neutral);
        assert_eq!(map.shared_moods, vec![Mood::Surprise]);
        assert!(map.empty_moods.contains(&Mood::Happy) && map.empty_moods.contains(&Mood::Sad));
    }

    #[test]
    fn a_catalogue_without_energy_says_so() {
        let only = vec!["valence".to_string()];
        let c = Array2::from_shape_vec((2, 1), vec![0.95, 0.1]).unwrap();
        let map = assign_moods(&only, c.view());
        assert!(map.method.contains("no energy column"), "{}", map.method);
        assert_eq!(map.clusters[0].affect.arousal, 0.0);
    }
}
