//! Centered kernel alignment (Kornblith, Norouzi, Lee & Hinton 2019), biased and debiased.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::checks;
use crate::error::{MetricError, Result};
use crate::gram;

/// The kernel whose Gram matrices CKA aligns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CkaKernel {
    /// k(a, b) = a·b.
    Linear,
    /// k(a, b) = exp(-|a - b|² / (2 σ²)) with σ² = threshold² × median squared distance
    /// (Kornblith et al. 2019; the median over all n² pairs, diagonal included).
    Rbf {
        /// Bandwidth as a fraction of the median distance.
        threshold: f64,
    },
}

/// CKA options. The default is debiased linear CKA.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CkaOptions {
    /// Kernel.
    pub kernel: CkaKernel,
    /// Use the unbiased (U-statistic) HSIC estimator of Song et al. (2012), as Kornblith et al.
    /// recommend when features outnumber stimuli.
    pub debiased: bool,
}

impl Default for CkaOptions {
    fn default() -> Self {
        Self {
            kernel: CkaKernel::Linear,
            debiased: true,
        }
    }
}

/// CKA between two `(stimuli, features)` representations of the same stimuli.
///
/// Linear CKA multiplies in single precision (see [`linear_cka`]); the RBF kernel and the
/// bootstrap ([`crate::bootstrap_cka`]) work on double-precision Gram matrices.
pub fn cka(x: ArrayView2<f64>, y: ArrayView2<f64>, options: CkaOptions) -> Result<f64> {
    if options.kernel == CkaKernel::Linear {
        return linear_cka(x, y, options.debiased);
    }
    let kx = kernel_gram(x, options.kernel, "x")?;
    let ky = kernel_gram(y, options.kernel, "y")?;
    checks::ensure_same_stimuli(kx.nrows(), ky.nrows())?;
    cka_from_grams(kx, ky, options.debiased)
}

/// Linear CKA from the lower triangles of the two representations' Gram matrices in one pass.
///
/// Each representation is shifted to near its mean in f64 (both HSIC estimators are invariant
/// to a shift of the features) and its Gram matrix multiplied in f32
/// ([`gram::shifted_gram_lower_f32`]): the n²p product that dominates CKA runs at twice the
/// f64 rate. Everything after it is
/// accumulated in f64 from the sums of Song et al. (2012, eq. 5): with K̃ the Gram matrix with
/// its diagonal zeroed, the unbiased HSIC is, up to the factor 1 / (n (n − 3)) that CKA cancels,
/// tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n − 1)(n − 2)) − 2 (K̃1)·(L̃1) / (n − 2); the biased one is
/// tr(KL) − 2 (K1)·(L1) / n + 1ᵀK1 · 1ᵀL1 / n². On random 2000 × 4096 vs 2000 × 200 data the
/// result differs from the all-f64 computation by 2e-10, on the golden references by ≤ 5e-9.
fn linear_cka(x: ArrayView2<f64>, y: ArrayView2<f64>, debiased: bool) -> Result<f64> {
    for (z, what) in [(x, "x"), (y, "y")] {
        checks::ensure_min_stimuli(z.nrows(), 4, what)?;
        checks::ensure_has_features(z.ncols(), what)?;
    }
    checks::ensure_same_stimuli(x.nrows(), y.nrows())?;
    // Both Gram matrices at once: y's small product fills the cores while x's pass over
    // memory would leave them waiting.
    let gram_of = |z: ArrayView2<f64>, what: &str| {
        gram::shifted_gram_lower_f32(z).ok_or_else(|| {
            checks::ensure_finite_2d(z, what)
                .err()
                .unwrap_or_else(|| MetricError::NotFinite {
                    what: what.to_string(),
                })
        })
    };
    let (kx, ky) = rayon::join(|| gram_of(x, "x"), || gram_of(y, "y"));
    let (kx, ky) = (&kx?, &ky?);
    let sums = TriangleSums::of(kx, ky, !debiased);
    let n = kx.nrows() as f64;
    let hsic = |cross: f64, total_a: f64, total_b: f64, rows: f64| {
        if debiased {
            cross + total_a * total_b / ((n - 1.0) * (n - 2.0)) - 2.0 * rows / (n - 2.0)
        } else {
            cross - 2.0 * rows / n + total_a * total_b / (n * n)
        }
    };
    let (tx, ty) = (sums.row_x.iter().sum(), sums.row_y.iter().sum());
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
    let hsic_xy = hsic(sums.xy, tx, ty, dot(&sums.row_x, &sums.row_y));
    let hsic_xx = hsic(sums.xx, tx, tx, dot(&sums.row_x, &sums.row_x));
    let hsic_yy = hsic(sums.yy, ty, ty, dot(&sums.row_y, &sums.row_y));
    // Below this share of the centred Gram matrix's squared norm, what is left is rounding
    // error: the stimuli are represented identically (a constant representation).
    let floor = (n * f64::from(f32::EPSILON)).powi(2);
    for (h, norm, what) in [(hsic_xx, sums.xx_full, "x"), (hsic_yy, sums.yy_full, "y")] {
        if h.partial_cmp(&(floor * norm)) != Some(std::cmp::Ordering::Greater) {
            return Err(MetricError::ZeroVariance {
                what: what.into(),
                consequence: "its CKA is undefined (all stimuli are represented identically)"
                    .into(),
            });
        }
    }
    checks::ensure_finite_value(hsic_xy / (hsic_xx * hsic_yy).sqrt(), "CKA")
}

