//! What `harness score` runs: models, benchmarks and options, from YAML or from the command
//! line, and the default set that `harness score` with no arguments scores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use brain_data::{BenchmarkSpec, Preprocessing};
use evaluators::MetricSpec;
use model_zoo::vectorized::VectorRule;
use model_zoo::{Preset, Rule, TrainingData};
use serde::{Deserialize, Serialize};

fn cifar10() -> TrainingData {
    TrainingData::Cifar10
}
fn quick() -> String {
    "quick".into()
}

/// A model to score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSpec {
    /// A zoo network trained under `rule` with a preset (or reused from the cache when the
    /// same training config was trained before).
    Zoo {
        /// Learning rule (`bp`, `fa`, `dfa`, `ss`, `nc`, `nmnc`, `dfc`).
        rule: Rule,
        /// `cnn` or `mlp`.
        arch: String,
        /// Training data: `cifar10` (default) or `fashion-mnist`.
        #[serde(default = "cifar10")]
        dataset: TrainingData,
        /// `quick` (default) or `standard`.
        #[serde(default = "quick")]
        preset: String,
        /// Epochs in place of the preset's (every step of each).
        #[serde(default)]
        epochs: Option<usize>,
        /// Training seeds, each its own network (default: the run's `seed`). The rule's
        /// score is the mean over seeds; its interval includes the seed variance.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seeds: Option<Vec<u64>>,
    },
    /// A vectorized nonnegative network trained by GEVB, or by backprop on the same network,
    /// with a preset (or reused from the cache when the same config was trained before).
    Vectorized {
        /// `gevb` or `bp`.
        rule: model_zoo::vectorized::VectorRule,
        /// `vnn-mlp` or `vnn-cnn`.
        arch: String,
        /// Training data: `cifar10` (default) or `fashion-mnist`.
        #[serde(default = "cifar10")]
        dataset: TrainingData,
        /// `quick` (default) or `standard`.
        #[serde(default = "quick")]
        preset: String,
        /// Epochs in place of the preset's (every step of each).
        #[serde(default)]
        epochs: Option<usize>,
        /// Training seeds, each its own network (default: the run's `seed`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seeds: Option<Vec<u64>>,
    },
    /// A zoo architecture with its random initial weights, the untrained baseline.
    Untrained {
        /// `cnn` or `mlp`, or a vectorized network's `vnn-mlp` or `vnn-cnn`.
        arch: String,
        /// The data set whose input shape it takes: `cifar10` (default) or `fashion-mnist`.
        #[serde(default = "cifar10")]
        dataset: TrainingData,
        /// Seeds of the initial weights, one network each (default: the run's `seed`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seeds: Option<Vec<u64>>,
    },
    /// A checkpoint written by `harness train`.
    Checkpoint {
        /// The `.safetensors` file.
        path: PathBuf,
    },
    /// An ONNX file.
    Onnx {
        /// The file.
        path: PathBuf,
        /// Name in tables (default: the file stem).
        #[serde(default)]
        name: Option<String>,
        /// Rule in tables (default `external`).
        #[serde(default)]
        rule: Option<String>,
        /// Layers (tensor or node names; default: seven evenly spaced float layers and the
        /// output).
        #[serde(default)]
        layers: Vec<String>,
        /// `[channels, height, width]` when the graph leaves them open.
        #[serde(default)]
        input_shape: Option<[usize; 3]>,
        /// Stimulus preprocessing; default: each benchmark's (ImageNet statistics, 224 px).
        #[serde(default)]
        preprocessing: Option<Preprocessing>,
    },
}

