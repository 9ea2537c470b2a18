//! A preflight estimate of peak memory, checked against what is available before any large
//! allocation: a run that would need more is refused with the estimate's breakdown (unless
//! `--force`), instead of being killed hours in.
//!
//! Available memory is the least of `MemAvailable` in `/proc/meminfo`, the cgroup v2 limit
//! the process runs under (`memory.max` less `memory.current`, as on Slurm and in containers),
//! and `CORTEXBENCH_MEMORY_AVAILABLE` (e.g. `8G`) when set.

use std::path::Path;

use anyhow::{Context, Result, bail};
use model_zoo::{LayerInfo, Model, Preset, TrainConfig, TrainingData, ZooModel};

use crate::run_config::{ModelSpec, RunConfig};
use crate::vectorized_zoo;

/// Bytes of what the process holds regardless of the data (code, ONNX Runtime, allocator
/// pools, the loaded datasets' bookkeeping), set so that the default run's estimate is not
/// below its measured peak (README, "Memory preflight").
const BASE_BYTES: u64 = 1 << 30;

/// One part of an estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// What it is, e.g. `activations of 17 networks on tang2018-v1 (9500 stimuli)`.
    pub what: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Peak memory of a piece of work: the parts held at its largest moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Estimate {
    /// The parts, largest moment only.
    pub parts: Vec<Part>,
}

impl Estimate {
    /// The estimated peak, in bytes, the fixed base included.
    pub fn peak(&self) -> u64 {
        BASE_BYTES + self.parts.iter().map(|p| p.bytes).sum::<u64>()
    }

