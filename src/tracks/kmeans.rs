//! k-means with k-means++ seeding, the workbench's own kernel.
//!
//! linfa's `KMeans` is the reference (tests hold this kernel to its inertia and labels on the real
//! song table), but it runs one thread and recomputes more than it needs; a k sweep fits
//! 11 k × 10 seeds, so here the independent restarts run in parallel and each Lloyd step is one
//! pass over the rows in parallel chunks.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    pub k: usize,
    /// Independent k-means++ restarts; the lowest inertia wins.
    pub n_init: usize,
    pub max_iter: usize,
    /// Stop when no centroid moves more than this (squared distance, in scaled units).
    pub tolerance: f64,
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        Self {
            k: 6,
            n_init: 10,
            max_iter: 300,
            tolerance: 1e-8,
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
    #[error("n_init = 0: at least one k-means++ start is needed")]
    ZeroInits,
    #[error("the table has no feature columns")]
    NoFeatures,
    #[error("all {rows} rows are identical: there is nothing to cluster")]
    AllRowsIdentical { rows: usize },
    #[error("the feature matrix holds a NaN or infinite value")]
    NotFinite,
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

/// Greedy k-means++ (Arthur & Vassilvitskii 2007, with scikit-learn's 2 + ln k local trials):
/// each next centre is the best of several candidates drawn in proportion to squared distance.
fn kmeans_plus_plus(x: ArrayView2<f64>, k: usize, rng: &mut SplitMix64) -> Array2<f64> {
    let n = x.nrows();
    let mut centroids = Array2::zeros((k, x.ncols()));
    let first = rng.below(n);
    centroids.row_mut(0).assign(&x.row(first));
    let mut closest: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|r| squared_distance(r, x.row(first)))
        .collect();
    let trials = 2 + (k as f64).ln() as usize;
    for c in 1..k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let candidate = if total > 0.0 {
                let mut target = rng.next_f32() as f64 * total;
                let mut pick = n - 1;
                for (i, &d) in closest.iter().enumerate() {
                    target -= d;
                    if target <= 0.0 && d > 0.0 {
                        pick = i;
                        break;
                    }
                }
                pick
            } else {
                rng.below(n)
            };
            let cand_row = x.row(candidate);
            let updated: Vec<f64> = x
                .axis_chunks_iter(Axis(0), 4096)
                .into_par_iter()
                .enumerate()
                .flat_map_iter(|(chunk_i, chunk)| {
                    let offset = chunk_i * 4096;
                    let closest = &closest;
                    chunk
                        .rows()
                        .into_iter()
                        .enumerate()
                        .map(move |(i, r)| closest[offset + i].min(squared_distance(r, cand_row)))
                        .collect::<Vec<_>>()
                })
                .collect();
            let potential: f64 = updated.iter().sum();
            if best.as_ref().is_none_or(|(p, _, _)| potential < *p) {
                best = Some((potential, candidate, updated));
            }
        }
        let (_, chosen, updated) = best.expect("at least two trials");
        centroids.row_mut(c).assign(&x.row(chosen));
        closest = updated;
    }
    centroids
}

/// Assigns every row to its nearest centroid; returns labels, inertia, and per-cluster sums
/// and counts for the next centroids, computed in one parallel pass.
fn assign(
    x: ArrayView2<f64>,
    centroids: &Array2<f64>,
) -> (Vec<usize>, f64, Array2<f64>, Vec<usize>) {
    let (k, d) = centroids.dim();
    const CHUNK: usize = 4096;
    let parts: Vec<(Vec<usize>, f64, Array2<f64>, Vec<usize>)> = x
        .axis_chunks_iter(Axis(0), CHUNK)
        .into_par_iter()
        .map(|chunk| {
            let mut labels = Vec::with_capacity(chunk.nrows());
            let mut inertia = 0.0;
            let mut sums = Array2::zeros((k, d));
            let mut counts = vec![0usize; k];
            for row in chunk.rows() {
                let (j, dist) = nearest(row, centroids);
                labels.push(j);
                inertia += dist;
                let mut s = sums.row_mut(j);
                s += &row;
                counts[j] += 1;
            }
            (labels, inertia, sums, counts)
        })
        .collect();
    let mut labels = Vec::with_capacity(x.nrows());
    let mut inertia = 0.0;
    let mut sums = Array2::zeros((k, d));
    let mut counts = vec![0usize; k];
    for (l, i, s, c) in parts {
        labels.extend(l);
        inertia += i;
        sums += &s;
        for (a, b) in counts.iter_mut().zip(c) {
            *a += b;
        }
    }
    (labels, inertia, sums, counts)
}

/// One restart: k-means++ seeding from stream `run` of the seed, then Lloyd iterations.
fn lloyd(x: ArrayView2<f64>, params: &KMeansParams, run: usize) -> KMeansFit {
    let mut rng = SplitMix64::for_stream(params.seed, run as u64);
    let mut centroids = kmeans_plus_plus(x, params.k, &mut rng);
    let mut iterations = 0;
    loop {
        let (_, _, sums, counts) = assign(x, &centroids);
        iterations += 1;
        let mut shift: f64 = 0.0;
        for j in 0..params.k {
            // An emptied cluster keeps its centre; k-means++ makes this rare.
            if counts[j] > 0 {
                let new: Array1<f64> = sums.row(j).mapv(|v| v / counts[j] as f64);
                shift = shift.max(squared_distance(new.view(), centroids.row(j)));
                centroids.row_mut(j).assign(&new);
            }
        }
        if shift <= params.tolerance || iterations >= params.max_iter {
            break;
        }
    }
    // Final labels and inertia for the final centroids.
    let (labels, inertia, _, _) = assign(x, &centroids);
    KMeansFit {
        centroids,
        labels,
        inertia,
        iterations,
        run,
    }
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
