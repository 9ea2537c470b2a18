//! The products that faer computes faster than the OpenBLAS the project links (measured side
//! by side in `cargo bench -p evaluators --bench gemm`; see the README's performance section).
//! faer dispatches at run time to the CPU's widest SIMD kernels (AVX-512 here).
//!
//! - A wide matrix times a narrow one (a few columns per split), the inner loop of PLS in its
//!   feature form: faer does not pack the wide operand for a narrow product, which OpenBLAS
//!   does on every call, so X·W for X of 4750 × 4096 and W of 10 columns takes about half the
//!   time.
//! - The single-precision Gram triangle of linear CKA ([`crate::gram::shifted_gram_lower_f32`]):
//!   faer's triangular product in f32 beats OpenBLAS `ssyrk` and runs at twice the f64 rate.
//!
//! Everything else stays on BLAS and LAPACK (OpenBLAS `dsyrk` for the f64 Gram matrices of
//! RDMs and the kernel forms of PLS and ridge, which the golden tests hold to 1e-9).

use faer::{MatMut, MatRef};
use ndarray::{Array2, ArrayView2};

/// A · B.
pub(crate) fn matmul(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    debug_assert_eq!(a.ncols(), b.nrows(), "inner dimensions");
    let mut out = Array2::<f64>::zeros((a.nrows(), b.ncols()));
    let (m, n) = out.dim();
    let dst = MatMut::from_row_major_slice_mut(
        out.as_slice_mut().expect("a fresh array is contiguous"),
        m,
        n,
    );
    with_faer(a, |a| {
        with_faer(b, |b| {
            faer::linalg::matmul::matmul(
                dst,
                faer::Accum::Replace,
                a,
                b,
                1.0,
                faer::get_global_parallelism(),
            )
        })
    });
    out
}

/// The lower triangle of A Aᵀ (the upper triangle is 0) for a row-major n × p f32 matrix.
pub(crate) fn gram_lower_f32(a: &Array2<f32>, n: usize, p: usize) -> Array2<f32> {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    let mut lower = Array2::<f32>::zeros((n, n));
    if n == 0 || p == 0 {
        return lower;
    }
    let a = faer::MatRef::from_row_major_slice(a.as_slice().expect("fresh array"), n, p);
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
    lower
}

/// `x` as a faer matrix: in place when it is row- or column-major contiguous (a transposed
/// view is), else through a copy.
fn with_faer<R>(x: ArrayView2<f64>, f: impl FnOnce(MatRef<'_, f64>) -> R) -> R {
    let (rows, cols) = x.dim();
    if let Some(slice) = x.as_slice() {
        return f(MatRef::from_row_major_slice(slice, rows, cols));
    }
    if let Some(slice) = x.t().as_slice() {
        return f(MatRef::from_column_major_slice(slice, rows, cols));
    }
    let copy = x.as_standard_layout();
    let slice = copy.as_slice().expect("standard layout");
    f(MatRef::from_row_major_slice(slice, rows, cols))
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, s};

    #[test]
    fn products_equal_blas_for_every_layout() {
        let a = Array2::from_shape_fn((37, 53), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let b = Array2::from_shape_fn((53, 4), |(i, j)| ((i * 5 + j) % 13) as f64 / 3.0);
        let close = |x: &Array2<f64>, y: &Array2<f64>| {
            x.dim() == y.dim() && x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-10)
        };
        assert!(close(&super::matmul(a.view(), b.view()), &a.dot(&b)));
        let at = a.t().to_owned();
        assert!(close(&super::matmul(at.t(), b.view()), &a.dot(&b)));
        let strided = a.slice(s![..;2, ..]);
        assert!(close(&super::matmul(strided, b.view()), &strided.dot(&b)));
        let c = Array2::from_shape_fn((37, 3), |(i, j)| (i + j) as f64);
        assert!(close(&super::matmul(a.t(), c.view()), &a.t().dot(&c)));
    }
}
