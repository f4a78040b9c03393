//! The whole real FER2013 from ../shared (skipped, saying why, when absent): it loads without a
//! bad row, with the published split and class counts, and the shipped default model scores on
//! PrivateTest exactly what its card (and the README) says, and the network `infer` runs
//! (BatchNorms folded) reads faces as the trained one does.

mod common;

use common::*;
use std::path::Path;
use workbench::fer::card::{self, ModelCard};
use workbench::fer::data::Split;
use workbench::fer::evaluate::{predict, Metrics, Tta};
use workbench::fer::inference::InferenceNet;

#[test]
fn the_real_fer2013_has_the_published_splits_and_classes() {
    let Some(fer) = fer2013() else { return };
    assert!(fer.skipped.is_empty());
    assert_eq!(fer.source.format, "csv.gz");
    let expected: [(Split, [usize; 7]); 3] = [
        (Split::Training, [3995, 436, 4097, 7215, 4830, 3171, 4965]),
        (Split::PublicTest, [467, 56, 496, 895, 653, 415, 607]),
        (Split::PrivateTest, [491, 55, 528, 879, 594, 416, 626]),
    ];
    for (split, counts) in expected {
        assert_eq!(fer.split(split).class_counts(), counts, "{split}");
    }
    assert_eq!(fer.total(), 35_887);
    // The sha256 the model cards record is that of the file as stored.
    let sums = std::fs::read_to_string(shared_dir().join("datasets/fer2013/SHA256SUMS")).unwrap();
    assert!(
        sums.contains(&format!("{}  fer2013.csv.gz", fer.source.sha256)),
        "{}",
        fer.source.sha256
    );
    // Known quirk: twelve all-black faces.
    let black = Split::ALL
        .iter()
        .flat_map(|&s| {
            let faces = fer.split(s);
            (0..faces.len()).map(move |i| faces.image(i).iter().all(|&p| p == 0))
        })
        .filter(|&b| b)
        .count();
    assert_eq!(black, 12);
}

/// The "done when": `eval-fer --model models/fer-default.json --split PrivateTest`
/// reproduces the card's accuracy, with the card's test-time recipe: the same number of faces
/// right, the same macro-F1.
#[test]
fn the_shipped_model_scores_what_its_card_says_on_private_test() {
    let Some(fer) = fer2013() else { return };
    let card_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/fer-default.json");
    let card = ModelCard::read(&card_path).unwrap();
    assert_eq!(
        card.data.source.sha256, fer.source.sha256,
        "the card was measured on this file"
    );
    // Read with the card's own test-time recipe, as eval-fer and infer read it.
    let probs = probabilities_with(&card_path, &fer.private_test, card.model.test_time, 256);
    let measured = Metrics::from_predictions(fer.private_test.labels(), &probs);
    let claimed = &card.metrics.private_test;
    assert_eq!(measured.n, claimed.n);
    let correct = |accuracy: f64| (accuracy * measured.n as f64).round() as usize;
    assert_eq!(correct(measured.accuracy), correct(claimed.accuracy));
    assert!(
        (measured.macro_f1 - claimed.macro_f1).abs() < 1e-9,
        "{measured:?}"
    );
}

/// `infer` and `serve` run every model with its BatchNorms folded into the convolutions
/// (`InferenceNet`): on real PrivateTest faces, every shipped model gives the trained network's
/// probabilities to float rounding and the same emotion for every face, so a card's accuracy is
/// what `infer` gets.
#[test]
fn the_folded_network_infer_runs_reads_faces_as_the_trained_one() {
    let Some(fer) = fer2013() else { return };
    let faces = fer.private_test.stratified_subset(700, 11);
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut cards: Vec<_> = std::fs::read_dir(&models)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("fer-") && name.ends_with(".json")
        })
        .collect();
    cards.sort();
    assert!(cards.len() >= 2, "{cards:?}");
    let device = burn::prelude::Device::flex();
    let bar = indicatif::ProgressBar::hidden();
    for card_path in &cards {
        let (card, trained) = card::load_model(card_path, &device).unwrap();
        let folded = InferenceNet::fold(&trained);
        let prep = card.model.preprocessing();
        let a = predict(&trained, &faces, &prep, Tta::None, 64, &device, &bar);
        let b = predict(&folded, &faces, &prep, Tta::None, 64, &device, &bar);
        let worst = a
            .iter()
            .flatten()
            .zip(b.iter().flatten())
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-4,
            "{}: probabilities differ by {worst}",
            card_path.display()
        );
        let argmax = |p: &[f32; 7]| (0..7).max_by(|&i, &j| p[i].total_cmp(&p[j])).unwrap();
        let differ = a
            .iter()
            .zip(&b)
            .filter(|(p, q)| argmax(p) != argmax(q))
            .count();
        assert_eq!(
            differ,
            0,
            "{}: {differ} faces change emotion",
            card_path.display()
        );
    }
}
