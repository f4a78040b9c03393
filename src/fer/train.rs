//! `workbench train-fer`: the training loop, its checkpoints and `--resume`, model selection on
//! PublicTest, one measurement on PrivateTest, and the export of weights and model card.
//!
//! Reproducibility: every random draw of epoch `e` (shuffle, augmentation, dropout) comes from
//! streams seeded by `(seed, e)`, and a checkpoint is taken at each epoch's end. A run killed at
//! any point and resumed therefore replays exactly what the uninterrupted run would have done.

use crate::artifacts;
use crate::backend::Backend;
use crate::fer::card::{
    self, CardMetrics, DataSpec, EvalSummary, InitSource, ModelCard, TrainingProvenance,
};
use crate::fer::config::{Experiment, OptimizerKind, ScheduleKind};
use crate::fer::data::{self, FaceSet, Fer2013, LoadOptions, Split, PIXELS};
use crate::fer::evaluate;
use crate::fer::model::FerNet;
use crate::fer::publish::{self, TestSplits};
use crate::fer::run_report::{self, EpochRecord, EvalRecord};
use crate::progress;
use crate::rng::SplitMix64;
use anyhow::{bail, Context, Result};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::store::ModuleRecord;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where FER2013 is looked for when neither `--data` nor the config names it.
pub const DEFAULT_DATA_PATHS: [&str; 3] = [
    "datasets/fer2013/fer2013.csv.gz",
    "datasets/fer2013/fer2013.csv",
    "../shared/datasets/fer2013/fer2013.csv.gz",
];

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub config: Option<PathBuf>,
    pub data: Option<PathBuf>,
    pub epochs: Option<usize>,
    pub resume: bool,
    pub run_id: Option<String>,
    pub models_dir: PathBuf,
    pub reports_dir: PathBuf,
    pub backend: Backend,
    pub skip_bad_rows: bool,
    /// Replace an existing model of the same name (kept under `models/replaced/`).
    pub force: bool,
    /// The command line, recorded in the card.
    pub command: String,
}

pub struct TrainOutcome {
    pub run_dir: PathBuf,
    pub card_path: PathBuf,
    pub card: ModelCard,
    /// (old path, where it was kept) for each file a `--force` export replaced.
    pub replaced: Vec<(PathBuf, PathBuf)>,
}

const STATE_SCHEMA: &str = "workbench/fer-checkpoint/v1";

/// Everything besides weights and optimiser moments that a resumed run needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    schema: String,
    epochs_done: usize,
    steps_done: usize,
    history: Vec<EpochRecord>,
    best_epoch: usize,
    best_public_accuracy: f64,
    plateau_scale: f64,
    plateau_bad_epochs: usize,
    stopped_early: bool,
    wall_time_s: f64,
    data_sha256: String,
    /// The code that started the run (the card names it, and any other commit it resumed on).
    #[serde(default)]
    git_commit: String,
    /// Fixed when the run starts, so a later overwrite of that model cannot change the record.
    #[serde(default)]
    init_from: Option<InitSource>,
    finished: bool,
}

impl CheckpointState {
    fn fresh(data_sha256: String) -> Self {
        Self {
            schema: STATE_SCHEMA.into(),
            epochs_done: 0,
            steps_done: 0,
            history: Vec::new(),
            best_epoch: 0,
            // Below any accuracy; JSON has no infinities.
            best_public_accuracy: -1.0,
            plateau_scale: 1.0,
            plateau_bad_epochs: 0,
            stopped_early: false,
            wall_time_s: 0.0,
            data_sha256,
            git_commit: artifacts::git_commit(),
            init_from: None,
            finished: false,
        }
    }
}

struct RunPaths {
    dir: PathBuf,
    checkpoint: PathBuf,
}

