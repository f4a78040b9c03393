//! From per-frame emotion probabilities to a mood with a confidence.
//!
//! For a face track and for the whole clip: each emotion's share of frames (the frame's top
//! emotion) and its mean probability. Moods fold disgust into angry (`Emotion::mood`); a mood's
//! probability is the mean, over the face-frames, of the summed probabilities of its emotions.
//! The clip's mood is the most probable one, with that mean probability as its confidence,
//! unless the runner-up is within `uncertain_margin`: then the outcome is "uncertain". No face
//! at all is its own outcome. Neither is ever turned into a default mood silently.

use crate::emotion::{Emotion, Mood};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmotionStats {
    pub face_frames: usize,
    /// Share of face-frames whose top emotion is each one, in `Emotion::ALL` order.
    pub share: Vec<f64>,
    /// Mean probability of each emotion.
    pub mean_probability: Vec<f64>,
    /// Mean probability of each mood, in `Mood::ALL` order.
    pub mood_probability: Vec<f64>,
}

impl EmotionStats {
    pub fn from_probabilities<'a>(
        probs: impl IntoIterator<Item = &'a [f32; Emotion::COUNT]>,
    ) -> Self {
        let mut share = vec![0.0; Emotion::COUNT];
        let mut mean = vec![0.0; Emotion::COUNT];
        let mut n = 0usize;
        for p in probs {
            n += 1;
            share[crate::fer::evaluate::argmax(p)] += 1.0;
            for (m, &v) in mean.iter_mut().zip(p) {
                *m += v as f64;
            }
        }
        if n > 0 {
            for v in share.iter_mut().chain(mean.iter_mut()) {
                *v /= n as f64;
            }
        }
        let mut mood_probability = vec![0.0; Mood::ALL.len()];
        for e in Emotion::ALL {
            let m = Mood::ALL
                .iter()
                .position(|&m| m == e.mood())
                .expect("every emotion has a mood");
            mood_probability[m] += mean[e.index()];
        }
        EmotionStats {
            face_frames: n,
            share,
            mean_probability: mean,
            mood_probability,
        }
    }

    /// The most probable mood and the runner-up, with their probabilities.
    pub fn top_two(&self) -> ((Mood, f64), (Mood, f64)) {
        let mut order: Vec<usize> = (0..Mood::ALL.len()).collect();
        order.sort_by(|&a, &b| {
            self.mood_probability[b]
                .total_cmp(&self.mood_probability[a])
                .then(a.cmp(&b))
        });
        (
            (Mood::ALL[order[0]], self.mood_probability[order[0]]),
            (Mood::ALL[order[1]], self.mood_probability[order[1]]),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Mood,
    Uncertain,
    NoFace,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The most probable mood (also when uncertain); `None` without a face.
    pub mood: Option<Mood>,
    pub confidence: f64,
    pub runner_up: Option<Mood>,
    pub runner_up_confidence: f64,
    pub sentence: String,
}

pub fn verdict(stats: &EmotionStats, uncertain_margin: f64) -> Verdict {
    if stats.face_frames == 0 {
        return Verdict {
            outcome: Outcome::NoFace,
            mood: None,
            confidence: 0.0,
            runner_up: None,
            runner_up_confidence: 0.0,
            sentence: "No face found: no mood, so no songs.".into(),
        };
    }
    let ((top, p), (second, q)) = stats.top_two();
    let uncertain = p - q < uncertain_margin;
    Verdict {
        outcome: if uncertain {
            Outcome::Uncertain
        } else {
            Outcome::Mood
        },
        mood: Some(top),
        confidence: p,
        runner_up: Some(second),
        runner_up_confidence: q,
        sentence: if uncertain {
            format!("Uncertain: {top} {p:.2} or {second} {q:.2} (closer than {uncertain_margin:.2}); songs for {top}.")
        } else {
            format!("You seem {top} — {p:.2}")
        },
    }
}

/// Exponential moving average over a track's frames, in place (`alpha` weights the new frame).
pub fn ema(probs: &mut [[f32; Emotion::COUNT]], alpha: f32) {
    for i in 1..probs.len() {
        let prev = probs[i - 1];
        for (v, p) in probs[i].iter_mut().zip(prev) {
            *v = alpha * *v + (1.0 - alpha) * p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: [f32; 7]) -> [f32; 7] {
        v
    }

    #[test]
    fn disgust_folds_into_angry_and_shares_count_top_emotions() {
        // angry, disgust, fear, happy, sad, surprise, neutral
        let frames = [
            p([0.3, 0.3, 0.0, 0.4, 0.0, 0.0, 0.0]),
            p([0.1, 0.5, 0.0, 0.4, 0.0, 0.0, 0.0]),
        ];
        let s = EmotionStats::from_probabilities(frames.iter());
        assert_eq!(s.face_frames, 2);
        assert_eq!(s.share[3], 0.5); // happy tops frame 1
        assert_eq!(s.share[1], 0.5); // disgust tops frame 2
        let angry = Mood::ALL.iter().position(|&m| m == Mood::Angry).unwrap();
        let happy = Mood::ALL.iter().position(|&m| m == Mood::Happy).unwrap();
        assert!((s.mood_probability[angry] - 0.6).abs() < 1e-6);
        assert!((s.mood_probability[happy] - 0.4).abs() < 1e-6);
        let v = verdict(&s, 0.1);
        assert_eq!((v.outcome, v.mood), (Outcome::Mood, Some(Mood::Angry)));
        assert!(
            v.sentence.starts_with("You seem angry — 0.60"),
            "{}",
            v.sentence
        );
    }

    #[test]
    fn close_calls_are_uncertain_and_no_face_is_said() {
        let s = EmotionStats::from_probabilities([p([0.0, 0.0, 0.0, 0.46, 0.0, 0.0, 0.54])].iter());
        let v = verdict(&s, 0.1);
        assert_eq!(v.outcome, Outcome::Uncertain);
        assert_eq!(
            (v.mood, v.runner_up),
            (Some(Mood::Neutral), Some(Mood::Happy))
        );
        let none = verdict(&EmotionStats::from_probabilities(std::iter::empty()), 0.1);
        assert_eq!((none.outcome, none.mood), (Outcome::NoFace, None));
    }

    #[test]
    fn ema_smooths_towards_the_past() {
        let mut v = vec![
            p([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
            p([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        ];
        ema(&mut v, 0.25);
        assert_eq!(v[1][0], 0.75);
        assert_eq!(v[1][1], 0.25);
    }
}