impl ModelSpec {
    /// The entry of a model file: an ONNX graph (with `layers` and `input_shape`, both
    /// optional) or a zoo checkpoint (every layer; `layers` must be empty).
    pub fn from_file(
        path: &Path,
        layers: &[String],
        input_shape: Option<[usize; 3]>,
    ) -> Result<ModelSpec> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("onnx") => Ok(ModelSpec::Onnx {
                path: path.to_path_buf(),
                name: None,
                rule: None,
                layers: layers.to_vec(),
                input_shape,
                preprocessing: None,
            }),
            Some("safetensors") => {
                if !layers.is_empty() {
                    bail!("--layers applies to ONNX models; a zoo checkpoint gives every layer");
                }
                Ok(ModelSpec::Checkpoint {
                    path: path.to_path_buf(),
                })
            }
            _ => bail!(
                "{}: expected an ONNX file (.onnx) or a zoo checkpoint (.safetensors)",
                path.display()
            ),
        }
    }

    /// A `vectorized` entry's training config for `seed`, or for an untrained vectorized
    /// baseline the config whose initial weights it is (None for other entries).
    pub fn vectorized_config(
        &self,
        seed: u64,
    ) -> Option<Result<model_zoo::vectorized::VectorTrainConfig>> {
        match self {
            ModelSpec::Vectorized {
                rule,
                arch,
                dataset,
                preset,
                epochs,
                ..
            } => Some(crate::vectorized_zoo::preset_config(
                *rule, arch, *dataset, preset, *epochs, seed,
            )),
            ModelSpec::Untrained { arch, dataset, .. }
                if crate::vectorized_zoo::is_vectorized(arch) =>
            {
                Some(crate::vectorized_zoo::untrained_config(
                    arch, *dataset, seed,
                ))
            }
            _ => None,
        }
    }

    /// The model's name in tables: `<rule>-<data>-<arch>` for zoo networks
    /// (`untrained-cifar-cnn` for baselines), a checkpoint's folder name, an ONNX entry's
    /// `name` or its file stem.
    pub fn name(&self) -> String {
        match self {
            ModelSpec::Zoo {
                rule,
                arch,
                dataset,
                ..
            } => format!("{rule}-{}-{arch}", dataset.tag()),
            ModelSpec::Vectorized {
                rule,
                arch,
                dataset,
                ..
            } => format!("{}-{}-{arch}", rule.name(), dataset.tag()),
            ModelSpec::Untrained { arch, dataset, .. } => {
                format!("untrained-{}-{arch}", dataset.tag())
            }
            ModelSpec::Checkpoint { path } => {
                path.parent().and_then(|p| p.file_name()).map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into(),
                )
            }
            ModelSpec::Onnx { path, name, .. } => name.clone().unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into())
                    .unwrap_or_default()
            }),
        }
    }
}

/// A whole scoring run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Models.
    pub models: Vec<ModelSpec>,
    /// Benchmark ids (default: every shipped benchmark).
    #[serde(default)]
    pub benchmarks: Vec<String>,
    /// Metric options per benchmark id, replacing the benchmark's own metric (and the
    /// ceiling's, which is measured with the same metric), e.g. another RDM comparison or a
    /// ridge regression in place of PLS.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, MetricSpec>,
    /// Seed of training, stimulus splits and projections.
    #[serde(default = "one")]
    pub seed: u64,
    /// Stimuli per forward pass.
    #[serde(default = "batch")]
    pub batch_size: usize,
    /// Layers wider than this are randomly projected to it (0: never).
    #[serde(default = "projection")]
    pub projection_dim: usize,
    /// Ceiling normalisation: `raw/ceiling`, `(raw/ceiling)^2` or `raw^2/ceiling`.
    #[serde(default)]
    pub normalization: evaluators::CeilingNormalization,
    /// Bootstrap intervals and pairwise tests.
    #[serde(default)]
    pub statistics: StatisticsConfig,
    /// Output folder.
    #[serde(default = "out")]
    pub out: PathBuf,
}

/// How the leaderboard's intervals and pairwise tests are computed (seeded by the run's
/// `seed`; see `harness::comparison`). A config may set either field alone; without
/// `resamples` a run gets [`StatisticsConfig::resamples_for`] its models.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatisticsConfig {
    /// Bootstrap resamples per benchmark (shared by every model of the benchmark).
    pub resamples: usize,
    /// Coverage of the intervals, and 1 − the significance level of the tests.
    pub confidence: f64,
}

impl StatisticsConfig {
    /// The least resamples a run gets when its config does not set them.
    pub const DEFAULT_RESAMPLES: usize = 1000;

