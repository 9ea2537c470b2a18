//! The spectral theory of neural prediction (Canatar, Feather, Wakhloo & Chung, NeurIPS 2023,
//! arXiv 2309.12821): the error of ridge regression from a model's activations to neural
//! responses, decomposed over the eigenvectors of the model's Gram matrix.
//!
//! With P stimuli, the Gram matrix K = X Xᵀ / P of the (centred) activations has eigenvalues
//! λᵢ and eigenvectors vᵢ (scaled so that vᵢᵀvᵢ = P). The responses' alignment with mode i is
//! Wᵢⱼ = vᵢᵀ yⱼ / P for neuroid j, and aᵢ = Σⱼ Wᵢⱼ² / Σᵢⱼ Wᵢⱼ² its share of the responses'
//! variance. Ridge regression trained on p stimuli with penalty pα (on the unnormalised
//! Gram matrix) has, in the theory, the normalised generalisation error
//!
//! E_g(p) = Σᵢ W̃ᵢ(p),   W̃ᵢ(p) = κ² / ((1 − γ)(pλᵢ + κ)²) · aᵢ,
//!
//! where κ solves κ = pα + κ Σᵢ λᵢ / (pλᵢ + κ) and γ = Σᵢ pλᵢ² / (pλᵢ + κ)². The error modes
//! W̃ᵢ(p) give the paper's geometry: the error-mode radius R_em = (Σᵢ W̃ᵢ²)^½ and dimension
//! D_em = (Σᵢ W̃ᵢ)² / Σᵢ W̃ᵢ², so that E_g = R_em √D_em (the iso-error lines of the paper's
//! R–√D figure). The empirical learning curve fits the same ridge on p random stimuli and
//! measures the error on all P, normalised as the theory is, by Σ y² (the responses' total
//! variance when centred).

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{MetricError, Result};

/// How the spectral decomposition and the learning curves are computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpectralOptions {
    /// Ridge penalty per training stimulus, relative to the trace of K/P (Σᵢ λᵢ), so that the
    /// analysis does not depend on the features' scale: the regression's penalty is
    /// p · alpha · Σᵢ λᵢ on the unnormalised Gram matrix.
    pub alpha: f64,
    /// Training-set sizes of the curves (each in 1..P).
    pub p: Vec<usize>,
    /// Random training sets per size for the empirical curve (0: theory only).
    pub trials: usize,
    /// Seed of the training sets.
    pub seed: u64,
    /// Centre activations and responses over stimuli first (the paper's centred analysis).
    pub centre: bool,
}

impl SpectralOptions {
    /// The defaults for `n` stimuli: α = 1e-3 (relative to Σλ), ten sizes from 5 % to 90 % of the stimuli,
    /// five trials, seed 1, centred.
    pub fn for_stimuli(n: usize) -> SpectralOptions {
        let mut p: Vec<usize> = (1..=10)
            .map(|k| ((n as f64) * (0.05 + 0.85 * (k - 1) as f64 / 9.0)).round() as usize)
            .filter(|&p| p >= 1 && p < n)
            .collect();
        p.dedup();
        SpectralOptions {
            alpha: 1e-3,
            p,
            trials: 5,
            seed: 1,
            centre: true,
        }
    }
}

/// The eigendecomposition of a layer's Gram matrix and the responses' alignment with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spectrum {
    /// Eigenvalues λᵢ of K = X Xᵀ / P above rounding level, descending, then one 0 for the
    /// null space when the responses have power there.
    pub eigenvalues: Vec<f64>,
    /// aᵢ: the share of the responses' variance along each eigenvector (the null space's
    /// eigenvectors together); sums to 1.
    pub alignment: Vec<f64>,
}

