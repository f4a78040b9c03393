//! Cluster-quality metrics for choosing k: silhouette, Calinski–Harabasz, Davies–Bouldin, and the
//! adjusted Rand index between two labelings (stability across seeds). linfa has only the
//! silhouette; tests hold ours to linfa's on real data and all of them to hand-computed values.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::kmeans::squared_distance;

/// Mean silhouette over all rows: `(b - a) / max(a, b)`, `a` the mean distance to the row's own
/// cluster, `b` to the nearest other cluster. Rows alone in their cluster score 0, as in
/// scikit-learn. O(n²): callers pass a sample (≤ 10k rows). Rows are processed in parallel.
pub fn silhouette(x: ArrayView2<f64>, labels: &[usize], k: usize) -> f64 {
    let n = x.nrows();
    assert_eq!(labels.len(), n);
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l] += 1;
    }
    if sizes.iter().filter(|&&s| s > 0).count() < 2 {
        return 0.0;
    }
    // The double loop is the metric's whole cost. Rows are grouped by cluster and stored
    // feature by feature, so each row's distances to a whole cluster are computed in blocks
    // the compiler vectorises (square roots included).
    let d = x.ncols();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| labels[i]);
    let columns: Vec<Vec<f64>> = (0..d)
        .map(|f| order.iter().map(|&i| x[[i, f]]).collect())
        .collect();
    let mut starts = vec![0usize; k + 1];
    for c in 0..k {
        starts[c + 1] = starts[c] + sizes[c];
    }
    const BLOCK: usize = 256;
    let total: f64 = (0..n)
        .into_par_iter()
        .map(|p| {
            let own = labels[order[p]];
            let xi: Vec<f64> = columns.iter().map(|col| col[p]).collect();
            let mut sums = vec![0.0f64; k];
            let mut dist2 = [0.0f64; BLOCK];
            for c in 0..k {
                let mut start = starts[c];
                while start < starts[c + 1] {
                    let len = BLOCK.min(starts[c + 1] - start);
                    let block = &mut dist2[..len];
                    block.fill(0.0);
                    for (col, &v) in columns.iter().zip(&xi) {
                        for (acc, &w) in block.iter_mut().zip(&col[start..start + len]) {
                            let t = w - v;
                            *acc += t * t;
                        }
                    }
                    for q in block.iter_mut() {
                        *q = q.sqrt();
                    }
                    // Four running sums, so the additions vectorise too.
                    let mut lanes = [0.0f64; 4];
                    let mut quads = block.chunks_exact(4);
                    for q in &mut quads {
                        for (l, v) in lanes.iter_mut().zip(q) {
                            *l += v;
                        }
                    }
                    sums[c] += lanes.iter().sum::<f64>() + quads.remainder().iter().sum::<f64>();
                    start += len;
                }
            }
            if sizes[own] <= 1 {
                return 0.0;
            }
            let a = sums[own] / (sizes[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && sizes[c] > 0)
                .map(|c| sums[c] / sizes[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 {
                (b - a) / m
            } else {
                0.0
            }
        })
        .sum();
    total / n as f64
}

fn centroids_of(x: ArrayView2<f64>, labels: &[usize], k: usize) -> (Array2<f64>, Vec<usize>) {
    let mut sums = Array2::zeros((k, x.ncols()));
    let mut counts = vec![0usize; k];
    for (row, &l) in x.rows().into_iter().zip(labels) {
        let mut s = sums.row_mut(l);
        s += &row;
        counts[l] += 1;
    }
    for (mut s, &c) in sums.rows_mut().into_iter().zip(&counts) {
        if c > 0 {
            s /= c as f64;
        }
    }
    (sums, counts)
}

/// Calinski–Harabasz: between-cluster over within-cluster dispersion, each divided by its
/// degrees of freedom, `[B / (k-1)] / [W / (n-k)]`. Higher is better.
pub fn calinski_harabasz(x: ArrayView2<f64>, labels: &[usize], k: usize) -> f64 {
    let n = x.nrows();
    let (centroids, counts) = centroids_of(x, labels, k);
    let k_used = counts.iter().filter(|&&c| c > 0).count();
    if k_used < 2 || n <= k_used {
        return 0.0;
    }
    let mean = x.mean_axis(Axis(0)).expect("rows");
    let between: f64 = centroids
        .rows()
        .into_iter()
        .zip(&counts)
        .map(|(c, &m)| m as f64 * squared_distance(c, mean.view()))
        .sum();
    let within: f64 = x
        .rows()
        .into_iter()
        .zip(labels)
        .map(|(r, &l)| squared_distance(r, centroids.row(l)))
        .sum();
    if within == 0.0 {
        return f64::INFINITY;
    }
    (between / (k_used - 1) as f64) / (within / (n - k_used) as f64)
}

/// Davies–Bouldin: the mean over clusters of the worst ratio `(s_i + s_j) / d(c_i, c_j)`, with
/// `s` the mean distance of a cluster's rows to its centroid. Lower is better.
pub fn davies_bouldin(x: ArrayView2<f64>, labels: &[usize], k: usize) -> f64 {
    let (centroids, counts) = centroids_of(x, labels, k);
    let mut scatter = vec![0.0f64; k];
    for (r, &l) in x.rows().into_iter().zip(labels) {
        scatter[l] += squared_distance(r, centroids.row(l)).sqrt();
    }
    let used: Vec<usize> = (0..k).filter(|&c| counts[c] > 0).collect();
    for &c in &used {
        scatter[c] /= counts[c] as f64;
    }
    if used.len() < 2 {
        return 0.0;
    }
    let worst: f64 = used
        .iter()
        .map(|&i| {
            used.iter()
                .filter(|&&j| j != i)
                .map(|&j| {
                    let d = squared_distance(centroids.row(i), centroids.row(j)).sqrt();
                    if d == 0.0 {
                        f64::INFINITY
                    } else {
                        (scatter[i] + scatter[j]) / d
                    }
                })
                .fold(0.0, f64::max)
        })
        .sum();
    worst / used.len() as f64
}

/// Adjusted Rand index (Hubert & Arabie 1985): agreement of two labelings of the same rows,
/// 1 for identical partitions (whatever the label names), about 0 for independent ones.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    assert_eq!(a.len(), b.len());
    let n = a.len();
    let ka = a.iter().max().map_or(0, |m| m + 1);
    let kb = b.iter().max().map_or(0, |m| m + 1);
    let mut table = vec![0u64; ka * kb];
    for (&i, &j) in a.iter().zip(b) {
        table[i * kb + j] += 1;
    }
    let pairs = |m: u64| (m * m.saturating_sub(1)) as f64 / 2.0;
    let index: f64 = table.iter().map(|&m| pairs(m)).sum();
    let rows: f64 = (0..ka)
        .map(|i| pairs(table[i * kb..(i + 1) * kb].iter().sum()))
        .sum();
    let cols: f64 = (0..kb)
        .map(|j| pairs((0..ka).map(|i| table[i * kb + j]).sum()))
        .sum();
    let total = pairs(n as u64);
    if total == 0.0 {
        return 1.0;
    }
    let expected = rows * cols / total;
    let max = (rows + cols) / 2.0;
    if max == expected {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Four points on a line, two clusters: {0, 1} and {4, 6}.
    fn line() -> (Array2<f64>, Vec<usize>) {
        (array![[0.0], [1.0], [4.0], [6.0]], vec![0, 0, 1, 1])
    }

    #[test]
    fn silhouette_by_hand() {
        let (x, l) = line();
        // point 0: a = 1, b = (4 + 6)/2 = 5 → 0.8 ; point 1: a = 1, b = (3 + 5)/2 = 4 → 0.75
        // point 4: a = 2, b = (4 + 3)/2 = 3.5 → 1.5/3.5 ; point 6: a = 2, b = (6 + 5)/2 = 5.5 → 3.5/5.5
        let expected = (0.8 + 0.75 + 1.5 / 3.5 + 3.5 / 5.5) / 4.0;
        assert!((silhouette(x.view(), &l, 2) - expected).abs() < 1e-12);
    }

    #[test]
    fn calinski_harabasz_by_hand() {
        let (x, l) = line();
        // centroids 0.5 and 5, overall mean 2.75: B = 2·2.25² + 2·2.25² = 20.25;
        // W = 0.25 + 0.25 + 1 + 1 = 2.5; CH = (20.25 / 1) / (2.5 / 2) = 16.2
        assert!((calinski_harabasz(x.view(), &l, 2) - 16.2).abs() < 1e-12);
    }

    #[test]
    fn davies_bouldin_by_hand() {
        let (x, l) = line();
        // s0 = 0.5, s1 = 1, centroid distance 4.5: DB = (1.5 / 4.5 + 1.5 / 4.5) / 2 = 1/3
        assert!((davies_bouldin(x.view(), &l, 2) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn adjusted_rand_index_by_hand() {
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0);
        // a = {0,1,2}{3,4,5}, b = {0,1}{2,3}{4,5}: contingency [[2,1,0],[0,1,2]].
        // index = 1 + 1 = 2; rows = 3 + 3 = 6; cols = 1 + 1 + 1 = 3; total = 15;
        // expected = 18/15 = 1.2; max = 4.5; ARI = 0.8 / 3.3
        let ari = adjusted_rand_index(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]);
        assert!((ari - 0.8 / 3.3).abs() < 1e-12, "{ari}");
    }
}
