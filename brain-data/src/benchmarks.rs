//! Benchmarks as data (`catalog/benchmarks.yaml`): which stimuli, which neural target, which
//! metric and ceiling, which preprocessing. A registry maps each id to its definition.

use serde::{Deserialize, Serialize};

use crate::assembly::{NeuralAssembly, RdmAssembly, StimulusSet};
use crate::catalog::Catalog;
use crate::error::{DataError, Result};
use crate::loaders::{cowley2023, kriegeskorte2008, tang2018};
use crate::preprocess::Preprocessing;
use crate::store::DataStore;

/// Where a benchmark's neural data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetSpec {
    /// The monkey IT RDM of Kiani et al. 2007.
    Kiani2007MonkeyIt,
    /// The 4 x 2 human IT RDMs of Kriegeskorte et al. 2008.
    Kriegeskorte2008HumanIt,
    /// One Cowley et al. 2023 V4 session, with raw repeats when the session has them.
    Cowley2023 {
        /// Session id, e.g. `"210325"`.
        session: String,
    },
    /// The 4 Tang et al. 2018 V1 neurons.
    Tang2018,
}

/// Which Nili bound a ceiling-normalised RSA score is divided by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NiliBound {
    /// Mean similarity of each subject to the others' mean.
    Lower,
    /// Mean similarity of each subject to the mean of all (includes the subject itself).
    Upper,
}

/// How a benchmark's ceiling is estimated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CeilingSpec {
    /// No ceiling can be estimated; scores are reported raw only.
    None {
        /// Why, shown in every output.
        reason: String,
    },
    /// Split-half consistency of repeated responses, Spearman-Brown corrected.
    SplitHalf {
        /// Random halvings.
        n_splits: usize,
        /// Their seed.
        seed: u64,
    },
    /// Split-half reliability of the neural RDM.
    RdmSplitHalf {
        /// Random halvings.
        n_splits: usize,
        /// Their seed.
        seed: u64,
    },
    /// Nili et al. 2014 noise ceiling over subject RDMs.
    NiliNoiseCeiling {
        /// The bound used for normalisation (both are reported).
        bound: NiliBound,
    },
}

/// One benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Benchmark {
    /// Stable id, `<paper>.<region>-<metric>`.
    pub id: String,
    /// What is compared.
    pub description: String,
    /// Dataset id in the catalog.
    pub dataset: String,
    /// Brain region.
    pub region: String,
    /// Neural data.
    pub target: TargetSpec,
    /// The metric, in the evaluators' terms (`evaluators::MetricSpec`), kept as data here.
    pub metric: serde_norway::Value,
    /// The ceiling.
    pub ceiling: CeilingSpec,
    /// Stimulus preprocessing for models.
    pub preprocessing: Preprocessing,
}

/// Neural data of a benchmark.
#[derive(Debug, Clone)]
pub enum TargetData {
    /// One or more RDMs.
    Rdms(RdmAssembly),
    /// Responses, possibly with repetitions.
    Responses(NeuralAssembly),
}

/// What a benchmark needs at scoring time.
#[derive(Debug, Clone)]
pub struct BenchmarkData {
    /// The stimuli, in target order.
    pub stimuli: StimulusSet,
    /// The neural target.
    pub target: TargetData,
}

const BENCHMARKS_YAML: &str = include_str!("../catalog/benchmarks.yaml");

impl Benchmark {
    /// The benchmarks shipped with cortexbench.
    pub fn builtin() -> Vec<Benchmark> {
        Benchmark::parse_all(BENCHMARKS_YAML)
            .expect("the shipped benchmarks are valid (checked by tests)")
    }

    /// Reads a list of benchmarks from YAML in the layout of `catalog/benchmarks.yaml`.
    pub fn parse_all(yaml: &str) -> Result<Vec<Benchmark>> {
        serde_norway::from_str(yaml).map_err(|e| DataError::Catalog {
            what: "benchmarks".into(),
            message: e.to_string(),
        })
    }

    /// The shipped benchmark with this id.
    pub fn find(id: &str) -> Result<Benchmark> {
        let all = Benchmark::builtin();
        let known = all
            .iter()
            .map(|b| b.id.clone())
            .collect::<Vec<_>>()
            .join(", ");
        all.into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| DataError::Catalog {
                what: "benchmarks".into(),
                message: format!("unknown benchmark '{id}'; known benchmarks: {known}"),
            })
    }

    /// Loads the neural target alone.
    pub fn load_target(&self, store: &DataStore, catalog: &Catalog) -> Result<TargetData> {
        Ok(match &self.target {
            TargetSpec::Kiani2007MonkeyIt => {
                TargetData::Rdms(kriegeskorte2008::monkey_it_rdm(store, catalog)?)
            }
            TargetSpec::Kriegeskorte2008HumanIt => {
                TargetData::Rdms(kriegeskorte2008::human_it_rdms(store, catalog)?)
            }
            TargetSpec::Cowley2023 { session } => {
                let repeats = cowley2023::sessions_with_repeats(catalog)?.contains(session);
                TargetData::Responses(cowley2023::responses(store, catalog, session, repeats)?)
            }
            TargetSpec::Tang2018 => TargetData::Responses(tang2018::responses(store, catalog)?),
        })
    }

    /// Loads stimuli and target, checking that they describe the same stimuli in the same order.
    pub fn load(&self, store: &DataStore, catalog: &Catalog) -> Result<BenchmarkData> {
        let stimuli = match &self.target {
            TargetSpec::Kiani2007MonkeyIt | TargetSpec::Kriegeskorte2008HumanIt => {
                kriegeskorte2008::stimuli(store, catalog)?
            }
            TargetSpec::Cowley2023 { session } => cowley2023::stimuli(store, catalog, session)?,
            TargetSpec::Tang2018 => tang2018::stimuli(store, catalog)?,
        };
        let target = self.load_target(store, catalog)?;
        let target_ids = match &target {
            TargetData::Rdms(r) => &r.stimulus_ids,
            TargetData::Responses(r) => &r.stimulus_ids,
        };
        if target_ids != &stimuli.ids {
            return Err(DataError::format(
                &self.id,
                "the neural target and the stimuli do not list the same stimuli in the same order",
            ));
        }
        Ok(BenchmarkData { stimuli, target })
    }
}