impl RunPaths {
    fn new(dir: PathBuf) -> Self {
        Self {
            checkpoint: dir.join("checkpoint"),
            dir,
        }
    }
    fn state(&self) -> PathBuf {
        self.checkpoint.join("state.json")
    }
    fn model(&self, epoch: usize) -> PathBuf {
        self.checkpoint.join(format!("model-e{epoch:03}.bpk"))
    }
    fn optim(&self, epoch: usize) -> PathBuf {
        self.checkpoint.join(format!("optim-e{epoch:03}.bpk"))
    }
    fn best(&self) -> PathBuf {
        self.checkpoint.join("best.bpk")
    }
    fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    /// The run id: the directory's name.
    fn run_id(&self) -> String {
        self.dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }
    /// The checkpoint state the run's last epoch left.
    fn read_state(&self) -> Result<CheckpointState> {
        let text = std::fs::read_to_string(self.state()).with_context(|| {
            format!(
                "{}: not a train-fer run with checkpoints",
                self.dir.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: unreadable checkpoint state", self.state().display()))
    }
}

/// The faces a run trains and selects on, after the optional class-balanced subset.
pub struct RunData {
    pub training: FaceSet,
    pub public_test: FaceSet,
    pub private_test: FaceSet,
    pub source: data::DataSource,
    pub skipped: usize,
}

impl RunData {
    /// The card's account of the data: its file and the faces of each split used.
    pub fn spec(&self, subset_per_class: Option<usize>) -> DataSpec {
        DataSpec {
            source: self.source.clone(),
            training: self.training.len(),
            public_test: self.public_test.len(),
            private_test: self.private_test.len(),
            subset_per_class,
            skipped_rows: self.skipped,
        }
    }
}

/// Finds FER2013: `--data`, else the config's path, else the default locations.
pub fn resolve_data_path(cli: Option<&Path>, config: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = cli.or(config) {
        return Ok(p.to_path_buf());
    }
    DEFAULT_DATA_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .with_context(|| {
            format!(
                "no FER2013 data: pass --data PATH, or put fer2013.csv(.gz) at {} (see datasets/README.md for where to get it)",
                DEFAULT_DATA_PATHS[0]
            )
        })
}

pub fn load_run_data(path: &Path, experiment: &Experiment, skip_bad_rows: bool) -> Result<RunData> {
    let spinner = progress::spinner(&format!("reading {}", path.display()));
    let options = LoadOptions {
        skip_bad_rows: skip_bad_rows || experiment.data.skip_bad_rows,
    };
    let fer: Fer2013 = data::load(path, options)?;
    spinner.finish_and_clear();
    if !fer.skipped.is_empty() {
        eprintln!(
            "skipped {} bad rows of {}:",
            fer.skipped.len(),
            path.display()
        );
        for row in fer.skipped.iter().take(10) {
            eprintln!("  {}: {}", row.location, row.problem);
        }
        if fer.skipped.len() > 10 {
            eprintln!("  ... and {} more", fer.skipped.len() - 10);
        }
    }
    let subset = |faces: &FaceSet, stream: u64| match experiment.data.subset_per_class {
        Some(n) => faces.stratified_subset(n, experiment.seed.wrapping_add(stream)),
        None => faces.clone(),
    };
    let run = RunData {
        training: subset(&fer.training, 0),
        public_test: subset(&fer.public_test, 1),
        private_test: subset(&fer.private_test, 2),
        skipped: fer.skipped.len(),
        source: fer.source,
    };
    for (split, faces) in [
        (Split::Training, &run.training),
        (Split::PublicTest, &run.public_test),
        (Split::PrivateTest, &run.private_test),
    ] {
        if faces.is_empty() {
            bail!("{}: the {split} split is empty; training needs Training and PublicTest, and the card reports PrivateTest", path.display());
        }
    }
    Ok(run)
}

fn optimizer(experiment: &Experiment) -> ModuleOptimizer {
    let o = &experiment.optimizer;
    match o.kind {
        OptimizerKind::Adamw => AdamWConfig::new()
            .with_weight_decay(o.weight_decay as f32)
            .init(),
        OptimizerKind::Sgd => SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(o.momentum)
                    .with_dampening(0.0)
                    .with_nesterov(true),
            ))
            .with_weight_decay(
                (o.weight_decay > 0.0).then(|| WeightDecayConfig::new(o.weight_decay as f32)),
            )
            .init(),
    }
}

/// Saves the model's inference-mode weights (Burnpack) atomically.
pub fn save_record(model: &FerNet, path: &Path) -> Result<()> {
    artifacts::write_atomic_with(path, |tmp| -> Result<()> {
        model
            .valid()
            .into_record()
            .save(tmp)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    })
}

fn find_resumable_run(reports_dir: &Path, name: &str) -> Result<PathBuf> {
    let root = reports_dir.join("fer");
    let prefix = format!("{name}-");
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&root)
        .with_context(|| format!("{}: no runs to resume", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                && RunPaths::new(p.clone())
                    .read_state()
                    .is_ok_and(|state| !state.finished)
        })
        .collect();
    candidates.sort();
    candidates
        .pop()
        .with_context(|| format!("no unfinished run of {name:?} under {}", root.display()))
}

