//! Input validation shared by all metrics.

use ndarray::{ArrayView1, ArrayView2};

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
