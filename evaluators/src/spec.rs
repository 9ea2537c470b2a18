//! A metric and all its options as one serialisable value, so that benchmark definitions,
//! configs and reports name metrics in the same words.

use serde::{Deserialize, Serialize};

use crate::cka::{CkaKernel, CkaOptions};
use crate::compare::CompareMethod;
use crate::predictivity::Regression;
use crate::rdm::RdmMethod;
use crate::splits::CrossValidation;

/// A fully specified metric. Read strictly: an unknown key anywhere is an error, never
/// silently the default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", from = "MetricInput")]
pub enum MetricSpec {
    /// RDM of the model vs RDM of the brain.
    Rsa {
        /// Dissimilarity measure for the model RDM (and brain RDMs computed from responses).
        #[serde(default)]
        rdm: RdmMethod,
        /// RDM comparison.
        #[serde(default)]
        compare: CompareMethod,
    },
    /// CKA between model features and responses.
    Cka {
        /// Kernel and estimator.
        #[serde(default, flatten)]
        options: CkaOptions,
    },
    /// Cross-validated regression from model features to each neuroid.
    Predictivity {
        /// The regression.
        #[serde(default)]
        regression: Regression,
        /// The splits.
        #[serde(default)]
        cross_validation: CrossValidation,
    },
}

/// [`MetricSpec`] as configs write it, with CKA's options inline (serde cannot refuse unknown
/// keys next to a flattened field).
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum MetricInput {
    Rsa {
        #[serde(default)]
        rdm: RdmMethod,
        #[serde(default)]
        compare: CompareMethod,
    },
    Cka {
        #[serde(default = "linear")]
        kernel: CkaKernel,
        #[serde(default = "debiased")]
        debiased: bool,
    },
    Predictivity {
        #[serde(default)]
        regression: Regression,
        #[serde(default)]
        cross_validation: CrossValidation,
    },
}

fn linear() -> CkaKernel {
    CkaOptions::default().kernel
}

fn debiased() -> bool {
    CkaOptions::default().debiased
}

impl From<MetricInput> for MetricSpec {
    fn from(input: MetricInput) -> Self {
        match input {
            MetricInput::Rsa { rdm, compare } => MetricSpec::Rsa { rdm, compare },
            MetricInput::Cka { kernel, debiased } => MetricSpec::Cka {
                options: CkaOptions { kernel, debiased },
            },
            MetricInput::Predictivity {
                regression,
                cross_validation,
            } => MetricSpec::Predictivity {
                regression,
                cross_validation,
            },
        }
    }
}

impl MetricSpec {
    /// Checks the options that need no data (splits, components, penalties, RBF bandwidth),
    /// so that a config is refused before any work.
    pub fn validate(&self) -> crate::Result<()> {
        match self {
            MetricSpec::Rsa { .. } => Ok(()),
            MetricSpec::Cka { options } => match options.kernel {
                CkaKernel::Rbf { threshold }
                    if threshold.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) =>
                {
                    Err(crate::MetricError::InvalidOption(format!(
                        "RBF threshold must be > 0, got {threshold}"
                    )))
                }
                _ => Ok(()),
            },
            MetricSpec::Predictivity {
                regression,
                cross_validation,
            } => {
                regression.validate()?;
                cross_validation.validate()
            }
        }
    }

    /// Short name for tables: `rsa`, `cka`, `pls`, `ridge`, `ridge_cv`.
    pub fn name(&self) -> &'static str {
        match self {
            MetricSpec::Rsa { .. } => "rsa",
            MetricSpec::Cka { .. } => "cka",
            MetricSpec::Predictivity { regression, .. } => regression.name(),
        }
    }
}
