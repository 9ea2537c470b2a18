//! Benchmarks as data (`catalog/benchmarks.yaml`): which stimuli, which neural target, which
//! metric and ceiling, which preprocessing. A registry maps each id to its definition.
//!
//! The metric is written in the evaluators' terms ([`evaluators::MetricSpec`]), so a
//! definition is typed and checked when the catalog loads: a metric with a bad option, a
//! ceiling that does not fit its target or metric, or an RDM target scored by a metric that
//! needs responses is refused there, naming the benchmark. (`brain-data` uses only the
//! evaluators' vocabulary; the evaluators never see brain-data's types.)

use std::collections::BTreeMap;

use evaluators::MetricSpec;
use serde::{Deserialize, Serialize};

use crate::assembly::{NeuralAssembly, RdmAssembly, StimulusSet};
use crate::catalog::Catalog;
use crate::error::{DataError, Result};
use crate::loaders::{TARGET_SOURCES, TargetSource};
use crate::preprocess::Preprocessing;
use crate::store::DataStore;

/// Where a benchmark's neural data comes from: a source of the loader table
/// ([`crate::loaders::TARGET_SOURCES`]) with its options, written
/// `{source: cowley2023, session: "210325"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct TargetSpec {
    /// The source's name.
    pub source: String,
    /// Its options, e.g. `session`.
    pub options: BTreeMap<String, String>,
}

impl TryFrom<BTreeMap<String, String>> for TargetSpec {
    type Error = String;

    fn try_from(mut map: BTreeMap<String, String>) -> std::result::Result<Self, String> {
        let source = map.remove("source").ok_or("a target needs a `source`")?;
        let spec = TargetSpec {
            source,
            options: map,
        };
        let row = spec.table_row().map_err(|e| e.to_string())?;
        let given: Vec<&str> = spec.options.keys().map(String::as_str).collect();
        let mut wanted = row.options.to_vec();
        wanted.sort_unstable();
        if given != wanted {
            return Err(format!(
                "target source {} takes the options [{}], not [{}]",
                spec.source,
                wanted.join(", "),
                given.join(", ")
            ));
        }
        Ok(spec)
    }
}

impl From<TargetSpec> for BTreeMap<String, String> {
    fn from(spec: TargetSpec) -> Self {
        let mut map = spec.options;
        map.insert("source".into(), spec.source);
        map
    }
}

impl TargetSpec {
    /// The source's row of the loader table.
    pub fn table_row(&self) -> Result<&'static TargetSource> {
        TARGET_SOURCES
            .iter()
            .find(|t| t.name == self.source)
            .ok_or_else(|| DataError::Catalog {
                what: "benchmarks".into(),
                message: format!(
                    "unknown target source '{}'; known: {}",
                    self.source,
                    TARGET_SOURCES
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    /// What the target is (an error for a source the loader table lacks).
    pub fn kind(&self) -> Result<TargetKind> {
        Ok(self.table_row()?.kind)
    }

    /// The option `key`.
    pub fn option(&self, key: &str) -> Result<&str> {
        self.options
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| DataError::Catalog {
                what: format!("target source {}", self.source),
                message: format!("needs the option `{key}`"),
            })
    }
}

/// What a benchmark's neural target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// RDMs only (the recordings themselves are not published): only RSA can score them.
    Rdms,
    /// Responses of neuroids to stimuli, possibly with repetitions.
    Responses,
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

impl CeilingSpec {
    /// The name of the kind, as the YAML writes it.
    pub fn name(&self) -> &'static str {
        match self {
            CeilingSpec::None { .. } => "none",
            CeilingSpec::SplitHalf { .. } => "split_half",
            CeilingSpec::RdmSplitHalf { .. } => "rdm_split_half",
            CeilingSpec::NiliNoiseCeiling { .. } => "nili_noise_ceiling",
        }
    }
}

/// One benchmark's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkSpec {
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
    /// The metric.
    pub metric: MetricSpec,
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

impl BenchmarkSpec {
    /// The benchmarks shipped with cortexbench.
    pub fn builtin() -> Vec<BenchmarkSpec> {
        BenchmarkSpec::parse_all(BENCHMARKS_YAML)
            .expect("the shipped benchmarks are valid (checked by tests)")
    }

    /// Reads and checks a list of benchmarks in the layout of `catalog/benchmarks.yaml`.
    pub fn parse_all(yaml: &str) -> Result<Vec<BenchmarkSpec>> {
        let all: Vec<BenchmarkSpec> =
            serde_norway::from_str(yaml).map_err(|e| DataError::Catalog {
                what: "benchmarks".into(),
                message: e.to_string(),
            })?;
        for (i, b) in all.iter().enumerate() {
            if all[..i].iter().any(|earlier| earlier.id == b.id) {
                return Err(DataError::Catalog {
                    what: "benchmarks".into(),
                    message: format!("benchmark '{}' is defined twice", b.id),
                });
            }
            b.validate()?;
        }
        Ok(all)
    }

