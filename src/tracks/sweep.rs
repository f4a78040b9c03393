//! Choosing k with evidence: every k of a range is fitted from several seeds, and each fit is
//! scored by inertia (elbow), silhouette (on a seeded sample), Calinski–Harabasz,
//! Davies–Bouldin and stability (the mean adjusted Rand index between the seeds' labelings).
//! All (k, seed) fits are independent and run in parallel.

use super::kmeans::{KMeansError, KMeansFit, KMeansParams};
use super::metrics;
use crate::rng::SplitMix64;
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepParams {
    pub k_min: usize,
    pub k_max: usize,
    /// k-means++ starts per k; the lowest inertia is the k's fit, all of them give stability.
    pub seeds: usize,
    pub seed: u64,
    /// Rows in the silhouette's seeded sample (it is O(n²)).
    pub silhouette_sample: usize,
    pub max_iter: usize,
}

impl SweepParams {
    pub fn check(&self, x: ArrayView2<f64>) -> Result<(), KMeansError> {
        if self.k_min == 0 {
            return Err(KMeansError::ZeroClusters);
        }
        if self.k_max < self.k_min {
            return Err(KMeansError::EmptyRange {
                k_min: self.k_min,
                k_max: self.k_max,
            });
        }
        self.params(self.k_max).check(x)
    }

    fn params(&self, k: usize) -> KMeansParams {
        KMeansParams {
            k,
            n_init: self.seeds,
            max_iter: self.max_iter,
            seed: self.seed,
            ..Default::default()
        }
    }
}

/// The scores of one k. A metric that is undefined for this fit (e.g. Calinski–Harabasz when
/// every cluster is a single point: a division by zero) is `None`, written as `null`, left off
/// the charts and out of the vote; never an infinite number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    pub k: usize,
    /// Sum of squared distances of the best start (lowest inertia).
    pub inertia: f64,
    pub silhouette: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub davies_bouldin: Option<f64>,
    /// Mean adjusted Rand index over all pairs of starts: 1 = every seed finds the same clusters.
    pub stability: Option<f64>,
    pub sizes: Vec<usize>,
}

/// A metric with `decimals` places, or "undefined".
pub fn shown(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "undefined".into(), |v| format!("{v:.decimals$}"))
}

/// A metric's value when it is a number, `None` when it is undefined (NaN or infinite).
pub fn defined(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    pub params: SweepParams,
    pub rows: usize,
    pub silhouette_rows: usize,
    pub scores: Vec<KScore>,
    pub verdict: KChoice,
}

/// Which k each metric prefers, and the k most of them agree on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KChoice {
    pub favoured_k: usize,
    pub favoured_by: Vec<String>,
    /// (metric, its best k): elbow of inertia, max silhouette, max CH, min DB, max stability.
    pub per_metric: Vec<(String, usize)>,
}

impl KChoice {
    pub fn from_scores(scores: &[KScore]) -> KChoice {
        // The k whose defined value is best; `None` when the metric is undefined at every k.
        let pick = |value: &dyn Fn(&KScore) -> Option<f64>, better: &dyn Fn(f64, f64) -> bool| {
            let mut best: Option<(usize, f64)> = None;
            for s in scores {
                if let Some(v) = value(s) {
                    if best.is_none_or(|(_, b)| better(v, b)) {
                        best = Some((s.k, v));
                    }
                }
            }
            best.map(|(k, _)| k)
        };
        let candidates = [
            ("elbow", Some(elbow(scores))),
            ("silhouette", pick(&|s| s.silhouette, &|a, b| a > b)),
            (
                "calinski-harabasz",
                pick(&|s| s.calinski_harabasz, &|a, b| a > b),
            ),
            ("davies-bouldin", pick(&|s| s.davies_bouldin, &|a, b| a < b)),
            // Stabilities within 0.01 are a tie, and the smaller k wins it.
            ("stability", pick(&|s| s.stability, &|a, b| a > b + 0.01)),
        ];
        let per_metric: Vec<(String, usize)> = candidates
            .iter()
            .filter_map(|(m, k)| k.map(|k| (m.to_string(), k)))
            .collect();
        // Most votes wins; a tie goes to silhouette's choice if it is among the tied, else to
        // the smallest k.
        let votes = |k: usize| per_metric.iter().filter(|(_, m)| *m == k).count();
        let most = scores.iter().map(|s| votes(s.k)).max().unwrap_or(0);
        let silhouette_k = candidates[1].1.unwrap_or(scores[0].k);
        let favoured_k = if votes(silhouette_k) == most {
            silhouette_k
        } else {
            scores
                .iter()
                .find(|s| votes(s.k) == most)
                .map_or(scores[0].k, |s| s.k)
        };
        let favoured_by = per_metric
            .iter()
            .filter(|(_, k)| *k == favoured_k)
            .map(|(m, _)| m.clone())
            .collect();
        KChoice {
            favoured_k,
            favoured_by,
            per_metric,
        }
    }

