//! OpenBLAS's thread count, held at one where a result must not depend on it.
//!
//! OpenBLAS splits some level-2 routines (the symmetric matrix-vector product of LAPACK's
//! tridiagonal reduction, for one) over its threads and adds the threads' partial sums, so
//! their rounding, and everything downstream, depends on how many threads it ran. A training
//! run that must give the same weights alone on all cores and side by side with another on one
//! core each (the default run trains that way) holds such calls at one thread.

unsafe extern "C" {
    fn openblas_get_num_threads() -> std::ffi::c_int;
    fn openblas_set_num_threads(n: std::ffi::c_int);
}

/// Keeps OpenBLAS single-threaded while alive and restores its thread count on drop. The
/// setting is process-wide: hold it where no other thread needs BLAS on several threads.
pub struct SingleThreadedBlas {
    previous: std::ffi::c_int,
}

impl SingleThreadedBlas {
    /// OpenBLAS on one thread until the value is dropped.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        // SAFETY: plain getter and setter of OpenBLAS's global thread count.
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
