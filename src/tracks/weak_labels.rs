//! Weak mood labels from people's own playlist names (`workbench mood-labels`): a development
//! signal for the mood rule that nobody had to label by hand. The TidyTuesday table lists every
//! song with the playlist it came from; a playlist called "Sad Trap" or "Lo-Fi Beats" says what
//! its curator heard in it.
//!
//! The rule, stated once: a playlist name is split into lower-case words (letters and digits);
//! it earns a label when it contains one of that label's words (or word pairs) below, and only
//! one label's. A song takes a label when every labelled playlist it is in agrees; songs in
//! playlists that disagree are dropped and counted. The labels are weak (a "workout" playlist
//! can hold a ballad): use them to compare rules, not as the truth.

use super::catalog::{self, CatalogError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// (label, the words and word pairs that earn it).
pub const RULES: [(&str, &[&str]); 4] = [
    (
        "Energetic",
        &[
            "workout", "gym", "cardio", "fitness", "party", "fiesta", "run", "running", "beast",
            "pump", "hype",
        ],
    ),
    (
        "Calm",
        &[
            "chill", "chillout", "lofi", "lo fi", "lounge", "coffee", "soft", "smooth", "slow",
            "relax", "relaxing", "sleep", "calm", "acoustic",
        ],
    ),
    (
        "Sad",
        &[
            "sad",
            "ballad",
            "ballads",
            "heartbreak",
            "cry",
            "crying",
            "broken",
            "melancholy",
        ],
    ),
    (
        "Happy",
        &[
            "happy",
            "good vibes",
            "sunny",
            "fun",
            "summer",
            "feel good",
            "accomplished",
        ],
    ),
];

/// The label a playlist name earns, if exactly one.
pub fn label_of_playlist(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |phrase: &str| {
        let parts: Vec<&str> = phrase.split(' ').collect();
        words.windows(parts.len()).any(|w| w == parts.as_slice())
    };
    let mut earned = RULES
        .iter()
        .filter(|(_, phrases)| phrases.iter().any(|p| has(p)))
        .map(|(label, _)| *label);
    match (earned.next(), earned.next()) {
        (Some(label), None) => Some(label),
        _ => None,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct WeakLabel {
    pub track_id: String,
    pub mood: &'static str,
    /// The playlists that earned it, joined with " | ".
    pub playlist_name: String,
}

#[derive(Debug, Clone)]
pub struct WeakLabels {
    pub labels: Vec<WeakLabel>,
    pub rows_read: usize,
    /// Songs whose labelled playlists disagree (dropped).
    pub conflicting: usize,
    /// Labels per mood, in `RULES` order.
    pub counts: Vec<(&'static str, usize)>,
}

/// Derives the labels from a table with `track_id` and `playlist_name` columns.
pub fn derive(path: &Path) -> Result<WeakLabels, CatalogError> {
    let needed = vec!["track_id".to_string(), "playlist_name".to_string()];
    let df = catalog::read_text_columns(
        path,
        (
            &needed,
            "playlist",
            " (weak labels need the TidyTuesday spotify_songs table)",
        ),
        &|_| false,
    )?;
    let ids = catalog::text_column(&df, "track_id", path)?;
    let names = catalog::text_column(&df, "playlist_name", path)?;
    // id → (label, playlists); None once two playlists disagree.
    let mut by_id: BTreeMap<String, Option<(&'static str, Vec<String>)>> = BTreeMap::new();
    for (id, name) in ids.iter().zip(names.iter()) {
        let (Some(id), Some(name)) = (id.map(str::trim), name) else {
            continue;
        };
        let Some(label) = label_of_playlist(name) else {
            continue;
        };
        let entry = by_id
            .entry(id.to_string())
            .or_insert_with(|| Some((label, Vec::new())));
        match entry {
            Some((l, playlists)) if *l == label => {
                if !playlists.iter().any(|p| p == name) {
                    playlists.push(name.to_string());
                }
            }
            _ => *entry = None,
        }
    }
    let conflicting = by_id.values().filter(|v| v.is_none()).count();
    let labels: Vec<WeakLabel> = by_id
        .into_iter()
        .filter_map(|(track_id, v)| {
            v.map(|(mood, playlists)| WeakLabel {
                track_id,
                mood,
                playlist_name: playlists.join(" | "),
            })
        })
        .collect();
    let counts = RULES
        .iter()
        .map(|(l, _)| (*l, labels.iter().filter(|w| w.mood == *l).count()))
        .collect();
    Ok(WeakLabels {
        labels,
        rows_read: df.height(),
        conflicting,
        counts,
    })
}

/// The labels as CSV text (track_id, mood, playlist_name), quoted where needed.
pub fn to_csv(labels: &[WeakLabel]) -> String {
    let quote = crate::report::csv_field;
    let mut out = String::from("track_id,mood,playlist_name\n");
    for l in labels {
        out += &format!(
            "{},{},{}\n",
            quote(&l.track_id),
            l.mood,
            quote(&l.playlist_name)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlist_names_earn_one_label_or_none() {
        assert_eq!(label_of_playlist("Sad Trap"), Some("Sad"));
        assert_eq!(label_of_playlist("Lo-Fi Beats"), Some("Calm"));
        assert_eq!(label_of_playlist("Hard Rock Workout!"), Some("Energetic"));
        assert_eq!(label_of_playlist("🔥 GOOD VIBES ONLY 🔥"), Some("Happy"));
        // Words, not substrings: "Brunch" holds "run", "Funk" holds "fun".
        assert_eq!(label_of_playlist("Sunday Brunch Funk"), None);
        // Two labels: ambiguous, so none.
        assert_eq!(label_of_playlist("Happy Workout"), None);
        assert_eq!(label_of_playlist("Tropical House"), None);
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let text = to_csv(&[WeakLabel {
            track_id: "x1".into(),
            mood: "Calm",
            playlist_name: "Chill, \"slow\"".into(),
        }]);
        assert_eq!(
            text,
            "track_id,mood,playlist_name\nx1,Calm,\"Chill, \"\"slow\"\"\"\n"
        );
    }
}