    /// The fewest bootstrap resamples B with which a pairwise test among `models` leaderboard
    /// entries can be significant: a paired bootstrap's smallest p-value is 1/(B+1), and Holm's
    /// correction multiplies the smallest of the n(n−1)/2 p-values by their number, so B must
    /// make n(n−1)/2 / (B+1) fall below 1 − `confidence`.
    pub fn fewest_resamples(&self, models: usize) -> usize {
        let pairs = (models * models.saturating_sub(1) / 2) as f64;
        let alpha = 1.0 - self.confidence;
        let mut b = (pairs / alpha).floor() as usize;
        while pairs / (b + 1) as f64 >= alpha {
            b += 1;
        }
        b
    }

    /// The resamples for `models` entries when none are asked for: 1000, or the next multiple
    /// of 1000 with which every pairwise test can reach significance (11 models: 2000).
    pub fn resamples_for(&self, models: usize) -> usize {
        let fewest = self.fewest_resamples(models);
        Self::DEFAULT_RESAMPLES.max(fewest.div_ceil(1000) * 1000)
    }
}

impl Default for StatisticsConfig {
    fn default() -> Self {
        StatisticsConfig {
            resamples: StatisticsConfig::DEFAULT_RESAMPLES,
            confidence: 0.95,
        }
    }
}

/// Whether a run config's YAML (already parsed as one) sets `statistics.resamples`.
fn sets_resamples(text: &str) -> bool {
    serde_norway::from_str::<serde_norway::Value>(text).is_ok_and(|value| {
        value
            .get("statistics")
            .and_then(|statistics| statistics.get("resamples"))
            .is_some()
    })
}

/// The training seeds of the default run's zoo networks and untrained baselines.
pub const DEFAULT_SEEDS: [u64; 2] = [1, 2];

fn one() -> u64 {
    1
}
fn batch() -> usize {
    32
}
fn projection() -> usize {
    4096
}
fn out() -> PathBuf {
    PathBuf::from("cortexbench-results")
}

/// The training preset of the default model set (`harness score --preset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DefaultPreset {
    /// The default run's networks: minutes of training each.
    Quick,
    /// The full comparison: every network trained to the end of its standard preset.
    Standard,
}

impl DefaultPreset {
    /// `quick` or `standard`, the zoo preset's name.
    pub fn name(self) -> &'static str {
        match self {
            DefaultPreset::Quick => "quick",
            DefaultPreset::Standard => "standard",
        }
    }

    /// The vectorized network of the set: the VNN MLP in the quick set (a quick VNN convnet
    /// would add minutes to the run without having learned CIFAR-10), the VNN convnet in
    /// the standard one.
    fn vectorized_arch(self) -> &'static str {
        match self {
            DefaultPreset::Quick => "vnn-mlp",
            DefaultPreset::Standard => "vnn-cnn",
        }
    }
}

/// Refuses an empty or repeating seed list.
fn check_seeds(seeds: Option<&[u64]>, model: &str) -> Result<()> {
    let Some(seeds) = seeds else { return Ok(()) };
    if seeds.is_empty() {
        bail!("{model}: seeds is empty; leave it out to use the run's seed");
    }
    let mut sorted = seeds.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != seeds.len() {
        bail!("{model}: seeds {seeds:?} repeat a seed");
    }
    Ok(())
}

impl RunConfig {
    /// The default run: [`RunConfig::default_set`] with the quick preset.
    pub fn default_run(efficientnet: Option<PathBuf>) -> RunConfig {
        Self::default_set(DefaultPreset::Quick, efficientnet)
    }

