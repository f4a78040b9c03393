//! The one place that owns the emotion and mood vocabularies.
//!
//! FER2013 has seven labels in a fixed order (its `emotion` column is the index); the music half
//! of the workbench speaks of six moods. Disgust has no playlist of its own and folds into angry.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A FER2013 label. The discriminant is the dataset's integer label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    Angry = 0,
    Disgust = 1,
    Fear = 2,
    Happy = 3,
    Sad = 4,
    Surprise = 5,
    Neutral = 6,
}

/// The six moods a playlist can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mood {
    Happy,
    Sad,
    Angry,
    Fear,
    Surprise,
    Neutral,
}

impl Emotion {
    /// All labels in FER2013 index order: the order of every model's output logits.
    pub const ALL: [Emotion; 7] = [
        Emotion::Angry,
        Emotion::Disgust,
        Emotion::Fear,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Surprise,
        Emotion::Neutral,
    ];
    pub const COUNT: usize = 7;

    pub fn from_index(index: usize) -> Option<Emotion> {
        Self::ALL.get(index).copied()
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Emotion::Angry => "angry",
            Emotion::Disgust => "disgust",
            Emotion::Fear => "fear",
            Emotion::Happy => "happy",
            Emotion::Sad => "sad",
            Emotion::Surprise => "surprise",
            Emotion::Neutral => "neutral",
        }
    }

    /// Parses a label name as used by the image-folder layout (`train/happy/...`).
    pub fn from_name(name: &str) -> Option<Emotion> {
        Self::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(name))
    }

    /// Label names in index order, as written into model cards.
    pub fn names() -> Vec<String> {
        Self::ALL.iter().map(|e| e.name().to_string()).collect()
    }

    /// The mood an emotion stands for. Disgust folds into angry: both are negative, aroused
    /// states, and disgust is too rare (1.5 % of FER2013) to carry a playlist of its own.
    pub fn mood(self) -> Mood {
        match self {
            Emotion::Angry | Emotion::Disgust => Mood::Angry,
            Emotion::Fear => Mood::Fear,
            Emotion::Happy => Mood::Happy,
            Emotion::Sad => Mood::Sad,
            Emotion::Surprise => Mood::Surprise,
            Emotion::Neutral => Mood::Neutral,
        }
    }
}

impl Mood {
    pub const ALL: [Mood; 6] = [
        Mood::Happy,
        Mood::Sad,
        Mood::Angry,
        Mood::Fear,
        Mood::Surprise,
        Mood::Neutral,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mood::Happy => "happy",
            Mood::Sad => "sad",
            Mood::Angry => "angry",
            Mood::Fear => "fear",
            Mood::Surprise => "surprise",
            Mood::Neutral => "neutral",
        }
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Mood {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_follow_fer2013_order() {
        for (i, e) in Emotion::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(Emotion::from_index(i), Some(*e));
            assert_eq!(Emotion::from_name(e.name()), Some(*e));
        }
        assert_eq!(Emotion::from_index(7), None);
        assert_eq!(Emotion::from_name("Happy"), Some(Emotion::Happy));
        assert_eq!(Emotion::from_name("contempt"), None);
    }

    #[test]
    fn every_mood_has_an_emotion_and_disgust_is_angry() {
        assert_eq!(Emotion::Disgust.mood(), Mood::Angry);
        for mood in Mood::ALL {
            assert!(
                Emotion::ALL.iter().any(|e| e.mood() == mood),
                "{mood} unreachable"
            );
        }
    }
}
