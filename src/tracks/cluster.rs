//! The `cluster` command: catalogue → scaled features → k sweep → final fit → PCA, profiles,
//! moods → `song-clusters.json` and a report with per-mood playlists.

use super::agreement::{self, Agreement, Fold};
use super::catalog::{self, Catalog};
use super::cluster_report;
use super::kmeans::{KMeansFit, KMeansParams};
use super::model::{SongClusters, SONG_CLUSTERS_SCHEMA};
use super::moods::assign_moods;
use super::pca::Pca;
use super::playlists::mood_playlist;
use super::scale::{Scaler, Scaling};
use super::sweep::{self, shown, Sweep, SweepParams};
use crate::artifacts;
use crate::emotion::Mood;
use crate::progress;
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use std::path::{Path, PathBuf};

/// Settings resolved from the command line.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub data: PathBuf,
    pub features: Vec<String>,
    pub scaling: Scaling,
    pub k: usize,
    /// `None`: no sweep (just the fit of `k`).
    pub k_range: Option<(usize, usize)>,
    pub seeds: usize,
    pub seed: u64,
    pub silhouette_sample: usize,
    pub playlist_length: usize,
    /// Where `song-clusters.json` goes.
    pub out: PathBuf,
    /// Replace an existing song model at `out` (kept under `replaced/` beside it).
    pub force: bool,
    pub reports_dir: PathBuf,
    pub command: String,
    /// People's labels to measure the moods against, and how our moods fold into them.
    pub labels: Option<(PathBuf, Fold)>,
}

impl ClusterOptions {
    /// Refuses settings that cannot work, naming the option, before the data is read.
    pub fn check(&self) -> Result<()> {
        anyhow::ensure!(self.k >= 1, "--k 0: ask for at least one cluster");
        anyhow::ensure!(self.seeds >= 1, "--seeds must be at least 1");
        anyhow::ensure!(
            self.playlist_length >= 1,
            "--playlist-length must be at least 1"
        );
        anyhow::ensure!(
            self.silhouette_sample >= 2,
            "--silhouette-sample must be at least 2"
        );
        anyhow::ensure!(
            !self.features.is_empty(),
            "--features: name at least one feature"
        );
        if let Some((lo, hi)) = self.k_range {
            anyhow::ensure!(
                lo >= 1 && hi >= lo,
                "--k-range {lo}..{hi}: write MIN..MAX with 1 <= MIN <= MAX"
            );
        }
        // The input is named first: a missing table is the more useful thing to hear.
        std::fs::metadata(&self.data)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.data.display()))?;
        if let Some((labels, _)) = &self.labels {
            std::fs::metadata(labels).map_err(|e| anyhow::anyhow!("{}: {e}", labels.display()))?;
        }
        artifacts::check_replaceable(std::slice::from_ref(&self.out), self.force)?;
        Ok(())
    }
}

pub struct ClusterOutcome {
    pub model_path: PathBuf,
    pub report_dir: PathBuf,
    pub model: SongClusters,
    /// (old path, where it was kept) when `--force` replaced a song model.
    pub replaced: Vec<(PathBuf, PathBuf)>,
    /// With labels: how often the model's moods agree with them.
    pub agreement: Option<Agreement>,
}

/// The catalogue files tried, in order, when no `--data` is given.
pub const DEFAULT_DATA: [&str; 6] = [
    "datasets/spotify/spotify_songs.csv.gz",
    "datasets/spotify/spotify_songs.csv",
    "datasets/spotify/data.csv.gz",
    "datasets/spotify/data.csv",
    "datasets/spotify/genres_v2.csv.gz",
    "datasets/spotify/genres_v2.csv",
];

pub fn resolve_data(cli: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = cli {
        return Ok(p.to_path_buf());
    }
    DEFAULT_DATA
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no track table given (--data) and none at {}\n{}",
                DEFAULT_DATA.join(", "),
                catalog::WHERE_TO_GET_DATA
            )
        })
}

