//! Effective dimensionality of a representation.

use ndarray::ArrayView2;
use ndarray_linalg::{Eigh, UPLO};

use crate::checks;
use crate::error::{MetricError, Result};
use crate::gram;

/// Participation ratio (Σλ)² / Σλ² of the eigenvalues λ of the feature covariance: 1 when one
/// direction holds all variance, the number of features when variance is spread evenly.
///
/// Computed without an eigendecomposition as tr(C)² / |C|²_F, on whichever of the covariance
/// XcᵀXc or the Gram matrix XcXcᵀ is smaller (they share their non-zero eigenvalues).
pub fn participation_ratio(x: ArrayView2<f64>) -> Result<f64> {
    let c = covariance_or_gram(x)?;
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

/// The unnormalised covariance XcᵀXc or the Gram matrix XcXcᵀ of the column-centred `x`,
/// whichever is smaller (they share their non-zero eigenvalues), after checking `x`.
fn covariance_or_gram(x: ArrayView2<f64>) -> Result<ndarray::Array2<f64>> {
    let (n, p) = x.dim();
    checks::ensure_min_stimuli(n, 2, "x")?;
    checks::ensure_has_features(p, "x")?;
    checks::ensure_finite_2d(x, "x")?;
    let xc = gram::center_columns(x);
    Ok(if p < n {
        gram::gram(xc.t())
    } else {
        gram::gram(xc.view())
    })
}

/// Number of principal components needed to explain at least `fraction` (e.g. 0.9) of the
/// variance of `x` (stimuli × features).
pub fn dimension_at_variance(x: ArrayView2<f64>, fraction: f64) -> Result<usize> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(MetricError::InvalidOption(format!(
            "the variance fraction must be in (0, 1], not {fraction}"
        )));
    }
    let eigenvalues = covariance_spectrum(x)?;
    let total: f64 = eigenvalues.iter().sum();
    let mut cumulative = 0.0;
    for (i, value) in eigenvalues.iter().enumerate() {
        cumulative += value;
        // A relative tolerance, so that exactly `fraction` of the variance counts as reached.
        if cumulative >= fraction * total * (1.0 - 1e-12) {
            return Ok(i + 1);
        }
    }
    Ok(eigenvalues.len())
}

/// Eigenvalues of the feature covariance of `x` (stimuli × features), largest first,
/// computed on whichever of the covariance or Gram matrix is smaller.
pub(crate) fn covariance_spectrum(x: ArrayView2<f64>) -> Result<Vec<f64>> {
    let c = covariance_or_gram(x)?;
    let (values, _) = c
        .eigh(UPLO::Upper)
        .map_err(|e| MetricError::linalg("covariance spectrum", e))?;
    let mut values: Vec<f64> = values.iter().map(|v| v.max(0.0)).collect();
    values.reverse();
    if values.iter().sum::<f64>() <= 0.0 {
        return Err(MetricError::ZeroVariance {
            what: "x".into(),
            consequence: "its dimensionality is undefined".into(),
        });
    }
    Ok(values)
}