/// The sums linear CKA needs from two symmetric Gram matrices K and L, read from their lower
/// triangles and accumulated in f64: Σ K∘L, Σ K∘K, Σ L∘L over the off-diagonal entries (all
/// entries when `with_diagonal`, the biased estimator's K rather than K̃), the row sums of
/// each, and the full squared norms.
struct TriangleSums {
    xy: f64,
    xx: f64,
    yy: f64,
    xx_full: f64,
    yy_full: f64,
    row_x: Vec<f64>,
    row_y: Vec<f64>,
}

impl TriangleSums {
    fn of(k: &Array2<f32>, l: &Array2<f32>, with_diagonal: bool) -> Self {
        use rayon::prelude::*;
        let n = k.nrows();
        let empty = || Self {
            xy: 0.0,
            xx: 0.0,
            yy: 0.0,
            xx_full: 0.0,
            yy_full: 0.0,
            row_x: vec![0.0; n],
            row_y: vec![0.0; n],
        };
        // A fixed number of row sets (rows interleaved, which balances the triangle), summed
        // in order: the result does not depend on the thread count or on scheduling.
        const BLOCKS: usize = 16;
        let partial: Vec<Self> = (0..BLOCKS)
            .into_par_iter()
            .map(|block| {
                let mut sums = empty();
                for i in (block..n).step_by(BLOCKS) {
                    sums.add_row_dispatched(k, l, i, with_diagonal);
                }
                sums
            })
            .collect();
        partial.into_iter().fold(empty(), |mut a, b| {
            a.xy += b.xy;
            a.xx += b.xx;
            a.yy += b.yy;
            a.xx_full += b.xx_full;
            a.yy_full += b.yy_full;
            a.row_x.iter_mut().zip(&b.row_x).for_each(|(a, b)| *a += b);
            a.row_y.iter_mut().zip(&b.row_y).for_each(|(a, b)| *a += b);
            a
        })
    }