/// Runs the whole command. Nothing is written until every computation has succeeded, and then
/// each file is written atomically.
pub fn run(options: &ClusterOptions) -> Result<ClusterOutcome> {
    options.check()?;
    let started = std::time::Instant::now();
    let catalog = read(options)?;
    let scaler = Scaler::fit(options.scaling, catalog.features.view());
    let scaled = scaler.transform(catalog.features.view());
    let final_params = KMeansParams {
        k: options.k,
        n_init: options.seeds,
        seed: options.seed,
        ..Default::default()
    };
    let distinct = check_clusterable(options, &final_params, &scaled)?;
    let sweep = match options.k_range {
        Some(range) => Some(sweep_k(options, range, distinct, &final_params, &scaled)?),
        None => None,
    };
    let fitting = progress::spinner(&format!(
        "fitting k={} ({} starts)",
        options.k, options.seeds
    ));
    let fit = final_params.fit(scaled.view());
    fitting.finish_and_clear();
    let fit = fit?;
    let pca = Pca::fit(scaled.view())?;
    let model = build_model(options, &catalog, scaler, &fit, pca, sweep)?;
    describe_moods(&model);
    let agreement = match &options.labels {
        Some((path, fold)) => Some(measure_labels(&model, &catalog, path, fold)?),
        None => None,
    };
    let (report_dir, replaced) =
        commit(options, &model, &catalog, &scaled, &fit, agreement.as_ref())?;
    eprintln!(
        "wrote {} and {}/index.html in {:.1} s",
        options.out.display(),
        report_dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ClusterOutcome {
        model_path: options.out.clone(),
        report_dir,
        model,
        replaced,
        agreement,
    })
}

fn measure_labels(
    model: &SongClusters,
    catalog: &Catalog,
    labels: &Path,
    fold: &Fold,
) -> Result<Agreement> {
    let read = agreement::read_labels(labels, fold)?;
    Ok(agreement::measure(model, catalog, &read, fold)?)
}

/// `cluster --model M --labels L`: measures an existing song model on the labelled songs of
/// `data` (read with the model's features). Nothing is written.
pub fn measure_existing(
    model: &Path,
    data: &Path,
    labels: &Path,
    fold: &Fold,
) -> Result<(SongClusters, Agreement)> {
    let model = SongClusters::read(model)?;
    let reading = progress::spinner(&format!("reading {}", data.display()));
    let catalog = catalog::read_catalog(data, &model.features);
    reading.finish_and_clear();
    let agreement = measure_labels(&model, &catalog?, labels, fold)?;
    Ok((model, agreement))
}

/// The catalogue, with a spinner while it is read and a line per reason rows were dropped.
fn read(options: &ClusterOptions) -> Result<Catalog> {
    let reading = progress::spinner(&format!("reading {}", options.data.display()));
    let catalog = catalog::read_catalog(&options.data, &options.features);
    reading.finish_and_clear();
    let catalog = catalog?;
    eprintln!("{}", catalog.source.summary());
    for d in &catalog.source.dropped {
        eprintln!(
            "  {} rows dropped: {} (e.g. {})",
            d.rows,
            d.reason,
            d.examples.join("; ")
        );
    }
    Ok(catalog)
}

/// Refuses what k-means cannot do on these rows; returns how many distinct rows there are.
fn check_clusterable(
    options: &ClusterOptions,
    params: &KMeansParams,
    scaled: &Array2<f64>,
) -> Result<usize> {
    params
        .check(scaled.view())
        .with_context(|| format!("{}: cannot cluster", options.data.display()))?;
    let distinct = super::kmeans::distinct_rows(scaled.view());
    if options.k > distinct {
        bail!(
            "{}: --k {} is more than the {distinct} distinct songs (rows with different features): k-means cannot make more clusters than there are different points",
            options.data.display(),
            options.k
        );
    }
    Ok(distinct)
}

/// Scores every k of the range (cut to the distinct rows, saying so) and prints the table.
fn sweep_k(
    options: &ClusterOptions,
    (k_min, k_max): (usize, usize),
    distinct: usize,
    final_params: &KMeansParams,
    scaled: &Array2<f64>,
) -> Result<Sweep> {
    // A range reaching past the distinct rows is cut to them, with a word.
    let k_max_usable = k_max.min(distinct);
    if k_max_usable < k_min {
        bail!(
            "--k-range {k_min}..{k_max}: only {distinct} distinct songs; choose a range below that"
        );
    }
    if k_max_usable < k_max {
        eprintln!("k range cut to {k_min}..{k_max_usable}: only {distinct} distinct songs");
    }
    let params = SweepParams {
        k_min,
        k_max: k_max_usable,
        seeds: options.seeds,
        seed: options.seed,
        silhouette_sample: options.silhouette_sample,
        max_iter: final_params.max_iter,
    };
    let jobs = (k_max_usable.saturating_sub(k_min) + 1) * options.seeds;
    let bar = progress::bar(jobs as u64, "k sweep");
    let result = sweep::sweep(scaled.view(), &params, &|| bar.inc(1));
    bar.finish_and_clear();
    let sweep = result.context("k sweep")?;
    for s in &sweep.scores {
        eprintln!(
            "  k={:<2} inertia {:>12.1}  silhouette {}  CH {:>9}  DB {}  stability {}",
            s.k,
            s.inertia,
            shown(s.silhouette, 3),
            shown(s.calinski_harabasz, 1),
            shown(s.davies_bouldin, 3),
            shown(s.stability, 3)
        );
    }
    eprintln!("{}", sweep.verdict.line(options.k));
    Ok(sweep)
}