/// Prepares one training batch: augmented, preprocessed faces and their labels.
pub(crate) fn training_batch(
    faces: &FaceSet,
    indices: &[usize],
    experiment: &Experiment,
    rng: &mut SplitMix64,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let prep = experiment.model.preprocessing();
    let mut inputs = vec![0.0f32; indices.len() * prep.input_len()];
    let mut augmented = vec![0u8; PIXELS];
    for (slot, &i) in inputs.chunks_mut(prep.input_len()).zip(indices) {
        experiment
            .augment
            .apply(faces.image(i), &mut augmented, rng);
        prep.write_input(&augmented, data::SIDE, data::SIDE, slot);
    }
    let labels: Vec<i64> = indices
        .iter()
        .map(|&i| faces.label(i).index() as i64)
        .collect();
    (
        prep.batch_tensor(inputs, device),
        Tensor::from_data(TensorData::new(labels, [indices.len()]), device),
    )
}

/// The experiment and run directory of this invocation. A resumed run trusts the config saved
/// in its run directory, not the file it started from.
fn open_run(options: &TrainOptions) -> Result<(Experiment, RunPaths, bool)> {
    if options.resume {
        let dir = match (&options.run_id, &options.config) {
            (Some(id), _) => options.reports_dir.join("fer").join(id),
            (None, Some(config)) => {
                let name = Experiment::load(config)?.name;
                find_resumable_run(&options.reports_dir, &name)?
            }
            (None, None) => bail!("--resume needs --config (to find the latest run) or --run-id"),
        };
        let paths = RunPaths::new(dir);
        if !paths.state().is_file() {
            bail!("{}: no checkpoint to resume from", paths.state().display());
        }
        let experiment = Experiment::load(&paths.config())?;
        if options
            .epochs
            .is_some_and(|e| e != experiment.training.epochs)
        {
            bail!(
                "--epochs cannot change on --resume: the run was planned for {} epochs and its schedule depends on it",
                experiment.training.epochs
            );
        }
        Ok((experiment, paths, true))
    } else {
        let config = options
            .config
            .as_deref()
            .context("--config is required (e.g. experiments/fer-mini-xception-w16.toml)")?;
        let mut experiment = Experiment::load(config)?;
        if let Some(epochs) = options.epochs {
            experiment.training.epochs = epochs;
        }
        if let Some(data) = &options.data {
            experiment.data.path = Some(data.clone());
        }
        experiment
            .check()
            .map_err(|m| anyhow::anyhow!("{}: {m}", config.display()))?;
        check_model_free(options, &experiment)?;
        let runs = options.reports_dir.join("fer");
        let dir = match &options.run_id {
            Some(id) => runs.join(id),
            None => artifacts::reserve_run_dir(&runs, &experiment.name)?.1,
        };
        let paths = RunPaths::new(dir);
        if paths.state().exists() {
            bail!(
                "{}: this run already has a checkpoint; use --resume",
                paths.dir.display()
            );
        }
        Ok((experiment, paths, false))
    }
}

/// A run would end by replacing `models/<name>.*`: refused before any work unless `--force`.
fn check_model_free(options: &TrainOptions, experiment: &Experiment) -> Result<()> {
    let paths = card::export_paths(&options.models_dir, &experiment.name);
    artifacts::check_replaceable(&paths, options.force).map_err(|e| {
        anyhow::anyhow!(
            "{e} (train-fer exports the model under the experiment's name, {:?})",
            experiment.name
        )
    })
}

