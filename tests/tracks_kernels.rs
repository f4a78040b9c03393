//! The clustering kernels against linfa, the reference, on real Spotify audio features from
//! ../shared (skipped, saying why, when absent): our k-means reaches linfa's inertia and labels,
//! our silhouette equals linfa's.

mod common;

use common::shared_dir;
use flate2::read::GzDecoder;
use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::Array2;
use std::io::Read;
use workbench::rng::SplitMix64;
use workbench::tracks::kmeans::KMeansParams;
use workbench::tracks::metrics::{adjusted_rand_index, silhouette};
use workbench::tracks::scale::{Scaler, Scaling};

const FEATURES: [&str; 6] = [
    "danceability",
    "energy",
    "speechiness",
    "acousticness",
    "liveness",
    "valence",
];

/// A seeded sample of `rows` songs from `genres_v2` (its feature-only slice), standardised.
fn songs(rows: usize) -> Option<Array2<f64>> {
    let path = shared_dir().join("datasets/spotify/genres_v2_features_only.csv.gz");
    if !path.exists() {
        common::skip(&format!(
            "{} is absent (real Spotify tables live in ../shared)",
            path.display()
        ));
        return None;
    }
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .split(',')
        .collect();
    let cols: Vec<usize> = FEATURES
        .iter()
        .map(|f| header.iter().position(|h| h == f).unwrap())
        .collect();
    let all: Vec<Vec<f64>> = lines
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            cols.iter()
                .map(|&c| fields[c].parse::<f64>().unwrap())
                .collect()
        })
        .collect();
    let mut order: Vec<usize> = (0..all.len()).collect();
    SplitMix64::new(17).shuffle(&mut order);
    let flat: Vec<f64> = order
        .iter()
        .take(rows)
        .flat_map(|&i| all[i].clone())
        .collect();
    let x = Array2::from_shape_vec((rows, FEATURES.len()), flat).unwrap();
    Some(Scaler::fit(Scaling::Standard, x.view()).transform(x.view()))
}

#[test]
fn our_kmeans_reaches_linfas_inertia_and_labels() {
    let Some(x) = songs(8_000) else { return };
    for k in [4, 6] {
        let ours = KMeansParams {
            k,
            n_init: 10,
            seed: 3,
            ..Default::default()
        }
        .fit(x.view())
        .unwrap();
        let dataset = DatasetBase::from(x.clone());
        let reference = KMeans::params(k)
            .n_runs(10)
            .max_n_iterations(300)
            .tolerance(1e-8)
            .fit(&dataset)
            .unwrap();
        // linfa's inertia() is the mean over rows; ours is the sum (scikit-learn's).
        let theirs = reference.inertia() * x.nrows() as f64;
        let gap = (ours.inertia - theirs) / theirs;
        assert!(
            gap < 1e-3,
            "k={k}: our inertia {} vs linfa {theirs} ({:+.4} %)",
            ours.inertia,
            100.0 * gap
        );
        let labels: Vec<usize> = reference.predict(&x).to_vec();
        let ari = adjusted_rand_index(&ours.labels, &labels);
        assert!(ari >= 0.99, "k={k}: ARI {ari} against linfa's labels");
    }
}

#[test]
fn our_silhouette_equals_linfas() {
    let Some(x) = songs(1_500) else { return };
    let fit = KMeansParams {
        k: 5,
        n_init: 3,
        seed: 1,
        ..Default::default()
    }
    .fit(x.view())
    .unwrap();
    let ours = silhouette(x.view(), &fit.labels, 5);
    let dataset = DatasetBase::new(x.clone(), ndarray::Array1::from(fit.labels.clone()));
    let theirs: f64 = dataset.silhouette_score().unwrap();
    assert!((ours - theirs).abs() < 1e-9, "ours {ours} linfa {theirs}");
}