/// The theory at one training-set size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TheoryPoint {
    /// Training stimuli.
    pub p: usize,
    /// The self-consistent κ.
    pub kappa: f64,
    /// γ = Σᵢ pλᵢ² / (pλᵢ + κ)².
    pub gamma: f64,
    /// E_g(p), normalised by the responses' variance (1 at p = 0).
    pub error: f64,
    /// Error-mode radius R_em.
    pub radius: f64,
    /// Error-mode dimension D_em.
    pub dimension: f64,
    /// The error modes W̃ᵢ(p), in eigenvalue order.
    pub modes: Vec<f64>,
}

/// The empirical error at one training-set size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmpiricalPoint {
    /// Training stimuli.
    pub p: usize,
    /// Mean normalised error over the trials.
    pub error: f64,
    /// Its standard error over the trials.
    pub sem: f64,
    /// One error per trial.
    pub trials: Vec<f64>,
}

/// The whole analysis of one layer against one set of responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectralPrediction {
    /// The spectrum and alignment.
    pub spectrum: Spectrum,
    /// The theory at each size.
    pub theory: Vec<TheoryPoint>,
    /// The empirical curve (empty with no trials).
    pub empirical: Vec<EmpiricalPoint>,
    /// The absolute penalty per training stimulus: alpha · Σᵢ λᵢ.
    pub ridge: f64,
    /// The options used.
    pub options: SpectralOptions,
}

/// The spectrum, the theory and (with trials) the empirical curve of ridge regression from
/// `x` `(stimuli, features)` to `y` `(stimuli, neuroids)`.
pub fn spectral_prediction(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    options: &SpectralOptions,
) -> Result<SpectralPrediction> {
    let gram = centred_gram(x, y, options)?;
    let y = prepared_responses(y, options.centre);
    let spectrum = spectrum_of_gram(&gram, y.view())?;
    let ridge = options.alpha * spectrum.eigenvalues.iter().sum::<f64>();
    let theory = theory(&spectrum, ridge, &options.p)?;
    let empirical = empirical_curve(&gram, y.view(), ridge, options)?;
    Ok(SpectralPrediction {
        spectrum,
        theory,
        empirical,
        ridge,
        options: options.clone(),
    })
}

/// Checks the inputs and options, and returns X Xᵀ (of the centred X when centring).
fn centred_gram(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    options: &SpectralOptions,
) -> Result<Array2<f64>> {
    crate::checks::ensure_finite_2d(x, "x")?;
    crate::checks::ensure_finite_2d(y, "y")?;
    crate::checks::ensure_same_stimuli(x.nrows(), y.nrows())?;
    let n = x.nrows();
    if n < 3 {
        return Err(MetricError::TooFewStimuli {
            what: "x".into(),
            got: n,
            min: 3,
        });
    }
    if !(options.alpha.is_finite() && options.alpha >= 0.0) {
        return Err(MetricError::InvalidOption(format!(
            "the ridge penalty must be finite and >= 0, got {}",
            options.alpha
        )));
    }
    if let Some(&p) = options.p.iter().find(|&&p| p == 0 || p >= n) {
        return Err(MetricError::InvalidOption(format!(
            "training-set sizes must be in 1..{n} (the stimuli), got {p}"
        )));
    }
    Ok(if options.centre {
        crate::gram::gram(crate::gram::center_columns(x).view())
    } else {
        crate::gram::gram(x)
    })
}

fn prepared_responses(y: ArrayView2<f64>, centre: bool) -> Array2<f64> {
    if centre {
        crate::gram::center_columns(y)
    } else {
        y.to_owned()
    }
}

