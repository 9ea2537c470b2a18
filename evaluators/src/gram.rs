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

/// The lower triangle (diagonal included; the upper triangle is 0) of (X − 1cᵀ)(X − 1cᵀ)ᵀ, the
/// Gram matrix of the `(stimuli, features)` matrix shifted by c, the mean of its first 64
/// stimuli, in single precision and up to a scale. The shifted values are formed
/// in f64, scaled to magnitudes near 1, rounded to f32 and multiplied in faer's f32 kernels
/// (AVX-512 where the CPU has it: twice the rate of f64, and half the product for the
/// triangle). The shift keeps the rounding relative to the data's spread rather than its
/// mean; it is any vector near the mean, so that one pass over X suffices. For sums that are
/// invariant to a shift and a scale of the features and tolerate a relative error of ~1e-7 per
/// entry (linear HSIC and CKA). `None` when X has a value that is not finite.
pub fn shifted_gram_lower_f32(x: ArrayView2<f64>) -> Option<Array2<f32>> {
    let (n, p) = x.dim();
    let x = x.as_standard_layout();
    let sample = n.min(64);
    let mut shift = vec![0.0f64; p];
    for row in x.rows().into_iter().take(sample) {
        shift
            .iter_mut()
            .zip(row)
            .for_each(|(c, v)| *c += v / sample as f64);
    }
    let mut sample_largest = vec![0.0f64; p];
    for row in x.rows().into_iter().take(sample) {
        for ((l, v), c) in sample_largest.iter_mut().zip(row).zip(&shift) {
            *l = l.max((v - c).abs());
        }
    }
    let sample_largest = sample_largest.into_iter().fold(0.0, f64::max);
    let scale =
        crate::checks::power_of_two(-crate::checks::magnitude_exponent([sample_largest].iter()));
    // The diagonal (the rows' squared norms) checks the scale the sample chose: a value that
    // is not finite or too large for f32 makes it infinite or NaN, values far from 1 put it
    // far from p (or at 0, after underflow).
    let lower = crate::gemm::gram_lower_f32(&shift_and_round(x.view(), &shift, scale), n, p);
    let largest = (0..n).map(|i| lower[[i, i]]).fold(0.0f32, f32::max);
    let all_finite = (0..n).all(|i| lower[[i, i]].is_finite());
    if all_finite && (1e-20..=1e20).contains(&(largest / p.max(1) as f32)) {
        return Some(lower);
    }
    if x.iter().any(|v| !v.is_finite()) {
        return None;
    }
    // The sample misjudged the scale: take it from every value's deviation, measured on X
    // brought below 1 first (powers of two, exact) so that no difference overflows.
    let k = crate::checks::magnitude_exponent(x.iter());
    let below_one = crate::checks::power_of_two(-k - 1);
    let deviation = x
        .rows()
        .into_iter()
        .flat_map(|row| {
            row.into_iter()
                .zip(&shift)
                .map(|(v, c)| (v * below_one - c * below_one).abs())
        })
        .fold(0.0f64, f64::max);
    if deviation == 0.0 {
        return Some(Array2::zeros((n, n))); // every stimulus the same: HSIC 0
    }
    let exact = below_one
        * crate::checks::power_of_two(-crate::checks::magnitude_exponent([deviation].iter()));
    Some(crate::gemm::gram_lower_f32(
        &shift_and_round(x.view(), &shift, exact),
        n,
        p,
    ))
}

/// (X · scale − 1 (shift · scale)ᵀ) as f32 (scaled before the difference, so that it cannot
/// overflow), in blocks of 64 rows over the cores.
fn shift_and_round(x: ArrayView2<f64>, shift: &[f64], scale: f64) -> Array2<f32> {
    use rayon::prelude::*;
    let (n, p) = x.dim();
    let mut shifted = Array2::<f32>::zeros((n, p));
    if n == 0 || p == 0 {
        return shifted;
    }
    let rows = x.as_slice().expect("standard layout");
    let shift: Vec<f64> = shift.iter().map(|c| c * scale).collect();
    shifted
        .as_slice_mut()
        .expect("fresh array")
        .par_chunks_mut(64 * p)
        .zip(rows.par_chunks(64 * p))
        .for_each(|(out, source)| round_rows_dispatched(out, source, &shift, scale));
    shifted
}

/// [`round_rows`] compiled for AVX2 when the CPU has it (the build targets baseline x86-64);
/// the same operations, so the same values.
fn round_rows_dispatched(out: &mut [f32], source: &[f64], shift: &[f64], scale: f64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { round_rows_avx2(out, source, shift, scale) };
    }
    round_rows(out, source, shift, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn round_rows_avx2(out: &mut [f32], source: &[f64], shift: &[f64], scale: f64) {
    round_rows(out, source, shift, scale)
}

/// out = (source · scale − shift) as f32, row by row (rows of `shift.len()` values).
#[inline(always)]
fn round_rows(out: &mut [f32], source: &[f64], shift: &[f64], scale: f64) {
    let p = shift.len();
    for (out, source) in out.chunks_exact_mut(p).zip(source.chunks_exact(p)) {
        for ((o, v), c) in out.iter_mut().zip(source).zip(shift) {
            *o = (v * scale - c) as f32;
        }
    }
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
