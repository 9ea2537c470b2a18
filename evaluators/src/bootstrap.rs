//! Bootstrap confidence intervals over stimuli for RSA and CKA (seeded, percentile method).

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::cka::CkaOptions;
use crate::compare::CompareMethod;
use crate::error::{MetricError, Result};
use crate::rdm::Rdm;
use crate::resampling::{Resamples, cka_replicates, rsa_replicates};
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
    let resamples = Resamples::draw(a.n_stimuli(), 1, options.n_resamples, options.seed);
    let values = rsa_replicates(a, std::slice::from_ref(b), &[vec![0]], method, &resamples)?;
    finish(values, options)
}

/// Interval for CKA between two representations, resampling stimuli (rows) with replacement;
/// kernels are rebuilt from the resampled rows (an RBF kernel's median bandwidth follows the
/// resample).
pub fn bootstrap_cka(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    cka_options: CkaOptions,
    options: BootstrapOptions,
) -> Result<ConfidenceInterval> {
    options.validate()?;
    let resamples = Resamples::draw(x.nrows(), 1, options.n_resamples, options.seed);
    finish(cka_replicates(x, y, cka_options, &resamples)?, options)
}

fn finish(values: Vec<f64>, options: BootstrapOptions) -> Result<ConfidenceInterval> {
    let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if values.len() < 2 {
        return Err(MetricError::ZeroVariance {
            what: "the bootstrap resamples".into(),
            consequence: "almost no resample gave a defined score".into(),
        });
    }
    Ok(options.interval(&values))
}
