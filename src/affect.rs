//! The one model of affect both halves share: the valence–arousal plane of Russell's circumplex
//! (Russell 1980, "A circumplex model of affect"; Posner, Russell & Peterson 2005, "The
//! circumplex model of affect"). Valence runs from unpleasant (−1) to pleasant (+1), arousal from
//! sleepy (−1) to activated (+1).
//!
//! **Faces.** Each FER2013 emotion sits where people rated the emotion word: the pleasure and
//! arousal ratings of Russell & Mehrabian 1977 ("Evidence for a three-factor theory of
//! emotions", J. Research in Personality 11), on their −1..1 scale:
//!
//! | emotion | valence | arousal | rated word |
//! |---|---|---|---|
//! | angry | −0.51 | +0.59 | angry |
//! | disgust | −0.60 | +0.35 | disgusted |
//! | fear | −0.64 | +0.60 | afraid |
//! | happy | +0.81 | +0.51 | happy |
//! | sad | −0.63 | −0.27 | sad |
//! | surprise | +0.40 | +0.67 | surprised |
//! | neutral | 0.00 | −0.46 | (see below) |
//!
//! Neutral is a face at rest, and a neutral playlist is calm music: the middle of the valence
//! axis (0, the circumplex's origin) at the arousal people gave "relaxed" in the same study
//! (−0.46). It is the calm, low-arousal, middle-valence region, not "the average song".
//!
//! **Songs.** A song's valence is Spotify's `valence` ("musical positiveness", 0..1) and its
//! arousal Spotify's `energy` ("a perceptual measure of intensity and activity", 0..1), both
//! stretched to −1..1. Music-emotion studies find these two dimensions carry most of what
//! listeners report (Eerola & Vuoskoski 2011, "A comparison of the discrete and dimensional
//! models of emotion in music"). Loudness, tempo and acousticness are *not* added: they move with
//! energy already, and on the development labels (README, "Songs that sound like the mood") they
//! changed no cluster's name. A catalogue without one of the two columns sits at 0 on that axis.
//!
//! **Moods** are the emotions' points (disgust's mood, angry, keeps angry's point); clusters are
//! named by the nearest mood point to their centroid (`tracks::moods`), and `infer` aims at the
//! probability-weighted mean of the emotions' points.

use crate::emotion::{Emotion, Mood};
use serde::{Deserialize, Serialize};

/// A point in the valence–arousal plane, each axis in −1..1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Affect {
    pub valence: f64,
    pub arousal: f64,
}

impl Affect {
    pub const fn new(valence: f64, arousal: f64) -> Affect {
        Affect { valence, arousal }
    }

    /// Euclidean distance in the plane.
    pub fn distance(self, other: Affect) -> f64 {
        (self.valence - other.valence).hypot(self.arousal - other.arousal)
    }

    /// "valence +0.40, arousal −0.12"
    pub fn describe(self) -> String {
        format!("valence {:+.2}, arousal {:+.2}", self.valence, self.arousal)
    }
}

impl Emotion {
    /// Where the emotion sits in the plane (module doc: the sources).
    pub fn affect(self) -> Affect {
        match self {
            Emotion::Angry => Affect::new(-0.51, 0.59),
            Emotion::Disgust => Affect::new(-0.60, 0.35),
            Emotion::Fear => Affect::new(-0.64, 0.60),
            Emotion::Happy => Affect::new(0.81, 0.51),
            Emotion::Sad => Affect::new(-0.63, -0.27),
            Emotion::Surprise => Affect::new(0.40, 0.67),
            Emotion::Neutral => Affect::new(0.0, -0.46),
        }
    }
}

impl Mood {
    /// The point of the emotion the mood is named after.
    pub fn affect(self) -> Affect {
        match self {
            Mood::Happy => Emotion::Happy,
            Mood::Sad => Emotion::Sad,
            Mood::Angry => Emotion::Angry,
            Mood::Fear => Emotion::Fear,
            Mood::Surprise => Emotion::Surprise,
            Mood::Neutral => Emotion::Neutral,
        }
        .affect()
    }

    /// The mood whose point is nearest `point` (ties: `Mood::ALL` order).
    pub fn nearest(point: Affect) -> (Mood, f64) {
        Mood::ALL
            .into_iter()
            .map(|m| (m, m.affect().distance(point)))
            .fold(None, |best: Option<(Mood, f64)>, (m, d)| match best {
                Some((_, bd)) if bd <= d => best,
                _ => Some((m, d)),
            })
            .expect("six moods")
    }
}