/// Each cluster's mood and why, on stderr.
fn describe_moods(model: &SongClusters) {
    for c in &model.moods.clusters {
        eprintln!(
            "  cluster {} ({} songs) → {}: {}",
            c.cluster, model.sizes[c.cluster], c.mood, c.reason
        );
    }
    if !model.moods.empty_moods.is_empty() {
        eprintln!(
            "  moods with no cluster: {}",
            join_moods(&model.moods.empty_moods)
        );
    }
    if !model.moods.shared_moods.is_empty() {
        eprintln!(
            "  moods shared by several clusters: {}",
            join_moods(&model.moods.shared_moods)
        );
    }
}

/// The report is built aside, the model written, then the report renamed into place: a report
/// never describes a model that was not written. Returns the report directory and what a
/// `--force` replaced.
fn commit(
    options: &ClusterOptions,
    model: &SongClusters,
    catalog: &Catalog,
    scaled: &Array2<f64>,
    fit: &KMeansFit,
    agreement: Option<&Agreement>,
) -> Result<(PathBuf, Vec<(PathBuf, PathBuf)>)> {
    let (_, report_dir) = artifacts::reserve_run_dir(
        &options.reports_dir.join("cluster"),
        &format!("k{}", options.k),
    )?;
    let staged = artifacts::StagedDir::new(&report_dir)?;
    cluster_report::write_into(staged.path(), model, catalog, scaled, fit, agreement)
        .with_context(|| format!("writing the report in {}", report_dir.display()))?;
    artifacts::check_replaceable(std::slice::from_ref(&options.out), options.force)?;
    let replaced = artifacts::set_aside(std::slice::from_ref(&options.out))?;
    artifacts::write_json_atomic(&options.out, model)
        .with_context(|| format!("writing {}", options.out.display()))?;
    staged.commit()?;
    Ok((report_dir, replaced))
}

fn join_moods(moods: &[Mood]) -> String {
    moods
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn rows(m: &Array2<f64>) -> Vec<Vec<f64>> {
    m.rows().into_iter().map(|r| r.to_vec()).collect()
}

fn build_model(
    options: &ClusterOptions,
    catalog: &Catalog,
    scaler: Scaler,
    fit: &KMeansFit,
    pca: Pca,
    sweep: Option<Sweep>,
) -> Result<SongClusters> {
    let x = catalog.features.view();
    let centroids = scaler.inverse(fit.centroids.view());
    // z-scores for the profile table, whatever the clustering scale was.
    let standard = Scaler::fit(Scaling::Standard, x);
    let centroids_z = standard.transform(centroids.view());
    let moods = assign_moods(&catalog.feature_names, centroids.view());
    let scaled = scaler.transform(x);
    let playlists = Mood::ALL
        .iter()
        .filter_map(|&m| mood_playlist(&moods, m, fit, &scaled, catalog, options.playlist_length))
        .collect();
    if fit.sizes().contains(&0) {
        bail!("a cluster ended empty (k-means found fewer than {} groups among these songs); try another --seed or a smaller --k", fit.k());
    }
    Ok(SongClusters {
        schema: SONG_CLUSTERS_SCHEMA.into(),
        created: artifacts::utc_rfc3339(),
        git_commit: artifacts::git_commit(),
        workbench_version: env!("CARGO_PKG_VERSION").into(),
        command: options.command.clone(),
        dataset: catalog.source.clone(),
        features: catalog.feature_names.clone(),
        scaler,
        k: fit.k(),
        seed: options.seed,
        n_init: options.seeds,
        centroids_scaled: rows(&fit.centroids),
        centroids: rows(&centroids),
        centroids_z: rows(&centroids_z),
        sizes: fit.sizes(),
        inertia: fit.inertia,
        moods,
        pca,
        sweep,
        playlists,
    })
}