    /// The default model set, its networks trained with `preset`: the CIFAR-10 convnet under
    /// every rule and its untrained baseline, a vectorized nonnegative network under GEVB and
    /// under backprop and its untrained baseline (quick: the VNN MLP, the VNN convnet being
    /// left out for the run's time; standard: the VNN convnet), and the pretrained
    /// EfficientNet-Lite0 when `efficientnet` is given, on every shipped benchmark.
    pub fn default_set(preset: DefaultPreset, efficientnet: Option<PathBuf>) -> RunConfig {
        let mut models: Vec<ModelSpec> = Rule::ALL
            .into_iter()
            .map(|rule| ModelSpec::Zoo {
                rule,
                arch: "cnn".into(),
                dataset: TrainingData::Cifar10,
                preset: preset.name().into(),
                epochs: None,
                seeds: Some(DEFAULT_SEEDS.to_vec()),
            })
            .collect();
        models.push(ModelSpec::Untrained {
            arch: "cnn".into(),
            dataset: TrainingData::Cifar10,
            seeds: Some(DEFAULT_SEEDS.to_vec()),
        });
        for rule in [VectorRule::Gevb, VectorRule::Bp] {
            models.push(ModelSpec::Vectorized {
                rule,
                arch: preset.vectorized_arch().into(),
                dataset: TrainingData::Cifar10,
                preset: preset.name().into(),
                epochs: None,
                seeds: Some(DEFAULT_SEEDS.to_vec()),
            });
        }
        models.push(ModelSpec::Untrained {
            arch: preset.vectorized_arch().into(),
            dataset: TrainingData::Cifar10,
            seeds: Some(DEFAULT_SEEDS.to_vec()),
        });
        if let Some(path) = efficientnet {
            models.push(ModelSpec::Onnx {
                path,
                name: Some("efficientnet_lite0".into()),
                rule: Some("pretrained".into()),
                layers: vec![],
                input_shape: None,
                preprocessing: None,
            });
        }
        let default = StatisticsConfig::default();
        let statistics = StatisticsConfig {
            resamples: default.resamples_for(models.len()),
            ..default
        };
        RunConfig {
            models,
            benchmarks: vec![],
            metrics: BTreeMap::new(),
            seed: one(),
            batch_size: batch(),
            projection_dim: projection(),
            normalization: Default::default(),
            statistics,
            out: out(),
        }
    }

