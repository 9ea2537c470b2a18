//! Partial least squares regression (PLS2, NIPALS mode A, regression deflation), identical in
//! its predictions to scikit-learn's `PLSRegression(n_components, scale=False)` run to
//! convergence.
//!
//! Computed in kernel form (Rännar et al. 1994; Rosipal & Trejo 2001) from the train Gram
//! matrix K = Xc Xcᵀ, which is the cheap side when features outnumber stimuli. At component k,
//! NIPALS converges to the dominant singular vectors of Xkᵀ Yk; its right vector v is the top
//! eigenvector of Ykᵀ Kk Yk, the x-weights are Xkᵀ u / |·| with u = Yk v, and the x-scores are
//! t = Kk u. Deflating X by t is Kk ← G Kk G and Yk ← G Yk with G = I - t tᵀ / tᵀt. The
//! regression coefficients W (PᵀW)⁻¹ Qᵀ equal Xcᵀ U (Tᵀ K U)⁻¹ Tᵀ Yc, so predictions for new
//! stimuli are K_new,train · A with the dual coefficients A = U (Tᵀ K U)⁻¹ Tᵀ Yc.
//!
//! When stimuli outnumber features the same algorithm runs on Xk itself ([`pls_coefficients`]):
//! Xkᵀ Yk replaces Kk Yk (t = Xk Xkᵀ Yk v), X is deflated as Xk ← Xk − t tᵀ Xk / tᵀt, and
//! the coefficients are Xcᵀ U (Tᵀ Xc Xcᵀ U)⁻¹ Tᵀ Yc, so each component costs O(n p) instead
//! of O(n²).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use ndarray_linalg::{Eigh, Factorize, Solve, UPLO};

use crate::error::{MetricError, Result};

/// Dual coefficients A (train stimuli × targets) of PLS fitted on the column-centred train
/// Gram `k_centred` and centred targets `y_centred`, and the number of components extracted
/// (fewer than asked when X or Y is exhausted).
pub(crate) fn pls_dual_coefficients(
    k_centred: &Array2<f64>,
    y_centred: ArrayView2<f64>,
    n_components: usize,
) -> Result<(Array2<f64>, usize)> {
    let m = k_centred.nrows();
    let mut kk = k_centred.clone();
    let mut yk = y_centred.to_owned();
    let trace0 = k_centred.diag().sum();
    let (mut t_cols, mut u_cols): (Vec<Array1<f64>>, Vec<Array1<f64>>) = (vec![], vec![]);
    let mut first_eig = None;
    for _ in 0..n_components {
        if kk.diag().sum() <= 1e-12 * trace0 {
            break; // X has no variance left.
        }
        let ky = kk.dot(&yk);
        let s = yk.t().dot(&ky);
        let (eigvals, eigvecs) = s
            .eigh(UPLO::Upper)
            .map_err(|e| MetricError::linalg("PLS", e))?;
        let top = eigvals.len() - 1; // ascending order
        let first = *first_eig.get_or_insert(eigvals[top]);
        if eigvals[top] <= 1e-24 * first || eigvals[top] <= 0.0 {
            break; // Y residual is constant.
        }
        let v = eigvecs.column(top);
        let u = yk.dot(&v);
        let t = ky.dot(&v);
        let tt = t.dot(&t);
        let kt = kk.dot(&t);
        let tkt = t.dot(&kt);
        for i in 0..m {
            for j in 0..m {
                kk[[i, j]] += (t[i] * t[j] * tkt / tt - t[i] * kt[j] - kt[i] * t[j]) / tt;
            }
        }
        let ty = t.dot(&yk) / tt;
        yk -= &(t.view().insert_axis(Axis(1)).dot(&ty.insert_axis(Axis(0))));
        t_cols.push(t);
        u_cols.push(u);
    }
    let c = t_cols.len();
    if c == 0 {
        return Err(MetricError::ZeroVariance {
            what: "the training data".into(),
            consequence: "PLS finds no component".into(),
        });
    }
    let t = stack_columns(&t_cols);
    let u = stack_columns(&u_cols);
    let tku = t.t().dot(&k_centred.dot(&u));
    let rhs = t.t().dot(&y_centred);
    let mut solved = Array2::zeros((c, rhs.ncols()));
    let lu = tku.factorize().map_err(|e| MetricError::linalg("PLS", e))?;
    for (j, col) in rhs.axis_iter(Axis(1)).enumerate() {
        let x = lu
            .solve(&col.to_owned())
            .map_err(|e| MetricError::linalg("PLS", e))?;
        solved.column_mut(j).assign(&x);
    }
    Ok((u.dot(&solved), c))
}

