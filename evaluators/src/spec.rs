//! A metric and all its options as one serialisable value, so that benchmark definitions,
//! configs and reports name metrics in the same words.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::cka::{CkaKernel, CkaOptions};
use crate::compare::CompareMethod;
use crate::predictivity::{PredictivityScore, Regression};
use crate::rdm::{Rdm, RdmMethod};
use crate::resampling::{
    Resamples, cka_replicates, held_out_resamples, predictivity_replicates, rsa_replicates,
};
use crate::splits::CrossValidation;
use crate::{MetricError, Result};

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

    /// Scores a `(stimuli, features)` representation against a neural target on the same
    /// stimuli: the one place where a metric specification becomes a number, for benchmarks
    /// and `harness similarity` alike.
    ///
    /// RSA compares the representation's RDM with each target RDM (or with the RDM of the
    /// responses, computed by the same method) and reports their mean, with its SEM over
    /// RDMs when there are several; CKA compares with the responses; predictivity regresses
    /// onto them over the cross-validation splits, stratified by `labels` when given.
    pub fn score(
        &self,
        features: ArrayView2<f64>,
        target: NeuralTarget<'_>,
        labels: Option<&[i64]>,
    ) -> Result<MetricScore> {
        match (self, target) {
            (MetricSpec::Rsa { rdm, compare }, target) => {
                let model = crate::compute_rdm(features, *rdm)?;
                let computed;
                let brain: &[Rdm] = match target {
                    NeuralTarget::Rdms(rdms) => rdms,
                    NeuralTarget::Responses(responses) => {
                        computed = [crate::compute_rdm(responses, *rdm)?];
                        &computed
                    }
                };
                if brain.is_empty() {
                    return Err(MetricError::InvalidOption(
                        "RSA needs at least one target RDM".into(),
                    ));
                }
                let parts = brain
                    .iter()
                    .map(|b| crate::compare_rdms(&model, b, *compare))
                    .collect::<Result<Vec<f64>>>()?;
                let (value, sem) = crate::stats::mean_and_sem(&parts);
                Ok(MetricScore {
                    value,
                    sem: (parts.len() > 1).then_some(sem),
                    parts,
                    predictivity: None,
                })
            }
            (MetricSpec::Cka { options }, NeuralTarget::Responses(responses)) => {
                let value = crate::cka(features, responses, *options)?;
                Ok(MetricScore {
                    value,
                    sem: None,
                    parts: vec![value],
                    predictivity: None,
                })
            }
            (
                MetricSpec::Predictivity {
                    regression,
                    cross_validation,
                },
                NeuralTarget::Responses(responses),
            ) => {
                let p = crate::cross_validated_predictivity(
                    features,
                    responses,
                    labels,
                    regression,
                    cross_validation,
                )?;
                Ok(MetricScore {
                    value: p.score,
                    sem: Some(p.sem),
                    parts: p.per_split.clone(),
                    predictivity: Some(p),
                })
            }
            (metric, NeuralTarget::Rdms(_)) => Err(MetricError::InvalidOption(format!(
                "{} needs neural responses, but the target is a set of RDMs",
                metric.name()
            ))),
        }
    }

    /// Bootstrap replicates of [`MetricSpec::score`] on shared resamples, so that every model
    /// is resampled on the same stimuli (and, for RDM targets, the same subjects) and models
    /// compare pairwise. `subjects` groups the target RDMs by subject (ignored for responses);
    /// predictivity resamples each split's held-out predictions, with positions drawn from
    /// `held_out_seed`.
    pub fn replicates(
        &self,
        features: ArrayView2<f64>,
        target: NeuralTarget<'_>,
        subjects: &[Vec<usize>],
        labels: Option<&[i64]>,
        resamples: &Resamples,
        held_out_seed: u64,
    ) -> Result<Vec<f64>> {
        match (self, target) {
            (MetricSpec::Rsa { rdm, compare }, target) => {
                let model = crate::compute_rdm(features, *rdm)?;
                match target {
                    NeuralTarget::Rdms(rdms) => {
                        rsa_replicates(&model, rdms, subjects, *compare, resamples)
                    }
                    NeuralTarget::Responses(responses) => {
                        let brain = [crate::compute_rdm(responses, *rdm)?];
                        rsa_replicates(&model, &brain, &[vec![0]], *compare, resamples)
                    }
                }
            }
            (MetricSpec::Cka { options }, NeuralTarget::Responses(responses)) => {
                cka_replicates(features, responses, *options, resamples)
            }
            (
                MetricSpec::Predictivity {
                    regression,
                    cross_validation,
                },
                NeuralTarget::Responses(responses),
            ) => {
                let held_out = crate::held_out_predictions(
                    features,
                    responses,
                    labels,
                    regression,
                    cross_validation,
                )?;
                let draws = held_out_resamples(&held_out.splits, resamples.len(), held_out_seed);
                predictivity_replicates(&held_out, responses, &draws)
            }
            (metric, NeuralTarget::Rdms(_)) => Err(MetricError::InvalidOption(format!(
                "{} needs neural responses, but the target is a set of RDMs",
                metric.name()
            ))),
        }
    }

    /// Whether the metric can score against RDMs alone (only RSA can).
    pub fn accepts_rdms(&self) -> bool {
        matches!(self, MetricSpec::Rsa { .. })
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

/// What a metric compares a representation with, on the same stimuli in the same order.
#[derive(Debug, Clone, Copy)]
pub enum NeuralTarget<'a> {
    /// One RDM per subject or session; RSA averages its comparisons over them.
    Rdms(&'a [Rdm]),
    /// Repeat-averaged responses, `(stimuli, neuroids)`.
    Responses(ArrayView2<'a, f64>),
}

/// A metric's score on one target.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricScore {
    /// The score: the mean over target RDMs (RSA) or over splits (predictivity).
    pub value: f64,
    /// Its standard error over target RDMs or splits, where there are several.
    pub sem: Option<f64>,
    /// What the mean is over: one comparison per target RDM, one score per split, or the
    /// single CKA value.
    pub parts: Vec<f64>,
    /// Predictivity's per-split and per-neuroid details.
    pub predictivity: Option<PredictivityScore>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn data(rows: usize, cols: usize, phase: f64) -> Array2<f64> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * 7 + j * 3) as f64 * 0.37 + phase).sin() + 0.1 * i as f64
        })
    }

    #[test]
    fn rsa_score_is_the_mean_comparison_over_target_rdms_with_its_sem() {
        let x = data(12, 5, 0.0);
        let metric = MetricSpec::Rsa {
            rdm: RdmMethod::Correlation,
            compare: CompareMethod::Spearman,
        };
        let brains: Vec<Rdm> = (1..4)
            .map(|k| crate::compute_rdm(data(12, 4, k as f64).view(), RdmMethod::Correlation))
            .collect::<Result<_>>()
            .unwrap();
        let model = crate::compute_rdm(x.view(), RdmMethod::Correlation).unwrap();
        let each: Vec<f64> = brains
            .iter()
            .map(|b| crate::compare_rdms(&model, b, CompareMethod::Spearman).unwrap())
            .collect();
        let s = metric
            .score(x.view(), NeuralTarget::Rdms(&brains), None)
            .unwrap();
        assert_eq!(s.parts, each);
        let (mean, sem) = crate::stats::mean_and_sem(&each);
        assert_eq!((s.value, s.sem), (mean, Some(sem)));
        // Against responses: the RDM of the responses, one comparison, no SEM.
        let y = data(12, 4, 1.0);
        let r = metric
            .score(x.view(), NeuralTarget::Responses(y.view()), None)
            .unwrap();
        assert_eq!((r.value, r.sem), (each[0], None));
    }

    #[test]
    fn response_metrics_refuse_rdm_targets() {
        let x = data(12, 5, 0.0);
        let brain = [crate::compute_rdm(data(12, 4, 1.0).view(), RdmMethod::Correlation).unwrap()];
        let cka = MetricSpec::Cka {
            options: CkaOptions::default(),
        };
        let err = cka
            .score(x.view(), NeuralTarget::Rdms(&brain), None)
            .unwrap_err();
        assert!(err.to_string().contains("needs neural responses"), "{err}");
        assert!(!cka.accepts_rdms());
        let y = data(12, 4, 1.0);
        assert_eq!(
            cka.score(x.view(), NeuralTarget::Responses(y.view()), None)
                .unwrap()
                .value,
            crate::cka(x.view(), y.view(), CkaOptions::default()).unwrap()
        );
    }
}
