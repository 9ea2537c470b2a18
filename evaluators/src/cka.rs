//! Centered kernel alignment (Kornblith, Norouzi, Lee & Hinton 2019), biased and debiased.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::checks;
use crate::error::{MetricError, Result};
use crate::gram;

/// The kernel whose Gram matrices CKA aligns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CkaKernel {
    /// k(a, b) = a·b.
    Linear,
    /// k(a, b) = exp(-|a - b|² / (2 σ²)) with σ² = threshold² × median squared distance
    /// (Kornblith et al. 2019; the median over all n² pairs, diagonal included).
    Rbf {
        /// Bandwidth as a fraction of the median distance.
        threshold: f64,
    },
}

/// CKA options. The default is debiased linear CKA.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CkaOptions {
    /// Kernel.
    pub kernel: CkaKernel,
    /// Use the unbiased (U-statistic) HSIC estimator of Song et al. (2012), as Kornblith et al.
    /// recommend when features outnumber stimuli.
    pub debiased: bool,
}

impl Default for CkaOptions {
    fn default() -> Self {
        Self {
            kernel: CkaKernel::Linear,
            debiased: true,
        }
    }
}

/// CKA between two `(stimuli, features)` representations of the same stimuli.
pub fn cka(x: ArrayView2<f64>, y: ArrayView2<f64>, options: CkaOptions) -> Result<f64> {
    let kx = kernel_gram(x, options.kernel, "x")?;
    let ky = kernel_gram(y, options.kernel, "y")?;
    checks::ensure_same_stimuli(kx.nrows(), ky.nrows())?;
    cka_from_grams(kx, ky, options.debiased)
}

/// Validates a representation and returns its (uncentred) Gram matrix under `kernel`.
pub(crate) fn kernel_gram(
    x: ArrayView2<f64>,
    kernel: CkaKernel,
    what: &str,
) -> Result<Array2<f64>> {
    let base = kernel_base(x, kernel, what)?;
    match kernel {
        CkaKernel::Linear => Ok(base),
        CkaKernel::Rbf { threshold } => rbf_from_squared_distances(base, threshold, what),
    }
}

/// Validates a representation and returns what its kernel is built from: the Gram matrix for
/// the linear kernel, the squared distances for RBF (whose bandwidth depends on the stimuli
/// present, so a bootstrap rebuilds it per resample).
pub(crate) fn kernel_base(
    x: ArrayView2<f64>,
    kernel: CkaKernel,
    what: &str,
) -> Result<Array2<f64>> {
    let (n, p) = x.dim();
    checks::ensure_min_stimuli(n, 4, what)?;
    checks::ensure_has_features(p, what)?;
    checks::ensure_finite_2d(x, what)?;
    // Both HSIC estimators are invariant to a shift of the features, so no centring pass;
    // CKA is invariant to the scale of x, so x too large or too small for its Gram matrix
    // to stay in range is scaled by a power of two first.
    let gram = gram::gram(checks::unit_scaled(x).0.view());
    match kernel {
        CkaKernel::Linear => Ok(gram),
        CkaKernel::Rbf { threshold } => {
            if threshold.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return Err(MetricError::InvalidOption(format!(
                    "RBF threshold must be > 0, got {threshold}"
                )));
            }
            Ok(squared_distances(&gram))
        }
    }
}

pub(crate) fn squared_distances(k: &Array2<f64>) -> Array2<f64> {
    let n = k.nrows();
    Array2::from_shape_fn((n, n), |(i, j)| {
        (k[[i, i]] + k[[j, j]] - 2.0 * k[[i, j]]).max(0.0)
    })
}

/// RBF Gram matrix from squared distances, bandwidth from their median.
pub(crate) fn rbf_from_squared_distances(
    mut d: Array2<f64>,
    threshold: f64,
    what: &str,
) -> Result<Array2<f64>> {
    let median = crate::stats::median(d.as_slice().expect("standard layout")).unwrap_or(0.0);
    if median <= 0.0 {
        return Err(MetricError::ZeroVariance {
            what: format!("{what} (median pairwise distance is 0)"),
            consequence: "the RBF bandwidth is undefined".into(),
        });
    }
    let scale = 2.0 * threshold * threshold * median;
    d.mapv_inplace(|s| (-s / scale).exp());
    Ok(d)
}

/// CKA from two uncentred Gram matrices over the same stimuli.
pub(crate) fn cka_from_grams(
    mut kx: Array2<f64>,
    mut ky: Array2<f64>,
    debiased: bool,
) -> Result<f64> {
    // Below this share of the uncentred Gram matrix's squared norm, what centring leaves is
    // rounding error: the stimuli are represented identically (a constant representation).
    let n = kx.nrows() as f64;
    let floor = (n * f64::EPSILON).powi(2);
    let floors = [
        floor * kx.iter().map(|v| v * v).sum::<f64>(),
        floor * ky.iter().map(|v| v * v).sum::<f64>(),
    ];
    for k in [&mut kx, &mut ky] {
        if debiased {
            gram::center_gram_unbiased(k);
        } else {
            gram::double_center(k);
        }
    }
    let (mut hsic_xy, mut hsic_xx, mut hsic_yy) = (0.0, 0.0, 0.0);
    let (sx, sy) = (
        kx.as_slice().expect("standard layout"),
        ky.as_slice().expect("standard layout"),
    );
    for (a, b) in sx.iter().zip(sy) {
        hsic_xy += a * b;
        hsic_xx += a * a;
        hsic_yy += b * b;
    }
    for ((h, what), floor) in [(hsic_xx, "x"), (hsic_yy, "y")].into_iter().zip(floors) {
        if h <= floor {
            return Err(MetricError::ZeroVariance {
                what: what.into(),
                consequence: "its CKA is undefined (all stimuli are represented identically)"
                    .into(),
            });
        }
    }
    checks::ensure_finite_value(hsic_xy / (hsic_xx * hsic_yy).sqrt(), "CKA")
}