/// Regression coefficients B (features × targets) of the same PLS fitted on column-centred
/// train features `x_centred` (the feature form, for stimuli ≥ features), and the number of
/// components extracted. Predictions are (X_new − train mean) · B + train mean of Y.
pub(crate) fn pls_coefficients(
    x_centred: ArrayView2<f64>,
    y_centred: ArrayView2<f64>,
    n_components: usize,
) -> Result<(Array2<f64>, usize)> {
    let mut xk = x_centred.to_owned();
    let mut yk = y_centred.to_owned();
    let total0 = xk.iter().map(|v| v * v).sum::<f64>();
    let (mut t_cols, mut u_cols): (Vec<Array1<f64>>, Vec<Array1<f64>>) = (vec![], vec![]);
    let mut first_eig = None;
    for _ in 0..n_components {
        if xk.iter().map(|v| v * v).sum::<f64>() <= 1e-12 * total0 {
            break; // X has no variance left.
        }
        let xy = xk.t().dot(&yk);
        let s = xy.t().dot(&xy);
        let (eigvals, eigvecs) = s
            .eigh(UPLO::Upper)
            .map_err(|e| MetricError::linalg("PLS", e))?;
        let top = eigvals.len() - 1; // ascending order
        let first = *first_eig.get_or_insert(eigvals[top]);
        if eigvals[top] <= 1e-24 * first || eigvals[top] <= 0.0 {
            break; // Y residual is constant.
        }
        let v = eigvecs.column(top);
        let u = yk.dot(&v);
        let t = xk.dot(&xy.dot(&v));
        let tt = t.dot(&t);
        let t_col = t.view().insert_axis(Axis(1));
        let loadings = t.dot(&xk) / tt;
        // Rank-1 deflation in place (one BLAS call, no temporary).
        general_mat_mul(-1.0, &t_col, &loadings.insert_axis(Axis(0)), 1.0, &mut xk);
        let ty = t.dot(&yk) / tt;
        yk -= &t_col.dot(&ty.insert_axis(Axis(0)));
        t_cols.push(t);
        u_cols.push(u);
    }
    let c = t_cols.len();
    if c == 0 {
        return Err(MetricError::ZeroVariance {
            what: "the training data".into(),
            consequence: "PLS finds no component".into(),
        });
    }
    let t = stack_columns(&t_cols);
    let u = stack_columns(&u_cols);
    let xu = x_centred.t().dot(&u);
    let tku = t.t().dot(&x_centred).dot(&xu);
    let rhs = t.t().dot(&y_centred);
    let mut solved = Array2::zeros((c, rhs.ncols()));
    let lu = tku.factorize().map_err(|e| MetricError::linalg("PLS", e))?;
    for (j, col) in rhs.axis_iter(Axis(1)).enumerate() {
        let x = lu
            .solve(&col.to_owned())
            .map_err(|e| MetricError::linalg("PLS", e))?;
        solved.column_mut(j).assign(&x);
    }
    Ok((xu.dot(&solved), c))
}

fn stack_columns(cols: &[Array1<f64>]) -> Array2<f64> {
    let views: Vec<_> = cols.iter().map(|c| c.view().insert_axis(Axis(1))).collect();
    ndarray::concatenate(Axis(1), &views).expect("equal lengths")
}
