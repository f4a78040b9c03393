//! Predictions on a face set and the metrics reported for them: accuracy, macro-F1, per-class
//! precision and recall, the confusion matrix, with optional test-time augmentation.

use crate::emotion::Emotion;
use crate::fer::augment;
use crate::fer::data::{FaceSet, SIDE};
use crate::fer::model::{FaceModel, FerNet};
use crate::fer::preprocess::Preprocessing;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

/// Test-time augmentation: several views of each face, their probabilities averaged. A model
/// card names the one its metrics were measured with (`model.test_time`), and `infer` reads
/// faces with it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Tta {
    /// The face as it is.
    #[default]
    None,
    /// The face and its mirror image.
    Flip,
    /// Four corner crops and the centre crop (44/48 of each side), each also mirrored.
    #[value(name = "ten_crop")]
    TenCrop,
}

/// A view of a face: grey pixels, width, height.
pub type View = (Vec<u8>, usize, usize);

impl Tta {
    pub fn name(self) -> &'static str {
        match self {
            Tta::None => "none",
            Tta::Flip => "flip",
            Tta::TenCrop => "ten_crop",
        }
    }

    pub fn is_none(&self) -> bool {
        *self == Tta::None
    }

    /// How many views [`Self::views`] makes of each face.
    pub fn view_count(self) -> usize {
        match self {
            Tta::None => 1,
            Tta::Flip => 2,
            Tta::TenCrop => 10,
        }
    }

    /// The views of one `width`×`height` grey face (a 48×48 FER2013 face, or a face cropped
    /// from a frame), in a fixed order.
    pub fn views(self, face: &[u8], width: usize, height: usize) -> Vec<View> {
        let mirrored = |(pixels, w, h): View| {
            let flipped = augment::hflip(&pixels, w);
            [(pixels, w, h), (flipped, w, h)]
        };
        match self {
            Tta::None => vec![(face.to_vec(), width, height)],
            Tta::Flip => mirrored((face.to_vec(), width, height)).to_vec(),
            Tta::TenCrop => {
                // 44 of 48 pixels, the crop training's shifts make likely.
                let (w, h) = ((width * 44 + 24) / 48, (height * 44 + 24) / 48);
                let (mx, my) = (width - w, height - h);
                [(0, 0), (mx, 0), (0, my), (mx, my), (mx / 2, my / 2)]
                    .into_iter()
                    .flat_map(|at| mirrored((augment::crop(face, width, at, (w, h)), w, h)))
                    .collect()
            }
        }
    }

    /// Every face's probabilities: the mean over its `view_count` consecutive rows of `probs`
    /// (flat, `Emotion::COUNT` per row).
    pub fn mean_of_views(self, probs: &[f32]) -> Vec<[f32; Emotion::COUNT]> {
        let views = self.view_count();
        probs
            .chunks(views * Emotion::COUNT)
            .map(|face| {
                let mut mean = [0.0f32; Emotion::COUNT];
                for view in face.chunks(Emotion::COUNT) {
                    for (m, v) in mean.iter_mut().zip(view) {
                        *m += v / views as f32;
                    }
                }
                mean
            })
            .collect()
    }
}

/// Class probabilities for every face, in [`Emotion::ALL`] order. `model` must be on a plain
/// (non-autodiff) device or in `valid()` state so BatchNorm and dropout act as at inference.
pub fn predict(
    model: &impl FaceModel,
    faces: &FaceSet,
    prep: &Preprocessing,
    tta: Tta,
    batch_size: usize,
    device: &Device,
    progress: &ProgressBar,
) -> Vec<[f32; Emotion::COUNT]> {
    let views_per_face = tta.view_count();
    let faces_per_batch = (batch_size / views_per_face).max(1);
    let mut probs = Vec::with_capacity(faces.len());
    let mut start = 0;
    while start < faces.len() {
        let end = (start + faces_per_batch).min(faces.len());
        let mut inputs = vec![0.0f32; (end - start) * views_per_face * prep.input_len()];
        let mut slots = inputs.chunks_mut(prep.input_len());
        for i in start..end {
            for (view, w, h) in tta.views(faces.image(i), SIDE, SIDE) {
                prep.write_input(&view, w, h, slots.next().expect("sized for every view"));
            }
        }
        let logits = model.logits(prep.batch_tensor(inputs, device));
        let p: Vec<f32> = softmax(logits, 1)
            .into_data()
            .try_to_vec()
            .expect("f32 probabilities");
        probs.extend(tta.mean_of_views(&p));
        progress.inc((end - start) as u64);
        start = end;
    }
    probs
}

/// The metrics of `model` on `faces`, with a progress bar labelled `label` while it predicts.
pub fn measure(
    model: &FerNet,
    faces: &FaceSet,
    prep: &Preprocessing,
    tta: Tta,
    batch_size: usize,
    device: &Device,
    label: &str,
) -> Metrics {
    let bar = crate::progress::bar(faces.len() as u64, label);
    let probs = predict(model, faces, prep, tta, batch_size, device, &bar);
    bar.finish_and_clear();
    Metrics::from_predictions(faces.labels(), &probs)
}

pub fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub emotion: Emotion,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Mean cross-entropy of the true label (no smoothing).
    pub loss: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

