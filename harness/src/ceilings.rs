//! Measuring a benchmark's ceiling from its neural target with the evaluators.

use anyhow::{Context, Result, bail};
use brain_data::{BenchmarkSpec, CeilingSpec, NiliBound, TargetData};
use evaluators::{MetricSpec, Rdm, RdmPooling};
use serde::Serialize;

/// A benchmark's ceiling, or why it has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasuredCeiling {
    /// The ceiling scores are normalised by (`None`: no ceiling).
    pub value: Option<f64>,
    /// Its standard error over splits, where there are splits.
    pub sem: Option<f64>,
    /// How it was measured, or why there is none.
    pub method: String,
}

/// Measures the ceiling that `benchmark` defines on its loaded target.
pub fn measure(benchmark: &BenchmarkSpec, target: &TargetData) -> Result<MeasuredCeiling> {
    let metric = &benchmark.metric;
    let context = || format!("ceiling of {}", benchmark.id);
    Ok(match (&benchmark.ceiling, target, metric) {
        (CeilingSpec::None { reason }, _, _) => MeasuredCeiling {
            value: None,
            sem: None,
            method: format!("none: {reason}"),
        },
        (CeilingSpec::SplitHalf { n_splits, seed }, TargetData::Responses(r), _) => {
            let c = evaluators::split_half_ceiling(r.responses.view(), *n_splits, *seed)
                .with_context(context)?;
            MeasuredCeiling {
                value: Some(c.ceiling),
                sem: Some(c.sem),
                method: format!(
                    "split-half of each stimulus's recorded repetitions (up to {}), Spearman-Brown, median over neuroids, mean of {n_splits} splits",
                    c.n_repetitions
                ),
            }
        }
        (
            CeilingSpec::RdmSplitHalf { n_splits, seed },
            TargetData::Responses(r),
            MetricSpec::Rsa { rdm, compare },
        ) => {
            let c = evaluators::rdm_split_half_ceiling(
                r.responses.view(),
                *rdm,
                *compare,
                *n_splits,
                *seed,
            )
            .with_context(context)?;
            MeasuredCeiling {
                value: Some(c.ceiling),
                sem: Some(c.sem),
                method: format!(
                    "split-half RDM reliability ({} RDMs, {} comparison), Spearman-Brown, mean of {n_splits} splits",
                    rdm.name(),
                    compare.name()
                ),
            }
        }
        (
            CeilingSpec::NiliNoiseCeiling { bound },
            TargetData::Rdms(r),
            MetricSpec::Rsa { compare, .. },
        ) => {
            let rdms = r
                .rdms
                .iter()
                .map(|x| Rdm::from_condensed(ndarray::Array1::from(x.condensed.clone())))
                .collect::<Result<Vec<_>, _>>()
                .with_context(context)?;
            let c = evaluators::rdm_noise_ceiling(&rdms, *compare, RdmPooling::Mean)
                .with_context(context)?;
            let (value, name) = match bound {
                NiliBound::Lower => (c.lower, "lower"),
                NiliBound::Upper => (c.upper, "upper"),
            };
            MeasuredCeiling {
                value: Some(value),
                sem: None,
                method: format!(
                    "Nili et al. 2014 noise ceiling over {} RDMs ({} comparison): lower {:.4}, upper {:.4}; the {name} bound is used",
                    c.n_rdms,
                    compare.name(),
                    c.lower,
                    c.upper
                ),
            }
        }
        (spec, _, _) => bail!(
            "benchmark {}: ceiling {spec:?} does not fit its target and metric ({})",
            benchmark.id,
            metric.name()
        ),
    })
}