/// The commit a run started on, and the one it was exported at when that differs (a resume on
/// newer code, or commits made while a long run trained).
pub(crate) fn provenance_commit(started: &str, now: &str) -> String {
    if started.is_empty() || started == now {
        now.to_string()
    } else {
        format!("{started} (exported at {now})")
    }
}

/// The card of the selected model: what it is, how good, and where it came from.
fn model_card(
    experiment: &Experiment,
    state: &CheckpointState,
    data: &RunData,
    evals: &[EvalRecord],
    parameters: usize,
    options: &TrainOptions,
    run_id: &str,
) -> ModelCard {
    let name = &experiment.name;
    let t = &experiment.training;
    ModelCard::new(
        name,
        experiment.model.clone(),
        parameters,
        CardMetrics {
            selected_on: "PublicTest".into(),
            best_epoch: state.best_epoch,
            public_test: EvalSummary::new(Split::PublicTest, evals[0].tta, &evals[0].metrics),
            private_test: EvalSummary::new(Split::PrivateTest, evals[1].tta, &evals[1].metrics),
        },
        data.spec(experiment.data.subset_per_class),
        TrainingProvenance {
            run_id: run_id.into(),
            config: experiment.to_toml(),
            seed: experiment.seed,
            epochs_planned: t.epochs,
            epochs_run: state.epochs_done,
            wall_time_s: state.wall_time_s,
            backend: options.backend.describe(),
            git_commit: provenance_commit(&state.git_commit, &artifacts::git_commit()),
            workbench_version: env!("CARGO_PKG_VERSION").into(),
            created: artifacts::utc_rfc3339(),
            command: options.command.clone(),
            init_from: state.init_from.clone(),
            members: Vec::new(),
            averaged_from: None,
            same_weights_as: None,
        },
    )
}

/// Loads the warm-start weights named by `training.init_from` into `model`, checking that the
/// card describes the same network.
fn warm_start(experiment: &Experiment, model: FerNet) -> Result<(FerNet, InitSource)> {
    let card_path = experiment
        .training
        .init_from
        .as_deref()
        .expect("warm_start is called only with training.init_from set");
    let card = ModelCard::read(card_path)?;
    if card.model != experiment.model {
        bail!(
            "training.init_from = {}: its [model] settings differ from this experiment's; \
             a warm start needs the same network",
            card_path.display()
        );
    }
    let weights = card.weights_path(card_path);
    let record =
        ModuleRecord::load(&weights).map_err(|e| anyhow::anyhow!("{}: {e}", weights.display()))?;
    let source = InitSource {
        card: card_path.display().to_string(),
        weights_sha256: artifacts::sha256_file(&weights)?,
        public_test_accuracy: card.metrics.public_test.accuracy,
        private_test_accuracy: card.metrics.private_test.accuracy,
    };
    Ok((model.load_record(record), source))
}

/// A run in progress: its settings, directory, data, state, network and optimiser.
struct Run {
    experiment: Experiment,
    paths: RunPaths,
    run_id: String,
    data: RunData,
    state: CheckpointState,
    model: FerNet,
    optim: ModuleOptimizer,
    /// The plain device (evaluation) and its autodiff twin (training).
    plain: Device,
    device: Device,
}

pub fn train(options: &TrainOptions) -> Result<TrainOutcome> {
    let started = Instant::now();
    let (experiment, paths, resuming) = open_run(options)?;
    let run_dir = paths.dir.clone();
    let result = start_or_resume(options, experiment, paths, resuming).and_then(|run| {
        let run = run_epochs(run)?;
        let evals = measure_selected(&run, options)?;
        export(run, evals, options, started)
    });
    if result.is_err() && !resuming {
        // A run that failed before its first checkpoint leaves no empty directory behind.
        let _ = std::fs::remove_dir(&run_dir);
    }
    result
}