    /// [`Self::add_row`] compiled for AVX2 when the CPU has it (the build targets baseline
    /// x86-64, whose SSE2 converts and adds two values at a time); the same operations in the
    /// same order, so the same result.
    fn add_row_dispatched(&mut self, k: &Array2<f32>, l: &Array2<f32>, i: usize, diagonal: bool) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.add_row_avx2(k, l, i, diagonal) };
        }
        self.add_row(k, l, i, diagonal)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add_row_avx2(&mut self, k: &Array2<f32>, l: &Array2<f32>, i: usize, diagonal: bool) {
        self.add_row(k, l, i, diagonal)
    }

    /// Adds row i's entries left of the diagonal (twice, for their mirror images) and its
    /// diagonal entry.
    #[inline(always)]
    fn add_row(&mut self, k: &Array2<f32>, l: &Array2<f32>, i: usize, with_diagonal: bool) {
        const LANES: usize = 8;
        let krow = &k.row(i).to_slice().expect("standard layout")[..i];
        let lrow = &l.row(i).to_slice().expect("standard layout")[..i];
        // Eight independent partial sums per quantity, so that the loop vectorises.
        let (mut xy, mut xx, mut yy, mut rx, mut ry) = (
            [0.0f64; LANES],
            [0.0; LANES],
            [0.0; LANES],
            [0.0; LANES],
            [0.0; LANES],
        );
        let (row_x, row_y) = (&mut self.row_x[..i], &mut self.row_y[..i]);
        let chunks = krow.chunks_exact(LANES).zip(lrow.chunks_exact(LANES)).zip(
            row_x
                .chunks_exact_mut(LANES)
                .zip(row_y.chunks_exact_mut(LANES)),
        );
        for ((kc, lc), (cx, cy)) in chunks {
            for lane in 0..LANES {
                let (a, b) = (f64::from(kc[lane]), f64::from(lc[lane]));
                xy[lane] += a * b;
                xx[lane] += a * a;
                yy[lane] += b * b;
                rx[lane] += a;
                ry[lane] += b;
                cx[lane] += a;
                cy[lane] += b;
            }
        }
        let done = i - i % LANES;
        let (mut xy, mut xx, mut yy, mut rx, mut ry) = (
            xy.iter().sum::<f64>(),
            xx.iter().sum::<f64>(),
            yy.iter().sum::<f64>(),
            rx.iter().sum::<f64>(),
            ry.iter().sum::<f64>(),
        );
        for j in done..i {
            let (a, b) = (f64::from(krow[j]), f64::from(lrow[j]));
            xy += a * b;
            xx += a * a;
            yy += b * b;
            rx += a;
            ry += b;
            self.row_x[j] += a;
            self.row_y[j] += b;
        }
        self.row_x[i] += rx;
        self.row_y[i] += ry;
        self.xy += 2.0 * xy;
        self.xx += 2.0 * xx;
        self.yy += 2.0 * yy;
        let (a, b) = (f64::from(k[[i, i]]), f64::from(l[[i, i]]));
        self.xx_full += 2.0 * xx + a * a;
        self.yy_full += 2.0 * yy + b * b;
        if with_diagonal {
            self.xy += a * b;
            self.xx += a * a;
            self.yy += b * b;
            self.row_x[i] += a;
            self.row_y[i] += b;
        }
    }
}

/// Validates a representation and returns its (uncentred) Gram matrix under `kernel`.
pub(crate) fn kernel_gram(
    x: ArrayView2<f64>,
    kernel: CkaKernel,
    what: &str,
) -> Result<Array2<f64>> {
    let base = kernel_base(x, kernel, what)?;
    match kernel {
        CkaKernel::Linear => Ok(base),
        CkaKernel::Rbf { threshold } => rbf_from_squared_distances(base, threshold, what),
    }
}

/// Validates a representation and returns what its kernel is built from: the Gram matrix for
/// the linear kernel, the squared distances for RBF (whose bandwidth depends on the stimuli
/// present, so a bootstrap rebuilds it per resample).
pub(crate) fn kernel_base(
    x: ArrayView2<f64>,
    kernel: CkaKernel,
    what: &str,
) -> Result<Array2<f64>> {
    let (n, p) = x.dim();
    checks::ensure_min_stimuli(n, 4, what)?;
    checks::ensure_has_features(p, what)?;
    checks::ensure_finite_2d(x, what)?;
    // Both HSIC estimators are invariant to a shift of the features, so no centring pass;
    // CKA is invariant to the scale of x, so x too large or too small for its Gram matrix
    // to stay in range is scaled by a power of two first.
    let gram = gram::gram(checks::unit_scaled(x).0.view());
    match kernel {
        CkaKernel::Linear => Ok(gram),
        CkaKernel::Rbf { threshold } => {
            if threshold.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return Err(MetricError::InvalidOption(format!(
                    "RBF threshold must be > 0, got {threshold}"
                )));
            }
            Ok(squared_distances(&gram))
        }
    }
}

pub(crate) fn squared_distances(k: &Array2<f64>) -> Array2<f64> {
    let n = k.nrows();
    Array2::from_shape_fn((n, n), |(i, j)| {
        (k[[i, i]] + k[[j, j]] - 2.0 * k[[i, j]]).max(0.0)
    })
}

/// RBF Gram matrix from squared distances, bandwidth from their median.
pub(crate) fn rbf_from_squared_distances(
    mut d: Array2<f64>,
    threshold: f64,
    what: &str,
) -> Result<Array2<f64>> {
    let median = crate::stats::median(d.as_slice().expect("standard layout")).unwrap_or(0.0);
    if median <= 0.0 {
        return Err(MetricError::ZeroVariance {
            what: format!("{what} (median pairwise distance is 0)"),
            consequence: "the RBF bandwidth is undefined".into(),
        });
    }
    let scale = 2.0 * threshold * threshold * median;
    d.mapv_inplace(|s| (-s / scale).exp());
    Ok(d)
}