/// Where a song sits, from its audio features (`names[i]` names `values[i]`, original units).
pub fn song_affect(names: &[String], values: &[f64]) -> Affect {
    let axis = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .map_or(0.0, |i| (2.0 * values[i] - 1.0).clamp(-1.0, 1.0))
    };
    Affect::new(axis("valence"), axis("energy"))
}

/// The song features the plane reads; a catalogue missing one sits at 0 on that axis.
pub const SONG_AXES: [&str; 2] = ["valence", "energy"];

/// The point a mix of emotions aims at: the probability-weighted mean of the emotions' points
/// (`probabilities` in `Emotion::ALL` order; they need not sum to 1). `None` when they sum to 0.
pub fn target(probabilities: &[f64]) -> Option<Affect> {
    let total: f64 = probabilities.iter().sum();
    if total.is_nan() || total <= 0.0 || total.is_infinite() {
        return None;
    }
    let (v, a) = Emotion::ALL
        .iter()
        .zip(probabilities)
        .fold((0.0, 0.0), |(v, a), (e, &p)| {
            (v + p * e.affect().valence, a + p * e.affect().arousal)
        });
    Some(Affect::new(v / total, a / total))
}

/// How songs relate to the viewer's mood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Songs that match the mood: aim at the mood's own point.
    #[default]
    Match,
    /// Songs one step more pleasant than the mood (what people using mood playlists often
    /// want): aim `LIFT_STEP` further along the valence axis, arousal unchanged.
    Lift,
}

/// How far `lift` moves the target toward positive valence: a quarter of the axis, about the
/// distance from sad to neutral or from neutral to happy's valence band.
pub const LIFT_STEP: f64 = 0.5;

impl Strategy {
    pub fn aim(self, target: Affect) -> Affect {
        match self {
            Strategy::Match => target,
            Strategy::Lift => Affect::new((target.valence + LIFT_STEP).min(1.0), target.arousal),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Match => "match",
            Strategy::Lift => "lift",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pure_emotion_aims_at_its_own_point_and_a_mix_between() {
        let mut p = [0.0; 7];
        p[Emotion::Happy.index()] = 1.0;
        assert_eq!(target(&p), Some(Emotion::Happy.affect()));
        p[Emotion::Sad.index()] = 1.0;
        let mid = target(&p).unwrap();
        assert!((mid.valence - (0.81 - 0.63) / 2.0).abs() < 1e-12);
        assert!((mid.arousal - (0.51 - 0.27) / 2.0).abs() < 1e-12);
        assert_eq!(target(&[0.0; 7]), None);
    }

    #[test]
    fn songs_sit_by_valence_and_energy_and_missing_axes_are_middle() {
        let names: Vec<String> = ["energy", "valence", "tempo"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = song_affect(&names, &[0.9, 0.25, 120.0]);
        assert!((a.valence + 0.5).abs() < 1e-12 && (a.arousal - 0.8).abs() < 1e-12);
        let only_valence = vec!["valence".to_string()];
        assert_eq!(song_affect(&only_valence, &[1.0]), Affect::new(1.0, 0.0));
    }

    #[test]
    fn every_mood_is_nearest_its_own_point_and_neutral_is_calm() {
        for m in Mood::ALL {
            assert_eq!(Mood::nearest(m.affect()).0, m);
        }
        let n = Mood::Neutral.affect();
        assert!(n.valence == 0.0 && n.arousal < 0.0);
        assert_eq!(Mood::nearest(Affect::new(0.05, -0.7)).0, Mood::Neutral);
        assert_eq!(Mood::nearest(Affect::new(-0.8, -0.5)).0, Mood::Sad);
    }

    #[test]
    fn lift_moves_toward_pleasant_and_stops_at_the_edge() {
        let sad = Mood::Sad.affect();
        let lifted = Strategy::Lift.aim(sad);
        assert!((lifted.valence - (sad.valence + LIFT_STEP)).abs() < 1e-12);
        assert_eq!(lifted.arousal, sad.arousal);
        assert_eq!(Strategy::Lift.aim(Affect::new(0.9, 0.2)).valence, 1.0);
        assert_eq!(Strategy::Match.aim(sad), sad);
    }
}
