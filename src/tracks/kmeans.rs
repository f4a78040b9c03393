//! k-means with k-means++ seeding, the workbench's own kernel.
//!
//! linfa's `KMeans` is the reference (tests hold this kernel to its inertia and labels on the real
//! song table), but it runs one thread and recomputes more than it needs; a k sweep fits
//! 11 k × 10 seeds, so here the independent restarts run in parallel, each Lloyd step is one
//! pass over the rows in parallel chunks, and Hamerly's bounds skip the rows that cannot change.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    pub k: usize,
    /// Independent k-means++ restarts; the lowest inertia wins.
    pub n_init: usize,
    pub max_iter: usize,
    /// Stop when the centres' summed squared movement is at most this × the mean feature
    /// variance (scikit-learn's rule and default).
    pub tolerance: f64,
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        Self {
            k: 6,
            n_init: 10,
            max_iter: 300,
            tolerance: 1e-4,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KMeansError {
    #[error("k = 0: ask for at least one cluster")]
    ZeroClusters,
    #[error("k = {k} is more than the {rows} usable rows")]
    MoreClustersThanRows { k: usize, rows: usize },
    #[error("the k range {k_min}..{k_max} is empty")]
    EmptyRange { k_min: usize, k_max: usize },
    #[error("n_init = 0: at least one k-means++ start is needed")]
    ZeroInits,
    #[error("the table has no feature columns")]
    NoFeatures,
    #[error("all {rows} rows are identical: there is nothing to cluster")]
    AllRowsIdentical { rows: usize },
    #[error("the feature matrix holds a NaN or infinite value")]
    NotFinite,
}

/// How many different rows `x` holds (bit-for-bit): k-means cannot make more clusters.
pub fn distinct_rows(x: ArrayView2<f64>) -> usize {
    let rows: std::collections::HashSet<Vec<u64>> = x
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|v| (v + 0.0).to_bits()).collect())
        .collect();
    rows.len()
}

impl KMeansParams {
    /// Checked before any work starts, as linfa does.
    pub fn check(&self, x: ArrayView2<f64>) -> Result<(), KMeansError> {
        let (rows, cols) = x.dim();
        if self.k == 0 {
            return Err(KMeansError::ZeroClusters);
        }
        if self.n_init == 0 {
            return Err(KMeansError::ZeroInits);
        }
        if cols == 0 {
            return Err(KMeansError::NoFeatures);
        }
        if self.k > rows {
            return Err(KMeansError::MoreClustersThanRows { k: self.k, rows });
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(KMeansError::NotFinite);
        }
        let first = x.row(0);
        if x.rows().into_iter().all(|r| r == first) {
            return Err(KMeansError::AllRowsIdentical { rows });
        }
        Ok(())
    }

    /// One k-means++ start (stream `run` of the seed) and its Lloyd iterations, unchecked:
    /// for callers that schedule many starts themselves after `check`.
    pub fn restart(&self, x: ArrayView2<f64>, run: usize) -> KMeansFit {
        lloyd(x, self, run)
    }

    pub fn fit(&self, x: ArrayView2<f64>) -> Result<KMeansFit, KMeansError> {
        self.check(x)?;
        let best = (0..self.n_init)
            .into_par_iter()
            .map(|run| lloyd(x, self, run))
            .min_by(|a, b| a.inertia.total_cmp(&b.inertia).then(a.run.cmp(&b.run)))
            .expect("n_init > 0");
        Ok(best)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    /// `k × d`, in the units of the fitted matrix.
    pub centroids: Array2<f64>,
    pub labels: Vec<usize>,
    /// Sum of squared distances to the nearest centroid (scikit-learn's convention; linfa's
    /// `inertia()` is this divided by the number of rows).
    pub inertia: f64,
    pub iterations: usize,
    /// Which restart won.
    pub run: usize,
}

impl KMeansFit {
    pub fn k(&self) -> usize {
        self.centroids.nrows()
    }

    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.k()];
        for &l in &self.labels {
            sizes[l] += 1;
        }
        sizes
    }
}