/// CKA from two uncentred Gram matrices over the same stimuli.
pub(crate) fn cka_from_grams(
    mut kx: Array2<f64>,
    mut ky: Array2<f64>,
    debiased: bool,
) -> Result<f64> {
    // Below this share of the uncentred Gram matrix's squared norm, what centring leaves is
    // rounding error: the stimuli are represented identically (a constant representation).
    let n = kx.nrows() as f64;
    let floor = (n * f64::EPSILON).powi(2);
    let floors = [
        floor * kx.iter().map(|v| v * v).sum::<f64>(),
        floor * ky.iter().map(|v| v * v).sum::<f64>(),
    ];
    for k in [&mut kx, &mut ky] {
        if debiased {
            gram::center_gram_unbiased(k);
        } else {
            gram::double_center(k);
        }
    }
    let (mut hsic_xy, mut hsic_xx, mut hsic_yy) = (0.0, 0.0, 0.0);
    let (sx, sy) = (
        kx.as_slice().expect("standard layout"),
        ky.as_slice().expect("standard layout"),
    );
    for (a, b) in sx.iter().zip(sy) {
        hsic_xy += a * b;
        hsic_xx += a * a;
        hsic_yy += b * b;
    }
    for ((h, what), floor) in [(hsic_xx, "x"), (hsic_yy, "y")].into_iter().zip(floors) {
        if h <= floor {
            return Err(MetricError::ZeroVariance {
                what: what.into(),
                consequence: "its CKA is undefined (all stimuli are represented identically)"
                    .into(),
            });
        }
    }
    checks::ensure_finite_value(hsic_xy / (hsic_xx * hsic_yy).sqrt(), "CKA")
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    use super::{cka_from_grams, linear_cka};
    use crate::gram;

    #[test]
    fn a_scale_the_first_stimuli_misjudge_is_corrected() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (n, p) = (150, 20);
        let y: Array2<f64> = Array2::from_shape_fn((n, 4), |_| rng.sample(StandardNormal));
        let noise: Array2<f64> = Array2::from_shape_fn((n, p), |_| rng.sample(StandardNormal));
        // The first 64 stimuli identical, the others spread by 1e-25 (their squares underflow
        // f32 at the scale the first 64 suggest) or by 1e50 around spreads of 1 (theirs
        // overflow it).
        let tiny = Array2::from_shape_fn(
            (n, p),
            |(i, j)| {
                if i < 64 { 0.0 } else { 1e-25 * noise[[i, j]] }
            },
        );
        let huge = Array2::from_shape_fn((n, p), |(i, j)| {
            noise[[i, j]] * if i < 64 { 1.0 } else { 1e50 }
        });
        for x in [&tiny, &huge] {
            for debiased in [true, false] {
                let fast = linear_cka(x.view(), y.view(), debiased).unwrap();
                let exact =
                    cka_from_grams(gram::gram(x.view()), gram::gram(y.view()), debiased).unwrap();
                assert!((fast - exact).abs() < 1e-7, "{fast} vs {exact}");
            }
        }
    }

    #[test]
    fn single_precision_sums_equal_the_double_precision_gram_matrices() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        // Sizes off the sums' eight lanes; y correlated with x; x far from centred (ReLU-like
        // with a large offset), where centring before rounding matters.
        for (n, p, q) in [(13, 40, 3), (57, 9, 30), (200, 300, 20)] {
            let x: Array2<f64> = Array2::from_shape_fn((n, p), |_| rng.sample(StandardNormal));
            let noise: Array2<f64> = Array2::from_shape_fn((n, q), |_| rng.sample(StandardNormal));
            let y = x.dot(&Array2::from_shape_fn((p, q), |(i, j)| {
                ((i + 3 * j) % 7) as f64 - 3.0
            })) + noise * 5.0;
            let offset = x.mapv(|v| v.max(0.0) + 100.0);
            for x in [&x, &offset] {
                for debiased in [true, false] {
                    let fast = linear_cka(x.view(), y.view(), debiased).unwrap();
                    let exact =
                        cka_from_grams(gram::gram(x.view()), gram::gram(y.view()), debiased)
                            .unwrap();
                    assert!(
                        (fast - exact).abs() < 1e-7,
                        "n {n} p {p} debiased {debiased}: {fast} vs {exact}"
                    );
                }
            }
        }
    }
}