    /// One line, e.g. "metrics favour k=4 (silhouette, davies-bouldin; elbow k=5, …); you asked for k=6".
    pub fn line(&self, asked_k: usize) -> String {
        let others: Vec<String> = self
            .per_metric
            .iter()
            .filter(|(_, k)| *k != self.favoured_k)
            .map(|(m, k)| format!("{m} k={k}"))
            .collect();
        let mut s = format!(
            "metrics favour k={} ({})",
            self.favoured_k,
            self.favoured_by.join(", ")
        );
        if !others.is_empty() {
            s.push_str(&format!("; {}", others.join(", ")));
        }
        if asked_k == self.favoured_k {
            s.push_str(&format!("; you asked for k={asked_k}, which agrees"));
        } else {
            s.push_str(&format!("; you asked for k={asked_k}"));
        }
        s
    }
}

/// The elbow of the inertia curve (kneedle): the k farthest below the straight line from the
/// first to the last point, both axes scaled to 0..1.
pub fn elbow(scores: &[KScore]) -> usize {
    let (k0, k1) = (scores[0].k as f64, scores[scores.len() - 1].k as f64);
    let lo = scores
        .iter()
        .map(|s| s.inertia)
        .fold(f64::INFINITY, f64::min);
    let hi = scores
        .iter()
        .map(|s| s.inertia)
        .fold(f64::NEG_INFINITY, f64::max);
    if scores.len() < 3 || hi <= lo || k1 <= k0 {
        return scores[0].k;
    }
    let mut best = (scores[0].k, f64::NEG_INFINITY);
    for s in scores {
        let x = (s.k as f64 - k0) / (k1 - k0);
        let y = (s.inertia - lo) / (hi - lo);
        let gap = (1.0 - x) - y;
        if gap > best.1 {
            best = (s.k, gap);
        }
    }
    best.0
}

/// A seeded sample of at most `n` row indices (all rows, in order, when there are few enough).
pub fn sample_rows(rows: usize, n: usize, seed: u64) -> Vec<usize> {
    if rows <= n {
        return (0..rows).collect();
    }
    // Partial Fisher–Yates: the first n of a seeded shuffle.
    let mut rng = SplitMix64::for_stream(seed, 0x5111);
    let mut idx: Vec<usize> = (0..rows).collect();
    for i in 0..n {
        let j = i + rng.below(rows - i);
        idx.swap(i, j);
    }
    let mut chosen = idx[..n].to_vec();
    chosen.sort_unstable();
    chosen
}

/// The scores of one k from its starts (its fit is the start of lowest inertia).
fn score_k(
    x: ArrayView2<f64>,
    x_sample: ArrayView2<f64>,
    sample: &[usize],
    k: usize,
    runs: Vec<KMeansFit>,
) -> KScore {
    let pairs: Vec<(usize, usize)> = (0..runs.len())
        .flat_map(|a| (a + 1..runs.len()).map(move |b| (a, b)))
        .collect();
    // In a fixed order, so the sum is the same on any number of threads.
    let ari_sum: f64 = pairs
        .iter()
        .map(|&(a, b)| metrics::adjusted_rand_index(&runs[a].labels, &runs[b].labels))
        .sum();
    let best = runs
        .into_iter()
        .min_by(|a, b| a.inertia.total_cmp(&b.inertia).then(a.run.cmp(&b.run)))
        .expect("seeds > 0");
    let sample_labels: Vec<usize> = sample.iter().map(|&r| best.labels[r]).collect();
    KScore {
        k,
        inertia: best.inertia,
        silhouette: defined(metrics::silhouette(x_sample, &sample_labels, k)),
        calinski_harabasz: defined(metrics::calinski_harabasz(x, &best.labels, k)),
        davies_bouldin: defined(metrics::davies_bouldin(x, &best.labels, k)),
        stability: if pairs.is_empty() {
            Some(1.0)
        } else {
            defined(ari_sum / pairs.len() as f64)
        },
        sizes: best.sizes(),
    }
}

