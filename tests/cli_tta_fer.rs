//! `workbench tta-fer` on a seeded sample of the real FER2013 with the shipped model: the new
//! model is the same weights file, its card's numbers are those weights read with the recipe
//! (and eval-fer reproduces them), and what cannot be made is refused before anything is written.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use workbench::artifacts::sha256_file;
use workbench::fer::card::ModelCard;
use workbench::fer::data::{self, LoadOptions};
use workbench::fer::evaluate::Tta;

const SHIPPED: &str = "models/fer-default.json";

fn tta_fer(dir: &Path, data: &Path, model: &str, tta: &str, name: &str) -> std::process::Output {
    let (models, reports) = (dir.join("models"), dir.join("reports"));
    run(&[
        "tta-fer",
        "--model",
        model,
        "--tta",
        tta,
        "--name",
        name,
        "--data",
        s(data),
        "--models-dir",
        s(&models),
        "--reports-dir",
        s(&reports),
    ])
}

fn sample(dir: &Path) -> Option<PathBuf> {
    Some(write_sample(fer2013()?, dir, 1, 40, 17))
}

/// The shipped card's own recipe, and one it does not read faces with.
fn shipped_recipes() -> (Tta, Tta) {
    let own = ModelCard::read(Path::new(SHIPPED)).unwrap().model.test_time;
    let other = if own == Tta::Flip {
        Tta::None
    } else {
        Tta::Flip
    };
    (own, other)
}

#[test]
fn tta_fer_publishes_the_same_weights_read_with_the_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data_path) = sample(dir.path()) else {
        return;
    };
    let (own, other) = shipped_recipes();
    let out = tta_fer(
        dir.path(),
        &data_path,
        SHIPPED,
        other.name(),
        "other-recipe",
    );
    assert!(out.status.success(), "{}", text(&out));
    let card_path = dir.path().join("models/other-recipe.json");
    let (card, source) = (
        ModelCard::read(&card_path).unwrap(),
        ModelCard::read(Path::new(SHIPPED)).unwrap(),
    );

    // The same weights, byte for byte, named in the card; only the recipe differs.
    let weights = sha256_file(&card.weights_path(&card_path)).unwrap();
    assert_eq!(Some(&weights), source.weights_sha256.as_ref());
    let origin = card
        .training
        .same_weights_as
        .as_ref()
        .expect("names its source");
    assert_eq!(
        (origin.card.as_str(), &origin.weights_sha256),
        (SHIPPED, &weights)
    );
    assert_eq!(card.model.test_time, other);
    let mut config = card.model.clone();
    config.test_time = source.model.test_time;
    assert_eq!(config, source.model);

    // Its numbers are the source's weights read with the new recipe (which this sample tells
    // apart from the card's own), and eval-fer, following the card, gets them again.
    let fer = data::load(&data_path, LoadOptions::default()).unwrap();
    let faces = &fer.public_test;
    let accuracy = |tta| {
        accuracy_of(
            &probabilities_with(Path::new(SHIPPED), faces, tta, 64),
            faces,
        )
    };
    let (with_other, with_own) = (accuracy(other), accuracy(own));
    assert_ne!(
        with_other, with_own,
        "the sample cannot tell the recipes apart"
    );
    assert_eq!(card.metrics.public_test.accuracy, with_other);
    assert_eq!(card.metrics.public_test.tta, other);
    let reports = dir.path().join("reports");
    assert_eval_fer_reproduces(&card_path, "PrivateTest", &data_path, &reports);
}

#[test]
fn what_tta_fer_cannot_make_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data_path) = sample(dir.path()) else {
        return;
    };
    let (own, other) = shipped_recipes();
    let out = tta_fer(dir.path(), &data_path, SHIPPED, own.name(), "same");
    assert!(!out.status.success());
    assert!(text(&out).contains("already reads faces"), "{}", text(&out));
    let out = tta_fer(dir.path(), &data_path, SHIPPED, other.name(), "../up");
    assert!(!out.status.success());
    assert!(text(&out).contains("--name"), "{}", text(&out));
    let missing = dir.path().join("nope.json");
    let out = tta_fer(dir.path(), &data_path, s(&missing), other.name(), "gone");
    assert!(!out.status.success());
    assert!(text(&out).contains("nope.json"), "{}", text(&out));
    assert!(!dir.path().join("models").exists(), "nothing written");
    assert!(!dir.path().join("reports").exists(), "nothing written");

    // An existing model of that name is kept unless --force.
    let out = tta_fer(
        dir.path(),
        &data_path,
        SHIPPED,
        other.name(),
        "other-recipe",
    );
    assert!(out.status.success(), "{}", text(&out));
    let card_path = dir.path().join("models/other-recipe.json");
    let before = std::fs::read(&card_path).unwrap();
    let out = tta_fer(dir.path(), &data_path, SHIPPED, "ten_crop", "other-recipe");
    assert!(!out.status.success());
    assert!(text(&out).contains("--force"), "{}", text(&out));
    assert_eq!(std::fs::read(&card_path).unwrap(), before);
}