impl Metrics {
    pub fn from_predictions(labels: &[Emotion], probs: &[[f32; Emotion::COUNT]]) -> Metrics {
        assert_eq!(labels.len(), probs.len());
        let k = Emotion::COUNT;
        let mut confusion = vec![vec![0usize; k]; k];
        let mut loss = 0.0f64;
        for (label, p) in labels.iter().zip(probs) {
            confusion[label.index()][argmax(p)] += 1;
            loss -= (p[label.index()].max(1e-12) as f64).ln();
        }
        let n = labels.len();
        let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let per_class: Vec<ClassMetrics> = Emotion::ALL
            .iter()
            .map(|&e| {
                let i = e.index();
                let tp = confusion[i][i];
                let predicted: usize = (0..k).map(|t| confusion[t][i]).sum();
                let support: usize = confusion[i].iter().sum();
                let precision = ratio(tp, predicted);
                let recall = ratio(tp, support);
                let f1 = if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                };
                ClassMetrics {
                    emotion: e,
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        Metrics {
            n,
            accuracy: ratio(correct, n),
            macro_f1: per_class.iter().map(|c| c.f1).sum::<f64>() / k as f64,
            loss: if n == 0 { 0.0 } else { loss / n as f64 },
            per_class,
            confusion,
        }
    }

    /// Rows normalised to sum to 1: the share of each true class predicted as each class.
    pub fn confusion_normalised(&self) -> Vec<Vec<f64>> {
        self.confusion
            .iter()
            .map(|row| {
                let total: usize = row.iter().sum();
                row.iter()
                    .map(|&c| {
                        if total == 0 {
                            0.0
                        } else {
                            c as f64 / total as f64
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// A plain-text table for the terminal.
    pub fn table(&self) -> String {
        let mut s = format!(
            "accuracy {:.2} %   macro-F1 {:.4}   loss {:.4}   (n = {})\n{:<10} {:>9} {:>7} {:>7} {:>8}\n",
            100.0 * self.accuracy,
            self.macro_f1,
            self.loss,
            self.n,
            "class",
            "precision",
            "recall",
            "f1",
            "support"
        );
        for c in &self.per_class {
            s += &format!(
                "{:<10} {:>9.3} {:>7.3} {:>7.3} {:>8}\n",
                c.emotion.name(),
                c.precision,
                c.recall,
                c.f1,
                c.support
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn onehot(i: usize) -> [f32; 7] {
        let mut p = [0.0; 7];
        p[i] = 1.0;
        p
    }

    #[test]
    fn metrics_match_a_hand_computed_case() {
        // true: angry, angry, happy, happy, sad ; predicted: angry, happy, happy, happy, angry
        let labels = [
            Emotion::Angry,
            Emotion::Angry,
            Emotion::Happy,
            Emotion::Happy,
            Emotion::Sad,
        ];
        let probs = [onehot(0), onehot(3), onehot(3), onehot(3), onehot(0)];
        let m = Metrics::from_predictions(&labels, &probs);
        assert_eq!(m.accuracy, 0.6);
        let angry = &m.per_class[0];
        assert_eq!(
            (angry.precision, angry.recall, angry.support),
            (0.5, 0.5, 2)
        );
        let happy = &m.per_class[3];
        assert!((happy.precision - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(happy.recall, 1.0);
        assert!((happy.f1 - 0.8).abs() < 1e-12);
        assert_eq!(m.per_class[4].f1, 0.0);
        // macro-F1 over all seven classes, absent ones counting 0: (0.5 + 0.8) / 7.
        assert!((m.macro_f1 - 1.3 / 7.0).abs() < 1e-12);
        assert_eq!(m.confusion[4][0], 1);
        assert_eq!(
            m.confusion_normalised()[0],
            vec![0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn tta_views_have_the_expected_count_and_size() {
        let face = vec![9u8; SIDE * SIDE];
        for tta in [Tta::None, Tta::Flip, Tta::TenCrop] {
            assert_eq!(tta.views(&face, SIDE, SIDE).len(), tta.view_count());
        }
        let ten = Tta::TenCrop.views(&face, SIDE, SIDE);
        assert!(ten
            .iter()
            .all(|(v, w, h)| (*w, *h) == (44, 44) && v.len() == 44 * 44));
        // A face cropped from a frame (not square; Haar boxes need not be): the same recipe.
        let (w, h) = (96, 80);
        let frame_face: Vec<u8> = (0..w * h).map(|i| (i % 251) as u8).collect();
        let ten = Tta::TenCrop.views(&frame_face, w, h);
        assert_eq!(ten.len(), 10);
        assert!(ten
            .iter()
            .all(|(v, cw, ch)| (*cw, *ch) == (88, 73) && v.len() == 88 * 73));
        // The last view is the mirrored centre crop.
        let centre = augment::crop(&frame_face, w, (4, 3), (88, 73));
        assert_eq!(ten[9].0, augment::hflip(&centre, 88));
        let flip = Tta::Flip.views(&frame_face, w, h);
        assert_eq!(flip[1].0, augment::hflip(&frame_face, w));
    }

    #[test]
    fn the_mean_of_views_averages_each_faces_rows() {
        let mut probs = vec![0.0f32; 2 * 2 * Emotion::COUNT];
        probs[0] = 1.0; // face 0, view 0: all on the first emotion
        probs[Emotion::COUNT + 1] = 1.0; // face 0, view 1: on the second
        probs[2 * Emotion::COUNT + 2] = 1.0; // face 1: on the third, twice
        probs[3 * Emotion::COUNT + 2] = 1.0;
        let faces = Tta::Flip.mean_of_views(&probs);
        assert_eq!(faces.len(), 2);
        assert_eq!(&faces[0][..3], &[0.5, 0.5, 0.0]);
        assert_eq!(&faces[1][..3], &[0.0, 0.0, 1.0]);
    }
}