/// Loads the data and either a fresh network (or a warm start) or the last checkpoint.
fn start_or_resume(
    options: &TrainOptions,
    experiment: Experiment,
    paths: RunPaths,
    resuming: bool,
) -> Result<Run> {
    let run_id = paths.run_id();
    let data_path = resolve_data_path(options.data.as_deref(), experiment.data.path.as_deref())?;
    let data = load_run_data(&data_path, &experiment, options.skip_bad_rows)?;
    let mut state = if resuming {
        let state = state_to_resume(&paths, &data, &data_path, &run_id, options)?;
        check_model_free(options, &experiment)?;
        state
    } else {
        std::fs::create_dir_all(&paths.checkpoint)?;
        artifacts::write_atomic(&paths.config(), experiment.to_toml().as_bytes())?;
        CheckpointState::fresh(data.source.sha256.clone())
    };
    let plain = options.backend.device()?;
    let device = plain.clone().autodiff();
    device.seed(experiment.seed);
    let mut model = experiment.model.init(&device);
    let mut optim = optimizer(&experiment);
    if resuming && state.epochs_done > 0 {
        let (weights, moments) = (
            paths.model(state.epochs_done),
            paths.optim(state.epochs_done),
        );
        let record = ModuleRecord::load(&weights)
            .map_err(|e| anyhow::anyhow!("{}: {e}", weights.display()))?;
        model = model.load_record(record).train();
        optim = optim
            .load(&moments)
            .map_err(|e| anyhow::anyhow!("{}: {e}", moments.display()))?;
        eprintln!(
            "resuming {run_id} after epoch {}/{}",
            state.epochs_done, experiment.training.epochs
        );
    } else if experiment.training.init_from.is_some() {
        let (warm, source) = warm_start(&experiment, model)?;
        eprintln!(
            "warm start from {} (PublicTest {:.2} %)",
            source.card,
            100.0 * source.public_test_accuracy
        );
        model = warm;
        state.init_from = Some(source);
    }
    Ok(Run {
        experiment,
        paths,
        run_id,
        data,
        state,
        model,
        optim,
        plain,
        device,
    })
}

/// The checkpoint state of a run being resumed, checked against the data given now.
fn state_to_resume(
    paths: &RunPaths,
    data: &RunData,
    data_path: &Path,
    run_id: &str,
    options: &TrainOptions,
) -> Result<CheckpointState> {
    let state = paths.read_state()?;
    if state.data_sha256 != data.source.sha256 {
        bail!(
            "{}: the data differs from the run's (sha256 {} vs {}); resume with the same file",
            data_path.display(),
            data.source.sha256,
            state.data_sha256
        );
    }
    if state.finished {
        bail!(
            "run {run_id} already finished; its model is in {}",
            options.models_dir.display()
        );
    }
    Ok(state)
}

/// Trains the remaining epochs, selecting and checkpointing after each.
fn run_epochs(mut run: Run) -> Result<Run> {
    let t = run.experiment.training.clone();
    let steps_per_epoch = run.data.training.len() / t.batch_size;
    if steps_per_epoch == 0 {
        bail!(
            "{} training faces are fewer than one batch of {}",
            run.data.training.len(),
            t.batch_size
        );
    }
    eprintln!(
        "training {} ({} parameters) on {} faces, selecting on {} PublicTest faces; run {}",
        run.experiment.model.arch.name(),
        run.model.parameter_count(),
        run.data.training.len(),
        run.data.public_test.len(),
        run.paths.dir.display()
    );
    let loss_fn = CrossEntropyLossConfig::new()
        .with_smoothing((t.label_smoothing > 0.0).then_some(t.label_smoothing))
        .init(&run.device);
    for epoch in run.state.epochs_done + 1..=t.epochs {
        if run.state.stopped_early {
            break;
        }
        let epoch_start = Instant::now();
        let step = Step {
            epoch,
            steps_per_epoch,
            loss_fn: &loss_fn,
        };
        let (model, train_loss, train_accuracy) = train_epoch(
            run.model,
            &mut run.optim,
            &mut run.state,
            &run.experiment,
            &run.data,
            &run.device,
            &step,
        )?;
        run.model = model;
        let public = evaluate::measure(
            &run.model.valid(),
            &run.data.public_test,
            &run.experiment.model.preprocessing(),
            run.experiment.model.test_time,
            t.eval_batch_size,
            &run.plain,
            "PublicTest",
        );
        let record = EpochRecord {
            epoch,
            lr: run.experiment.learning_rate(
                run.state.steps_done.saturating_sub(1),
                steps_per_epoch,
                run.state.plateau_scale,
            ),
            train_loss,
            train_accuracy,
            public_loss: public.loss,
            public_accuracy: public.accuracy,
            public_macro_f1: public.macro_f1,
            seconds: epoch_start.elapsed().as_secs_f64(),
        };
        eprintln!(
            "epoch {epoch:>3}/{}: train loss {:.4} acc {:.2}% | PublicTest loss {:.4} acc {:.2}% | {:.0}s",
            t.epochs,
            record.train_loss,
            100.0 * record.train_accuracy,
            record.public_loss,
            100.0 * record.public_accuracy,
            record.seconds
        );
        run.state.history.push(record);
        select(&mut run, epoch, public.accuracy)?;
        checkpoint(&mut run, epoch, epoch_start)?;
    }
    Ok(run)
}

