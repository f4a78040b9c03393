//! `workbench average-fer`: the weights of a run's last epochs averaged into one model (SWA,
//! Izmailov et al. 2018: the end of a cosine schedule wanders around a wide optimum; its mean
//! lies nearer the centre and generalises better than any one epoch). Averaged weights see other
//! activations than any epoch did, so every BatchNorm's statistics are recomputed on one pass
//! over the Training faces, augmented as in training. The result is measured on PublicTest
//! (where shipping it is decided) and PrivateTest, and exported like a trained model.

use crate::artifacts;
use crate::fer::card::{
    self, AveragedFrom, CardMetrics, EvalSummary, ModelCard, TrainingProvenance,
};
use crate::fer::config::Experiment;
use crate::fer::data::{FaceSet, Split};
use crate::fer::evaluate::Tta;
use crate::fer::model::{FerNet, ModelConfig};
use crate::fer::publish::{self, Derivation, Made, PublishOptions, TestSplits};
use crate::fer::run_report::EvalRecord;
use crate::fer::train::{self, RunData, Snapshots};
use crate::progress;
use crate::rng::SplitMix64;
use anyhow::{bail, Result};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct AverageOptions {
    /// The run directory (`reports/fer/<run-id>`).
    pub run: PathBuf,
    /// How many of its last epochs to average.
    pub last: usize,
    /// The model's name; `<experiment>-swa` when not given.
    pub name: Option<String>,
    /// Test-time augmentation of the model (default: the run's own).
    pub test_time: Option<Tta>,
    pub publish: PublishOptions,
}

pub struct AverageOutcome {
    pub made: Made,
    /// The source run was still training (its last epochs so far were averaged).
    pub run_unfinished: bool,
}

/// How the BatchNorm statistics of an average are recomputed (stated in its card).
pub const BATCH_NORM_RECIPE: &str =
    "re-estimated: the mean of the batch statistics over one pass of the Training faces, shuffled and augmented as in training, in batches of training.batch_size";

/// The random streams of that pass (apart from every epoch's, which use 2·epoch and 2·epoch+1).
const BATCH_NORM_STREAM: u64 = 1 << 32;

pub fn average(o: &AverageOptions) -> Result<AverageOutcome> {
    let started = Instant::now();
    let snapshots = train::snapshots(&o.run, o.last)?;
    let name = check_options(o, &snapshots.experiment)?;
    let mut config = snapshots.experiment.model.clone();
    config.test_time = o.test_time.unwrap_or(config.test_time);
    let plain = o.publish.backend.device()?;
    let data = read_run_data(o, &snapshots)?;
    let averaged = mean_weights(load_snapshots(&snapshots, &plain)?);
    let averaged = reestimate_batch_norm(averaged, &snapshots.experiment, &data.training, &plain);
    let evals = publish::measure_test_splits(
        &averaged,
        &config,
        &TestSplits {
            public_test: &data.public_test,
            private_test: &data.private_test,
            source: &data.source,
        },
        o.publish.batch_size,
        &plain,
        &o.publish.command,
    );
    let source = averaged_from(&snapshots)?;
    let described = description(&snapshots, &source);
    let provenance = provenance(o, &snapshots, source, started);
    let averaged_model = Averaged {
        net: &averaged,
        config,
        data: &data,
        evals: &evals,
    };
    let card = average_card(&name, &snapshots, averaged_model, provenance);
    let made = publish::publish(
        |to| train::save_record(&averaged, to),
        card,
        &o.publish,
        Derivation {
            description: &described,
            evals,
            data_sha256: &data.source.sha256,
        },
    )?;
    Ok(AverageOutcome {
        made,
        run_unfinished: !snapshots.finished,
    })
}

/// The model's name, checked with the other options before any work.
fn check_options(o: &AverageOptions, experiment: &Experiment) -> Result<String> {
    let name = o
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-swa", experiment.name));
    o.publish.check(&name)?;
    Ok(name)
}

