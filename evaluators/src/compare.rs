//! Comparing two RDMs (rsatoolbox `compare` semantics, ties included).

use ndarray::{Array1, ArrayView1};
use serde::{Deserialize, Serialize};

use crate::error::{MetricError, Result};
use crate::rdm::Rdm;
use crate::stats;

/// How two RDMs are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CompareMethod {
    /// Pearson correlation of the average ranks (Brain-Score's RSA).
    #[default]
    #[serde(rename = "spearman")]
    Spearman,
    /// Pearson correlation of the dissimilarities (rsatoolbox `corr`).
    #[serde(rename = "pearson", alias = "corr")]
    Pearson,
    /// Kendall's tau-a: ties count as neither concordant nor discordant.
    #[serde(rename = "tau-a")]
    KendallTauA,
    /// Cosine similarity of the dissimilarity vectors.
    #[serde(rename = "cosine")]
    Cosine,
    /// rsatoolbox's rho-a: 12 (r1 - mean)(r2 - mean) / (n^3 - n) on average ranks; equal to
    /// Spearman without ties.
    #[serde(rename = "rho-a")]
    RhoA,
}

impl CompareMethod {
    /// Every method, for listings.
    pub const ALL: [CompareMethod; 5] = [
        Self::Spearman,
        Self::Pearson,
        Self::KendallTauA,
        Self::Cosine,
        Self::RhoA,
    ];

    /// The name used in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Spearman => "spearman",
            Self::Pearson => "pearson",
            Self::KendallTauA => "tau-a",
            Self::Cosine => "cosine",
            Self::RhoA => "rho-a",
        }
    }
}

/// Similarity of two RDMs over the same stimuli (higher is more similar).
pub fn compare_rdms(a: &Rdm, b: &Rdm, method: CompareMethod) -> Result<f64> {
    if a.n_stimuli() != b.n_stimuli() {
        return Err(MetricError::ShapeMismatch(format!(
            "RDMs over {} and {} stimuli cannot be compared",
            a.n_stimuli(),
            b.n_stimuli()
        )));
    }
    compare_vectors(a.condensed(), b.condensed(), method)
}

/// Similarity of two dissimilarity vectors of the same length.
pub(crate) fn compare_vectors(
    a: ArrayView1<f64>,
    b: ArrayView1<f64>,
    method: CompareMethod,
) -> Result<f64> {
    let undefined = |why: &str| MetricError::ZeroVariance {
        what: format!("an RDM ({why})"),
        consequence: format!("its {} similarity is undefined", method.name()),
    };
    match method {
        CompareMethod::Pearson => {
            stats::pearson(a, b).ok_or_else(|| undefined("all dissimilarities equal"))
        }
        CompareMethod::Cosine => {
            stats::cosine(a, b).ok_or_else(|| undefined("all dissimilarities zero"))
        }
        CompareMethod::Spearman => {
            let (ra, rb) = rayon::join(|| ranks(a), || ranks(b));
            stats::pearson(ra.view(), rb.view())
                .ok_or_else(|| undefined("all dissimilarities equal"))
        }
        CompareMethod::RhoA => {
            let n = a.len() as f64;
            let (ra, rb) = rayon::join(|| ranks(a), || ranks(b));
            let (ma, mb) = (ra.mean().unwrap_or(0.0), rb.mean().unwrap_or(0.0));
            let s: f64 = ra
                .iter()
                .zip(rb.iter())
                .map(|(x, y)| (x - ma) * (y - mb))
                .sum();
            Ok(12.0 * s / (n * n * n - n))
        }
        CompareMethod::KendallTauA => Ok(stats::kendall_tau_a(a, b)),
    }
}

fn ranks(v: ArrayView1<f64>) -> Array1<f64> {
    Array1::from(stats::rank_average(v))
}
