//! Direct LAPACK calls that ndarray-linalg does not offer.

use ndarray::{Array1, Array2};

use crate::error::{MetricError, Result};

/// Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix by LAPACK's
/// divide-and-conquer `dsyevd`, several times faster than the `dsyev` behind
/// ndarray-linalg's `eigh` when all eigenvectors are wanted.
pub(crate) fn symmetric_eigen(a: &Array2<f64>, what: &str) -> Result<(Array1<f64>, Array2<f64>)> {
    let n = a.nrows();
    debug_assert_eq!(n, a.ncols());
    // A symmetric row-major matrix is its own column-major transpose; on return the
    // column-major eigenvector columns are the rows of `vectors` in row-major order.
    let mut vectors = a.as_standard_layout().into_owned();
    let mut values = Array1::<f64>::zeros(n);
    let n_i32 =
        i32::try_from(n).map_err(|_| MetricError::linalg(what, "matrix too large for LAPACK"))?;
    let (jobz, uplo) = (b'V' as std::ffi::c_char, b'U' as std::ffi::c_char);
    let mut info = 0;
    let (mut work_size, mut iwork_size) = (0.0f64, 0i32);
    // SAFETY: all pointers refer to live buffers of the sizes LAPACK is told; the first call
    // only queries workspace sizes (lwork = liwork = -1).
    unsafe {
        lapack_sys::dsyevd_(
            &jobz,
            &uplo,
            &n_i32,
            vectors.as_mut_ptr(),
            &n_i32,
            values.as_mut_ptr(),
            &mut work_size,
            &-1,
            &mut iwork_size,
            &-1,
            &mut info,
        );
    }
    if info != 0 {
        return Err(MetricError::linalg(
            what,
            format!("dsyevd workspace query failed (info {info})"),
        ));
    }
    let lwork = work_size as i32;
    let mut work = vec![0.0f64; lwork.max(1) as usize];
    let mut iwork = vec![0i32; iwork_size.max(1) as usize];
    // SAFETY: as above, with workspaces of the queried sizes.
    unsafe {
        lapack_sys::dsyevd_(
            &jobz,
            &uplo,
            &n_i32,
            vectors.as_mut_ptr(),
            &n_i32,
            values.as_mut_ptr(),
            work.as_mut_ptr(),
            &lwork,
            iwork.as_mut_ptr(),
            &iwork_size,
            &mut info,
        );
    }
    if info != 0 {
        return Err(MetricError::linalg(
            what,
            format!("dsyevd did not converge (info {info})"),
        ));
    }
    Ok((
        values,
        vectors.reversed_axes().as_standard_layout().into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn eigen_decomposition_reconstructs_the_matrix() {
        let a = array![[4.0, 1.0, 0.5], [1.0, 3.0, -1.0], [0.5, -1.0, 2.0]];
        let (values, vectors) = symmetric_eigen(&a, "test").unwrap();
        assert!(values[0] <= values[1] && values[1] <= values[2]);
        let rebuilt = vectors.dot(&Array2::from_diag(&values)).dot(&vectors.t());
        assert!((&rebuilt - &a).iter().all(|d| d.abs() < 1e-12));
        let a_v0 = a.dot(&vectors.column(0));
        assert!(
            (&a_v0 - &(&vectors.column(0) * values[0]))
                .iter()
                .all(|d| d.abs() < 1e-12)
        );
    }
}

unsafe extern "C" {
    fn openblas_get_num_threads() -> std::ffi::c_int;
    fn openblas_set_num_threads(n: std::ffi::c_int);
}

/// Keeps OpenBLAS single-threaded while alive and restores its thread count on drop. For
/// work that runs its own threads over many small products (manifold capacity): OpenBLAS's
/// threads would otherwise spin against them.
pub(crate) struct SingleThreadedBlas {
    previous: std::ffi::c_int,
}

impl SingleThreadedBlas {
    pub(crate) fn new() -> Self {
        // SAFETY: plain getters/setters of OpenBLAS's global thread count.
        let previous = unsafe { openblas_get_num_threads() };
        unsafe { openblas_set_num_threads(1) };
        Self { previous }
    }
}

impl Drop for SingleThreadedBlas {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { openblas_set_num_threads(self.previous) };
    }
}
