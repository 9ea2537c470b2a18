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
//! When stimuli outnumber features the same algorithm runs on the features
//! ([`pls_on_splits_feature_form`]): Xkᵀ Yk replaces Kk Yk (t = Xk Xkᵀ Yk v), and the
//! coefficients are Xcᵀ U (Tᵀ Xc Xcᵀ U)⁻¹ Tᵀ Yc, so each component costs O(n p) instead of
//! O(n²).

use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use ndarray_linalg::{Eigh, Factorize, Solve, UPLO};

use crate::error::{MetricError, Result};
use crate::gemm;
use crate::splits::Split;

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

/// One split's PLS fit in the feature form: predictions for its test stimuli (test order ×
/// targets) and the number of components extracted.
pub(crate) struct SplitPls {
    pub(crate) predictions: Array2<f64>,
    pub(crate) components: usize,
}

/// PLS fitted on the train stimuli of every split and evaluated on its test stimuli, in the
/// feature form (for stimuli ≥ features), with each split centred on its own train means.
///
/// The splits run in lockstep so that every pass over X serves all of them: X is never
/// deflated or even copied. The scores are mutually orthogonal, so with P the projection off
/// the scores so far, Xk = P X0, Xkᵀ Yk = X0ᵀ Yk, and t = Xk w is X0 w with the earlier scores
/// projected out; X0ᵀ Yk follows from the deflation of Y, X0ᵀ Yk+1 = X0ᵀ Yk − (X0ᵀ t)(tᵀ Yk)/tᵀt.
/// A split's centred train block X0 = X[train] − 1 μᵀ is applied as X[train] w − (μ·w) and
/// X[train]ᵀ t (t sums to zero), so each component costs two multiplications of the whole X
/// by one column per split. The coefficients are X0ᵀ U (Tᵀ X0 X0ᵀ U)⁻¹ Tᵀ Y0.
pub(crate) fn pls_on_splits_feature_form(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    splits: &[Split],
    n_components: usize,
) -> Result<Vec<SplitPls>> {
    let (n, p, q) = (x.nrows(), x.ncols(), y.ncols());
    let n_splits = splits.len();
    let on_train = |values: ArrayView2<f64>, s: usize| {
        let mut full = Array2::zeros((n, values.ncols()));
        for (row, &i) in splits[s].train.iter().enumerate() {
            full.row_mut(i).assign(&values.row(row));
        }
        full
    };
    // Train means of X for every split in one pass.
    let mut indicators = Array2::zeros((n, n_splits));
    for (s, split) in splits.iter().enumerate() {
        for &i in &split.train {
            indicators[[i, s]] = 1.0 / split.train.len() as f64;
        }
    }
    let x_means = gemm::matmul(x.t(), indicators.view()); // p × splits
    let row_energy: Array1<f64> = x.map_axis(Axis(1), |row| row.dot(&row));
    let mut states: Vec<SplitState> = splits
        .iter()
        .enumerate()
        .map(|(s, split)| {
            let y_train = y.select(Axis(0), &split.train);
            let y_mean = y_train.mean_axis(Axis(0)).expect("train non-empty");
            let y_centred = &y_train - &y_mean.view().insert_axis(Axis(0));
            let x_mean = x_means.column(s).to_owned();
            let energy = split.train.iter().map(|&i| row_energy[i]).sum::<f64>()
                - split.train.len() as f64 * x_mean.dot(&x_mean);
            SplitState {
                x_mean,
                y_mean,
                yk: y_centred.clone(),
                y_centred,
                xy: Array2::zeros((p, q)),
                energy_left: energy,
                energy_total: energy,
                first_eig: None,
                t_cols: vec![],
                u_cols: vec![],
                xt_cols: vec![],
                done: false,
            }
        })
        .collect();
    // X0ᵀ Y0 for every split in one pass (Y0 sums to zero, so the X mean drops out).
    let mut y_blocks = Array2::zeros((n, n_splits * q));
    for (s, state) in states.iter().enumerate() {
        y_blocks
            .slice_mut(s![.., s * q..(s + 1) * q])
            .assign(&on_train(state.y_centred.view(), s));
    }
    let xy_all = gemm::matmul(x.t(), y_blocks.view());
    for (s, state) in states.iter_mut().enumerate() {
        state.xy.assign(&xy_all.slice(s![.., s * q..(s + 1) * q]));
    }

    for _ in 0..n_components {
        let mut w = Array2::zeros((p, n_splits));
        let mut pending_u = vec![None; n_splits];
        for (s, state) in states.iter_mut().enumerate() {
            if state.done {
                continue;
            }
            if state.energy_left <= 1e-12 * state.energy_total {
                state.done = true; // X has no variance left.
                continue;
            }
            let (eigvals, eigvecs) = state
                .xy
                .t()
                .dot(&state.xy)
                .eigh(UPLO::Upper)
                .map_err(|e| MetricError::linalg("PLS", e))?;
            let top = eigvals.len() - 1; // ascending order
            let first = *state.first_eig.get_or_insert(eigvals[top]);
            if eigvals[top] <= 1e-24 * first || eigvals[top] <= 0.0 {
                state.done = true; // Y residual is constant.
                continue;
            }
            let v = eigvecs.column(top);
            w.column_mut(s).assign(&state.xy.dot(&v));
            pending_u[s] = Some(state.yk.dot(&v));
        }
        if pending_u.iter().all(Option::is_none) {
            break;
        }
        let xw = gemm::matmul(x, w.view());
        let mut t_full = Array2::zeros((n, n_splits));
        let mut scores = vec![None; n_splits];
        for (s, state) in states.iter().enumerate() {
            if pending_u[s].is_none() {
                continue;
            }
            let offset = state.x_mean.dot(&w.column(s));
            let mut t: Array1<f64> = splits[s]
                .train
                .iter()
                .map(|&i| xw[[i, s]] - offset)
                .collect();
            // Project out the earlier scores (twice, for orthogonality in floating point).
            for _ in 0..2 {
                for previous in &state.t_cols {
                    let coefficient = previous.dot(&t) / previous.dot(previous);
                    t.scaled_add(-coefficient, previous);
                }
            }
            for (row, &i) in splits[s].train.iter().enumerate() {
                t_full[[i, s]] = t[row];
            }
            scores[s] = Some(t);
        }
        let xt_all = gemm::matmul(x.t(), t_full.view());
        for (s, state) in states.iter_mut().enumerate() {
            let (Some(t), Some(u)) = (scores[s].take(), pending_u[s].take()) else {
                continue;
            };
            let xt = &xt_all.column(s) - &(&state.x_mean * t.sum());
            let tt = t.dot(&t);
            state.energy_left -= xt.dot(&xt) / tt;
            let ty = (t.dot(&state.yk) / tt).insert_axis(Axis(0));
            state.yk -= &t.view().insert_axis(Axis(1)).dot(&ty);
            state.xy -= &xt.view().insert_axis(Axis(1)).dot(&ty);
            state.t_cols.push(t);
            state.u_cols.push(u);
            state.xt_cols.push(xt);
        }
    }

    if states.iter().any(|s| s.t_cols.is_empty()) {
        return Err(MetricError::ZeroVariance {
            what: "the training data".into(),
            consequence: "PLS finds no component".into(),
        });
    }
    // X0ᵀ U for every split in one pass.
    let widths: Vec<usize> = states.iter().map(|s| s.u_cols.len()).collect();
    let starts: Vec<usize> = widths
        .iter()
        .scan(0, |acc, w| {
            *acc += w;
            Some(*acc - w)
        })
        .collect();
    let mut u_blocks = Array2::zeros((n, widths.iter().sum()));
    for (s, state) in states.iter().enumerate() {
        let u = stack_columns(&state.u_cols);
        u_blocks
            .slice_mut(s![.., starts[s]..starts[s] + widths[s]])
            .assign(&on_train(u.view(), s));
    }
    let xu_all = gemm::matmul(x.t(), u_blocks.view());
    let mut coefficients = Array2::zeros((p, n_splits * q));
    let mut offsets = Vec::with_capacity(n_splits);
    for (s, state) in states.iter().enumerate() {
        let u = stack_columns(&state.u_cols);
        let xu = &xu_all.slice(s![.., starts[s]..starts[s] + widths[s]])
            - &state
                .x_mean
                .view()
                .insert_axis(Axis(1))
                .dot(&u.sum_axis(Axis(0)).insert_axis(Axis(0)));
        let t = stack_columns(&state.t_cols);
        let tku = stack_columns(&state.xt_cols).t().dot(&xu);
        let rhs = t.t().dot(&state.y_centred);
        let lu = tku.factorize().map_err(|e| MetricError::linalg("PLS", e))?;
        let mut solved = Array2::zeros((widths[s], q));
        for (j, col) in rhs.axis_iter(Axis(1)).enumerate() {
            let x = lu
                .solve(&col.to_owned())
                .map_err(|e| MetricError::linalg("PLS", e))?;
            solved.column_mut(j).assign(&x);
        }
        let b = xu.dot(&solved);
        offsets.push(&state.y_mean - &state.x_mean.dot(&b));
        coefficients
            .slice_mut(s![.., s * q..(s + 1) * q])
            .assign(&b);
    }
    // Predictions for every split in one pass: X[test] B + (ȳ − μᵀ B).
    let predicted_all = gemm::matmul(x, coefficients.view());
    Ok(splits
        .iter()
        .enumerate()
        .map(|(s, split)| {
            let block = predicted_all.slice(s![.., s * q..(s + 1) * q]);
            let predictions =
                block.select(Axis(0), &split.test) + offsets[s].view().insert_axis(Axis(0));
            SplitPls {
                predictions,
                components: widths[s],
            }
        })
        .collect())
}

/// A split's progress through [`pls_on_splits_feature_form`].
struct SplitState {
    x_mean: Array1<f64>,
    y_mean: Array1<f64>,
    y_centred: Array2<f64>,
    /// Y deflated by the scores so far.
    yk: Array2<f64>,
    /// X0ᵀ Yk.
    xy: Array2<f64>,
    energy_left: f64,
    energy_total: f64,
    first_eig: Option<f64>,
    t_cols: Vec<Array1<f64>>,
    u_cols: Vec<Array1<f64>>,
    /// X0ᵀ t per score.
    xt_cols: Vec<Array1<f64>>,
    done: bool,
}

fn stack_columns(cols: &[Array1<f64>]) -> Array2<f64> {
    let views: Vec<_> = cols.iter().map(|c| c.view().insert_axis(Axis(1))).collect();
    ndarray::concatenate(Axis(1), &views).expect("equal lengths")
}