/// Where an epoch sits in the run, and the loss it trains on.
struct Step<'a> {
    epoch: usize,
    steps_per_epoch: usize,
    loss_fn: &'a burn::nn::loss::CrossEntropyLoss,
}

/// One pass over the shuffled, augmented training faces; returns (mean loss, accuracy).
/// Every random draw is seeded by (seed, epoch), so a resumed run replays it exactly.
fn train_epoch(
    mut model: FerNet,
    optim: &mut ModuleOptimizer,
    state: &mut CheckpointState,
    experiment: &Experiment,
    data: &RunData,
    device: &Device,
    step: &Step<'_>,
) -> Result<(FerNet, f64, f64)> {
    let (epoch, steps_per_epoch) = (step.epoch, step.steps_per_epoch);
    let t = &experiment.training;
    device.seed(experiment.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9));
    let mut order: Vec<usize> = (0..data.training.len()).collect();
    SplitMix64::for_stream(experiment.seed, 2 * epoch as u64).shuffle(&mut order);
    let mut aug_rng = SplitMix64::for_stream(experiment.seed, 2 * epoch as u64 + 1);
    let bar = progress::bar(
        steps_per_epoch as u64,
        &format!("epoch {epoch}/{}", t.epochs),
    );
    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
    for batch in order.chunks_exact(t.batch_size) {
        let (images, labels) =
            training_batch(&data.training, batch, experiment, &mut aug_rng, device);
        let logits = model.forward(images);
        let loss = step.loss_fn.forward(logits.clone(), labels.clone());
        let lr = experiment.learning_rate(state.steps_done, steps_per_epoch, state.plateau_scale);
        let batch_correct: i64 = logits
            .argmax(1)
            .reshape([batch.len()])
            .equal(labels)
            .int()
            .sum()
            .into_scalar();
        let loss_value: f32 = loss.clone().into_scalar();
        if !loss_value.is_finite() {
            bail!("epoch {epoch}: the loss became {loss_value}; lower optimizer.lr (now {lr:.2e})");
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
        state.steps_done += 1;
        loss_sum += loss_value as f64 * batch.len() as f64;
        correct += batch_correct as usize;
        seen += batch.len();
        bar.inc(1);
        bar.set_message(format!(
            "loss {:.3} acc {:.1}% lr {lr:.1e}",
            loss_sum / seen as f64,
            100.0 * correct as f64 / seen as f64
        ));
    }
    bar.finish_and_clear();
    Ok((model, loss_sum / seen as f64, correct as f64 / seen as f64))
}