/// Eigenvalues of K/P (descending) and the responses' variance share along each eigenvector.
pub fn spectrum_of_gram(gram: &Array2<f64>, y: ArrayView2<f64>) -> Result<Spectrum> {
    let n = gram.nrows() as f64;
    let (values, vectors) = crate::linalg::symmetric_eigen(&(gram / n), "spectral prediction")?;
    // W = Vᵀ y / P with vᵢᵀvᵢ = P is Uᵀ y / √P for the orthonormal U LAPACK returns.
    let projections = vectors.t().dot(&y) / n.sqrt();
    let power: Array1<f64> = projections.mapv(|w| w * w).sum_axis(Axis(1));
    let total = power.sum();
    if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(MetricError::ZeroVariance {
            what: "y".into(),
            consequence: "there is no error to decompose".into(),
        });
    }
    // LAPACK sorts ascending; the theory reads modes from the largest eigenvalue down. The
    // null space (eigenvalues at rounding level: the centring direction, and every direction
    // past the rank when there are more stimuli than features) is one mode: how the
    // responses' power splits among its eigenvectors is an arbitrary choice of basis, and
    // the error-mode radius and dimension must not depend on it.
    let largest = values.iter().fold(0.0f64, |m, v| m.max(*v));
    let cutoff = largest * n * f64::EPSILON;
    let (mut eigenvalues, mut alignment, mut null_power) = (vec![], vec![], 0.0);
    for i in (0..values.len()).rev() {
        if values[i] > cutoff {
            eigenvalues.push(values[i]);
            alignment.push(power[i] / total);
        } else {
            null_power += power[i] / total;
        }
    }
    if null_power > 0.0 {
        eigenvalues.push(0.0);
        alignment.push(null_power);
    }
    Ok(Spectrum {
        eigenvalues,
        alignment,
    })
}

/// The theory's error, modes and geometry at each training-set size, for the absolute
/// penalty `alpha` per training stimulus.
pub fn theory(spectrum: &Spectrum, alpha: f64, sizes: &[usize]) -> Result<Vec<TheoryPoint>> {
    sizes
        .iter()
        .map(|&p| {
            let pf = p as f64;
            let lambdas = &spectrum.eigenvalues;
            let kappa = solve_kappa(lambdas, pf, alpha)?;
            let gamma: f64 = lambdas
                .iter()
                .map(|&l| pf * l * l / (pf * l + kappa).powi(2))
                .sum();
            let modes: Vec<f64> = lambdas
                .iter()
                .zip(&spectrum.alignment)
                .map(|(&l, &a)| {
                    if kappa == 0.0 && l == 0.0 {
                        // Ridgeless, past the rank: the unlearnable modes keep their error.
                        a
                    } else {
                        kappa * kappa / ((1.0 - gamma) * (pf * l + kappa).powi(2)) * a
                    }
                })
                .collect();
            let error: f64 = modes.iter().sum();
            let squares: f64 = modes.iter().map(|m| m * m).sum();
            Ok(TheoryPoint {
                p,
                kappa,
                gamma,
                error,
                radius: squares.sqrt(),
                dimension: if squares > 0.0 {
                    error * error / squares
                } else {
                    0.0
                },
                modes,
            })
        })
        .collect()
}

/// κ solving κ = pα + κ Σᵢ λᵢ/(pλᵢ + κ). Dividing by κ gives
/// g(κ) = 1 − pα/κ − Σᵢ λᵢ/(pλᵢ + κ), increasing in κ, with g(pα + Σλ) ≥ 0; the root is
/// found by bisection on (0, pα + Σλ] and polished by Newton steps. Ridgeless regression with
/// at least p non-zero eigenvalues has a positive root; with fewer, κ = 0.
fn solve_kappa(lambdas: &[f64], p: f64, alpha: f64) -> Result<f64> {
    let ridge = p * alpha;
    let g = |k: f64| 1.0 - ridge / k - lambdas.iter().map(|&l| l / (p * l + k)).sum::<f64>();
    let dg = |k: f64| {
        ridge / (k * k)
            + lambdas
                .iter()
                .map(|&l| l / (p * l + k).powi(2))
                .sum::<f64>()
    };
    let mut high = ridge + lambdas.iter().sum::<f64>();
    if high.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Ok(0.0);
    }
    if ridge == 0.0 {
        let rank = lambdas.iter().filter(|&&l| l > 0.0).count() as f64;
        if rank <= p {
            return Ok(0.0);
        }
    }
    let mut low = high * 1e-300_f64.max(f64::MIN_POSITIVE);
    if g(low) > 0.0 {
        return Ok(low);
    }
    // Bisection in the logarithm: κ can span many decades.
    for _ in 0..200 {
        let mid = (low * high).sqrt();
        if g(mid) > 0.0 {
            high = mid;
        } else {
            low = mid;
        }
        if high / low < 1.0 + 1e-12 {
            break;
        }
    }
    let mut kappa = (low * high).sqrt();
    for _ in 0..5 {
        let step = g(kappa) / dg(kappa);
        let next = kappa - step;
        if next.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !next.is_finite() {
            break;
        }
        kappa = next;
        if step.abs() <= 1e-15 * kappa {
            break;
        }
    }
    if !kappa.is_finite() {
        return Err(MetricError::NotFinite {
            what: "the self-consistent κ of the spectral theory".into(),
        });
    }
    Ok(kappa)
}