    /// The parts as `what size, what size`.
    pub fn breakdown(&self) -> String {
        self.parts
            .iter()
            .filter(|p| p.bytes > 0)
            .map(|p| format!("{} {}", p.what, size(p.bytes)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The larger of two estimates (work done one after the other).
    pub fn max(self, other: Estimate) -> Estimate {
        if other.peak() > self.peak() {
            other
        } else {
            self
        }
    }
}

/// What the estimate needs of one network.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedNetwork {
    /// The feature counts of its scored layers.
    pub scored: Vec<usize>,
    /// The features one stimulus occupies while a batch passes through: every layer of a zoo
    /// network (its forward pass keeps them all); for an ONNX graph, four of its widest
    /// tensor, since ONNX Runtime's planner reuses buffers.
    pub all_layers: usize,
    /// Values of one preprocessed input.
    pub input: usize,
    /// The training data a zoo network's run keeps loaded (for its geometry).
    pub training: Option<TrainingData>,
}

/// The work of scoring on one stimulus set: every network's layers are kept for all
/// benchmarks that share the stimuli, then scored layer by layer.
#[derive(Debug, Clone)]
pub struct StimulusWork {
    /// The stimulus set's name.
    pub stimuli: String,
    /// Its number of stimuli.
    pub n: usize,
    /// The networks scored on it.
    pub networks: Vec<PlannedNetwork>,
    /// Whether a benchmark on these stimuli fits a regression (PLS, ridge).
    pub regression: bool,
    /// Whether one compares stimulus-by-stimulus matrices (RSA, CKA).
    pub pairwise: bool,
}

/// What the plan needs of one benchmark.
#[derive(Debug, Clone)]
pub struct BenchmarkWork {
    /// Its stimulus set's name.
    pub stimuli: String,
    /// Number of stimuli.
    pub n: usize,
    /// Whether its metric is a regression (else RSA or CKA).
    pub regression: bool,
}

/// The peak of scoring `work`, set by set, with layers count-sketched to `projection_dim`
/// features (0: never) and stimuli streamed in batches of `batch`; inputs up to
/// `input_cache_bytes` are kept preprocessed for all networks sharing them.
pub fn scoring_estimate(
    work: &[StimulusWork],
    projection_dim: usize,
    batch: usize,
    input_cache_bytes: u64,
) -> Estimate {
    let kept = |w: usize| if projection_dim > 0 { w.min(projection_dim) } else { w } as u64;
    let mut training: Vec<TrainingData> = work
        .iter()
        .flat_map(|set| set.networks.iter().filter_map(|n| n.training))
        .collect();
    training.sort_by_key(|d| d.name());
    training.dedup();
    let training = Part {
        what: format!(
            "training data ({})",
            training
                .iter()
                .map(|d| d.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        bytes: training.iter().map(|&d| training_bytes(d)).sum(),
    };
    let largest = work
        .iter()
        .map(|set| {
            let n = set.n as u64;
            let networks = &set.networks;
            let activations: u64 = networks
                .iter()
                .flat_map(|net| &net.scored)
                .map(|&w| n * kept(w) * 4)
                .sum();
            let mut inputs: Vec<usize> = networks.iter().map(|net| net.input).collect();
            inputs.sort_unstable();
            inputs.dedup();
            let inputs: u64 = inputs
                .iter()
                .map(|&values| n * values as u64 * 4)
                .filter(|&bytes| bytes <= input_cache_bytes)
                .sum();
            // One batch of every layer of the largest network, and its scored layers' copies
            // and sketches.
            let streaming = networks
                .iter()
                .map(|net| {
                    batch as u64
                        * (net.all_layers + net.scored.iter().sum::<usize>()) as u64
                        * 4
                        * 2
                })
                .max()
                .unwrap_or(0);
            // A regression holds the widest layer as f64 in about ten copies (the two halves,
            // centred and scaled, each split's training rows and their deflation, on two
            // threads); RSA and CKA hold a few stimulus-by-stimulus matrices (distances,
            // Gram matrices, ranks).
            let widest = networks
                .iter()
                .flat_map(|net| &net.scored)
                .map(|&w| kept(w))
                .max()
                .unwrap_or(0);
            let regression = if set.regression {
                10 * n * widest * 8
            } else {
                0
            };
            let pairwise = if set.pairwise { 4 * n * n * 8 } else { 0 };
            let what = |part: &str| format!("{part} on {} ({} stimuli)", set.stimuli, set.n);
            Estimate {
                parts: vec![
                    Part {
                        what: what(&match networks.len() {
                            1 => "activations of 1 network".to_string(),
                            k => format!("activations of {k} networks"),
                        }),
                        bytes: activations,
                    },
                    Part {
                        what: what("preprocessed inputs"),
                        bytes: inputs,
                    },
                    Part {
                        what: what("extraction batches"),
                        bytes: streaming,
                    },
                    Part {
                        what: what("scoring one layer"),
                        bytes: regression.max(pairwise),
                    },
                ],
            }
        })
        .fold(Estimate::default(), Estimate::max);
    Estimate {
        parts: std::iter::once(training).chain(largest.parts).collect(),
    }
}

/// Bytes of a zoo training set as the run keeps it (f32 pixels, training and test parts).
fn training_bytes(data: TrainingData) -> u64 {
    let ((h, w, c), _) = data.shape();
    let examples = match data {
        TrainingData::Cifar10 => 60_000,
        TrainingData::FashionMnist => 70_000,
    };
    examples * (h * w * c) as u64 * 4
}

/// The scoring work of a run: the shard's pairs grouped by stimulus set, in benchmark order
/// (the extraction cache keeps one set at a time), with each network's layers read from an
/// untrained copy of its architecture, its checkpoint, or its ONNX graph (nothing is trained
/// or extracted).
pub fn plan_scoring(
    config: &RunConfig,
    instances: &[(usize, u64)],
    pairs: &[(usize, usize)],
    benchmarks: &[Option<BenchmarkWork>],
) -> Result<Vec<StimulusWork>> {
    let mut planned: Vec<Option<PlannedNetwork>> = vec![None; config.models.len()];
    let mut work: Vec<(StimulusWork, Vec<usize>)> = vec![];
    for (b, benchmark) in benchmarks.iter().enumerate() {
        let Some(benchmark) = benchmark else { continue };
        if work
            .last()
            .is_none_or(|(w, _)| w.stimuli != benchmark.stimuli)
        {
            let set = StimulusWork {
                stimuli: benchmark.stimuli.clone(),
                n: benchmark.n,
                networks: vec![],
                regression: false,
                pairwise: false,
            };
            work.push((set, vec![]));
        }
        let Some((set, members)) = work.last_mut() else {
            unreachable!("a set was just pushed")
        };
        set.regression |= benchmark.regression;
        set.pairwise |= !benchmark.regression;
        for &(i, _) in pairs.iter().filter(|p| p.1 == b) {
            if members.contains(&i) {
                continue;
            }
            members.push(i);
            let (m, seed) = instances[i];
            let network = match &planned[m] {
                Some(network) => network.clone(),
                None => plan_network(&config.models[m], seed)?,
            };
            planned[m] = Some(network.clone());
            set.networks.push(network);
        }
    }
    Ok(work.into_iter().map(|(w, _)| w).collect())
}

/// A zoo or vectorized network's plan: every layer is scored, and its forward pass keeps them
/// all.
fn planned(mut model: impl Model, training: Option<TrainingData>) -> Result<PlannedNetwork> {
    let scored: Vec<usize> = model.layers()?.iter().map(LayerInfo::features).collect();
    Ok(PlannedNetwork {
        all_layers: scored.iter().sum(),
        scored,
        input: model.input_shape().iter().product(),
        training,
    })
}

/// The layers a model entry is scored on, its whole graph's width, and its input size.
fn plan_network(spec: &ModelSpec, seed: u64) -> Result<PlannedNetwork> {
    let of_network = |net: model_zoo::Network, training| planned(ZooModel::new(net)?, training);
    let of_vectorized = |net: model_zoo::vectorized::VectorNetwork, training| {
        planned(model_zoo::vectorized::VectorZooModel::new(net)?, training)
    };
    let built = |config: TrainConfig| -> Result<PlannedNetwork> {
        let (image, classes) = config.data.shape();
        let net =
            config
                .architecture
                .build(image, &config.hidden, classes, config.activation, seed)?;
        of_network(net, Some(config.data))
    };
    match spec {
        ModelSpec::Zoo {
            rule,
            arch,
            dataset,
            preset,
            ..
        } => built(Preset::builtin(*dataset, preset)?.config(*rule, arch)?),
        ModelSpec::Untrained { arch, dataset, .. } if !vectorized_zoo::is_vectorized(arch) => {
            built(Preset::builtin(*dataset, "quick")?.config(model_zoo::Rule::Bp, arch)?)
        }
        ModelSpec::Vectorized { .. } | ModelSpec::Untrained { .. } => {
            let config = spec.vectorized_config(seed).expect("a vectorized entry")?;
            of_vectorized(config.network()?, Some(config.data))
        }
        ModelSpec::Checkpoint { path } if crate::candidates::is_vectorized(path)? => {
            let (net, _) = model_zoo::vectorized::load_vectorized(path)?;
            of_vectorized(net, None)
        }
        ModelSpec::Checkpoint { path } => {
            let (net, config) = model_zoo::checkpoint::load(path)?;
            of_network(net, Some(config.data))
        }
        ModelSpec::Onnx {
            path,
            layers,
            input_shape,
            ..
        } => {
            let (model, available, chosen) =
                crate::candidates::open_onnx(path, *input_shape, layers)?;
            let float: Vec<&LayerInfo> = available.iter().filter(|l| l.dtype == "f32").collect();
            let widest = float.iter().map(|l| l.features()).max().unwrap_or(0);
            // A layer named by its node rather than its tensor counts as the widest.
            let scored = chosen
                .iter()
                .map(|name| {
                    float
                        .iter()
                        .find(|l| &l.name == name)
                        .map_or(widest, |l| l.features())
                })
                .collect();
            Ok(PlannedNetwork {
                scored,
                all_layers: 4 * widest,
                input: model.input_shape().iter().product(),
                training: None,
            })
        }
    }
}

/// Fails when `estimate` exceeds the available memory, naming both and the largest parts,
/// unless `force`; says what was estimated on standard error either way.
pub fn preflight(estimate: &Estimate, force: bool) -> Result<()> {
    let Some(available) = available()? else {
        return Ok(()); // not Linux: nothing to compare with
    };
    let peak = estimate.peak();
    if peak <= available / 4 {
        return Ok(()); // small work: nothing worth saying
    }
    eprintln!(
        "memory: {} held, an estimated {} more at the peak, {} available",
        resident().map_or("?".into(), size),
        size(peak),
        size(available)
    );
    if peak > available && !force {
        bail!(
            "this run needs an estimated {} of memory at its peak ({}, plus {} of base), but \
             {} is available; score fewer models or benchmarks per process (--shard i/n), \
             lower projection_dim, or pass --force to run anyway",
            size(peak),
            estimate.breakdown(),
            size(BASE_BYTES),
            size(available)
        );
    }
    Ok(())
}

/// Bytes available to this process now (see the module's documentation), or `None` where
/// none of the sources exists.
pub fn available() -> Result<Option<u64>> {
    let limit = match std::env::var("CORTEXBENCH_MEMORY_AVAILABLE") {
        Ok(text) => Some(parse_size(&text).with_context(|| {
            format!("CORTEXBENCH_MEMORY_AVAILABLE={text}: not a size such as 8G or 512M")
        })?),
        Err(_) => None,
    };
    let sources = [limit, mem_available(), cgroup_room()];
    Ok(sources.into_iter().flatten().min())
}

/// This process's resident memory now.
fn resident() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Room left under the cgroup v2 memory limit of this process, if it has one.
fn cgroup_room() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let relative = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = Path::new("/sys/fs/cgroup").join(relative.trim_start_matches('/'));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let max: u64 = read("memory.max")?.trim().parse().ok()?; // "max" means no limit
    let current: u64 = read("memory.current")?.trim().parse().ok()?;
    Some(max.saturating_sub(current))
}

/// `8G`, `512M`, `1.5T`, `100000` (bytes); binary units, case-insensitive, optional `B`/`iB`.
fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.trim_end_matches("IB").trim_end_matches('B');
    let (number, shift) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let value: f64 = number.trim().parse()?;
    if !(value.is_finite() && value >= 0.0) {
        bail!("negative or not finite");
    }
    Ok((value * (1u64 << shift) as f64) as u64)
}

/// `1.2 GiB`, `340 MiB`.
pub fn size(bytes: u64) -> String {
    let gib = bytes as f64 / (1u64 << 30) as f64;
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_users_write_them() {
        assert_eq!(parse_size("8G").unwrap(), 8 << 30);
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("100000").unwrap(), 100_000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1G").is_err());
    }

    #[test]
    fn the_largest_stimulus_set_sets_the_peak() {
        let network = |scored: Vec<usize>, input| PlannedNetwork {
            all_layers: 2 * scored.iter().sum::<usize>(),
            scored,
            input,
            training: Some(TrainingData::Cifar10),
        };
        let small = StimulusWork {
            stimuli: "small".into(),
            n: 92,
            networks: vec![network(vec![100, 10], 3 * 32 * 32)],
            regression: false,
            pairwise: true,
        };
        let large = StimulusWork {
            stimuli: "large".into(),
            n: 10_000,
            networks: vec![
                network(vec![50_000, 10], 3 * 224 * 224),
                network(vec![50_000, 10], 3 * 32 * 32),
                network(vec![50_000, 10], 3 * 32 * 32),
            ],
            regression: true,
            pairwise: true,
        };
        let e = scoring_estimate(&[small.clone(), large], 4096, 32, 1 << 30);
        let bytes: Vec<u64> = e.parts.iter().map(|p| p.bytes).collect();
        // CIFAR-10 once: 60,000 images of 32 x 32 x 3 f32 values.
        assert_eq!(bytes[0], 60_000 * 3072 * 4);
        // Activations: 3 networks x (4096 + 10 kept features) x 10,000 stimuli x 4 bytes.
        assert_eq!(bytes[1], 3 * (4096 + 10) * 10_000 * 4);
        // Only the shared 32-pixel inputs fit the 1 GiB input cache (224 px: 6 GB, batch-wise).
        assert_eq!(bytes[2], 10_000 * 3 * 32 * 32 * 4);
        // A batch of all layers (2 x 50,010 features) and of the scored ones, and copies.
        assert_eq!(bytes[3], 32 * (3 * 50_010) * 4 * 2);
        // PLS's ten f64 copies of 4096 features (3.3 GB) outweigh RSA's four 10,000 x 10,000
        // matrices (3.2 GB).
        assert_eq!(bytes[4], 10 * 10_000 * 4096 * 8);
        assert!(e.breakdown().contains("on large (10000 stimuli)"));
        // Without projection the full widths are kept.
        let raw = scoring_estimate(&[small], 0, 32, 1 << 30);
        assert_eq!(raw.parts[1].bytes, 92 * 110 * 4);
    }
}