/// The run's data (its subsets, if it used any), refused if it is not the file the run trained on.
fn read_run_data(o: &AverageOptions, snapshots: &Snapshots) -> Result<RunData> {
    let experiment = &snapshots.experiment;
    let path =
        train::resolve_data_path(o.publish.data.as_deref(), experiment.data.path.as_deref())?;
    let data = train::load_run_data(&path, experiment, o.publish.skip_bad_rows)?;
    if data.source.sha256 != snapshots.data_sha256 {
        bail!(
            "{}: not the data run {} trained on (sha256 {} vs {}); its BatchNorm statistics and measurements need that file",
            path.display(),
            snapshots.run_id,
            data.source.sha256,
            snapshots.data_sha256
        );
    }
    Ok(data)
}

fn load_snapshots(snapshots: &Snapshots, device: &Device) -> Result<Vec<FerNet>> {
    let bar = progress::bar(snapshots.epochs.len() as u64, "reading the epochs' weights");
    let nets = snapshots
        .epochs
        .iter()
        .map(|(_, path)| {
            let net = card::load_weights(&snapshots.experiment.model, path, device);
            bar.inc(1);
            net
        })
        .collect::<Result<Vec<_>, _>>()?;
    bar.finish_and_clear();
    Ok(nets)
}

/// The element-wise mean of every tensor (weights and BatchNorm statistics alike) of `nets`,
/// which share one architecture: Burn visits a module's tensors in a fixed order, so the i-th
/// tensor of each net is the same parameter.
pub fn mean_weights(nets: Vec<FerNet>) -> FerNet {
    struct Sums {
        tensors: Vec<Tensor<1>>,
        at: usize,
    }
    impl ModuleVisitor for Sums {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let flat = t.clone().reshape([t.shape().num_elements()]);
            match self.tensors.get_mut(self.at) {
                Some(sum) => *sum = sum.clone() + flat,
                None => self.tensors.push(flat),
            }
            self.at += 1;
        }
    }
    struct Mean {
        sums: Vec<Tensor<1>>,
        count: usize,
        at: usize,
    }
    impl ModuleMapper for Mean {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let sum = self.sums[self.at].clone();
            self.at += 1;
            let count = self.count as f64;
            param.map(|t| (sum / count).reshape(t.shape()))
        }
    }
    let mut sums = Sums {
        tensors: Vec::new(),
        at: 0,
    };
    for net in &nets {
        sums.at = 0;
        net.visit(&mut sums);
    }
    let count = nets.len();
    let first = nets
        .into_iter()
        .next()
        .expect("at least two nets to average");
    first.map(&mut Mean {
        sums: sums.tensors,
        count,
        at: 0,
    })
}

/// Each BatchNorm's running mean and variance set to the mean of its batch statistics over
/// one shuffled, augmented pass of `faces` (momentum 1/(k+1) at the k-th batch is that running
/// mean); returns the network ready for inference.
fn reestimate_batch_norm(
    net: FerNet,
    experiment: &Experiment,
    faces: &FaceSet,
    plain: &Device,
) -> FerNet {
    let device = plain.clone().autodiff();
    let batch_size = experiment.training.batch_size;
    let mut order: Vec<usize> = (0..faces.len()).collect();
    SplitMix64::for_stream(experiment.seed, BATCH_NORM_STREAM).shuffle(&mut order);
    let mut augment = SplitMix64::for_stream(experiment.seed, BATCH_NORM_STREAM + 1);
    let batches = order.chunks_exact(batch_size);
    let bar = progress::bar(batches.len() as u64, "re-estimating BatchNorm statistics");
    let inputs = batches.map(|batch| {
        bar.inc(1);
        train::training_batch(faces, batch, experiment, &mut augment, &device).0
    });
    // Training mode on the autodiff device takes BatchNorm's batch-statistics path; without
    // gradients no graph is kept (with them, one pass held 24 GB and was killed).
    let net = batch_statistics(net.to_device(&device).train().no_grad(), inputs);
    bar.finish_and_clear();
    net.valid()
}

