//! PCA by the exact eigen-decomposition of the d×d covariance (`linfa-linalg`'s `eigh`).
//! linfa-reduction's `Pca::fit` (LOBPCG) panics on standardised data whose eigenvalues are close,
//! and it normalises explained variance over the kept components only; with d = 8 the exact
//! route is instant and reports the variance of every component.

use linfa_linalg::eigh::EighInto;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    pub mean: Vec<f64>,
    /// Rows are the principal axes, by decreasing variance (rows of a d×d matrix, kept as
    /// nested lists so the saved model reads plainly).
    pub components: Vec<Vec<f64>>,
    /// Variance along each axis.
    pub explained_variance: Vec<f64>,
    /// Share of the total variance along each axis, over all d axes (sums to 1).
    pub explained_variance_ratio: Vec<f64>,
}

#[derive(Debug, thiserror::Error)]
#[error("PCA failed: {0}")]
pub struct PcaError(String);

impl Pca {
    pub fn fit(x: ArrayView2<f64>) -> Result<Pca, PcaError> {
        let n = x.nrows();
        if n < 2 {
            return Err(PcaError(format!("{n} rows: need at least 2")));
        }
        let mean: Array1<f64> = x.mean_axis(Axis(0)).expect("rows");
        let centred = &x - &mean;
        let cov = centred.t().dot(&centred) / (n - 1) as f64;
        let (values, vectors) = cov.eigh_into().map_err(|e| PcaError(e.to_string()))?;
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let d = x.ncols();
        let mut components = Array2::zeros((d, d));
        for (row, &i) in order.iter().enumerate() {
            let mut axis = vectors.column(i).to_owned();
            // A sign convention so the same data always gives the same picture: the largest
            // loading of each axis is positive.
            let biggest = axis
                .iter()
                .copied()
                .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
            if biggest < 0.0 {
                axis.mapv_inplace(|v| -v);
            }
            components.row_mut(row).assign(&axis);
        }
        let explained_variance: Vec<f64> = order.iter().map(|&i| values[i].max(0.0)).collect();
        let total: f64 = explained_variance.iter().sum();
        let explained_variance_ratio = explained_variance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Ok(Pca {
            mean: mean.to_vec(),
            components: components.rows().into_iter().map(|r| r.to_vec()).collect(),
            explained_variance,
            explained_variance_ratio,
        })
    }

    /// Coordinates of the rows of `x` on the first `dims` axes (fewer when the data has fewer
    /// features: one feature has one axis).
    pub fn project(&self, x: ArrayView2<f64>, dims: usize) -> Array2<f64> {
        let mean = Array1::from(self.mean.clone());
        let d = self.mean.len();
        let dims = dims.min(self.components.len());
        let axes = Array2::from_shape_fn((dims, d), |(i, j)| self.components[i][j]);
        (&x - &mean).dot(&axes.t())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn points_on_a_diagonal_line_have_one_axis() {
        let x = array![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]];
        let pca = Pca::fit(x.view()).unwrap();
        assert!((pca.explained_variance_ratio[0] - 1.0).abs() < 1e-12);
        assert!(pca.explained_variance_ratio[1].abs() < 1e-12);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!((pca.components[0][0] - h).abs() < 1e-9 && (pca.components[0][1] - h).abs() < 1e-9);
        let p = pca.project(x.view(), 1);
        // More axes than features: as many as there are, no panic.
        assert_eq!(pca.project(x.view(), 5).ncols(), 2);
        assert!((p[[3, 0]] - p[[0, 0]] - 3.0 * 2f64.sqrt()).abs() < 1e-9);
        // Variance along the axis: the sample variance of the projections.
        assert!((pca.explained_variance[0] - 2.0 * 5.0 / 3.0).abs() < 1e-9);
    }
}
