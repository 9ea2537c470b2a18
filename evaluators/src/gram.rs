//! Gram matrices: the `(stimuli, stimuli)` inner-product matrices that RDMs, CKA and the
//! kernel forms of PLS and ridge are computed from.

use ndarray::{Array1, Array2, ArrayView2, Axis};

/// Subtracts each column's mean: the `(stimuli, features)` matrix centred over stimuli.
pub fn center_columns(x: ArrayView2<f64>) -> Array2<f64> {
    let means = x
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()));
    &x - &means.insert_axis(Axis(0))
}

/// X Xᵀ for a `(stimuli, features)` matrix, via BLAS `dsyrk` (half the work of a general
/// matrix product), symmetrised.
pub fn gram(x: ArrayView2<f64>) -> Array2<f64> {
    let (n, p) = x.dim();
    let x = x.as_standard_layout();
    let mut out = Array2::<f64>::zeros((n, n));
    if n == 0 || p == 0 {
        return out;
    }
    // SAFETY: `x` is a contiguous row-major n x p matrix with leading dimension p, and `out` a
    // contiguous n x n matrix with leading dimension n; dsyrk reads and writes within them.
    unsafe {
        cblas_sys::cblas_dsyrk(
            cblas_sys::CBLAS_LAYOUT::CblasRowMajor,
            cblas_sys::CBLAS_UPLO::CblasUpper,
            cblas_sys::CBLAS_TRANSPOSE::CblasNoTrans,
            n as i32,
            p as i32,
            1.0,
            x.as_ptr(),
            p as i32,
            0.0,
            out.as_mut_ptr(),
            n as i32,
        );
    }
    for i in 0..n {
        for j in 0..i {
            out[[i, j]] = out[[j, i]];
        }
    }
    out
}

/// H K H with H = I - 11ᵀ/n: the Gram matrix of the column-centred data.
pub fn double_center(k: &mut Array2<f64>) {
    let n = k.nrows() as f64;
    let row_means = k.mean_axis(Axis(1)).expect("non-empty");
    let grand_mean = row_means.sum() / n;
    subtract_outer_sum(k, &(row_means - grand_mean / 2.0));
}

/// Kornblith et al.'s unbiased centring: zero the diagonal, subtract the U-statistic means,
/// zero the diagonal again. The Frobenius inner product of two such matrices is
/// (n (n - 3)) × the unbiased HSIC estimator of Song et al. (2012).
pub fn center_gram_unbiased(k: &mut Array2<f64>) {
    let n = k.nrows() as f64;
    k.diag_mut().fill(0.0);
    let mut means = k.sum_axis(Axis(1)) / (n - 2.0);
    let correction = means.sum() / (2.0 * (n - 1.0));
    means -= correction;
    subtract_outer_sum(k, &means);
    k.diag_mut().fill(0.0);
}

/// k[i, j] -= v[i] + v[j] for a square, symmetric-layout matrix.
fn subtract_outer_sum(k: &mut Array2<f64>, v: &Array1<f64>) {
    let v = v.as_slice().expect("fresh array");
    for (mut row, vi) in k.rows_mut().into_iter().zip(v) {
        let row = row.as_slice_mut().expect("standard layout");
        for (x, vj) in row.iter_mut().zip(v) {
            *x -= vi + vj;
        }
    }
}

/// Sub-Gram for the given rows and columns (indices may repeat, as in bootstrap samples).
pub fn select(k: &Array2<f64>, rows: &[usize], cols: &[usize]) -> Array2<f64> {
    Array2::from_shape_fn((rows.len(), cols.len()), |(a, b)| k[[rows[a], cols[b]]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn syrk_gram_equals_matrix_product() {
        let x = array![
            [1.0, 2.0, 0.5],
            [3.0, -1.0, 2.0],
            [0.0, 4.0, 1.0],
            [2.0, 2.0, 2.0]
        ];
        let expected = x.dot(&x.t());
        let k = gram(x.view());
        assert!((&k - &expected).iter().all(|d| d.abs() < 1e-12));
    }

    #[test]
    fn double_centering_equals_gram_of_centred_data() {
        let x = array![[1.0, 2.0], [3.0, -1.0], [0.0, 4.0], [2.5, 2.0]];
        let mut k = gram(x.view());
        double_center(&mut k);
        let xc = center_columns(x.view());
        let expected = xc.dot(&xc.t());
        assert!((&k - &expected).iter().all(|d| d.abs() < 1e-12));
    }
}