/// `net` (on an autodiff device, in training mode) with every BatchNorm's statistics the
/// mean over `inputs` of its batch statistics; its momentum is restored afterwards.
pub fn batch_statistics(mut net: FerNet, inputs: impl Iterator<Item = Tensor<4>>) -> FerNet {
    let momenta: Vec<f64> = net.batch_norms_mut().iter().map(|bn| bn.momentum).collect();
    for (k, input) in inputs.enumerate() {
        for bn in net.batch_norms_mut() {
            bn.momentum = 1.0 / (k + 1) as f64;
        }
        // The forward pass updates the running statistics; its output is not needed.
        drop(net.forward(input));
    }
    for (bn, momentum) in net.batch_norms_mut().into_iter().zip(momenta) {
        bn.momentum = momentum;
    }
    net
}

fn averaged_from(snapshots: &Snapshots) -> Result<AveragedFrom> {
    Ok(AveragedFrom {
        run_id: snapshots.run_id.clone(),
        epochs: snapshots.epochs.iter().map(|(e, _)| *e).collect(),
        weights_sha256: snapshots
            .epochs
            .iter()
            .map(|(_, path)| artifacts::sha256_file(path))
            .collect::<Result<_, _>>()?,
        batch_norm: BATCH_NORM_RECIPE.into(),
    })
}

/// The run directory's `config.toml`: what was averaged, then the run's own experiment.
fn description(snapshots: &Snapshots, source: &AveragedFrom) -> String {
    format!(
        "# made by `workbench average-fer`: the mean of these epochs' weights, BatchNorm {BATCH_NORM_RECIPE}\nsource_run = {:?}\nepochs = {:?}\n\n{}",
        source.run_id,
        source.epochs,
        snapshots.experiment.to_toml()
    )
}

fn provenance(
    o: &AverageOptions,
    snapshots: &Snapshots,
    source: AveragedFrom,
    started: Instant,
) -> TrainingProvenance {
    let experiment = &snapshots.experiment;
    TrainingProvenance {
        // Set by `publish`, which reserves the run directory.
        run_id: String::new(),
        // The experiment itself, so `eval-fer` finds the data it names.
        config: experiment.to_toml(),
        seed: experiment.seed,
        epochs_planned: experiment.training.epochs,
        epochs_run: snapshots.epochs_done,
        // The source run's training and this average: what the model cost to make.
        wall_time_s: snapshots.wall_time_s + started.elapsed().as_secs_f64(),
        backend: o.publish.backend.describe(),
        git_commit: train::provenance_commit(&snapshots.git_commit, &artifacts::git_commit()),
        workbench_version: env!("CARGO_PKG_VERSION").into(),
        created: artifacts::utc_rfc3339(),
        command: o.publish.command.clone(),
        init_from: None,
        members: Vec::new(),
        averaged_from: Some(source),
        same_weights_as: None,
    }
}

/// The averaged network, its settings, and what it was measured on.
struct Averaged<'a> {
    net: &'a FerNet,
    config: ModelConfig,
    data: &'a RunData,
    evals: &'a [EvalRecord],
}

fn average_card(
    name: &str,
    snapshots: &Snapshots,
    averaged: Averaged<'_>,
    provenance: TrainingProvenance,
) -> ModelCard {
    let Averaged {
        net,
        config,
        data,
        evals,
    } = averaged;
    ModelCard::new(
        name,
        config,
        net.parameter_count(),
        CardMetrics {
            selected_on: "PublicTest".into(),
            // The newest epoch in the average: the run's own selection does not apply.
            best_epoch: snapshots.epochs_done,
            public_test: EvalSummary::new(Split::PublicTest, evals[0].tta, &evals[0].metrics),
            private_test: EvalSummary::new(Split::PrivateTest, evals[1].tta, &evals[1].metrics),
        },
        data.spec(snapshots.experiment.data.subset_per_class),
        provenance,
    )
}

