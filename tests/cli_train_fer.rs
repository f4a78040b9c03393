//! `workbench train-fer` and `eval-fer` end to end on a seeded sample of the real FER2013:
//! training beats chance on held-out faces, a killed and resumed run equals an uninterrupted one,
//! the exported model gives the logits it was trained to, and eval-fer reproduces the card.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use workbench::emotion::Emotion;
use workbench::fer::card::{self, ModelCard};
use workbench::fer::data::{self, LoadOptions};
use workbench::fer::evaluate::{predict, Tta};

const TRAIN_PER_CLASS: usize = 150;
const TEST_PER_CLASS: usize = 50;
const EPOCHS: usize = 6;
/// The config's eval_batch_size: evaluating in the same batches gives bit-identical logits.
const EVAL_BATCH: usize = 128;

const CONFIG: &str = r#"
name = "sample"
seed = 11

[model]
arch = "mini_xception"
input_size = 48

[optimizer]
kind = "adamw"
lr = 0.01
weight_decay = 0.0001

[schedule]
kind = "cosine"
min_lr = 0.0005

[training]
epochs = 6
batch_size = 32
eval_batch_size = 128

# Mirroring only: a small sample learns slowly under heavy augmentation, and the resume test
# still checks that augmentation draws replay exactly.
[augment]
hflip = true
"#;

struct Trained {
    dir: PathBuf,
    sample: PathBuf,
    config: PathBuf,
    card: PathBuf,
    run_dir: PathBuf,
}

/// Sample, config and one uninterrupted training run, shared by the tests of this file.
fn trained() -> Option<&'static Trained> {
    static RUN: OnceLock<Option<Trained>> = OnceLock::new();
    RUN.get_or_init(|| {
        let fer = fer2013()?;
        let dir = tempfile::tempdir().unwrap().keep();
        let sample = write_sample(fer, &dir, TRAIN_PER_CLASS, TEST_PER_CLASS, 5);
        let config = dir.join("sample.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let out = train(&dir, &config, &sample, "uninterrupted", &[]);
        assert!(out.status.success(), "{}", text(&out));
        Some(Trained {
            card: dir.join("models-uninterrupted/sample.json"),
            run_dir: dir.join("reports/fer/uninterrupted"),
            dir,
            sample,
            config,
        })
    })
    .as_ref()
}

