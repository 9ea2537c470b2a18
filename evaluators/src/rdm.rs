//! Representational dissimilarity matrices (rsatoolbox `calc_rdm` conventions).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::checks;
use crate::error::{MetricError, Result};

/// How dissimilarity between two stimulus patterns is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RdmMethod {
    /// 1 - Pearson correlation between the two patterns (Brain-Score's and rsatoolbox's default).
    #[default]
    Correlation,
    /// Squared Euclidean distance divided by the number of features (rsatoolbox's `euclidean`).
    Euclidean,
    /// 1 - cosine similarity.
    Cosine,
}

impl RdmMethod {
    /// Every method, for listings.
    pub const ALL: [RdmMethod; 3] = [Self::Correlation, Self::Euclidean, Self::Cosine];

    /// The name used in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Correlation => "correlation",
            Self::Euclidean => "euclidean",
            Self::Cosine => "cosine",
        }
    }
}

/// A symmetric dissimilarity matrix with zero diagonal over `n_stimuli` stimuli, stored as its
/// condensed upper triangle (row-major, diagonal excluded: entry (i, j), i < j, in the order of
/// `scipy.spatial.distance.squareform` and rsatoolbox).
#[derive(Debug, Clone, PartialEq)]
pub struct Rdm {
    n_stimuli: usize,
    condensed: Array1<f64>,
}

impl Rdm {
    /// Wraps a condensed vector; its length must be n (n - 1) / 2 for some n >= 3.
    pub fn from_condensed(condensed: Array1<f64>) -> Result<Self> {
        let len = condensed.len();
        let n = ((1.0 + (1.0 + 8.0 * len as f64).sqrt()) / 2.0).round() as usize;
        if n * (n.saturating_sub(1)) / 2 != len || n < 3 {
            return Err(MetricError::ShapeMismatch(format!(
                "a condensed RDM of length {len} is not the upper triangle of an n x n matrix with n >= 3"
            )));
        }
        checks::ensure_finite_1d(condensed.view(), "RDM")?;
        Ok(Self {
            n_stimuli: n,
            condensed,
        })
    }

    /// Takes the upper triangle of a square matrix, which must be symmetric (to 1e-9 relative)
    /// with a zero diagonal.
    pub fn from_square(square: ArrayView2<f64>) -> Result<Self> {
        let (n, m) = square.dim();
        if n != m {
            return Err(MetricError::ShapeMismatch(format!(
                "an RDM must be square, got {n} x {m}"
            )));
        }
        checks::ensure_finite_2d(square, "RDM")?;
        let scale = square
            .iter()
            .fold(0.0f64, |a, &b| a.max(b.abs()))
            .max(1e-300);
        for i in 0..n {
            if square[[i, i]].abs() > 1e-9 * scale {
                return Err(MetricError::ShapeMismatch(format!(
                    "RDM diagonal entry ({i}, {i}) is {} but must be 0",
                    square[[i, i]]
                )));
            }
            for j in i + 1..n {
                if (square[[i, j]] - square[[j, i]]).abs() > 1e-9 * scale {
                    return Err(MetricError::ShapeMismatch(format!(
                        "RDM is not symmetric at ({i}, {j}): {} vs {}",
                        square[[i, j]],
                        square[[j, i]]
                    )));
                }
            }
        }
        Self::from_condensed(upper_triangle(square))
    }

    /// Number of stimuli.
    pub fn n_stimuli(&self) -> usize {
        self.n_stimuli
    }

