//! Ridge regression with an unpenalised intercept (scikit-learn `Ridge(alpha)`), and ridge with
//! the penalty chosen by efficient leave-one-out or generalised cross-validation (as
//! scikit-learn's `RidgeCV` does without refits).
//!
//! Kernel form: with the column-centred train Gram K = Xc Xcᵀ, the coefficients
//! (XcᵀXc + αI)⁻¹ Xcᵀ Yc equal Xcᵀ (K + αI)⁻¹ Yc, so the dual coefficients are
//! A = (K + αI)⁻¹ Yc. For the choice of α, K = V Λ Vᵀ is decomposed once; the hat matrix is
//! H(α) = 11ᵀ/m + V diag(λ / (λ + α)) Vᵀ, and the leave-one-out residual of stimulus i is
//! (yᵢ - ŷᵢ) / (1 - Hᵢᵢ) exactly (GCV replaces Hᵢᵢ by the mean of the diagonal).

use ndarray::{Array1, Array2, ArrayView2, Axis};
use ndarray_linalg::{Cholesky, UPLO};
use serde::{Deserialize, Serialize};

use crate::error::{MetricError, Result};

/// How ridge-CV scores each candidate penalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RidgeCvCriterion {
    /// Exact leave-one-out mean squared error.
    #[default]
    LeaveOneOut,
    /// Generalised cross-validation (Golub, Heath & Wahba 1979).
    Gcv,
}

/// The default penalty grid: 10^-3 … 10^8 in half-decade steps (23 values).
pub fn default_alpha_grid() -> Vec<f64> {
    (0..23).map(|i| 10f64.powf(-3.0 + 0.5 * i as f64)).collect()
}

pub(crate) fn ensure_positive_alphas(alphas: &[f64]) -> Result<()> {
    if alphas.is_empty() {
        return Err(MetricError::InvalidOption(
            "the ridge penalty grid is empty".into(),
        ));
    }
    if let Some(a) = alphas
        .iter()
        .find(|a| a.partial_cmp(&&0.0) != Some(std::cmp::Ordering::Greater))
    {
        return Err(MetricError::InvalidOption(format!(
            "ridge penalties must be > 0, got {a}"
        )));
    }
    Ok(())
}

/// Dual coefficients (K + αI)⁻¹ Yc by Cholesky factorisation.
pub(crate) fn ridge_dual_coefficients(
    k_centred: &Array2<f64>,
    y_centred: ArrayView2<f64>,
    alpha: f64,
) -> Result<Array2<f64>> {
    let mut a = k_centred.clone();
    a.diag_mut().mapv_inplace(|d| d + alpha);
    let lower = a
        .cholesky(UPLO::Lower)
        .map_err(|e| MetricError::linalg("ridge", e))?;
    use ndarray_linalg::{Diag, SolveTriangular};
    let z = lower
        .solve_triangular(UPLO::Lower, Diag::NonUnit, &y_centred.to_owned())
        .map_err(|e| MetricError::linalg("ridge", e))?;
    lower
        .t()
        .to_owned()
        .solve_triangular(UPLO::Upper, Diag::NonUnit, &z)
        .map_err(|e| MetricError::linalg("ridge", e))
}

/// The penalty (one for all targets, or one per target) with the lowest cross-validation
/// error, and the dual coefficients it gives.
pub(crate) fn ridge_cv_dual_coefficients(
    k_centred: &Array2<f64>,
    y_centred: ArrayView2<f64>,
    alphas: &[f64],
    criterion: RidgeCvCriterion,
    per_target: bool,
) -> Result<(Array2<f64>, Vec<f64>)> {
    let m = k_centred.nrows();
    let q = y_centred.ncols();
    let (eigvals, v) = crate::linalg::symmetric_eigen(k_centred, "ridge-CV")?;
    let eigvals = eigvals.mapv(|l| l.max(0.0));
    let vty = v.t().dot(&y_centred);
    let v_sq = v.mapv(|x| x * x);
    // errors[a][j]: mean squared CV error of target j under alphas[a].
    let mut errors = Array2::<f64>::zeros((alphas.len(), q));
    for (a, &alpha) in alphas.iter().enumerate() {
        let shrink = eigvals.mapv(|l| l / (l + alpha));
        let fitted = v.dot(&(&vty * &shrink.view().insert_axis(Axis(1))));
        let leverage: Array1<f64> = v_sq.dot(&shrink) + 1.0 / m as f64;
        let leverage = match criterion {
            RidgeCvCriterion::LeaveOneOut => leverage,
            RidgeCvCriterion::Gcv => Array1::from_elem(m, leverage.mean().unwrap_or(0.0)),
        };
        for j in 0..q {
            let mut sse = 0.0;
            for i in 0..m {
                let r = (y_centred[[i, j]] - fitted[[i, j]]) / (1.0 - leverage[i]);
                sse += r * r;
            }
            errors[[a, j]] = sse / m as f64;
        }
    }
    let argmin = |col: &Array1<f64>| {
        col.iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0)
    };
    let chosen: Vec<f64> = if per_target {
        (0..q)
            .map(|j| alphas[argmin(&errors.column(j).to_owned())])
            .collect()
    } else {
        let best = argmin(&errors.mean_axis(Axis(1)).expect("non-empty grid"));
        vec![alphas[best]; q]
    };
    let mut dual = Array2::zeros((m, q));
    for (j, &alpha) in chosen.iter().enumerate() {
        let inv = eigvals.mapv(|l| 1.0 / (l + alpha));
        dual.column_mut(j).assign(&v.dot(&(&vty.column(j) * &inv)));
    }
    Ok((dual, chosen))
}
