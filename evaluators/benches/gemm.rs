//! The GEMM candidates for the metrics' hot products, side by side on this machine (the
//! choice in `evaluators/src/gemm.rs` and `gram.rs`, and the README's performance section):
//!
//! - the Gram matrix X Xᵀ of 2000 stimuli × 4096 features (CKA, RDMs): OpenBLAS `dsyrk` and
//!   `ssyrk`, faer's triangular product in f64 and f32;
//! - the narrow product X W of 4750 × 4096 by 10 columns (PLS in its feature form): OpenBLAS
//!   `dgemm` and faer;
//! - the f32 products of training the CIFAR-10 convnet's second convolution on a batch of 128
//!   (im2col columns 32768 × 288, 64 filters): forward (columns × Wᵀ) and the weight gradient
//!   (δᵀ × columns), OpenBLAS `sgemm` (what `model-zoo` uses) and faer.

use cblas_sys::{CBLAS_LAYOUT, CBLAS_TRANSPOSE, CBLAS_UPLO};
use criterion::{Criterion, criterion_group, criterion_main};
use faer::linalg::matmul::triangular::{BlockStructure, matmul as triangular};
use faer::{Accum, MatMut, MatRef};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

// The crate links OpenBLAS for the cblas symbols.
use evaluators as _;

fn random(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, cols), |_| rng.random::<f64>() - 0.5)
}

/// X Xᵀ (upper triangle) by BLAS `?syrk`, for f64 (`dsyrk`) or f32 (`ssyrk`).
macro_rules! syrk {
    ($f:ident, $t:ty, $x:expr) => {{
        let x = $x;
        let (n, p) = x.dim();
        let mut out = Array2::<$t>::zeros((n, n));
        // SAFETY: x is a contiguous row-major n × p matrix and out a contiguous n × n one.
        unsafe {
            cblas_sys::$f(
                CBLAS_LAYOUT::CblasRowMajor,
                CBLAS_UPLO::CblasUpper,
                CBLAS_TRANSPOSE::CblasNoTrans,
                n as i32,
                p as i32,
                1.0,
                x.as_ptr(),
                p as i32,
                0.0,
                out.as_mut_ptr(),
                n as i32,
            )
        };
        out
    }};
}

/// X Xᵀ (lower triangle) by faer.
macro_rules! faer_gram {
    ($t:ty, $x:expr) => {{
        let x = $x;
        let (n, p) = x.dim();
        let mut out = Array2::<$t>::zeros((n, n));
        let a = MatRef::from_row_major_slice(x.as_slice().unwrap(), n, p);
        triangular(
            MatMut::from_row_major_slice_mut(out.as_slice_mut().unwrap(), n, n),
            BlockStructure::TriangularLower,
            Accum::Replace,
            a,
            BlockStructure::Rectangular,
            a.transpose(),
            BlockStructure::Rectangular,
            1.0,
            faer::get_global_parallelism(),
        );
        out
    }};
}

fn benches(c: &mut Criterion) {
    let x = random(2000, 4096, 1);
    let x32 = x.mapv(|v| v as f32);
    let mut group = c.benchmark_group("gemm");
    group.sample_size(10);
    group.bench_function("gram_2000x4096_openblas_dsyrk_f64", |b| {
        b.iter(|| syrk!(cblas_dsyrk, f64, &x))
    });
    group.bench_function("gram_2000x4096_faer_f64", |b| {
        b.iter(|| faer_gram!(f64, &x))
    });
    group.bench_function("gram_2000x4096_openblas_ssyrk_f32", |b| {
        b.iter(|| syrk!(cblas_ssyrk, f32, &x32))
    });
    group.bench_function("gram_2000x4096_faer_f32", |b| {
        b.iter(|| faer_gram!(f32, &x32))
    });

    let wide = random(4750, 4096, 2);
    let narrow = random(4096, 10, 3);
    group.bench_function("narrow_4750x4096_by_10_openblas_dgemm", |b| {
        b.iter(|| wide.dot(&narrow))
    });
    group.bench_function("narrow_4750x4096_by_10_faer", |b| {
        b.iter(|| {
            let mut out = Array2::<f64>::zeros((4750, 10));
            faer::linalg::matmul::matmul(
                MatMut::from_row_major_slice_mut(out.as_slice_mut().unwrap(), 4750, 10),
                Accum::Replace,
                MatRef::from_row_major_slice(wide.as_slice().unwrap(), 4750, 4096),
                MatRef::from_row_major_slice(narrow.as_slice().unwrap(), 4096, 10),
                1.0,
                faer::get_global_parallelism(),
            );
            out
        })
    });
    // The CIFAR-10 convnet's conv2 on a batch of 128: 16 × 16 positions per image, 3 × 3 × 32
    // inputs per position, 64 filters.
    let columns = random(128 * 16 * 16, 288, 4).mapv(|v| v as f32);
    let filters = random(64, 288, 5).mapv(|v| v as f32);
    let delta = random(128 * 16 * 16, 64, 6).mapv(|v| v as f32);
    let faer_f32 = |a: MatRef<f32>, b: MatRef<f32>| {
        let mut out = Array2::<f32>::zeros((a.nrows(), b.ncols()));
        let (m, n) = out.dim();
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(out.as_slice_mut().unwrap(), m, n),
            Accum::Replace,
            a,
            b,
            1.0f32,
            faer::get_global_parallelism(),
        );
        out
    };
    group.bench_function("conv2_forward_32768x288_by_288x64_openblas_sgemm", |b| {
        b.iter(|| columns.dot(&filters.t()))
    });
    group.bench_function("conv2_forward_32768x288_by_288x64_faer_f32", |b| {
        b.iter(|| faer_f32(as_faer(&columns), as_faer(&filters).transpose()))
    });
    group.bench_function(
        "conv2_weight_gradient_64x32768_by_32768x288_openblas_sgemm",
        |b| b.iter(|| delta.t().dot(&columns)),
    );
    group.bench_function(
        "conv2_weight_gradient_64x32768_by_32768x288_faer_f32",
        |b| b.iter(|| faer_f32(as_faer(&delta).transpose(), as_faer(&columns))),
    );
    group.finish();
}

/// `x` as a faer matrix view.
fn as_faer(x: &Array2<f32>) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice(x.as_slice().unwrap(), x.nrows(), x.ncols())
}

criterion_group!(gemm, benches);
criterion_main!(gemm);