/// Ridge from p random stimuli (absolute penalty p · `ridge` on the Gram matrix `gram`), the
/// error measured on all stimuli and normalised as [`ridge_error`] does; `options.trials`
/// seeded draws per size.
pub fn empirical_curve(
    gram: &Array2<f64>,
    y: ArrayView2<f64>,
    ridge: f64,
    options: &SpectralOptions,
) -> Result<Vec<EmpiricalPoint>> {
    if options.trials == 0 {
        return Ok(vec![]);
    }
    let n = gram.nrows();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut points = Vec::with_capacity(options.p.len());
    for &p in &options.p {
        let mut trials = Vec::with_capacity(options.trials);
        for _ in 0..options.trials {
            // The theory's training sets are p independent draws from the P stimuli (with
            // replacement); so are the simulation's.
            let mut train: Vec<usize> = (0..p).map(|_| rng.random_range(0..n)).collect();
            train.sort_unstable();
            trials.push(ridge_error(gram, y, &train, ridge)?);
        }
        let (error, sem) = crate::stats::mean_and_sem(&trials);
        points.push(EmpiricalPoint {
            p,
            error,
            sem,
            trials,
        });
    }
    Ok(points)
}

/// The normalised error of ridge regression trained on the stimuli `train` (absolute penalty
/// |train|·α on the Gram matrix), measured on all stimuli: Σ (ŷ − y)² / Σ y², the
/// normalisation of the theory (`y` centred when the analysis centres).
pub fn ridge_error(
    gram: &Array2<f64>,
    y: ArrayView2<f64>,
    train: &[usize],
    alpha: f64,
) -> Result<f64> {
    let variance: f64 = y.mapv(|v| v * v).sum();
    if variance.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(MetricError::ZeroVariance {
            what: "y".into(),
            consequence: "the error cannot be normalised".into(),
        });
    }
    let k_train = crate::gram::select(gram, train, train);
    let y_train = y.select(Axis(0), train);
    let dual = ridge_solve(k_train, y_train, train.len() as f64 * alpha)?;
    let residual = gram.select(Axis(1), train).dot(&dual) - y;
    Ok(residual.mapv(|v| v * v).sum() / variance)
}

/// (K + rI)⁻¹ Y: by Cholesky when K + rI is positive definite, else by the pseudo-inverse of
/// its eigendecomposition (ridgeless regression on a rank-deficient Gram matrix).
fn ridge_solve(mut k: Array2<f64>, y: Array2<f64>, ridge: f64) -> Result<Array2<f64>> {
    k.diag_mut().mapv_inplace(|d| d + ridge);
    if ridge > 0.0
        && let Ok(dual) = crate::ridge::ridge_dual_coefficients(&k, y.view(), 0.0)
    {
        return Ok(dual);
    }
    let (values, vectors) = crate::linalg::symmetric_eigen(&k, "spectral prediction ridge")?;
    let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let cutoff = largest * k.nrows() as f64 * f64::EPSILON;
    let inverse = values.mapv(|v| if v.abs() > cutoff { 1.0 / v } else { 0.0 });
    let projected = vectors.t().dot(&y);
    let scaled = &projected * &inverse.insert_axis(Axis(1));
    Ok(vectors.dot(&scaled))
}
