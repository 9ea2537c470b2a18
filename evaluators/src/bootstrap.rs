//! Bootstrap confidence intervals over stimuli for RSA and CKA (seeded, percentile method).

use ndarray::{Array1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::cka::{self, CkaKernel, CkaOptions};
use crate::compare::{CompareMethod, compare_vectors};
use crate::error::{MetricError, Result};
use crate::gram;
use crate::rdm::{Rdm, condensed_index};
use crate::stats;

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapOptions {
    /// Number of resamples.
    pub n_resamples: usize,
    /// Coverage of the interval, e.g. 0.95.
    pub confidence: f64,
    /// Seed of the resampling.
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            n_resamples: 1000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

/// A percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Standard deviation of the bootstrap distribution (the bootstrap standard error).
    pub std_error: f64,
    /// The settings that produced it.
    pub options: BootstrapOptions,
}

impl BootstrapOptions {
    fn validate(&self) -> Result<()> {
        if self.n_resamples < 2 {
            return Err(MetricError::InvalidOption(format!(
                "a bootstrap needs at least 2 resamples, got {}",
                self.n_resamples
            )));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(MetricError::InvalidOption(format!(
                "confidence must be in (0, 1), got {}",
                self.confidence
            )));
        }
        Ok(())
    }

    fn interval(&self, values: &[f64]) -> ConfidenceInterval {
        let tail = 50.0 * (1.0 - self.confidence);
        let (mean, _) = stats::mean_and_sem(values);
        let var =
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
        ConfidenceInterval {
            low: stats::percentile(values, tail),
            high: stats::percentile(values, 100.0 - tail),
            std_error: var.sqrt(),
            options: *self,
        }
    }
}

fn resample(rng: &mut ChaCha8Rng, n: usize) -> Vec<usize> {
    (0..n).map(|_| rng.random_range(0..n)).collect()
}

/// Interval for the similarity of two RDMs over the same stimuli. Each resample draws stimuli
/// with replacement and compares the dissimilarities of all pairs of *distinct* drawn stimuli
/// (pairs of a stimulus with its own copy have no dissimilarity, as in rsatoolbox).
pub fn bootstrap_rsa(
    a: &Rdm,
    b: &Rdm,
    method: CompareMethod,
    options: BootstrapOptions,
) -> Result<ConfidenceInterval> {
    options.validate()?;
    let n = a.n_stimuli();
    if b.n_stimuli() != n {
        return Err(MetricError::ShapeMismatch(format!(
            "RDMs over {n} and {} stimuli cannot be compared",
            b.n_stimuli()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut values = Vec::with_capacity(options.n_resamples);
    for _ in 0..options.n_resamples {
        let sample = resample(&mut rng, n);
        let (mut va, mut vb) = (vec![], vec![]);
        for (p, &i) in sample.iter().enumerate() {
            for &j in &sample[p + 1..] {
                if i != j {
                    let k = condensed_index(n, i.min(j), i.max(j));
                    va.push(a.condensed()[k]);
                    vb.push(b.condensed()[k]);
                }
            }
        }
        if let Ok(v) = compare_vectors(Array1::from(va).view(), Array1::from(vb).view(), method) {
            values.push(v);
        }
    }
    finish(values, options)
}

/// Interval for CKA between two representations, resampling stimuli (rows) with replacement.
pub fn bootstrap_cka(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    cka_options: CkaOptions,
    options: BootstrapOptions,
) -> Result<ConfidenceInterval> {
    options.validate()?;
    // Kernels are rebuilt from the resampled rows: linear from the Gram matrix, RBF from the
    // squared distances so that its median bandwidth follows the resample.
    let prepare = |m: ArrayView2<f64>, what: &str| cka::kernel_base(m, cka_options.kernel, what);
    let (kx, ky) = (prepare(x, "x")?, prepare(y, "y")?);
    crate::checks::ensure_same_stimuli(kx.nrows(), ky.nrows())?;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut values = Vec::with_capacity(options.n_resamples);
    for _ in 0..options.n_resamples {
        let sample = resample(&mut rng, kx.nrows());
        let (sx, sy) = (
            gram::select(&kx, &sample, &sample),
            gram::select(&ky, &sample, &sample),
        );
        let (sx, sy) = match cka_options.kernel {
            CkaKernel::Linear => (sx, sy),
            CkaKernel::Rbf { threshold } => match (
                cka::rbf_from_squared_distances(sx, threshold, "x"),
                cka::rbf_from_squared_distances(sy, threshold, "y"),
            ) {
                (Ok(a), Ok(b)) => (a, b),
                _ => continue,
            },
        };
        if let Ok(v) = cka::cka_from_grams(sx, sy, cka_options.debiased) {
            values.push(v);
        }
    }
    finish(values, options)
}

fn finish(values: Vec<f64>, options: BootstrapOptions) -> Result<ConfidenceInterval> {
    if values.len() < 2 {
        return Err(MetricError::ZeroVariance {
            what: "the bootstrap resamples".into(),
            consequence: "almost no resample gave a defined score".into(),
        });
    }
    Ok(options.interval(&values))
}