/// Intrinsic dimension by the two-nearest-neighbour estimator (Facco, d'Errico, Rodriguez &
/// Laio 2017, Sci. Rep. 7:12140): with μ = r₂/r₁ the ratio of each point's second- to
/// first-nearest-neighbour distance, 1 − F(μ) = μ^(−d); d is the slope through the origin of
/// −log(1 − F̂) against log μ over the smallest 90 % of the μ (the largest 10 % are dropped, as
/// in the paper and scikit-dimension's `TwoNN`). Duplicate points (r₁ = 0) are an error.
pub fn two_nn_dimension(x: ArrayView2<f64>) -> Result<f64> {
    let (n, p) = x.dim();
    checks::ensure_min_stimuli(n, 3, "x")?;
    checks::ensure_has_features(p, "x")?;
    checks::ensure_finite_2d(x, "x")?;
    // Squared distances from the Gram matrix, row by row.
    let g = gram::gram(x);
    let mut ratios = Vec::with_capacity(n);
    for i in 0..n {
        let (mut first, mut second) = (f64::INFINITY, f64::INFINITY);
        for j in 0..n {
            if j == i {
                continue;
            }
            let d2 = (g[[i, i]] + g[[j, j]] - 2.0 * g[[i, j]]).max(0.0);
            if d2 < first {
                second = first;
                first = d2;
            } else if d2 < second {
                second = d2;
            }
        }
        if first <= 1e-24 * g[[i, i]].max(1e-300) {
            return Err(MetricError::InvalidOption(format!(
                "x has duplicate points (stimulus {i} coincides with another), so the two-NN dimension is undefined"
            )));
        }
        ratios.push((second / first).sqrt());
    }
    ratios.sort_by(f64::total_cmp);
    let kept = (n as f64 * 0.9) as usize;
    let (mut xy, mut xx) = (0.0, 0.0);
    for (i, mu) in ratios.iter().take(kept).enumerate() {
        let empirical = i as f64 / n as f64;
        let (a, b) = (mu.ln(), -(1.0 - empirical).ln());
        xy += a * b;
        xx += a * a;
    }
    if xx <= 0.0 {
        return Err(MetricError::ZeroVariance {
            what: "the neighbour-distance ratios of x".into(),
            consequence: "the two-NN dimension is undefined".into(),
        });
    }
    Ok(xy / xx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// `n` points uniform in a `d`-cube, rotated into `p` dimensions.
    fn cube_in_space(n: usize, d: usize, p: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let points = Array2::from_shape_fn((n, d), |_| rng.random::<f64>());
        let mixing = Array2::from_shape_fn((d, p), |_| rng.random::<f64>() - 0.5);
        let (q, _) = ndarray_linalg::QR::qr(&mixing.t().to_owned()).unwrap();
        points.dot(&q.t())
    }

    #[test]
    fn two_nn_recovers_the_dimension_of_a_flat_cube() {
        for d in [2, 5, 8] {
            let x = cube_in_space(2000, d, 40, d as u64);
            let estimate = two_nn_dimension(x.view()).unwrap();
            assert!(
                (estimate - d as f64).abs() < 0.12 * d as f64,
                "d {d}: estimate {estimate}"
            );
        }
    }

    #[test]
    fn two_nn_rejects_duplicates() {
        let mut x = cube_in_space(50, 3, 10, 1);
        let first = x.row(0).to_owned();
        x.row_mut(7).assign(&first);
        let message = two_nn_dimension(x.view()).unwrap_err().to_string();
        assert!(message.contains("duplicate"), "{message}");
    }

    #[test]
    fn ninety_percent_dimension_counts_components() {
        // Variances 50, 30, 15, 5 along four axes: 90 % needs three components, 80 % two.
        let scales = [50f64.sqrt(), 30f64.sqrt(), 15f64.sqrt(), 5f64.sqrt()];
        // Rows ±sⱼ eⱼ: centred, with covariance proportional to diag(sⱼ²).
        let x = Array2::from_shape_fn((8, 4), |(i, j)| {
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            if i / 2 == j { sign * scales[j] } else { 0.0 }
        });
        let spectrum = covariance_spectrum(x.view()).unwrap();
        let total: f64 = spectrum.iter().sum();
        let shares: Vec<f64> = spectrum.iter().map(|v| v / total).collect();
        assert!((shares[0] - 0.5).abs() < 1e-9, "{shares:?}");
        assert_eq!(dimension_at_variance(x.view(), 0.9).unwrap(), 3);
        assert_eq!(dimension_at_variance(x.view(), 0.8).unwrap(), 2);
        assert_eq!(dimension_at_variance(x.view(), 1.0).unwrap(), 4);
        assert!(dimension_at_variance(x.view(), 0.0).is_err());
    }
}