pub fn squared_distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Index and squared distance of the centroid nearest to `row`.
pub fn nearest(row: ArrayView1<f64>, centroids: &Array2<f64>) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, c) in centroids.rows().into_iter().enumerate() {
        let d = squared_distance(row, c);
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}

/// Squared distance between two equal-length slices (the hot loop: plain slices, no views).
#[inline]
fn sq(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// Rows per parallel chunk.
const CHUNK: usize = 4096;

/// Greedy k-means++ (Arthur & Vassilvitskii 2007, with scikit-learn's 2 + ln k local trials):
/// each next centre is the best of several candidates drawn in proportion to squared distance.
fn kmeans_plus_plus(x: &[f64], d: usize, k: usize, rng: &mut SplitMix64) -> Vec<f64> {
    let n = x.len() / d;
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let mut centroids = Vec::with_capacity(k * d);
    let first = rng.below(n);
    centroids.extend_from_slice(row(first));
    let mut closest: Vec<f64> = x
        .par_chunks(d * CHUNK)
        .flat_map_iter(|chunk| {
            chunk
                .chunks(d)
                .map(|r| sq(r, row(first)))
                .collect::<Vec<_>>()
        })
        .collect();
    let trials = 2 + (k as f64).ln() as usize;
    for _ in 1..k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let candidate = if total > 0.0 {
                let mut target = rng.next_f32() as f64 * total;
                let mut pick = n - 1;
                for (i, &dist) in closest.iter().enumerate() {
                    target -= dist;
                    if target <= 0.0 && dist > 0.0 {
                        pick = i;
                        break;
                    }
                }
                pick
            } else {
                rng.below(n)
            };
            let cand = row(candidate);
            let updated: Vec<f64> = x
                .par_chunks(d * CHUNK)
                .zip(closest.par_chunks(CHUNK))
                .flat_map_iter(|(chunk, near)| {
                    chunk
                        .chunks(d)
                        .zip(near)
                        .map(|(r, &c)| c.min(sq(r, cand)))
                        .collect::<Vec<_>>()
                })
                .collect();
            let potential: f64 = updated.iter().sum();
            if best.as_ref().is_none_or(|(p, _, _)| potential < *p) {
                best = Some((potential, candidate, updated));
            }
        }
        let (_, chosen, updated) = best.expect("at least two trials");
        centroids.extend_from_slice(row(chosen));
        closest = updated;
    }
    centroids
}

/// Per-row state of Hamerly's algorithm: the assigned centre, an upper bound on the distance
/// to it and a lower bound on the distance to any other centre.
#[derive(Clone, Copy)]
struct Bounds {
    label: usize,
    upper: f64,
    lower: f64,
}

/// Nearest centre of `r`, with the squared distances to it and to the second nearest.
fn two_nearest(r: &[f64], centroids: &[f64], d: usize) -> (usize, f64, f64) {
    let (mut best, mut d1, mut d2) = (0, f64::INFINITY, f64::INFINITY);
    for (j, c) in centroids.chunks(d).enumerate() {
        let dist = sq(r, c);
        if dist < d1 {
            d2 = d1;
            d1 = dist;
            best = j;
        } else if dist < d2 {
            d2 = dist;
        }
    }
    (best, d1, d2)
}

