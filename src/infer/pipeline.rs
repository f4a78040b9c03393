//! The per-frame path every reader of faces shares — `infer` on clips, `serve` on live frames:
//! find the faces, level and crop each the way FER2013 frames its faces, normalise as the model
//! card says, and classify. One copy, so a live frame is read exactly as a clip's frame is.

use crate::backend::Backend;
use crate::emotion::Emotion;
use crate::fer::card::{self, ModelCard};
use crate::fer::inference::InferenceNet;
use crate::fer::preprocess::{Preprocessing, FER2013_FRAMING};
use crate::vision::faces::{self, DetectorParams, Face, FaceDetector};
use anyhow::{Context, Result};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use opencv::core::Mat;
use std::path::Path;
use std::sync::Mutex;

/// The FER model and one face detector per worker thread.
pub struct Analyser {
    pub device: Device,
    pub card: ModelCard,
    /// The card's network with its BatchNorms folded (what runs on faces).
    pub net: InferenceNet,
    /// The model's own worker threads. Burn runs each tensor op on the current rayon pool;
    /// on the global one, every op of a forward pass queued behind the face detectors' jobs
    /// while `infer` searched the next frames, and classifying took 2× as long.
    model_threads: rayon::ThreadPool,
    pub prep: Preprocessing,
    pub detectors: DetectorPool,
}

/// A face of one frame and its emotion probabilities (`Emotion::ALL` order).
#[derive(Debug, Clone)]
pub struct ReadFace {
    pub face: Face,
    pub probabilities: [f32; Emotion::COUNT],
}

impl Analyser {
    /// Loads and verifies the model through its card, and makes the detectors.
    pub fn load(model: &Path, backend: Backend, detector: &DetectorParams) -> Result<Analyser> {
        let device = backend.device()?;
        let (card, net) = card::load_model(model, &device)?;
        let detectors = DetectorPool::new(detector)?;
        let prep = card.model.preprocessing();
        let model_threads = rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("model-{i}"))
            .build()
            .context("starting the model's threads")?;
        Ok(Analyser {
            device,
            card,
            net: InferenceNet::fold(&net),
            model_threads,
            prep,
            detectors,
        })
    }

    /// One frame, whole: every face found, read. `model_path` names the model in errors.
    pub fn read_frame(&self, bgr: &Mat, model_path: &Path) -> Result<Vec<ReadFace>> {
        let grey = faces::to_grey(bgr).context("converting a frame to grey")?;
        let found = self.detectors.with(|d| d.detect(&grey))?;
        if found.is_empty() {
            return Ok(vec![]);
        }
        let mut inputs = Vec::new();
        self.crop_inputs(&grey, &found, &mut inputs)?;
        let probs = self.classify(inputs, model_path)?;
        Ok(found
            .into_iter()
            .zip(probs)
            .map(|(face, probabilities)| ReadFace {
                face,
                probabilities,
            })
            .collect())
    }

    /// Appends each face's views (levelled on its eyes, framed as FER2013, the card's test-time
    /// augmentation, normalised as the card says) to `inputs`, one model input after another.
    pub fn crop_inputs(&self, grey: &Mat, found: &[Face], inputs: &mut Vec<f32>) -> Result<()> {
        let tta = self.card.model.test_time;
        for face in found {
            let (pixels, w, h) = faces::face_crop(grey, face, &FER2013_FRAMING)?;
            for (view, w, h) in tta.views(&pixels, w, h) {
                let start = inputs.len();
                inputs.resize(start + self.prep.input_len(), 0.0);
                self.prep.write_input(&view, w, h, &mut inputs[start..]);
            }
        }
        Ok(())
    }

    /// Runs the model on a batch of faces' views (as [`Self::crop_inputs`] lays them out) and
    /// averages each face's views; refuses a model whose probabilities are not finite, naming
    /// `model_path`.
    pub fn classify(
        &self,
        inputs: Vec<f32>,
        model_path: &Path,
    ) -> Result<Vec<[f32; Emotion::COUNT]>> {
        let flat: Vec<f32> = self.model_threads.install(|| {
            let logits = self
                .net
                .forward(self.prep.batch_tensor(inputs, &self.device));
            softmax(logits, 1)
                .into_data()
                .try_to_vec()
                .expect("f32 probabilities")
        });
        if let Some(bad) = flat.iter().find(|p| !p.is_finite()) {
            anyhow::bail!(
                "{}: the model gave a non-finite probability ({bad}) for a face: its weights are damaged or it diverged in training; no verdict is possible with it",
                model_path.display()
            );
        }
        Ok(self.card.model.test_time.mean_of_views(&flat))
    }
}

/// One detector per rayon worker (OpenCV's own pool is off so it does not contend with ours):
/// a worker only ever takes its own, so the locks are never waited on by `infer`; other
/// callers (the server's tasks) share them through the locks.
pub struct DetectorPool(Vec<Mutex<FaceDetector>>);

impl DetectorPool {
    pub fn new(params: &DetectorParams) -> Result<DetectorPool> {
        opencv::core::set_num_threads(0).context("configuring OpenCV threads")?;
        let detectors = (0..rayon::current_num_threads().max(1))
            .map(|_| FaceDetector::new(params.clone()).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(DetectorPool(detectors))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs `f` with a detector: a rayon worker's own, else the first one free (the server's
    /// tasks), else waits for the first.
    pub fn with<T>(&self, f: impl FnOnce(&mut FaceDetector) -> T) -> T {
        let recover = |e: std::sync::PoisonError<_>| e.into_inner();
        if let Some(i) = rayon::current_thread_index() {
            let mut detector = self.0[i % self.0.len()].lock().unwrap_or_else(recover);
            return f(&mut detector);
        }
        for slot in &self.0 {
            if let Ok(mut detector) = slot.try_lock() {
                return f(&mut detector);
            }
        }
        let mut detector = self.0[0].lock().unwrap_or_else(recover);
        f(&mut detector)
    }
}
