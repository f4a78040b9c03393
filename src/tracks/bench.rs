//! `bench-cluster`: the whole cluster job (scaling, the k sweep with silhouette, the final fit)
//! timed on a catalogue bootstrapped to the size of the full Kaggle `data.csv`. The matrix can be
//! written out so that `benches/cluster_sklearn.py` times scikit-learn on the very same rows.

use super::catalog::{self, DEFAULT_FEATURES};
use super::kmeans::KMeansParams;
use super::scale::{Scaler, Scaling};
use super::sweep::{self, SweepParams};
use crate::artifacts;
use crate::rng::SplitMix64;
use anyhow::{Context, Result};
use ndarray::{Array2, Axis};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

pub struct BenchOptions {
    pub data: PathBuf,
    pub rows: usize,
    pub k_min: usize,
    pub k_max: usize,
    pub k: usize,
    pub seeds: usize,
    pub silhouette_sample: usize,
    pub seed: u64,
    pub write_matrix: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct BenchResult {
    pub source: String,
    pub rows: usize,
    pub features: usize,
    pub threads: usize,
    pub read_s: f64,
    pub sweep_s: f64,
    pub final_fit_s: f64,
    pub total_s: f64,
    pub peak_rss_mib: Option<f64>,
    pub favoured_k: usize,
    pub final_inertia: f64,
}

impl BenchResult {
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "cluster job on {} rows × {} features ({} threads), {}",
            self.rows, self.features, self.threads, self.source
        );
        let _ = writeln!(s, "  read          {:>8.2} s", self.read_s);
        let _ = writeln!(s, "  k sweep       {:>8.2} s", self.sweep_s);
        let _ = writeln!(s, "  final fit     {:>8.2} s", self.final_fit_s);
        let _ = writeln!(s, "  total         {:>8.2} s", self.total_s);
        if let Some(m) = self.peak_rss_mib {
            let _ = writeln!(s, "  peak memory   {m:>8.0} MiB");
        }
        let _ = writeln!(
            s,
            "  favoured k {} · final inertia {:.1}",
            self.favoured_k, self.final_inertia
        );
        s
    }
}

/// Rows drawn with replacement from `x`, seeded.
pub fn bootstrap(x: &Array2<f64>, rows: usize, seed: u64) -> Array2<f64> {
    let mut rng = SplitMix64::for_stream(seed, 0xb007);
    let idx: Vec<usize> = (0..rows).map(|_| rng.below(x.nrows())).collect();
    x.select(Axis(0), &idx)
}

pub fn bench(options: &BenchOptions) -> Result<BenchResult> {
    let features: Vec<String> = DEFAULT_FEATURES.iter().map(|s| s.to_string()).collect();
    let read_started = Instant::now();
    let real = catalog::read_catalog(&options.data, &features)?;
    let mut read_s = read_started.elapsed().as_secs_f64();
    let mut x = if options.rows == 0 {
        real.features
    } else {
        bootstrap(&real.features, options.rows, options.seed)
    };
    if let Some(path) = &options.write_matrix {
        let mut csv = features.join(",");
        csv.push('\n');
        for row in x.rows() {
            let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
        artifacts::write_atomic(path, csv.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        // Time reading it back, as the scikit-learn peer does.
        let t = Instant::now();
        x = catalog::read_catalog(path, &features)?.features;
        read_s = t.elapsed().as_secs_f64();
    }
    // The total is the timed read plus everything after it (writing the matrix is not timed).
    let after_read = Instant::now();
    let scaled = Scaler::fit(Scaling::Standard, x.view()).transform(x.view());
    let t = Instant::now();
    let sweep = sweep::sweep(
        scaled.view(),
        &SweepParams {
            k_min: options.k_min,
            k_max: options.k_max,
            seeds: options.seeds,
            seed: options.seed,
            silhouette_sample: options.silhouette_sample,
            max_iter: 300,
        },
        &|| {},
    )?;
    let sweep_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let fit = KMeansParams {
        k: options.k,
        n_init: options.seeds,
        seed: options.seed,
        ..Default::default()
    }
    .fit(scaled.view())?;
    let final_fit_s = t.elapsed().as_secs_f64();
    Ok(BenchResult {
        source: if options.rows == 0 {
            format!("{} (as is)", options.data.display())
        } else {
            format!("bootstrapped from {}", options.data.display())
        },
        rows: x.nrows(),
        features: x.ncols(),
        threads: rayon::current_num_threads(),
        read_s,
        sweep_s,
        final_fit_s,
        total_s: read_s + after_read.elapsed().as_secs_f64(),
        peak_rss_mib: artifacts::peak_rss_mib(),
        favoured_k: sweep.verdict.favoured_k,
        final_inertia: fit.inertia,
    })
}
