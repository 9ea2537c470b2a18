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

/// The lower triangle (diagonal included; the upper triangle is 0) of (X − 1μᵀ)(X − 1μᵀ)ᵀ,
/// the Gram matrix of the column-centred `(stimuli, features)` matrix, in single precision and
/// up to a power-of-two scale: the values are centred in f64, scaled so that the largest
/// magnitude of X is about 1, rounded to f32 and multiplied in faer's f32 kernels (AVX-512
/// where the CPU has it: twice the rate of f64, and half the product for the triangle).
/// Centring first keeps the rounding relative to the data's spread rather than its mean. For
/// scale-invariant sums over the n² entries that tolerate a relative error of ~1e-7 per entry
/// (linear CKA). `None` when X has a value that is not finite.
pub fn centred_gram_lower_f32(x: ArrayView2<f64>) -> Option<Array2<f32>> {
    let (n, p) = x.dim();
    let centred = centred_f32(x)?;
    let mut lower = Array2::<f32>::zeros((n, n));
    if n == 0 || p == 0 {
        return Some(lower);
    }
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    let a = faer::MatRef::from_row_major_slice(centred.as_slice().expect("fresh array"), n, p);
    matmul(
        faer::MatMut::from_row_major_slice_mut(lower.as_slice_mut().expect("fresh array"), n, n),
        BlockStructure::TriangularLower,
        faer::Accum::Replace,
        a,
        BlockStructure::Rectangular,
        a.transpose(),
        BlockStructure::Rectangular,
        1.0f32,
        faer::get_global_parallelism(),
    );
    Some(lower)
}

/// X − 1μᵀ scaled by the power of two that brings X's largest magnitude into [0.5, 1), as
/// f32, in two passes over X split over the cores (column sums, largest magnitude and
/// finiteness; then the centred values); `None` when a value is not finite.
fn centred_f32(x: ArrayView2<f64>) -> Option<Array2<f32>> {
    use rayon::prelude::*;
    let (n, p) = x.dim();
    let x = x.as_standard_layout();
    let rows = x.as_slice().expect("standard layout");
    let block = 64 * p.max(1);
    // Blocks of 64 rows, combined in order: the sums do not depend on the thread count.
    let partial: Vec<(Vec<f64>, Vec<f64>)> = rows
        .par_chunks(block)
        .map(|chunk| {
            // Per column, so that both loops vectorise.
            let (mut sums, mut largest) = (vec![0.0; p], vec![0.0f64; p]);
            for row in chunk.chunks_exact(p) {
                for ((s, l), &v) in sums.iter_mut().zip(largest.iter_mut()).zip(row) {
                    *s += v;
                    *l = l.max(v.abs());
                }
            }
            (sums, largest)
        })
        .collect();
    let (sums, largest) = partial.into_iter().fold(
        (vec![0.0f64; p], vec![0.0f64; p]),
        |(mut a, mut la), (b, lb)| {
            a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
            la.iter_mut()
                .zip(&lb)
                .for_each(|(a, b)| *a = f64::max(*a, *b));
            (a, la)
        },
    );
    // A NaN or an infinity makes its column's sum non-finite (max skips NaN); so can finite
    // values near the top of the f64 range, which are scaled down first.
    if sums.iter().any(|s| !s.is_finite()) {
        if x.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let factor = crate::checks::power_of_two(-crate::checks::magnitude_exponent(x.iter()));
        return centred_f32(x.mapv(|v| v * factor).view());
    }
    let largest = largest.into_iter().fold(0.0, f64::max);
    let scale = crate::checks::power_of_two(-crate::checks::magnitude_exponent([largest].iter()));
    let means: Vec<f64> = sums.iter().map(|s| s / n.max(1) as f64).collect();
    let mut centred = Array2::<f32>::zeros((n, p));
    centred
        .as_slice_mut()
        .expect("fresh array")
        .par_chunks_mut(block)
        .zip(rows.par_chunks(block))
        .for_each(|(out, source)| {
            for (out, source) in out.chunks_exact_mut(p).zip(source.chunks_exact(p)) {
                for ((o, v), m) in out.iter_mut().zip(source).zip(&means) {
                    *o = ((v - m) * scale) as f32;
                }
            }
        });
    Some(centred)
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