/// Keeps the epoch's weights as the best when PublicTest improved; otherwise counts towards the
/// plateau schedule and early stopping.
fn select(run: &mut Run, epoch: usize, public_accuracy: f64) -> Result<()> {
    let (state, experiment) = (&mut run.state, &run.experiment);
    if public_accuracy > state.best_public_accuracy {
        state.best_public_accuracy = public_accuracy;
        state.best_epoch = epoch;
        state.plateau_bad_epochs = 0;
        return save_record(&run.model, &run.paths.best());
    }
    state.plateau_bad_epochs += 1;
    if experiment.schedule.kind == ScheduleKind::Plateau
        && state.plateau_bad_epochs % experiment.schedule.patience.max(1) == 0
    {
        state.plateau_scale *= experiment.schedule.factor;
    }
    let patience = experiment.training.early_stopping_patience;
    if patience > 0 && epoch - state.best_epoch >= patience {
        eprintln!(
            "early stop: PublicTest accuracy has not improved for {patience} epochs (best {:.2}% at epoch {})",
            100.0 * state.best_public_accuracy,
            state.best_epoch
        );
        state.stopped_early = true;
    }
    Ok(())
}

/// Epochs whose weights stay in `checkpoint/` (the optimiser's state only for the latest): the
/// last few snapshots of a cosine schedule are what weight averaging (SWA) reads.
pub const KEPT_SNAPSHOTS: usize = 5;

/// A run's last kept epochs, as weight averaging reads them.
pub struct Snapshots {
    pub experiment: Experiment,
    pub run_id: String,
    /// The epochs, oldest first, and their weights.
    pub epochs: Vec<(usize, PathBuf)>,
    pub epochs_done: usize,
    pub finished: bool,
    /// Training time so far, and the data and code the run started on.
    pub wall_time_s: f64,
    pub data_sha256: String,
    pub git_commit: String,
}

/// The weights of the last `count` epochs of the run in `run_dir` (at most [`KEPT_SNAPSHOTS`]
/// are kept), with the run's experiment and state.
pub fn snapshots(run_dir: &Path, count: usize) -> Result<Snapshots> {
    if !(2..=KEPT_SNAPSHOTS).contains(&count) {
        bail!("--last {count}: average 2 to {KEPT_SNAPSHOTS} epochs (a run keeps the weights of its last {KEPT_SNAPSHOTS})");
    }
    let paths = RunPaths::new(run_dir.to_path_buf());
    let state = paths.read_state()?;
    if state.epochs_done < count {
        bail!(
            "{}: the run has {} epochs, fewer than the {count} to average",
            run_dir.display(),
            state.epochs_done
        );
    }
    let epochs = (state.epochs_done + 1 - count..=state.epochs_done)
        .map(|e| (e, paths.model(e)))
        .collect::<Vec<_>>();
    if let Some((_, missing)) = epochs.iter().find(|(_, p)| !p.is_file()) {
        bail!(
            "{}: missing; averaging needs every one of the last {count} epochs' weights",
            missing.display()
        );
    }
    Ok(Snapshots {
        experiment: Experiment::load(&paths.config())?,
        run_id: paths.run_id(),
        epochs,
        epochs_done: state.epochs_done,
        finished: state.finished,
        wall_time_s: state.wall_time_s,
        data_sha256: state.data_sha256,
        git_commit: state.git_commit,
    })
}

/// Weights and optimiser first, then the state that points at them: a kill in between leaves
/// the previous checkpoint in force. Older files go once the new ones are in.
fn checkpoint(run: &mut Run, epoch: usize, epoch_start: Instant) -> Result<()> {
    let paths = &run.paths;
    save_record(&run.model, &paths.model(epoch))?;
    artifacts::write_atomic_with(&paths.optim(epoch), |tmp| -> Result<()> {
        run.optim
            .save(tmp)
            .map_err(|e| anyhow::anyhow!("{}: {e}", paths.optim(epoch).display()))
    })?;
    run.state.epochs_done = epoch;
    run.state.wall_time_s += epoch_start.elapsed().as_secs_f64();
    artifacts::write_json_atomic(&paths.state(), &run.state)?;
    if epoch > 1 {
        let _ = std::fs::remove_file(paths.optim(epoch - 1));
    }
    if epoch > KEPT_SNAPSHOTS {
        let _ = std::fs::remove_file(paths.model(epoch - KEPT_SNAPSHOTS));
    }
    run_report::write_history(&paths.dir, &run.state.history)
}