/// [`two_nearest`] for every row, in parallel chunks.
fn two_nearest_all(x: &[f64], centroids: &[f64], d: usize) -> Vec<(usize, f64, f64)> {
    x.par_chunks(d * CHUNK)
        .flat_map_iter(|chunk| {
            chunk
                .chunks(d)
                .map(|r| two_nearest(r, centroids, d))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// One restart: k-means++ seeding from stream `run` of the seed, then Lloyd iterations
/// accelerated by Hamerly's bounds (2010), which skip rows that provably keep their centre;
/// the iterations and their result are exactly Lloyd's. Stops when the summed squared
/// movement of the centres is at most `tolerance` × the mean feature variance
/// (scikit-learn's rule) or after `max_iter` iterations.
fn lloyd(x_view: ArrayView2<f64>, params: &KMeansParams, run: usize) -> KMeansFit {
    let owned;
    let x: &[f64] = match x_view.as_slice() {
        Some(s) => s,
        None => {
            owned = x_view.iter().copied().collect::<Vec<f64>>();
            &owned
        }
    };
    let d = x_view.ncols();
    let k = params.k;
    let mut rng = SplitMix64::for_stream(params.seed, run as u64);
    let mut centroids = kmeans_plus_plus(x, d, k, &mut rng);
    let mean_variance = x_view.var_axis(Axis(0), 0.0).mean().unwrap_or(0.0);
    let tolerance = params.tolerance * mean_variance;
    let (mut state, mut sums, mut counts) = start_bounds(x, &centroids, d, k);
    let mut iterations = 0;
    loop {
        iterations += 1;
        let (moved, shift_total) = update_centres(&mut centroids, &sums, &counts, d);
        if shift_total <= tolerance || iterations >= params.max_iter {
            break;
        }
        let deltas = reassign(&mut state, x, &centroids, &moved, d);
        for (delta_sums, delta_counts) in deltas.into_iter().filter(|d| !d.0.is_empty()) {
            for (s, ds) in sums.iter_mut().zip(delta_sums) {
                *s += ds;
            }
            for (c, dc) in counts.iter_mut().zip(delta_counts) {
                *c += dc;
            }
        }
    }
    // Final labels and inertia for the final centres (exact, not bounds).
    let assigned = two_nearest_all(x, &centroids, d);
    let inertia = assigned.iter().map(|a| a.1).sum();
    KMeansFit {
        centroids: Array2::from_shape_vec((k, d), centroids).expect("k × d"),
        labels: assigned.into_iter().map(|a| a.0).collect(),
        inertia,
        iterations,
        run,
    }
}

/// Each row's bounds to the first centres, and the per-cluster sums and counts, which are then
/// kept up to date as rows change cluster (no full pass per iteration).
fn start_bounds(
    x: &[f64],
    centroids: &[f64],
    d: usize,
    k: usize,
) -> (Vec<Bounds>, Vec<f64>, Vec<i64>) {
    let state: Vec<Bounds> = two_nearest_all(x, centroids, d)
        .into_iter()
        .map(|(label, d1, d2)| Bounds {
            label,
            upper: d1.sqrt(),
            lower: d2.sqrt(),
        })
        .collect();
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0i64; k];
    for (r, b) in x.chunks(d).zip(&state) {
        counts[b.label] += 1;
        for (s, v) in sums[b.label * d..(b.label + 1) * d].iter_mut().zip(r) {
            *s += v;
        }
    }
    (state, sums, counts)
}

/// New centres: the means of their rows (an emptied cluster keeps its centre). Returns how far
/// each moved and the sum of squared moves.
fn update_centres(
    centroids: &mut [f64],
    sums: &[f64],
    counts: &[i64],
    d: usize,
) -> (Vec<f64>, f64) {
    let k = counts.len();
    let mut moved = vec![0.0; k];
    let mut shift_total = 0.0;
    for j in 0..k {
        if counts[j] > 0 {
            let c = &mut centroids[j * d..(j + 1) * d];
            let mut m = 0.0;
            for (cv, s) in c.iter_mut().zip(&sums[j * d..(j + 1) * d]) {
                let new = s / counts[j] as f64;
                m += (new - *cv) * (new - *cv);
                *cv = new;
            }
            moved[j] = m.sqrt();
            shift_total += m;
        }
    }
    (moved, shift_total)
}

/// Hamerly's step: each row's bounds are loosened by how far the centres moved, and only rows
/// whose bounds no longer prove their cluster are measured again. Each chunk of rows returns
/// what its rows that changed cluster move between the sums (empty when none did).
fn reassign(
    state: &mut [Bounds],
    x: &[f64],
    centroids: &[f64],
    moved: &[f64],
    d: usize,
) -> Vec<(Vec<f64>, Vec<i64>)> {
    let k = moved.len();
    // Half the distance from each centre to its nearest other centre.
    let half_gap: Vec<f64> = (0..k)
        .map(|j| {
            let cj = &centroids[j * d..(j + 1) * d];
            (0..k)
                .filter(|&o| o != j)
                .map(|o| sq(cj, &centroids[o * d..(o + 1) * d]))
                .fold(f64::INFINITY, f64::min)
                .sqrt()
                / 2.0
        })
        .collect();
    let max_moved = moved.iter().copied().fold(0.0, f64::max);
    state
        .par_chunks_mut(CHUNK)
        .zip(x.par_chunks(d * CHUNK))
        .map(|(bounds, rows)| {
            let mut delta_sums: Vec<f64> = Vec::new();
            let mut delta_counts: Vec<i64> = Vec::new();
            for (b, r) in bounds.iter_mut().zip(rows.chunks(d)) {
                b.upper += moved[b.label];
                b.lower -= max_moved;
                let limit = b.lower.max(half_gap[b.label]);
                if b.upper <= limit {
                    continue;
                }
                b.upper = sq(r, &centroids[b.label * d..(b.label + 1) * d]).sqrt();
                if b.upper <= limit {
                    continue;
                }
                let (label, d1, d2) = two_nearest(r, centroids, d);
                let (upper, lower) = (d1.sqrt(), d2.sqrt());
                if label != b.label {
                    if delta_sums.is_empty() {
                        delta_sums = vec![0.0; k * d];
                        delta_counts = vec![0; k];
                    }
                    for (i, v) in r.iter().enumerate() {
                        delta_sums[b.label * d + i] -= v;
                        delta_sums[label * d + i] += v;
                    }
                    delta_counts[b.label] -= 1;
                    delta_counts[label] += 1;
                }
                *b = Bounds {
                    label,
                    upper,
                    lower,
                };
            }
            (delta_sums, delta_counts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn blobs() -> Array2<f64> {
        let mut rng = SplitMix64::new(9);
        let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        let mut rows = Vec::new();
        for i in 0..300 {
            let (cx, cy) = centres[i % 3];
            rows.push(cx + rng.uniform(-1.0, 1.0) as f64);
            rows.push(cy + rng.uniform(-1.0, 1.0) as f64);
        }
        Array2::from_shape_vec((300, 2), rows).unwrap()
    }

    #[test]
    fn finds_three_separated_blobs() {
        let x = blobs();
        let fit = KMeansParams {
            k: 3,
            ..Default::default()
        }
        .fit(x.view())
        .unwrap();
        assert_eq!(fit.sizes(), vec![100, 100, 100]);
        for i in 0..300 {
            assert_eq!(fit.labels[i], fit.labels[i % 3]);
        }
        let again = KMeansParams {
            k: 3,
            ..Default::default()
        }
        .fit(x.view())
        .unwrap();
        assert_eq!(fit, again);
    }

    #[test]
    fn bad_parameters_are_refused_before_fitting() {
        let x = blobs();
        let p = |k| KMeansParams {
            k,
            ..Default::default()
        };
        assert_eq!(p(0).fit(x.view()), Err(KMeansError::ZeroClusters));
        assert_eq!(
            p(301).fit(x.view()),
            Err(KMeansError::MoreClustersThanRows { k: 301, rows: 300 })
        );
        let same = array![[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]];
        assert_eq!(
            p(2).fit(same.view()),
            Err(KMeansError::AllRowsIdentical { rows: 3 })
        );
        let nan = array![[1.0, f64::NAN], [1.0, 2.0]];
        assert_eq!(p(1).fit(nan.view()), Err(KMeansError::NotFinite));
    }
}