    /// Checks that the metric's options are valid and that metric, ceiling and target fit
    /// each other.
    pub fn validate(&self) -> Result<()> {
        let refuse = |message: String| {
            Err(DataError::Catalog {
                what: format!("benchmark {}", self.id),
                message,
            })
        };
        if let Err(e) = self.metric.validate() {
            return refuse(format!("metric: {e}"));
        }
        let kind = self.target.kind()?;
        if kind == TargetKind::Rdms && !self.metric.accepts_rdms() {
            return refuse(format!(
                "the target is a set of RDMs, which {} cannot score (only rsa can)",
                self.metric.name()
            ));
        }
        let rsa = matches!(self.metric, MetricSpec::Rsa { .. });
        let fits = match &self.ceiling {
            CeilingSpec::None { .. } => true,
            CeilingSpec::SplitHalf { .. } => kind == TargetKind::Responses,
            CeilingSpec::RdmSplitHalf { .. } => kind == TargetKind::Responses && rsa,
            CeilingSpec::NiliNoiseCeiling { .. } => kind == TargetKind::Rdms && rsa,
        };
        if !fits {
            return refuse(format!(
                "ceiling {} does not fit a {} metric on a target of {}",
                self.ceiling.name(),
                self.metric.name(),
                match kind {
                    TargetKind::Rdms => "RDMs",
                    TargetKind::Responses => "responses",
                }
            ));
        }
        Ok(())
    }

    /// The shipped benchmark with this id.
    pub fn find(id: &str) -> Result<BenchmarkSpec> {
        let all = BenchmarkSpec::builtin();
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
        (self.target.table_row()?.target)(store, catalog, &self.target)
    }

    /// Loads stimuli and target, checking that they describe the same stimuli in the same order.
    pub fn load(&self, store: &DataStore, catalog: &Catalog) -> Result<BenchmarkData> {
        let stimuli = (self.target.table_row()?.stimuli)(store, catalog, &self.target)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_benchmark_loads_typed_and_checked() {
        let all = BenchmarkSpec::parse_all(BENCHMARKS_YAML).unwrap();
        assert_eq!(all.len(), 6);
        for b in &all {
            b.validate().unwrap();
            // The typed definition writes back to the YAML it was read from.
            let again: BenchmarkSpec =
                serde_norway::from_str(&serde_norway::to_string(b).unwrap()).unwrap();
            assert_eq!(&again, b);
        }
        let pls = all.iter().find(|b| b.id == "cowley2023.V4-pls").unwrap();
        assert_eq!(pls.metric.name(), "pls");
        assert_eq!(pls.target.kind().unwrap(), TargetKind::Responses);
        assert_eq!(pls.target.option("session").unwrap(), "210325");
        // Every source of the loader table is used by a shipped benchmark.
        for source in TARGET_SOURCES {
            assert!(
                all.iter().any(|b| b.target.source == source.name),
                "{}",
                source.name
            );
        }
    }

    fn with(id: &str, from: &str, to: &str) -> String {
        let yaml = BENCHMARKS_YAML.replacen(from, to, 1);
        assert_ne!(yaml, BENCHMARKS_YAML, "{id}: '{from}' not found");
        yaml
    }

    #[test]
    fn a_bad_definition_is_refused_when_the_catalog_loads_naming_the_benchmark() {
        // (benchmark, text, replacement, what the error says)
        let cases = [
            // An option that the metric refuses.
            (
                "cowley2023.V4-pls",
                "n_components: 25",
                "n_components: 0",
                "cowley2023.V4-pls",
            ),
            // An unknown metric key.
            (
                "kiani2007.IT-rsa",
                "compare: spearman}",
                "compare: spearman, extra: 1}",
                "unknown field `extra`",
            ),
            // A metric that needs responses, on RDMs.
            (
                "kriegeskorte2008.hIT-rsa",
                "target: {source: kriegeskorte2008_human_it}\n  metric: {kind: rsa, rdm: correlation, compare: spearman}",
                "target: {source: kriegeskorte2008_human_it}\n  metric: {kind: cka}",
                "kriegeskorte2008.hIT-rsa",
            ),
            // A ceiling that needs RDMs, on responses.
            (
                "cowley2023.V4-pls",
                "ceiling: {kind: split_half, n_splits: 10, seed: 1}",
                "ceiling: {kind: nili_noise_ceiling, bound: upper}",
                "cowley2023.V4-pls",
            ),
            // A source the loader table does not have, and a misspelt option.
            (
                "tang2018.V1-pls",
                "{source: tang2018}",
                "{source: tang2019}",
                "unknown target source 'tang2019'",
            ),
            (
                "cowley2023.V4-pls",
                "session: \"210325\"",
                "sesion: \"210325\"",
                "takes the options [session], not [sesion]",
            ),
        ];
        for (id, from, to, says) in cases {
            let err = BenchmarkSpec::parse_all(&with(id, from, to))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{from} -> {to}: {err}");
        }
        let twice = format!(
            "{BENCHMARKS_YAML}\n{}",
            &BENCHMARKS_YAML[BENCHMARKS_YAML.find("- id: kiani").unwrap()
                ..BENCHMARKS_YAML.find("- id: kriegeskorte").unwrap()]
        );
        let err = BenchmarkSpec::parse_all(&twice).unwrap_err().to_string();
        assert!(
            err.contains("kiani2007.IT-rsa") && err.contains("twice"),
            "{err}"
        );
    }
}