/// The scores of each k and the verdict. `on_fit` is called after each of the
/// `(k_max - k_min + 1) × seeds` starts (progress).
pub fn sweep(
    x: ArrayView2<f64>,
    params: &SweepParams,
    on_fit: &(dyn Fn() + Sync),
) -> Result<Sweep, KMeansError> {
    params.check(x)?;
    let sample = sample_rows(x.nrows(), params.silhouette_sample, params.seed);
    let x_sample: Array2<f64> = x.select(Axis(0), &sample);
    // One k at a time, its starts in parallel: only `seeds` labelings of all rows are ever held
    // at once (every k's at once took gigabytes on a million-row table).
    let scores: Vec<KScore> = (params.k_min..=params.k_max)
        .map(|k| {
            let runs: Vec<KMeansFit> = (0..params.seeds)
                .into_par_iter()
                .map(|run| {
                    let fit = params.params(k).restart(x, run);
                    on_fit();
                    fit
                })
                .collect();
            score_k(x, x_sample.view(), &sample, k, runs)
        })
        .collect();

    let verdict = KChoice::from_scores(&scores);
    Ok(Sweep {
        params: params.clone(),
        rows: x.nrows(),
        silhouette_rows: sample.len(),
        scores,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(k: usize, inertia: f64, sil: f64, ch: f64, db: f64, stab: f64) -> KScore {
        KScore {
            k,
            inertia,
            silhouette: defined(sil),
            calinski_harabasz: defined(ch),
            davies_bouldin: defined(db),
            stability: defined(stab),
            sizes: vec![],
        }
    }

    #[test]
    fn undefined_metrics_are_left_out_of_the_vote() {
        let s = vec![
            score(2, 100.0, 0.20, 900.0, 1.5, 0.99),
            score(3, 50.0, 0.25, f64::INFINITY, 1.2, 0.99),
            score(4, 40.0, 0.30, f64::INFINITY, f64::NAN, 0.80),
        ];
        assert_eq!(s[1].calinski_harabasz, None);
        let v = KChoice::from_scores(&s);
        assert!(
            v.per_metric.contains(&("calinski-harabasz".into(), 2)),
            "{v:?}"
        );
        let all_undefined: Vec<KScore> = [2, 3, 4]
            .iter()
            .map(|&k| score(k, 10.0 / k as f64, 0.1, f64::NAN, 1.0, 1.0))
            .collect();
        let v = KChoice::from_scores(&all_undefined);
        assert!(
            v.per_metric.iter().all(|(m, _)| m != "calinski-harabasz"),
            "{v:?}"
        );
    }

    #[test]
    fn elbow_is_the_sharpest_bend() {
        // Inertia falls steeply to k=4, then flattens.
        let s: Vec<KScore> = [
            (2, 100.0),
            (3, 60.0),
            (4, 30.0),
            (5, 26.0),
            (6, 23.0),
            (7, 21.0),
        ]
        .iter()
        .map(|&(k, i)| score(k, i, 0.0, 0.0, 0.0, 1.0))
        .collect();
        assert_eq!(elbow(&s), 4);
    }

    #[test]
    fn verdict_counts_votes_and_says_what_was_asked() {
        let s = vec![
            score(2, 100.0, 0.20, 900.0, 1.5, 0.99),
            score(3, 50.0, 0.25, 800.0, 1.2, 0.99),
            score(4, 40.0, 0.30, 700.0, 1.1, 0.80),
            score(5, 35.0, 0.22, 600.0, 1.3, 0.70),
        ];
        let v = KChoice::from_scores(&s);
        // k=2 and k=4 have two votes each; silhouette's choice breaks the tie.
        assert_eq!(v.favoured_k, 4, "{v:?}");
        assert_eq!(v.favoured_by, vec!["silhouette", "davies-bouldin"]);
        assert_eq!(
            v.per_metric,
            vec![
                ("elbow".into(), 3),
                ("silhouette".into(), 4),
                ("calinski-harabasz".into(), 2),
                ("davies-bouldin".into(), 4),
                ("stability".into(), 2),
            ]
        );
        let line = v.line(6);
        assert!(line.ends_with("you asked for k=6"), "{line}");
    }

    #[test]
    fn samples_are_seeded_sorted_and_distinct() {
        let a = sample_rows(1000, 100, 7);
        assert_eq!(a, sample_rows(1000, 100, 7));
        assert_ne!(a, sample_rows(1000, 100, 8));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_rows(5, 100, 7), vec![0, 1, 2, 3, 4]);
    }
}
