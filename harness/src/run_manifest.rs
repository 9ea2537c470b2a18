//! The run manifest: everything needed to rerun a scoring run and to know what produced its
//! numbers (versions, git commit, data hashes, ONNX Runtime, config, seeds, preprocessing,
//! machine).

use std::path::Path;

use anyhow::{Context, Result};
use brain_data::{Catalog, Preprocessing};
use model_zoo::LayerRecord;
use serde::{Deserialize, Serialize};

use crate::run_config::RunConfig;

/// The manifest format this version writes.
pub const MANIFEST_FORMAT: &str = "cortexbench-run-1";

/// A scoring run's manifest (`manifest.yaml` beside its results).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// Format marker.
    pub format: String,
    /// cortexbench's version.
    pub cortexbench_version: String,
    /// The git commit cortexbench was built from, when built inside a checkout.
    pub git_commit: Option<String>,
    /// The resolved configuration (rerunning it reproduces the run).
    pub config: RunConfig,
    /// `[i, n]` when this run is shard i of n.
    pub shard: Option<[usize; 2]>,
    /// Every data file the benchmarks read, with its pinned sha256.
    pub data: Vec<DataFile>,
    /// The models as scored.
    pub models: Vec<ModelRecord>,
    /// Per benchmark: its ceiling's method and the stimuli's preprocessing per model.
    pub benchmarks: Vec<BenchmarkRecord>,
    /// The ONNX Runtime library, when an ONNX model was run.
    pub onnx_runtime: Option<String>,
    /// Where the run ran.
    pub machine: Machine,
    /// Wall time of the run.
    pub elapsed_seconds: f64,
}

/// A data file and its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    /// Dataset id.
    pub dataset: String,
    /// File path in the dataset.
    pub file: String,
    /// Pinned sha256 (the store verifies every file against it).
    pub sha256: String,
}

/// A scored model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// Name in tables.
    pub name: String,
    /// Rule.
    pub rule: String,
    /// Architecture.
    pub architecture: String,
    /// Where it came from (checkpoint or ONNX path, or `untrained`).
    pub source: String,
    /// sha256 of the checkpoint or ONNX file.
    pub sha256: Option<String>,
    /// Layers scored.
    pub layers: Vec<String>,
    /// The training config (zoo models), YAML.
    pub training: Option<String>,
    /// Projections applied to wide layers (from the first benchmark that extracted them).
    pub projections: Vec<LayerRecord>,
}

/// A benchmark as run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkRecord {
    /// Benchmark id.
    pub id: String,
    /// The metric with every option, as scored (after the config's overrides).
    pub metric: evaluators::MetricSpec,
    /// How its ceiling was measured, or why there is none.
    pub ceiling: String,
    /// Stimuli in the selection and report halves.
    pub split: [usize; 2],
    /// Preprocessing per model.
    pub preprocessing: Vec<(String, Preprocessing)>,
    /// Seed of the benchmark's bootstrap resamples (absent in runs before intervals).
    #[serde(default)]
    pub resample_seed: Option<u64>,
    /// Subjects drawn in the dual bootstrap, when the target has several.
    #[serde(default)]
    pub resampled_subjects: Option<usize>,
}

/// The machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Host name.
    pub hostname: String,
    /// OS and architecture.
    pub os: String,
    /// CPU model.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
}

impl Machine {
    /// The machine this process runs on.
    pub fn current() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            hostname: read("/proc/sys/kernel/hostname").trim().to_string(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl Machine {
    /// Same CPU model, core count and OS: a rerun there must give bit-identical scores. The
    /// host name is left out, since containers and CI runners get a new one each time.
    pub fn same_hardware(&self, other: &Machine) -> bool {
        (&self.os, &self.cpu, self.cores) == (&other.os, &other.cpu, other.cores)
    }
}

/// The git commit this cortexbench was built from (recorded at build time, so it is
/// cortexbench's own whatever directory a run starts in); `None` when built outside a
/// checkout.
pub fn git_commit() -> Option<String> {
    Some(env!("CORTEXBENCH_GIT_COMMIT").to_string()).filter(|c| !c.is_empty())
}

/// The pinned files of the datasets behind `benchmark_datasets`.
pub fn data_files(catalog: &Catalog, benchmark_datasets: &[&str]) -> Result<Vec<DataFile>> {
    let mut ids: Vec<&str> = benchmark_datasets.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut files = vec![];
    for id in ids {
        let dataset = catalog.dataset(id)?;
        files.extend(dataset.files.iter().map(|f| DataFile {
            dataset: id.to_string(),
            file: f.path.clone(),
            sha256: f.sha256.clone(),
        }));
    }
    Ok(files)
}

impl RunManifest {
    /// Reads a manifest.
    pub fn load(path: &Path) -> Result<RunManifest> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let manifest: RunManifest = serde_norway::from_str(&text)
            .with_context(|| format!("{}: not a cortexbench run manifest", path.display()))?;
        if manifest.format != MANIFEST_FORMAT {
            anyhow::bail!(
                "{}: format '{}', expected '{MANIFEST_FORMAT}'",
                path.display(),
                manifest.format
            );
        }
        // What `reproduce` reruns and `merge` pools is checked as a fresh run's would be.
        if let Some([i, n]) = manifest.shard
            && (n == 0 || i >= n)
        {
            anyhow::bail!(
                "{}: shard [{i}, {n}] is not a shard (need 0 <= i < n)",
                path.display()
            );
        }
        manifest
            .config
            .validate()
            .with_context(|| format!("{}: the run config in it is invalid", path.display()))?;
        Ok(manifest)
    }
}
