//! Feature scaling, fitted on the catalogue and saved with the song model so that a new song is
//! placed in exactly the space the clusters were found in.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// z-scores: (x - mean) / standard deviation.
    #[default]
    Standard,
    /// (x - min) / (max - min), into 0..=1.
    MinMax,
}

/// A fitted scaler: `scaled = (x - offset) / scale`, per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub kind: Scaling,
    pub offset: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Scaler {
    /// Fits on the rows of `x`. A constant feature gets scale 1 so it maps to 0 instead of NaN.
    pub fn fit(kind: Scaling, x: ArrayView2<f64>) -> Scaler {
        let (offset, scale): (Vec<f64>, Vec<f64>) = x
            .axis_iter(Axis(1))
            .map(|col| {
                let (o, s) = match kind {
                    Scaling::Standard => {
                        let mean = col.mean().unwrap_or(0.0);
                        // Population standard deviation, as scikit-learn's StandardScaler.
                        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>()
                            / col.len().max(1) as f64;
                        (mean, var.sqrt())
                    }
                    Scaling::MinMax => {
                        let min = col.iter().copied().fold(f64::INFINITY, f64::min);
                        let max = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        (min, max - min)
                    }
                };
                (o, if s > 0.0 && s.is_finite() { s } else { 1.0 })
            })
            .unzip();
        Scaler {
            kind,
            offset,
            scale,
        }
    }

    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        for mut row in out.rows_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - self.offset[j]) / self.scale[j];
            }
        }
        out
    }

    pub fn transform_row(&self, row: ArrayView1<f64>) -> Vec<f64> {
        row.iter()
            .enumerate()
            .map(|(j, v)| (v - self.offset[j]) / self.scale[j])
            .collect()
    }

    pub fn inverse(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        for mut row in out.rows_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = *v * self.scale[j] + self.offset[j];
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn standard_and_min_max_round_trip() {
        let x = array![[1.0, 10.0, 5.0], [3.0, 30.0, 5.0], [5.0, 20.0, 5.0]];
        let s = Scaler::fit(Scaling::Standard, x.view());
        assert_eq!(s.offset, vec![3.0, 20.0, 5.0]);
        assert!((s.scale[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(s.scale[2], 1.0, "a constant feature keeps scale 1");
        let z = s.transform(x.view());
        assert!(z.column(0).sum().abs() < 1e-12);
        assert!((s.inverse(z.view()) - &x).iter().all(|d| d.abs() < 1e-12));
        let m = Scaler::fit(Scaling::MinMax, x.view());
        let u = m.transform(x.view());
        assert_eq!(u.column(1).to_vec(), vec![0.0, 1.0, 0.5]);
        assert_eq!(m.transform_row(x.row(1)), vec![0.5, 1.0, 0.0]);
    }
}