/// PublicTest and PrivateTest of the weights selected on PublicTest (PrivateTest is measured
/// here, once).
fn measure_selected(run: &Run, options: &TrainOptions) -> Result<Vec<EvalRecord>> {
    let best = card::load_weights(&run.experiment.model, &run.paths.best(), &run.plain)?;
    let splits = TestSplits {
        public_test: &run.data.public_test,
        private_test: &run.data.private_test,
        source: &run.data.source,
    };
    let evals = publish::measure_test_splits(
        &best,
        &run.experiment.model,
        &splits,
        run.experiment.training.eval_batch_size,
        &run.plain,
        &options.command,
    );
    for eval in &evals {
        eprintln!(
            "{} (epoch {} selected on PublicTest):\n{}",
            eval.split,
            run.state.best_epoch,
            eval.metrics.table()
        );
    }
    Ok(evals)
}

/// Exports the selected weights and their card, then completes the run's report and marks the
/// run finished.
fn export(
    mut run: Run,
    mut evals: Vec<EvalRecord>,
    options: &TrainOptions,
    started: Instant,
) -> Result<TrainOutcome> {
    let parameters = run.model.parameter_count();
    let mut card = model_card(
        &run.experiment,
        &run.state,
        &run.data,
        &evals,
        parameters,
        options,
        &run.run_id,
    );
    let best_path = run.paths.best();
    let exported = card::export(&options.models_dir, &mut card, options.force, |to| {
        std::fs::copy(&best_path, to)
            .with_context(|| format!("copying {} to {}", best_path.display(), to.display()))?;
        Ok(())
    })?;
    for eval in &mut evals {
        eval.model_card = exported.card_path.display().to_string();
        run_report::write_eval(&run.paths.dir, eval, &run.data.source.sha256)?;
    }
    run_report::write_index(&run.paths.dir, &run.data.source.sha256)?;
    run.state.finished = true;
    artifacts::write_json_atomic(&run.paths.state(), &run.state)?;
    eprintln!(
        "wrote {} and {} ({:.0}s this session); report {}",
        exported.weights_path.display(),
        exported.card_path.display(),
        started.elapsed().as_secs_f64(),
        run.paths.dir.join("index.html").display()
    );
    Ok(TrainOutcome {
        run_dir: run.paths.dir,
        card_path: exported.card_path,
        card,
        replaced: exported.replaced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fer::model::ModelConfig;
    use burn::tensor::Distribution;

    #[test]
    fn the_card_names_both_commits_only_when_they_differ() {
        assert_eq!(provenance_commit("abc", "abc"), "abc");
        assert_eq!(provenance_commit("", "abc"), "abc");
        assert_eq!(provenance_commit("abc", "def"), "abc (exported at def)");
    }

    #[test]
    fn saved_then_loaded_weights_give_identical_logits() {
        for config in [ModelConfig::mini_xception(), ModelConfig::vgg()] {
            let device = Device::flex().autodiff();
            device.seed(3);
            let mut model = config.init(&device);
            // One optimiser step so weights and BatchNorm statistics leave their initial values.
            let x = Tensor::<4>::random([8, 1, 48, 48], Distribution::Uniform(-1.0, 1.0), &device);
            let labels = Tensor::<1, Int>::from_data(
                TensorData::new(vec![0i64, 1, 2, 3, 4, 5, 6, 0], [8]),
                &device,
            );
            let loss = CrossEntropyLossConfig::new()
                .init(&device)
                .forward(model.forward(x.clone()), labels);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let mut optim = AdamWConfig::new().init();
            model = optim.step(1e-2, model, grads);

            let plain = Device::flex();
            let probe =
                Tensor::<4>::random([5, 1, 48, 48], Distribution::Uniform(-1.0, 1.0), &plain);
            let before: Vec<f32> = model
                .valid()
                .forward(probe.clone())
                .into_data()
                .try_to_vec()
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m.bpk");
            save_record(&model, &path).unwrap();
            let loaded = card::load_weights(&config, &path, &plain).unwrap();
            let after: Vec<f32> = loaded.forward(probe).into_data().try_to_vec().unwrap();
            assert_eq!(before, after, "{:?}", config.arch);
        }
    }
}
