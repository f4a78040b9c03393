//! Helpers shared by the integration tests: the real data in ../shared (skipped, saying why,
//! when absent) and running the real binary.

#![allow(dead_code)]

pub mod serve_client;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use workbench::emotion::Emotion;
use workbench::fer::card;
use workbench::fer::data::{self, FaceSet, Fer2013, LoadOptions, Split};
use workbench::fer::evaluate::{predict, Tta};

/// A test that cannot run here says why and returns; under `WORKBENCH_REQUIRE_DATA=1` (set by
/// `.ci/run`) it fails instead, so CI never passes by skipping.
pub fn skip(why: &str) {
    if std::env::var_os("WORKBENCH_REQUIRE_DATA").is_some_and(|v| v == "1") {
        panic!("WORKBENCH_REQUIRE_DATA=1 but {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// The smallest experiment that trains: one epoch of mini-Xception, batches of 4.
pub const TINY_EXPERIMENT: &str = r#"
name = "tiny"
seed = 1
[model]
arch = "mini_xception"
[optimizer]
kind = "adamw"
lr = 0.001
[training]
epochs = 1
batch_size = 4
eval_batch_size = 8
"#;

pub fn shared_dir() -> PathBuf {
    std::env::var_os("WORKBENCH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

/// A real file under ../shared (e.g. "media/no_face.mp4"); `None`, with the reason printed,
/// when it is absent.
pub fn shared_file(relative: &str) -> Option<PathBuf> {
    let p = shared_dir().join(relative);
    if p.exists() {
        Some(p)
    } else {
        skip(&format!(
            "{} is absent (the real data lives in ../shared beside the checkout)",
            p.display()
        ));
        None
    }
}

pub fn fer2013_path() -> PathBuf {
    shared_dir().join("datasets/fer2013/fer2013.csv.gz")
}

/// The real FER2013, read once per test binary; `None` (with the reason printed) when absent.
pub fn fer2013() -> Option<&'static Fer2013> {
    static DATA: OnceLock<Option<Fer2013>> = OnceLock::new();
    DATA.get_or_init(|| {
        let path = fer2013_path();
        if !path.exists() {
            skip(&format!(
                "{} is absent (the real FER2013 lives in ../shared beside the checkout)",
                path.display()
            ));
            return None;
        }
        Some(data::load(&path, LoadOptions::default()).expect("the real FER2013 loads"))
    })
    .as_ref()
}

/// Writes a seeded, class-balanced sample of the real FER2013 as a canonical CSV.
pub fn write_sample(fer: &Fer2013, dir: &Path, train: usize, test: usize, seed: u64) -> PathBuf {
    let path = dir.join("fer2013-sample.csv");
    let training: FaceSet = fer.training.stratified_subset(train, seed);
    let public: FaceSet = fer.public_test.stratified_subset(test, seed + 1);
    let private: FaceSet = fer.private_test.stratified_subset(test, seed + 2);
    data::write_csv(
        &path,
        &[
            (Split::Training, &training),
            (Split::PublicTest, &public),
            (Split::PrivateTest, &private),
        ],
    )
    .unwrap();
    path
}

/// Class probabilities of the model behind `card_path` for every face, in batches of
/// `batch_size` (the same batches give bit-identical results), loaded as `infer` loads it.
pub fn probabilities_of(
    card_path: &Path,
    faces: &FaceSet,
    batch_size: usize,
) -> Vec<[f32; Emotion::COUNT]> {
    probabilities_with(card_path, faces, Tta::None, batch_size)
}

/// Like [`probabilities_of`], each face read with the test-time recipe `tta`.
pub fn probabilities_with(
    card_path: &Path,
    faces: &FaceSet,
    tta: Tta,
    batch_size: usize,
) -> Vec<[f32; Emotion::COUNT]> {
    let device = burn::prelude::Device::flex();
    let (card, model) = card::load_model(card_path, &device).unwrap();
    let bar = indicatif::ProgressBar::hidden();
    predict(
        &model,
        faces,
        &card.model.preprocessing(),
        tta,
        batch_size,
        &device,
        &bar,
    )
}

/// The share of `faces` whose most probable class is their label.
pub fn accuracy_of(probabilities: &[[f32; Emotion::COUNT]], faces: &FaceSet) -> f64 {
    let correct = probabilities
        .iter()
        .zip(faces.labels())
        .filter(|(p, l)| workbench::fer::evaluate::argmax(&p[..]) == l.index())
        .count();
    correct as f64 / faces.len() as f64
}

pub fn workbench() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_workbench"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

pub fn run(args: &[&str]) -> Output {
    workbench()
        .args(args)
        .output()
        .expect("the workbench binary runs")
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The one run directory a command left under `dir` (e.g. reports/infer); fails if not exactly one.
pub fn only_run_dir(dir: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// A liked-songs library row for a song of the song model, with its features.
pub fn liked_song(
    t: &workbench::tracks::model::PlaylistTrack,
) -> workbench::spotify::library::LikedSong {
    workbench::spotify::library::LikedSong {
        id: t.track.id.clone().unwrap(),
        name: t.track.name.clone(),
        artists: t.track.artists.clone(),
        added_at: "2026-01-01T00:00:00Z".into(),
        popularity: None,
        features: Some(t.features.clone()),
        features_from: Some("test".into()),
    }
}

/// `eval-fer` on `card` (its own test-time recipe) prints the card's accuracy for `split`.
pub fn assert_eval_fer_reproduces(card_path: &Path, split: &str, sample: &Path, reports: &Path) {
    let card = card::ModelCard::read(card_path).unwrap();
    let out = run(&[
        "eval-fer",
        "--model",
        s(card_path),
        "--data",
        s(sample),
        "--split",
        split,
        "--reports-dir",
        s(reports),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let m = &card.metrics;
    let expected = if split == "PublicTest" {
        &m.public_test
    } else {
        &m.private_test
    };
    let accuracy = format!("accuracy {:.2} %", 100.0 * expected.accuracy);
    assert!(text(&out).contains(&accuracy), "{accuracy}\n{}", text(&out));
    let recipe = format!("test-time augmentation: {}", card.model.test_time.name());
    assert!(text(&out).contains(&recipe), "{recipe}\n{}", text(&out));
}