fn train_args(dir: &Path, config: &Path, sample: &Path, run_id: &str) -> Vec<String> {
    [
        "train-fer",
        "--config",
        s(config),
        "--data",
        s(sample),
        "--run-id",
        run_id,
        "--models-dir",
        s(&dir.join(format!("models-{run_id}"))),
        "--reports-dir",
        s(&dir.join("reports")),
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

fn train(
    dir: &Path,
    config: &Path,
    sample: &Path,
    run_id: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = train_args(dir, config, sample, run_id);
    args.extend(extra.iter().map(|a| a.to_string()));
    workbench().args(&args).output().unwrap()
}

#[test]
fn training_on_the_sample_beats_chance_on_held_out_faces() {
    let Some(t) = trained() else { return };
    let card = ModelCard::read(&t.card).unwrap();
    assert_eq!(card.labels, Emotion::names());
    assert_eq!(card.parameters, 58_423);
    assert_eq!(card.data.training, 7 * TRAIN_PER_CLASS);
    assert_eq!(card.training.epochs_run, EPOCHS);
    // Balanced classes: chance is 1/7 = 14.3 %. With 350 held-out faces its standard deviation
    // is 1.9 points, so 21 % is 3.6 of them above chance (p < 0.0002 by luck).
    let public = card.metrics.public_test.accuracy;
    let private = card.metrics.private_test.accuracy;
    assert!(public > 0.21, "PublicTest accuracy {public}");
    assert!(private > 0.21, "PrivateTest accuracy {private}");
    assert_eq!(card.metrics.private_test.n, 7 * TEST_PER_CLASS);
}

/// The last `KEPT_SNAPSHOTS` epochs' weights stay for weight averaging; the optimiser's state
/// only for the last epoch (what a resume needs).
#[test]
fn the_last_epochs_weights_stay_and_one_optimiser_state() {
    let Some(t) = trained() else { return };
    let mut files: Vec<String> = std::fs::read_dir(t.run_dir.join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("model-e") || n.starts_with("optim-e"))
        .collect();
    files.sort();
    let first_kept = EPOCHS + 1 - workbench::fer::train::KEPT_SNAPSHOTS;
    let mut expected: Vec<String> = (first_kept..=EPOCHS)
        .map(|e| format!("model-e{e:03}.bpk"))
        .collect();
    expected.push(format!("optim-e{EPOCHS:03}.bpk"));
    assert_eq!(files, expected);
}

#[test]
fn a_killed_and_resumed_run_equals_an_uninterrupted_one() {
    let Some(t) = trained() else { return };
    let args = train_args(&t.dir, &t.config, &t.sample, "killed");
    let state = t.dir.join("reports/fer/killed/checkpoint/state.json");
    let mut child = workbench().args(&args).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while !state.exists() {
        assert!(Instant::now() < deadline, "no checkpoint after 10 minutes");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its first checkpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(
        saved["epochs_done"].as_u64().unwrap() < EPOCHS as u64,
        "killed too late to test resume"
    );
    assert!(
        !t.dir.join("models-killed/sample.json").exists(),
        "a killed run left a model card"
    );

    // Changing the plan on resume is refused; resuming as planned finishes the run.
    let out = train(
        &t.dir,
        &t.config,
        &t.sample,
        "killed",
        &["--resume", "--epochs", "9"],
    );
    assert!(
        !out.status.success() && text(&out).contains("--epochs cannot change"),
        "{}",
        text(&out)
    );
    // The machine is lost: only the parked resume point (committed to the repository) is left.
    park_and_lose(
        &t.dir.join("reports/fer/killed"),
        &t.dir.join("parked/killed"),
    );
    let out = train(&t.dir, &t.config, &t.sample, "killed", &["--resume"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("resuming killed after epoch"),
        "{}",
        text(&out)
    );

    let history = |run: &str| {
        std::fs::read_to_string(t.dir.join(format!("reports/fer/{run}/metrics.json"))).unwrap()
    };
    let strip_seconds = |h: String| -> Vec<serde_json::Value> {
        let mut v: Vec<serde_json::Value> = serde_json::from_str(&h).unwrap();
        v.iter_mut().for_each(|r| {
            r.as_object_mut().unwrap().remove("seconds");
        });
        v
    };
    assert_eq!(
        strip_seconds(history("uninterrupted")),
        strip_seconds(history("killed"))
    );
    let a = ModelCard::read(&t.card).unwrap();
    let b = ModelCard::read(&t.dir.join("models-killed/sample.json")).unwrap();
    assert_eq!(a.metrics, b.metrics);
    let fer = data::load(&t.sample, LoadOptions::default()).unwrap();
    assert_eq!(
        probabilities_of(&t.card, &fer.private_test, EVAL_BATCH),
        probabilities_of(
            &t.dir.join("models-killed/sample.json"),
            &fer.private_test,
            EVAL_BATCH
        )
    );

    // A finished run is not resumed again.
    let out = train(&t.dir, &t.config, &t.sample, "killed", &["--resume"]);
    assert!(
        !out.status.success() && text(&out).contains("already finished"),
        "{}",
        text(&out)
    );
    // Nor is a parked resume point restored over the epochs that came after it.
    let run_dir = t.dir.join("reports/fer/killed");
    let out = park_run(&[Path::new("restore"), &t.dir.join("parked/killed"), &run_dir]);
    assert!(
        !out.status.success() && text(&out).contains("more than"),
        "{}",
        text(&out)
    );
    assert!(run_dir.join("checkpoint/best.bpk").is_file());
}

/// `scripts/park-run.sh` with `args`.
fn park_run(args: &[&Path]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/park-run.sh");
    std::process::Command::new(script)
        .args(args)
        .output()
        .unwrap()
}

/// `park-run.sh save`, the run folder deleted, then `restore`: what a run that outlives its
/// machine goes through.
fn park_and_lose(run_dir: &Path, parked: &Path) {
    let out = park_run(&[Path::new("save"), run_dir, parked]);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::remove_dir_all(run_dir).unwrap();
    let out = park_run(&[Path::new("restore"), parked, run_dir]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn eval_fer_reproduces_the_card_and_reports_every_figure() {
    let Some(t) = trained() else { return };
    let card = ModelCard::read(&t.card).unwrap();
    let reports = t.dir.join("reports");
    let out = run(&[
        "eval-fer",
        "--model",
        s(&t.card),
        "--data",
        s(&t.sample),
        "--split",
        "PrivateTest",
        "--tta",
        "--reports-dir",
        s(&reports),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let eval: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.run_dir.join("eval-PrivateTest-none.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        eval["metrics"]["accuracy"].as_f64().unwrap(),
        card.metrics.private_test.accuracy
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in ["ten_crop", "flip", "macro-F1", "precision", "recall"] {
        assert!(stdout.contains(needle), "{needle} missing from\n{stdout}");
    }
    // Every image the page names exists, and the run's own files are there.
    let html = std::fs::read_to_string(t.run_dir.join("index.html")).unwrap();
    let images: Vec<&str> = html
        .split("<img src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(images.contains(&"curves.png"), "{images:?}");
    for tta in ["none", "flip", "ten_crop"] {
        assert!(
            images.contains(&format!("confusion-PrivateTest-{tta}.png").as_str()),
            "{images:?}"
        );
    }
    for img in &images {
        let bytes = std::fs::read(t.run_dir.join(img)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{img} is not a PNG");
    }
    for f in ["config.toml", "metrics.json", "eval-PublicTest-none.json"] {
        assert!(t.run_dir.join(f).is_file(), "{f} missing");
    }
}

#[test]
fn exported_weights_load_to_identical_logits() {
    let Some(t) = trained() else { return };
    let fer = data::load(&t.sample, LoadOptions::default()).unwrap();
    // The exported file is the run's selected checkpoint, byte for byte.
    assert_eq!(
        std::fs::read(t.card.with_extension("bpk")).unwrap(),
        std::fs::read(t.run_dir.join("checkpoint/best.bpk")).unwrap()
    );
    // Loading twice, and loading the checkpoint, give the same logits.
    let a = probabilities_of(&t.card, &fer.public_test, EVAL_BATCH);
    let b = probabilities_of(&t.card, &fer.public_test, EVAL_BATCH);
    assert_eq!(a, b);
    let card = ModelCard::read(&t.card).unwrap();
    let device = burn::prelude::Device::flex();
    let best =
        card::load_weights(&card.model, &t.run_dir.join("checkpoint/best.bpk"), &device).unwrap();
    let bar = indicatif::ProgressBar::hidden();
    let c = predict(
        &best,
        &fer.public_test,
        &card.model.preprocessing(),
        Tta::None,
        EVAL_BATCH,
        &device,
        &bar,
    );
    assert_eq!(a, c);
    // And they are the numbers the card reports, which are the numbers the in-memory model gave
    // at the selected epoch during training.
    let m = workbench::fer::evaluate::Metrics::from_predictions(fer.public_test.labels(), &a);
    assert_eq!(m.accuracy, card.metrics.public_test.accuracy);
    let history: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(t.run_dir.join("metrics.json")).unwrap())
            .unwrap();
    let at_best = &history[card.metrics.best_epoch - 1];
    assert_eq!(at_best["public_accuracy"].as_f64().unwrap(), m.accuracy);
    assert_eq!(at_best["public_loss"].as_f64().unwrap(), m.loss);
}

/// Every float tensor of a model by its path (`blocks.0.bn1.running_mean`), flattened.
fn tensors_by_path(net: &workbench::fer::model::FerNet) -> Vec<(String, Vec<f32>)> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::prelude::Tensor;
    #[derive(Default)]
    struct All {
        path: Vec<String>,
        found: Vec<(String, Vec<f32>)>,
    }
    impl ModuleVisitor for All {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data().try_to_vec::<f32>().unwrap();
            self.found.push((self.path.join("."), values));
        }
    }
    let mut all = All::default();
    net.visit(&mut all);
    all.found
}

/// Every weight of `averaged` is the mean of the `epochs`' weights, and its BatchNorm statistics
/// were measured anew (they differ from the mean of the epochs').
fn assert_is_the_mean_of(averaged: &Path, epochs: &[PathBuf]) {
    let device = burn::prelude::Device::flex();
    let (card, averaged) = card::load_model(averaged, &device).unwrap();
    let epochs: Vec<_> = epochs
        .iter()
        .map(|p| tensors_by_path(&card::load_weights(&card.model, p, &device).unwrap()))
        .collect();
    let (mut weights, mut statistics_moved) = (0, 0);
    for (i, (path, values)) in tensors_by_path(&averaged).into_iter().enumerate() {
        assert_eq!(path, epochs[0][i].0);
        let off = values
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let mean = epochs.iter().map(|e| e[i].1[j]).sum::<f32>() / epochs.len() as f32;
                (v - mean).abs()
            })
            .fold(0.0f32, f32::max);
        if path.ends_with("running_mean") || path.ends_with("running_var") {
            statistics_moved += usize::from(off > 1e-4);
        } else {
            assert!(off < 1e-5, "{path}: {off} from the mean of the epochs");
            weights += 1;
        }
    }
    assert!(
        weights > 20 && statistics_moved > 5,
        "{weights} {statistics_moved}"
    );
}

/// `average-fer` on the run's last three epochs: the card names them (with their digests),
/// every weight is their mean while the BatchNorm statistics were measured anew, eval-fer
/// reproduces the card (also with the mirror as its test-time recipe), and bad requests are
/// refused before any work.
#[test]
fn average_fer_makes_the_mean_of_the_last_epochs_and_eval_fer_reproduces_it() {
    let Some(t) = trained() else { return };
    let (models, reports) = (t.dir.join("models-average"), t.dir.join("reports-average"));
    let average = |extra: &[&str]| {
        let mut args = vec![
            "average-fer",
            "--run",
            s(&t.run_dir),
            "--data",
            s(&t.sample),
        ];
        args.extend(["--models-dir", s(&models), "--reports-dir", s(&reports)]);
        args.extend(extra);
        run(&args)
    };
    let out = average(&["--last", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    let card_path = models.join("sample-swa.json");
    let card = ModelCard::read(&card_path).unwrap();
    let source = card.training.averaged_from.clone().expect("averaged_from");
    assert_eq!(source.epochs, vec![EPOCHS - 2, EPOCHS - 1, EPOCHS]);
    assert_eq!(card.training.epochs_run, EPOCHS);
    let epochs: Vec<PathBuf> = source
        .epochs
        .iter()
        .map(|e| t.run_dir.join(format!("checkpoint/model-e{e:03}.bpk")))
        .collect();
    for (path, digest) in epochs.iter().zip(&source.weights_sha256) {
        assert_eq!(&workbench::artifacts::sha256_file(path).unwrap(), digest);
    }
    assert_is_the_mean_of(&card_path, &epochs);
    assert_eval_fer_reproduces(&card_path, "PublicTest", &t.sample, &reports);

    let out = average(&["--last", "3", "--tta", "flip", "--name", "sample-swa-flip"]);
    assert!(out.status.success(), "{}", text(&out));
    let flip_path = models.join("sample-swa-flip.json");
    let flip = ModelCard::read(&flip_path).unwrap();
    assert_eq!(flip.model.test_time, Tta::Flip);
    assert_eq!(flip.metrics.public_test.tta, Tta::Flip);
    assert_eq!(flip.metrics.private_test.tta, Tta::Flip);
    assert_eval_fer_reproduces(&flip_path, "PrivateTest", &t.sample, &reports);

    let before = std::fs::read(&card_path).unwrap();
    let again = average(&["--last", "3"]);
    assert!(!again.status.success());
    assert!(text(&again).contains("--force"), "{}", text(&again));
    assert_eq!(std::fs::read(&card_path).unwrap(), before);
    let too_many = average(&["--last", "6", "--name", "other"]);
    assert!(!too_many.status.success());
    assert!(text(&too_many).contains("2 to 5"), "{}", text(&too_many));
    assert!(!models.join("other.json").exists());
}
