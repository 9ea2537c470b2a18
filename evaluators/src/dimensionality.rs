//! Effective dimensionality of a representation.

use ndarray::ArrayView2;

use crate::checks;
use crate::error::{MetricError, Result};
use crate::gram;

/// Participation ratio (Σλ)² / Σλ² of the eigenvalues λ of the feature covariance: 1 when one
/// direction holds all variance, the number of features when variance is spread evenly.
///
/// Computed without an eigendecomposition as tr(C)² / |C|²_F, on whichever of the covariance
/// XcᵀXc or the Gram matrix XcXcᵀ is smaller (they share their non-zero eigenvalues).
pub fn participation_ratio(x: ArrayView2<f64>) -> Result<f64> {
    let (n, p) = x.dim();
    checks::ensure_min_stimuli(n, 2, "x")?;
    checks::ensure_has_features(p, "x")?;
    checks::ensure_finite_2d(x, "x")?;
    let xc = gram::center_columns(x);
    let c = if p < n {
        gram::gram(xc.t())
    } else {
        gram::gram(xc.view())
    };
    let trace = c.diag().sum();
    let frob2: f64 = c.iter().map(|v| v * v).sum();
    if trace <= 0.0 {
        return Err(MetricError::ZeroVariance {
            what: "x".into(),
            consequence: "its participation ratio is undefined".into(),
        });
    }
    Ok(trace * trace / frob2)
}
