//! `workbench bench-fer`: training and inference throughput of each network on this machine,
//! comparable with `benches/fer_pytorch.py` (PyTorch CPU, same shapes, same batch sizes).
//! Inputs are random: speed does not depend on what the pixels show. Inference is timed at
//! batch 1 (one face, what `infer` does on a short clip), 16 and 64, as images per second and as
//! milliseconds per batch (the latency a caller waits), with BatchNorms folded as `infer` runs
//! the network ([`InferenceNet`]). A card's test-time augmentation multiplies the images per
//! face; the last column counts faces.

use crate::backend::Backend;
use crate::fer::card;
use crate::fer::evaluate::Tta;
use crate::fer::inference::InferenceNet;
use crate::fer::model::{FaceModel, FerNet, ModelConfig};
use anyhow::Result;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub models: Vec<(String, ModelConfig)>,
    pub card: Option<PathBuf>,
    pub train_batches: usize,
    pub infer_seconds: f64,
    pub backend: Backend,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub model: String,
    pub input_size: usize,
    pub parameters: usize,
    pub train_img_per_s_batch64: Option<f64>,
    pub infer: Vec<InferSpeed>,
    /// The card's test-time augmentation: each face is read as this many images.
    pub views_per_face: usize,
    /// Faces per second at batch 16 (what `infer` batches), test-time views included.
    pub faces_per_s_batch16: f64,
    pub backend: String,
}

/// The batch sizes inference is timed at.
pub const INFER_BATCHES: [usize; 3] = [1, 16, 64];

#[derive(Debug, Clone, Serialize)]
pub struct InferSpeed {
    pub batch: usize,
    pub img_per_s: f64,
    /// Mean wall time of one forward pass of the whole batch.
    pub ms_per_batch: f64,
}

fn random_batch(n: usize, side: usize, device: &Device) -> Tensor<4> {
    Tensor::random([n, 1, side, side], Distribution::Uniform(-1.0, 1.0), device)
}

/// Speed of `model` at batch size `n`, run for about `seconds` after one warm-up pass.
fn infer_speed(
    model: &impl FaceModel,
    n: usize,
    side: usize,
    seconds: f64,
    device: &Device,
) -> InferSpeed {
    let x = random_batch(n, side, device);
    let _ = model.logits(x.clone()).into_data();
    let start = Instant::now();
    let mut passes = 0usize;
    while start.elapsed().as_secs_f64() < seconds || passes == 0 {
        let _ = model.logits(x.clone()).into_data();
        passes += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    InferSpeed {
        batch: n,
        img_per_s: (passes * n) as f64 / elapsed,
        ms_per_batch: 1e3 * elapsed / passes as f64,
    }
}

fn train_rate(config: &ModelConfig, batches: usize, device: &Device) -> f64 {
    let device = device.clone().autodiff();
    device.seed(0);
    let mut model = config.init(&device);
    let mut optim = AdamWConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let labels: Vec<i64> = (0..64).map(|i| i % 7).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [64]), &device);
    let mut step = |model: FerNet| {
        let x = random_batch(64, config.input_size, &device);
        let loss = loss_fn.forward(model.forward(x), labels.clone());
        let _: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optim.step(1e-3, model, grads)
    };
    model = step(model);
    let start = Instant::now();
    for _ in 0..batches {
        model = step(model);
    }
    let _ = model;
    (batches * 64) as f64 / start.elapsed().as_secs_f64()
}

pub fn bench(options: &BenchOptions) -> Result<Vec<BenchResult>> {
    anyhow::ensure!(
        options.infer_seconds > 0.0,
        "--infer-seconds must be positive"
    );
    for (name, config) in &options.models {
        config.check().map_err(|m| anyhow::anyhow!("{name}: {m}"))?;
    }
    let device = options.backend.device()?;
    let mut runs: Vec<(String, ModelConfig, Option<FerNet>)> = options
        .models
        .iter()
        .map(|(n, c)| (n.clone(), c.clone(), None))
        .collect();
    if let Some(path) = &options.card {
        let (card, model) = card::load_model(path, &device)?;
        let recipe = match card.model.test_time {
            Tta::None => String::new(),
            tta => format!(", TTA {}", tta.name()),
        };
        runs.push((
            format!("{} (card{recipe})", card.name),
            card.model.clone(),
            Some(model),
        ));
    }
    let mut results = Vec::new();
    for (name, config, loaded) in runs {
        eprintln!("benchmarking {name} ...");
        let model = loaded.unwrap_or_else(|| config.init(&device));
        let side = config.input_size;
        // Inference is timed as `infer` runs it: BatchNorms folded.
        let inference = InferenceNet::fold(&model.valid());
        let infer: Vec<InferSpeed> = INFER_BATCHES
            .iter()
            .map(|&n| infer_speed(&inference, n, side, options.infer_seconds, &device))
            .collect();
        let views_per_face = config.test_time.view_count();
        let at_16 = infer
            .iter()
            .find(|s| s.batch == 16)
            .map_or(0.0, |s| s.img_per_s);
        let result = BenchResult {
            model: name,
            input_size: side,
            parameters: model.parameter_count(),
            train_img_per_s_batch64: (options.train_batches > 0)
                .then(|| train_rate(&config, options.train_batches, &device)),
            infer,
            views_per_face,
            faces_per_s_batch16: at_16 / views_per_face as f64,
            backend: options.backend.describe(),
        };
        results.push(result);
    }
    Ok(results)
}

pub fn table(results: &[BenchResult]) -> String {
    let mut s = format!(
        "{:<36} {:>5} {:>10} {:>14}",
        "model", "input", "params", "train img/s@64"
    );
    for n in INFER_BATCHES {
        s += &format!(" {:>19}", format!("infer@{n} img/s (ms)"));
    }
    s += &format!(" {:>16}\n", "faces/s@16 (TTA)");
    for r in results {
        s += &format!(
            "{:<36} {:>5} {:>10} {:>14}",
            r.model,
            r.input_size,
            r.parameters,
            r.train_img_per_s_batch64
                .map_or("-".into(), |v| format!("{v:.1}")),
        );
        for speed in &r.infer {
            s += &format!(
                " {:>19}",
                format!("{:.1} ({:.2})", speed.img_per_s, speed.ms_per_batch)
            );
        }
        s += &format!(
            " {:>16}\n",
            format!("{:.1} ({}×)", r.faces_per_s_batch16, r.views_per_face)
        );
    }
    if let Some(r) = results.first() {
        s += &format!("backend: {}\n", r.backend);
    }
    s
}