    /// The condensed upper triangle.
    pub fn condensed(&self) -> ArrayView1<'_, f64> {
        self.condensed.view()
    }

    /// The full symmetric matrix.
    pub fn to_square(&self) -> Array2<f64> {
        let n = self.n_stimuli;
        let mut square = Array2::zeros((n, n));
        let mut k = 0;
        for i in 0..n {
            for j in i + 1..n {
                square[[i, j]] = self.condensed[k];
                square[[j, i]] = self.condensed[k];
                k += 1;
            }
        }
        square
    }

    /// The element-wise mean of RDMs over the same stimuli (e.g. the subjects' RDMs of a
    /// benchmark, shown as one). Errors on an empty list or RDMs of different sizes.
    pub fn mean(rdms: &[Rdm]) -> Result<Rdm> {
        let Some(first) = rdms.first() else {
            return Err(MetricError::InvalidOption("the mean of no RDMs".into()));
        };
        if let Some(other) = rdms.iter().find(|r| r.n_stimuli != first.n_stimuli) {
            return Err(MetricError::ShapeMismatch(format!(
                "RDMs over {} and {} stimuli cannot be averaged",
                first.n_stimuli, other.n_stimuli
            )));
        }
        let n = rdms.len() as f64;
        let mean = (0..first.condensed.len())
            .map(|k| rdms.iter().map(|r| r.condensed[k]).sum::<f64>() / n)
            .collect::<Array1<f64>>();
        Rdm::from_condensed(mean)
    }

    /// The RDM restricted to the given stimuli (in the given order; indices must be distinct).
    pub fn select(&self, stimuli: &[usize]) -> Result<Rdm> {
        let square = self.to_square();
        let picked = square.select(Axis(0), stimuli).select(Axis(1), stimuli);
        Rdm::from_condensed(upper_triangle(picked.view()))
    }
}

/// Position of entry (i, j), i < j, in the condensed vector of an n-stimulus RDM.
pub(crate) fn condensed_index(n: usize, i: usize, j: usize) -> usize {
    debug_assert!(i < j && j < n);
    i * n - i * (i + 1) / 2 + (j - i - 1)
}

fn upper_triangle(square: ArrayView2<f64>) -> Array1<f64> {
    let n = square.nrows();
    let mut out = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            out.push(square[[i, j]]);
        }
    }
    Array1::from(out)
}

/// Computes the RDM of a `(stimuli, features)` representation.
///
/// Errors on non-finite input, fewer than 3 stimuli, and (for correlation and cosine) a
/// stimulus pattern whose distance to the others is undefined because it is constant / zero.
pub fn compute_rdm(x: ArrayView2<f64>, method: RdmMethod) -> Result<Rdm> {
    let (n, p) = x.dim();
    checks::ensure_min_stimuli(n, 3, "x")?;
    checks::ensure_has_features(p, "x")?;
    checks::ensure_finite_2d(x, "x")?;
    let square = match method {
        RdmMethod::Euclidean => {
            // On x scaled by a power of two 2^-k (exact), then scaled back by 2^2k: the same
            // numbers, without overflow in the squares; distances beyond f64 are an error.
            let (scaled, k) = checks::unit_scaled(x);
            let gram = crate::gram::gram(scaled.view());
            let back = checks::power_of_two(2 * k);
            let sq_norms = gram.diag().to_owned();
            let mut d = gram;
            d.indexed_iter_mut().for_each(|((i, j), v)| {
                *v = ((sq_norms[i] + sq_norms[j] - 2.0 * *v) / p as f64).max(0.0) * back;
            });
            if let Some(v) = d.iter().find(|v| !v.is_finite()) {
                checks::ensure_finite_value(*v, "the squared Euclidean distances of x")?;
            }
            if k != 0 && d.iter().any(|&v| v != 0.0 && v < f64::MIN_POSITIVE) {
                return Err(MetricError::NotFinite {
                    what: "the squared Euclidean distances of x (below the normal f64 range, \
                           so their ranks are lost)"
                        .into(),
                });
            }
            d
        }
        RdmMethod::Correlation | RdmMethod::Cosine => {
            // Each pattern scaled by a power of two first (both measures ignore a pattern's
            // scale), so no sum of squares can overflow or underflow.
            let mut z = checks::rows_unit_scaled(x);
            if method == RdmMethod::Correlation {
                let means = z.mean_axis(Axis(1)).expect("p > 0");
                z -= &means.insert_axis(Axis(1));
            }
            for (i, mut row) in z.axis_iter_mut(Axis(0)).enumerate() {
                let norm = row.dot(&row).sqrt();
                if norm == 0.0 {
                    return Err(MetricError::ZeroVariance {
                        what: format!("x, stimulus {i}"),
                        consequence: format!("its {} distance is undefined", method.name()),
                    });
                }
                row /= norm;
            }
            let mut d = crate::gram::gram(z.view());
            d.mapv_inplace(|s| 1.0 - s);
            d
        }
    };
    Rdm::from_condensed(upper_triangle(square.view()))
}
