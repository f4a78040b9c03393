//! `workbench ensemble-fer` on a seeded sample of the real FER2013 with the committed models: an
//! ensemble is an ordinary model (eval-fer reproduces its card, infer and bench load it), its
//! probabilities are the mean of its members', and bad member lists are refused before anything
//! is written.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use workbench::emotion::Emotion;
use workbench::fer::card::ModelCard;
use workbench::fer::data::{self, LoadOptions};

const CYCLE_2: &str = "models/fer-mini-xception-c2.json";
const CYCLE_1: &str = "models/fer-mini-xception-c1.json";

fn sample(dir: &Path) -> Option<PathBuf> {
    let fer = fer2013()?;
    Some(write_sample(fer, dir, 1, 30, 5))
}

fn ensemble(dir: &Path, data: &Path, name: &str, members: &[&str]) -> std::process::Output {
    let mut args = vec!["ensemble-fer", "--name", name, "--data", s(data)];
    for m in members {
        args.extend(["--member", m]);
    }
    let models = dir.join("models");
    let reports = dir.join("reports");
    args.extend(["--models-dir", s(&models), "--reports-dir", s(&reports)]);
    run(&args)
}

#[test]
fn an_ensemble_averages_its_members_and_eval_fer_reproduces_its_card() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data_path) = sample(dir.path()) else {
        return;
    };
    let out = ensemble(dir.path(), &data_path, "pair", &[CYCLE_2, CYCLE_1]);
    assert!(out.status.success(), "{}", text(&out));
    let card_path = dir.path().join("models/pair.json");
    let card = ModelCard::read(&card_path).unwrap();
    assert_eq!(card.model.members.len(), 2);
    assert_eq!(card.parameters, 2 * 58_423);
    assert_eq!(card.training.members.len(), 2);
    assert_eq!(card.training.members[1].card, CYCLE_1);
    assert_eq!(card.training.members[0].weights_sha256.len(), 64);

    // Its probabilities are the members' mean, face by face.
    let fer = data::load(&data_path, LoadOptions::default()).unwrap();
    let faces = &fer.private_test;
    let (a, b) = (
        probabilities_of(Path::new(CYCLE_2), faces, 64),
        probabilities_of(Path::new(CYCLE_1), faces, 64),
    );
    let joined = probabilities_of(&card_path, faces, 64);
    for ((pa, pb), pj) in a.iter().zip(&b).zip(&joined) {
        for k in 0..Emotion::COUNT {
            assert!(
                (0.5 * (pa[k] + pb[k]) - pj[k]).abs() < 1e-5,
                "{pa:?} {pb:?} {pj:?}"
            );
        }
    }

    // eval-fer goes through the card like for any model and gets the card's number.
    let reports = dir.path().join("reports");
    let out = run(&[
        "eval-fer",
        "--model",
        s(&card_path),
        "--data",
        s(&data_path),
        "--split",
        "PrivateTest",
        "--reports-dir",
        s(&reports),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let eval: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            reports
                .join("fer")
                .join(&card.training.run_id)
                .join("eval-PrivateTest-none.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        eval["metrics"]["accuracy"].as_f64().unwrap(),
        card.metrics.private_test.accuracy
    );
    let html = std::fs::read_to_string(
        reports
            .join("fer")
            .join(&card.training.run_id)
            .join("index.html"),
    )
    .unwrap();
    assert!(
        html.contains("fer-mini-xception-c1.json"),
        "the page names the members"
    );

    // infer runs on it like on any model.
    let clip = "datasets/clips/clip.gif";
    let out = run(&[
        "infer",
        clip,
        "--model",
        s(&card_path),
        "--no-report",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_model_joined_with_itself_scores_as_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data_path) = sample(dir.path()) else {
        return;
    };
    let out = ensemble(dir.path(), &data_path, "twice", &[CYCLE_2, CYCLE_2]);
    assert!(out.status.success(), "{}", text(&out));
    let card = ModelCard::read(&dir.path().join("models/twice.json")).unwrap();
    let fer = data::load(&data_path, LoadOptions::default()).unwrap();
    let alone = probabilities_of(Path::new(CYCLE_2), &fer.public_test, 64);
    assert_eq!(
        card.metrics.public_test.accuracy,
        accuracy_of(&alone, &fer.public_test)
    );
}

#[test]
fn bad_member_lists_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data_path) = sample(dir.path()) else {
        return;
    };
    // One member is no ensemble.
    let out = ensemble(dir.path(), &data_path, "one", &[CYCLE_2]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("at least two --member"),
        "{}",
        text(&out)
    );
    // A missing member is named.
    let missing = dir.path().join("nope.json");
    let out = ensemble(dir.path(), &data_path, "gap", &[CYCLE_2, s(&missing)]);
    assert!(!out.status.success());
    assert!(text(&out).contains("nope.json"), "{}", text(&out));
    // Members that read different inputs cannot be averaged: a copy of a card claiming 64×64.
    let mut card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(CYCLE_1).unwrap()).unwrap();
    card["model"]["input_size"] = 64.into();
    card["preprocessing"]["input_size"] = 64.into();
    card["input"]["shape"] = serde_json::json!([1, 1, 64, 64]);
    card["weights"] = std::fs::canonicalize("models/fer-mini-xception-c1.bpk")
        .unwrap()
        .display()
        .to_string()
        .into();
    // Unsealed, as cards were before digests: a sealed one would be refused as edited first.
    card.as_object_mut().unwrap().remove("model_sha256");
    let wide = dir.path().join("wide.json");
    std::fs::write(&wide, serde_json::to_string(&card).unwrap()).unwrap();
    let out = ensemble(dir.path(), &data_path, "mixed", &[CYCLE_2, s(&wide)]);
    assert!(!out.status.success());
    assert!(text(&out).contains("64×64"), "{}", text(&out));
    // A bad name.
    let out = ensemble(dir.path(), &data_path, "../up", &[CYCLE_2, CYCLE_1]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--name"), "{}", text(&out));
    assert!(!dir.path().join("models").exists(), "nothing written");
    assert!(!dir.path().join("reports").exists(), "nothing written");
}
