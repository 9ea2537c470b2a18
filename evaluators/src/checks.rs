//! Input validation shared by all metrics.

use ndarray::{Array2, ArrayView1, ArrayView2, CowArray, Ix2};

use crate::error::{MetricError, Result};

/// Fails on the first NaN or ±Inf in a `(stimuli, features)` matrix.
pub fn ensure_finite_2d(x: ArrayView2<f64>, what: &str) -> Result<()> {
    for ((i, j), &v) in x.indexed_iter() {
        if !v.is_finite() {
            return Err(MetricError::NonFinite {
                what: what.to_string(),
                index: vec![i, j],
                value: v,
            });
        }
    }
    Ok(())
}

/// Fails on the first NaN or ±Inf in a vector.
pub fn ensure_finite_1d(x: ArrayView1<f64>, what: &str) -> Result<()> {
    for (i, &v) in x.indexed_iter() {
        if !v.is_finite() {
            return Err(MetricError::NonFinite {
                what: what.to_string(),
                index: vec![i],
                value: v,
            });
        }
    }
    Ok(())
}

/// Fails when fewer than `min` stimuli (rows) are given.
pub fn ensure_min_stimuli(n: usize, min: usize, what: &str) -> Result<()> {
    if n < min {
        return Err(MetricError::TooFewStimuli {
            what: what.to_string(),
            got: n,
            min,
        });
    }
    Ok(())
}

/// Fails when two representations do not cover the same number of stimuli.
pub fn ensure_same_stimuli(n_x: usize, n_y: usize) -> Result<()> {
    if n_x != n_y {
        return Err(MetricError::ShapeMismatch(format!(
            "x has {n_x} stimuli (rows) but y has {n_y}; both must describe the same stimuli in the same order"
        )));
    }
    Ok(())
}

/// Fails when a matrix has no columns.
pub fn ensure_has_features(n_features: usize, what: &str) -> Result<()> {
    if n_features == 0 {
        return Err(MetricError::ShapeMismatch(format!(
            "{what} has no features (columns)"
        )));
    }
    Ok(())
}

/// The power of two 2^k that brings the largest magnitude of `values` into [0.5, 1), as k
/// (0 for all zeros). Multiplying by 2^-k is exact for normal numbers, so a metric that is
/// invariant to the scale of its input computes the same bits on the scaled values, while
/// products and sums of squares of values near the ends of the f64 range (x·1e160, x·1e-160)
/// can no longer overflow or underflow.
pub(crate) fn magnitude_exponent<'a>(values: impl IntoIterator<Item = &'a f64>) -> i32 {
    let largest = values.into_iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if largest == 0.0 || !largest.is_finite() {
        return 0;
    }
    // frexp: largest = f · 2^k with f in [0.5, 1).
    let bits = largest.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: scaled up by 2^1021 at most (the largest factor that is a normal number),
        // which makes it normal, though smaller than 0.5.
        -1021
    } else {
        biased - 1022
    }
}

/// 2^k as f64, for k within the normal exponent range, by halves to stay in range.
pub(crate) fn power_of_two(k: i32) -> f64 {
    let half = k / 2;
    2f64.powi(half) * 2f64.powi(k - half)
}

/// Magnitudes this far from 1 are left as they are: every product and sum of squares the
/// metrics form from them (Gram matrices, HSIC sums over n² entries) stays far inside the
/// f64 range for any data set that fits in memory.
const SAFE_EXPONENT: i32 = 100;

/// `x`, scaled by 2^-k when its largest magnitude lies outside 2^±100 (k from
/// [`magnitude_exponent`]; borrowed unchanged, k = 0, otherwise), and the k applied. A
/// scale-invariant metric gives the same result either way.
pub(crate) fn unit_scaled(x: ArrayView2<'_, f64>) -> (CowArray<'_, f64, Ix2>, i32) {
    let k = magnitude_exponent(x.iter());
    if k.abs() <= SAFE_EXPONENT {
        (CowArray::from(x), 0)
    } else {
        let factor = power_of_two(-k);
        (CowArray::from(x.mapv(|v| v * factor)), k)
    }
}

/// Rows of `x` each scaled by the power of two that brings its largest magnitude into
/// [0.5, 1) (for measures invariant to each pattern's scale: correlation, cosine).
pub(crate) fn rows_unit_scaled(x: ArrayView2<f64>) -> Array2<f64> {
    let mut z = x.to_owned();
    for mut row in z.rows_mut() {
        let k = magnitude_exponent(row.iter());
        if k != 0 {
            let factor = power_of_two(-k);
            row.mapv_inplace(|v| v * factor);
        }
    }
    z
}

/// Fails when a computed quantity is not finite (an error, never a score).
pub(crate) fn ensure_finite_value(value: f64, what: &str) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(MetricError::NotFinite {
            what: what.to_string(),
        })
    }
}

#[cfg(test)]
mod scale_tests {
    use super::*;

    #[test]
    fn exponents_bring_the_largest_magnitude_into_half_to_one() {
        for v in [
            1.0,
            0.75,
            3.0,
            -1e160,
            1e-160,
            1e308,
            f64::MAX,
            2.3e-308,
            123.456,
        ] {
            let k = magnitude_exponent([v].iter());
            let scaled = v.abs() * power_of_two(-k);
            assert!((0.5..1.0).contains(&scaled), "{v}: 2^{k}, {scaled}");
        }
        // Subnormal magnitudes become normal numbers.
        for v in [5e-324, 1e-310] {
            let scaled = v * power_of_two(-magnitude_exponent([v].iter()));
            assert!((f64::MIN_POSITIVE..1.0).contains(&scaled), "{v}: {scaled}");
        }
        assert_eq!(magnitude_exponent([0.0, -0.0].iter()), 0);
    }
}