/// The run directory named by `--run`: a path, or a run id under `<reports-dir>/fer/`.
pub fn resolve_run(run: &Path, reports_dir: &Path) -> PathBuf {
    if run.is_dir() || run.components().count() > 1 {
        run.to_path_buf()
    } else {
        reports_dir.join("fer").join(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fer::model::ModelConfig;
    use burn::tensor::Distribution;

    /// Every float tensor of a net, flattened, in visiting order.
    fn tensors(net: &FerNet) -> Vec<Vec<f32>> {
        struct All(Vec<Vec<f32>>);
        impl ModuleVisitor for All {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0
                    .push(param.val().into_data().try_to_vec::<f32>().unwrap());
            }
        }
        let mut all = All(Vec::new());
        net.visit(&mut all);
        all.0
    }

    /// A small VGG and a mini-Xception: both have BatchNorms in several places.
    fn configs() -> [ModelConfig; 2] {
        let mut vgg = ModelConfig::vgg();
        vgg.vgg_channels = vec![8, 16];
        [vgg, ModelConfig::mini_xception()]
    }

    #[test]
    fn the_mean_of_three_nets_is_their_element_wise_mean() {
        let device = Device::flex();
        for config in configs() {
            let nets: Vec<FerNet> = (0..3)
                .map(|seed| {
                    device.seed(seed);
                    config.init(&device)
                })
                .collect();
            let each: Vec<Vec<Vec<f32>>> = nets.iter().map(tensors).collect();
            assert_ne!(each[0], each[1], "differently seeded nets differ");
            let mean = tensors(&mean_weights(nets));
            assert_eq!(mean.len(), each[0].len());
            for (t, tensor) in mean.iter().enumerate() {
                for (i, &v) in tensor.iter().enumerate() {
                    let expected = (each[0][t][i] + each[1][t][i] + each[2][t][i]) / 3.0;
                    assert!((v - expected).abs() <= 1e-6 * expected.abs().max(1.0));
                }
            }
        }
    }

    /// Every layer's statistics after batches A then B are the mean of those after A alone
    /// and after B alone: in training mode a layer's input depends on the batch, never on the
    /// running statistics, so this holds deep in the net too. Burn's default momentum (0.1)
    /// would fail it.
    #[test]
    fn batch_statistics_are_the_mean_over_the_batches() {
        let device = Device::flex().autodiff();
        for config in configs() {
            let batch = |seed| {
                device.seed(seed);
                Tensor::<4>::random([6, 1, 48, 48], Distribution::Normal(0.2, 1.5), &device)
            };
            let (a, b) = (batch(1), batch(2));
            // The same weights in a fresh net each time: clones share their running statistics,
            // and weights initialise lazily (the record fixes them once).
            device.seed(7);
            let weights = config.init(&device).into_record();
            let stats = |inputs: Vec<Tensor<4>>| {
                let net = config.init(&device).load_record(weights.clone());
                let net = batch_statistics(net, inputs.into_iter());
                // `valid` takes in the last update, as the command does.
                let mut net = net.valid();
                let layers = net.batch_norms_mut();
                assert!(
                    layers.iter().all(|bn| bn.momentum == 0.1),
                    "momentum restored"
                );
                layers
                    .iter()
                    .flat_map(|bn| {
                        [bn.running_mean.value(), bn.running_var.value()]
                            .map(|t| t.into_data().try_to_vec::<f32>().unwrap())
                    })
                    .collect::<Vec<_>>()
            };
            let (after_a, after_b) = (stats(vec![a.clone()]), stats(vec![b.clone()]));
            let after_both = stats(vec![a.clone(), b]);
            assert_eq!(stats(vec![a.clone()]), after_a, "deterministic");
            assert!(after_both.len() >= 4);
            for ((both, a), b) in after_both.iter().zip(&after_a).zip(&after_b) {
                for ((&v, &x), &y) in both.iter().zip(a).zip(b) {
                    let expected = (x + y) / 2.0;
                    assert!(
                        (v - expected).abs() <= 1e-5 * expected.abs().max(1.0),
                        "{:?}: {v} vs {expected}",
                        config.arch
                    );
                }
            }
        }
    }
}
