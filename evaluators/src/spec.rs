//! A metric and all its options as one serialisable value, so that benchmark definitions,
//! configs and reports name metrics in the same words.

use serde::{Deserialize, Serialize};

use crate::cka::CkaOptions;
use crate::compare::CompareMethod;
use crate::predictivity::Regression;
use crate::rdm::RdmMethod;
use crate::splits::CrossValidation;

/// A fully specified metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
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

impl MetricSpec {
    /// Short name for tables: `rsa`, `cka`, `pls`, `ridge`, `ridge_cv`.
    pub fn name(&self) -> &'static str {
        match self {
            MetricSpec::Rsa { .. } => "rsa",
            MetricSpec::Cka { .. } => "cka",
            MetricSpec::Predictivity { regression, .. } => regression.name(),
        }
    }
}