    /// Reads a YAML run config.
    pub fn load(path: &Path) -> Result<RunConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        RunConfig::parse(&text, path)
    }

    /// Reads and validates a run config from YAML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<RunConfig> {
        let mut config: RunConfig = serde_norway::from_str(text)
            .with_context(|| format!("{}: not a valid run config", origin.display()))?;
        if !sets_resamples(text) {
            config.statistics.resamples = config.statistics.resamples_for(config.models.len());
        }
        config
            .validate()
            .with_context(|| format!("{}: invalid run config", origin.display()))?;
        Ok(config)
    }

    /// Checks names and numbers before anything runs.
    pub fn validate(&self) -> Result<()> {
        if self.models.is_empty() {
            bail!("no models to score");
        }
        if self.batch_size == 0 {
            bail!("batch_size must be at least 1");
        }
        if self.statistics.resamples < 100 {
            bail!(
                "statistics.resamples must be at least 100 for a 95 % interval, got {}",
                self.statistics.resamples
            );
        }
        if !(self.statistics.confidence > 0.5 && self.statistics.confidence < 1.0) {
            bail!(
                "statistics.confidence must be between 0.5 and 1, got {}",
                self.statistics.confidence
            );
        }
        let (models, resamples) = (self.models.len(), self.statistics.resamples);
        let fewest = self.statistics.fewest_resamples(models);
        if resamples < fewest {
            let pairs = models * (models - 1) / 2;
            bail!(
                "statistics.resamples {resamples} cannot resolve the pairwise tests of {models} \
                 models: a paired bootstrap's smallest p-value is 1/{} and Holm's correction \
                 multiplies it by the {pairs} pairs, giving {:.3}, not below the {:.2} level, so \
                 no difference could be significant; set statistics.resamples to at least \
                 {fewest} (e.g. {})",
                resamples + 1,
                pairs as f64 / (resamples + 1) as f64,
                1.0 - self.statistics.confidence,
                self.statistics.resamples_for(models)
            );
        }
        for model in &self.models {
            match model {
                ModelSpec::Zoo {
                    rule,
                    arch,
                    dataset,
                    preset,
                    epochs,
                    seeds,
                } => {
                    check_seeds(seeds.as_deref(), &format!("{rule}-{arch}"))?;
                    // The preset knows its rules and architectures.
                    Preset::builtin(*dataset, preset)?.config(*rule, arch)?;
                    if *epochs == Some(0) {
                        bail!("{rule}-{arch}: epochs must be at least 1");
                    }
                }
                ModelSpec::Vectorized {
                    rule, arch, seeds, ..
                } => {
                    let name = format!("{}-{arch}", rule.name());
                    check_seeds(seeds.as_deref(), &name)?;
                    let config = model.vectorized_config(1).expect("a vectorized entry");
                    config.with_context(|| name.clone())?;
                }
                ModelSpec::Untrained {
                    arch,
                    dataset,
                    seeds,
                } => {
                    let name = format!("untrained-{arch}");
                    check_seeds(seeds.as_deref(), &name)?;
                    match model.vectorized_config(1) {
                        Some(config) => {
                            config.with_context(|| name)?;
                        }
                        None => {
                            Preset::builtin(*dataset, "quick")?.config(Rule::Bp, arch)?;
                        }
                    }
                }
                ModelSpec::Checkpoint { .. } | ModelSpec::Onnx { .. } => {}
            }
        }
        // Rows, leaderboards and `compare` tell models apart by name alone.
        let names: Vec<String> = self.models.iter().map(ModelSpec::name).collect();
        for (j, name) in names.iter().enumerate() {
            if let Some(i) = names[..j].iter().position(|n| n == name) {
                let fix = match (&self.models[i], &self.models[j]) {
                    (ModelSpec::Onnx { .. }, _) | (_, ModelSpec::Onnx { .. }) => {
                        "give the ONNX entries distinct `name:`s"
                    }
                    (ModelSpec::Checkpoint { .. }, _) | (_, ModelSpec::Checkpoint { .. }) => {
                        "keep the checkpoints in folders of distinct names"
                    }
                    _ => "list the seeds of one rule, data set and architecture in one entry",
                };
                bail!(
                    "models {} and {} are both named '{name}', so their rows could not be told apart; {fix}",
                    i + 1,
                    j + 1
                );
            }
        }
        self.benchmarks()?;
        Ok(())
    }

    /// The networks a model entry stands for: one per training seed (the run's seed when the
    /// entry names none; ONNX files and checkpoints are one network).
    pub fn seeds_of(&self, model: &ModelSpec) -> Vec<u64> {
        match model {
            ModelSpec::Zoo {
                seeds: Some(seeds), ..
            }
            | ModelSpec::Vectorized {
                seeds: Some(seeds), ..
            }
            | ModelSpec::Untrained {
                seeds: Some(seeds), ..
            } => seeds.clone(),
            _ => vec![self.seed],
        }
    }

    /// The benchmarks to run, with the config's metric options applied.
    pub fn benchmarks(&self) -> Result<Vec<BenchmarkSpec>> {
        let mut benchmarks = if self.benchmarks.is_empty() {
            BenchmarkSpec::builtin()
        } else {
            self.benchmarks
                .iter()
                .map(|id| BenchmarkSpec::find(id))
                .collect::<brain_data::Result<Vec<_>>>()?
        };
        for (id, metric) in &self.metrics {
            let Some(benchmark) = benchmarks.iter_mut().find(|b| &b.id == id) else {
                bail!("metrics: '{id}' is not one of the run's benchmarks");
            };
            benchmark.metric = metric.clone();
            // The same checks as the catalog's: options, and a fit with target and ceiling.
            benchmark
                .validate()
                .with_context(|| format!("metrics: {id}"))?;
        }
        Ok(benchmarks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run config of `models` (and any top-level keys after them), read as a file is,
    /// its error with every context.
    fn config(models: &str) -> Result<RunConfig> {
        RunConfig::parse(&format!("models:\n{models}"), Path::new("run.yaml"))
            .map_err(|e| anyhow::anyhow!("{e:#}"))
    }

    #[test]
    fn entries_stand_for_their_seeds_or_the_run_seed() {
        let c = config(
            "  - {kind: zoo, rule: bp, arch: cnn, seeds: [3, 1]}\n  - {kind: untrained, arch: cnn}\n",
        )
        .unwrap();
        assert_eq!(c.seeds_of(&c.models[0]), vec![3, 1]);
        assert_eq!(c.seeds_of(&c.models[1]), vec![1]);
        let default = RunConfig::default_run(None);
        assert!(
            default
                .models
                .iter()
                .all(|m| default.seeds_of(m) == DEFAULT_SEEDS)
        );
    }

    #[test]
    fn empty_or_repeated_seeds_and_too_few_resamples_are_refused() {
        for (models, message) in [
            (
                "  - {kind: zoo, rule: bp, arch: cnn, seeds: []}\n",
                "seeds is empty",
            ),
            (
                "  - {kind: untrained, arch: cnn, seeds: [2, 2]}\n",
                "repeat a seed",
            ),
        ] {
            let err = config(models).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
        let mut c = RunConfig::default_run(None);
        c.statistics.resamples = 10;
        assert!(c.validate().unwrap_err().to_string().contains("resamples"));
    }

    #[test]
    fn vectorized_entries_are_named_checked_and_in_the_default_run() {
        let c = config(
            "  - {kind: vectorized, rule: gevb, arch: vnn-mlp, dataset: fashion-mnist, seeds: [3]}\n  - {kind: vectorized, rule: bp, arch: vnn-cnn}\n  - {kind: untrained, arch: vnn-cnn, seeds: [4]}\n",
        )
        .unwrap();
        assert_eq!(c.models[0].name(), "gevb-fmnist-vnn-mlp");
        assert_eq!(c.models[1].name(), "bp-cifar-vnn-cnn");
        assert_eq!(c.models[2].name(), "untrained-cifar-vnn-cnn");
        assert_eq!(c.seeds_of(&c.models[0]), vec![3]);
        // An untrained VNN is the initial weights of the trained ones' config: same network
        // shape and seed, whatever the rule or schedule.
        let untrained = c.models[2].vectorized_config(4).unwrap().unwrap();
        let trained = c.models[1].vectorized_config(4).unwrap().unwrap();
        assert_eq!(untrained.network().unwrap(), trained.network().unwrap());
        assert!(
            config("  - {kind: untrained, arch: cnn}\n").unwrap().models[0]
                .vectorized_config(1)
                .is_none()
        );
        for (models, message) in [
            (
                "  - {kind: vectorized, rule: gevb, arch: cnn}\n",
                "vnn-mlp or vnn-cnn, not cnn",
            ),
            ("  - {kind: vectorized, rule: fa, arch: vnn-mlp}\n", "fa"),
            (
                "  - {kind: vectorized, rule: gevb, arch: vnn-mlp, preset: long}\n",
                "unknown preset 'long'",
            ),
            (
                "  - {kind: vectorized, rule: gevb, arch: vnn-mlp, epochs: 0}\n",
                "at least 1",
            ),
        ] {
            let err = format!("{:#}", config(models).unwrap_err());
            assert!(err.contains(message), "{err}");
        }
        let default = RunConfig::default_run(None);
        let names: Vec<String> = default.models.iter().map(ModelSpec::name).collect();
        for name in [
            "gevb-cifar-vnn-mlp",
            "bp-cifar-vnn-mlp",
            "untrained-cifar-vnn-mlp",
        ] {
            assert!(names.contains(&name.to_string()), "{names:?}");
        }
    }

    #[test]
    fn the_standard_set_is_the_default_set_with_every_network_trained_to_the_end() {
        let quick = RunConfig::default_run(Some("/m/e.onnx".into()));
        let standard = RunConfig::default_set(DefaultPreset::Standard, Some("/m/e.onnx".into()));
        assert_eq!(standard.models.len(), quick.models.len());
        standard.validate().unwrap();
        let names: Vec<String> = standard.models.iter().map(ModelSpec::name).collect();
        for rule in Rule::ALL {
            assert!(names.contains(&format!("{rule}-cifar-cnn")), "{names:?}");
        }
        for name in [
            "untrained-cifar-cnn",
            "gevb-cifar-vnn-cnn",
            "bp-cifar-vnn-cnn",
            "untrained-cifar-vnn-cnn",
            "efficientnet_lite0",
        ] {
            assert!(names.contains(&name.to_string()), "{names:?}");
        }
        for model in &standard.models {
            match model {
                ModelSpec::Zoo { preset, seeds, .. }
                | ModelSpec::Vectorized { preset, seeds, .. } => {
                    assert_eq!(preset, "standard", "{model:?}");
                    assert_eq!(seeds.as_deref(), Some(&DEFAULT_SEEDS[..]), "{model:?}");
                }
                ModelSpec::Untrained { seeds, .. } => {
                    assert_eq!(seeds.as_deref(), Some(&DEFAULT_SEEDS[..]), "{model:?}")
                }
                ModelSpec::Onnx { .. } => {}
                other => panic!("not in the default set: {other:?}"),
            }
        }
        // Every entry but the networks' training is the default run's.
        assert_eq!(standard.statistics, quick.statistics);
        assert_eq!(standard.benchmarks, quick.benchmarks);
    }

    #[test]
    fn resamples_too_few_for_any_significant_pair_are_refused_and_the_default_run_has_enough() {
        let stats = StatisticsConfig::default();
        // The fewest B: the smallest Holm-adjusted p, pairs/(B+1), is below the level the
        // comparison tests against (1 − confidence), and with one resample fewer it is not.
        let alpha = 1.0 - stats.confidence;
        for models in 2..40 {
            let pairs = (models * (models - 1) / 2) as f64;
            let b = stats.fewest_resamples(models);
            assert!(pairs / ((b + 1) as f64) < alpha, "{models}: {b}");
            assert!(pairs / b as f64 >= alpha, "{models}: {b}");
        }
        // 9 models (36 pairs) resolve with 1000; 11 (55 pairs: 55/1001 > 0.05) do not.
        assert!(stats.fewest_resamples(9) <= 1000);
        assert!(stats.fewest_resamples(11) > 1000);
        assert_eq!(stats.resamples_for(9), 1000);
        assert_eq!(stats.resamples_for(11), 2000);
        let eleven: String = (0..11)
            .map(|i| format!("  - {{kind: onnx, path: m{i}.onnx}}\n"))
            .collect();
        // A config that sets no resamples gets enough for its models, as the default run does;
        // one that sets too few is refused, saying how many would do.
        assert_eq!(config(&eleven).unwrap().statistics, stats_with(2000, 0.95));
        let err = config(&format!("{eleven}statistics: {{resamples: 1000}}\n"))
            .unwrap_err()
            .to_string();
        let fewest = stats.fewest_resamples(11);
        assert!(
            err.contains("cannot resolve") && err.contains(&format!("at least {fewest}")),
            "{err}"
        );
        // Either field alone; the other keeps its default (a stricter level needs more).
        let strict = config(&format!("{eleven}statistics: {{confidence: 0.99}}\n")).unwrap();
        assert_eq!(
            strict.statistics,
            stats_with(stats_with(0, 0.99).resamples_for(11), 0.99)
        );
        assert!(strict.statistics.resamples > 2000);
        let set = config(&format!("{eleven}statistics: {{resamples: 1500}}\n")).unwrap();
        assert_eq!(set.statistics, stats_with(1500, 0.95));
        let mut c: RunConfig = serde_norway::from_str(&format!(
            "models:\n{eleven}statistics: {{resamples: {fewest}, confidence: 0.95}}\n"
        ))
        .unwrap();
        c.validate().unwrap();
        c.statistics.confidence = 0.99;
        assert!(c.validate().is_err());
        let default = RunConfig::default_run(Some("/m/efficientnet_lite0.onnx".into()));
        assert_eq!(default.models.len(), 12);
        assert_eq!(default.statistics.resamples, 2000);
        default.validate().unwrap();
    }

    fn stats_with(resamples: usize, confidence: f64) -> StatisticsConfig {
        StatisticsConfig {
            resamples,
            confidence,
        }
    }

    #[test]
    fn two_models_of_one_name_are_refused() {
        for (models, fix) in [
            (
                "  - {kind: onnx, path: a/model.onnx}\n  - {kind: onnx, path: b/model.onnx}\n",
                "distinct `name:`s",
            ),
            (
                "  - {kind: zoo, rule: bp, arch: cnn, seeds: [1]}\n  - {kind: zoo, rule: bp, arch: cnn, seeds: [2]}\n",
                "in one entry",
            ),
        ] {
            let err = config(models).unwrap_err().to_string();
            assert!(err.contains("models 1 and 2") && err.contains(fix), "{err}");
        }
        config(
            "  - {kind: onnx, path: a/model.onnx, name: a}\n  - {kind: onnx, path: b/model.onnx}\n",
        )
        .unwrap();
        // The default run's names are distinct.
        RunConfig::default_run(Some("/m/efficientnet_lite0.onnx".into()))
            .validate()
            .unwrap();
    }

    #[test]
    fn a_misspelt_key_inside_an_entry_is_an_error_naming_it() {
        for (text, key) in [
            (
                "models:\n  - {kind: onnx, path: m.onnx, layers: [logits], input_shap: [3, 64, 64]}\n",
                "input_shap",
            ),
            (
                "models:\n  - {kind: onnx, path: m.onnx, layer: [logits]}\n",
                "layer",
            ),
            (
                "models:\n  - {kind: zoo, rule: bp, arch: mlp, epoch: 5}\n",
                "epoch",
            ),
            (
                "models:\n  - {kind: untrained, arch: cnn}\nmetrics:\n  kiani2007.IT-rsa: {kind: rsa, compar: pearson}\n",
                "compar",
            ),
            (
                "models:\n  - {kind: untrained, arch: cnn}\nmetrics:\n  kiani2007.IT-rsa: {kind: cka, debias: false}\n",
                "debias",
            ),
            (
                "models:\n  - {kind: untrained, arch: cnn}\nmetrics:\n  cowley2023.V4-pls: {kind: predictivity, cross_validation: {split: 5}}\n",
                "split",
            ),
            (
                "models:\n  - kind: onnx\n    path: m.onnx\n    preprocessing: {size: 64, chanels: rgb}\n",
                "chanels",
            ),
        ] {
            let err = format!(
                "{:#}",
                serde_norway::from_str::<RunConfig>(text).unwrap_err()
            );
            assert!(
                err.contains("unknown field") && err.contains(&format!("`{key}`")),
                "{text}: {err}"
            );
        }
        // Options that need no data are checked with the config (n_splits: 0 used to fail
        // only after extraction).
        for (metric, says) in [
            (
                "{kind: predictivity, cross_validation: {n_splits: 0, test_fraction: 0.1, seed: 1}}",
                "number of splits",
            ),
            (
                "{kind: predictivity, regression: {kind: pls, n_components: 0}}",
                "component",
            ),
            (
                "{kind: cka, kernel: {kind: rbf, threshold: 0}}",
                "threshold",
            ),
        ] {
            let text = format!(
                "models:\n  - {{kind: untrained, arch: cnn}}\nmetrics:\n  cowley2023.V4-cka: {metric}\n"
            );
            let c: RunConfig = serde_norway::from_str(&text).unwrap();
            let err = format!("{:#}", c.validate().unwrap_err());
            assert!(
                err.contains("cowley2023.V4-cka") && err.contains(says),
                "{err}"
            );
        }
        // Keys written right still read, the CKA options among them.
        let c: RunConfig = serde_norway::from_str(
            "models:\n  - {kind: untrained, arch: cnn}\nmetrics:\n  cowley2023.V4-cka: {kind: cka, debiased: false}\n",
        )
        .unwrap();
        assert_eq!(
            c.metrics["cowley2023.V4-cka"],
            MetricSpec::Cka {
                options: evaluators::CkaOptions {
                    debiased: false,
                    ..Default::default()
                }
            }
        );
    }
}
