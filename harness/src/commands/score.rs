//! `harness score`: models x benchmarks -> per-layer scores, the layer chosen on held-out
//! stimuli, ceilings, a results table, a leaderboard, an HTML report and a run manifest.
//!
//! For each benchmark the stimuli are split in two seeded halves (stratified by category where
//! the stimuli have one): every layer is scored on both, the best layer is chosen on the
//! selection half, and the reported score is that layer's on the report half, normalised by
//! the ceiling measured on the report half. Nothing is written until every score is computed,
//! so a failed run leaves no partial outputs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use brain_data::{BenchmarkData, Catalog, Channels, DataStore, Preprocessing};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use model_zoo::{ExtractionOptions, LayerRecord, Model, OnnxModel, RandomProjection, ZooModel};
use ndarray::Axis;
use reports::{RdmPanel, ReportInputs, ScoreRow};
use serde::{Deserialize, Serialize};

use super::data::DataArgs;
use super::layers::parse_shape;
use crate::ceilings;
use crate::comparison::stream_seed;
use crate::run_config::{ModelSpec, RunConfig};
use crate::run_manifest::{
    self, BenchmarkRecord, MANIFEST_FORMAT, Machine, ModelRecord, RunManifest,
};
use crate::scoring::{
    SelectionSplit, score_features, score_replicates, subset_features, subset_target,
};
use crate::zoo_cache;

/// Arguments of `harness score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// A YAML run config (models, benchmarks, seed, options, output folder).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A model to score instead of the default set: an ONNX file or a zoo checkpoint
    /// (.safetensors); repeat for several.
    #[arg(long = "model")]
    pub models: Vec<PathBuf>,
    /// Layers of the --model files (comma-separated; default: every layer of a zoo model,
    /// seven evenly spaced float layers and the output of an ONNX model, eight in all).
    #[arg(long, value_delimiter = ',')]
    pub layers: Vec<String>,
    /// channels,height,width of --model ONNX graphs that leave them open.
    #[arg(long, value_parser = parse_shape)]
    pub input_shape: Option<[usize; 3]>,
    /// Benchmarks (comma-separated ids; default: all; `harness datasets --benchmarks` lists them).
    #[arg(long = "benchmark", value_delimiter = ',')]
    pub benchmarks: Vec<String>,
    /// Output folder (default: the config's, else cortexbench-results).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an output folder that already holds files (whole, once the run is complete).
    #[arg(long)]
    pub overwrite: bool,
    /// Run even when the estimated peak memory exceeds what is available.
    #[arg(long)]
    pub force: bool,
    /// Seed of training, the selection split, projections and resamples (default: the
    /// config's, else 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Training seeds of every zoo and untrained entry, comma-separated (default: each entry's
    /// own; the default run's are 1,2).
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Run only shard i of n of the model x benchmark matrix (e.g. 0/4); `harness merge`
    /// combines the shards' outputs.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<[usize; 2]>,
    /// Where trained zoo models are cached (default: <cache>/zoo).
    #[arg(long)]
    pub zoo: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
}

fn parse_shard(text: &str) -> std::result::Result<[usize; 2], String> {
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| format!("'{text}': expected i/n, e.g. 0/4"))?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|e| format!("'{text}': {e}"))?,
        n.trim().parse().map_err(|e| format!("'{text}': {e}"))?,
    );
    if n == 0 || i >= n {
        return Err(format!("'{text}': need 0 <= i < n"));
    }
    Ok([i, n])
}

/// The RDM panels of a run (kept beside the results so that `harness merge` can redraw them).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RdmFigures {
    /// The brain's RDM and the chosen layer's RDM of each model on each RSA benchmark.
    pub panels: Vec<RdmFigure>,
}

/// One RDM of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RdmFigure {
    /// The benchmark whose stimuli it is over.
    pub benchmark: String,
    /// Heatmap title.
    pub title: String,
    /// Stimuli.
    pub n: usize,
    /// Upper triangle, row-major, diagonal excluded.
    pub condensed: Vec<f64>,
    /// The model layer's headline score; `None` for the brain's RDM.
    pub score: Option<f64>,
}

impl RdmFigures {
    /// The brain RDM and the best-scoring model's RDM of every benchmark.
    pub fn report_panels(&self) -> Vec<RdmPanel> {
        let mut benchmarks: Vec<&str> = self.panels.iter().map(|p| p.benchmark.as_str()).collect();
        benchmarks.sort_unstable();
        benchmarks.dedup();
        let mut out = vec![];
        for b in benchmarks {
            let of = || self.panels.iter().filter(move |p| p.benchmark == b);
            let brain = of().find(|p| p.score.is_none());
            let best = of()
                .filter_map(|p| Some((p, p.score?)))
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .map(|(p, _)| p);
            for p in brain.into_iter().chain(best) {
                out.push(RdmPanel {
                    title: p.title.clone(),
                    n: p.n,
                    condensed: p.condensed.clone(),
                });
            }
        }
        out
    }
}

/// Everything a run produces, before it is written.
pub struct RunOutputs {
    /// Every scored layer.
    pub rows: Vec<ScoreRow>,
    /// RDM figures.
    pub rdms: RdmFigures,
    /// The manifest.
    pub manifest: RunManifest,
    /// Capacity and dimensionality per model, layer and labelled stimulus set.
    pub geometry: Vec<reports::GeometryRow>,
    /// Jacobian–manifold alignment per zoo model, layer and k.
    pub jacobian: Vec<reports::JacobianRow>,
    /// Bootstrap replicates of every network's chosen layer on every benchmark.
    pub replicates: Vec<reports::BootstrapReplicates>,
}

/// Resolves the run, scores it, writes the outputs and prints the summary.
pub fn run(args: &ScoreArgs) -> Result<()> {
    let config = resolve_config(args)?;
    let store = args.data.store()?.with_progress(true);
    let zoo = match &args.zoo {
        Some(dir) => dir.clone(),
        None => store.cache_dir().join("zoo"),
    };
    crate::output_dir::check_target(&config.out, args.overwrite)?;
    let outputs = execute(&config, args.shard, &store, &zoo, args.force)?;
    let board = crate::output_dir::write_staged(&config.out, args.overwrite, |dir| {
        write_outputs(dir, &outputs)
    })?;
    print!("{}", board.markdown());
    eprintln!(
        "scored {} layers in {:.0} s; report: {}",
        outputs.rows.len(),
        outputs.manifest.elapsed_seconds,
        config.out.join("report.html").display()
    );
    Ok(())
}

/// The run config the arguments describe.
pub fn resolve_config(args: &ScoreArgs) -> Result<RunConfig> {
    let mut config = match (&args.config, args.models.is_empty()) {
        (Some(path), true) => RunConfig::load(path)?,
        (Some(_), false) => bail!("give either --config or --model, not both"),
        (None, false) => {
            let mut c = RunConfig::default_run(None);
            c.models = args
                .models
                .iter()
                .map(|path| match path.extension().and_then(|e| e.to_str()) {
                    Some("onnx") => Ok(ModelSpec::Onnx {
                        path: path.clone(),
                        name: None,
                        rule: None,
                        layers: args.layers.clone(),
                        input_shape: args.input_shape,
                        preprocessing: None,
                    }),
                    Some("safetensors") => {
                        if !args.layers.is_empty() {
                            bail!("--layers applies to ONNX models; a zoo checkpoint scores every layer");
                        }
                        Ok(ModelSpec::Checkpoint { path: path.clone() })
                    }
                    _ => bail!(
                        "{}: expected an ONNX file (.onnx) or a zoo checkpoint (.safetensors)",
                        path.display()
                    ),
                })
                .collect::<Result<_>>()?;
            c
        }
        (None, true) => {
            let efficientnet = default_efficientnet();
            if efficientnet.is_none() {
                eprintln!(
                    "note: efficientnet_lite0.onnx not found (CORTEXBENCH_MODELS, or models/ beside \
                     CORTEXBENCH_MIRROR); the default run scores the zoo models only"
                );
            }
            RunConfig::default_run(efficientnet)
        }
    };
    if !args.benchmarks.is_empty() {
        config.benchmarks = args.benchmarks.clone();
    }
    if let Some(out) = &args.out {
        config.out = out.clone();
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if !args.seeds.is_empty() {
        for model in &mut config.models {
            if let ModelSpec::Zoo { seeds, .. } | ModelSpec::Untrained { seeds, .. } = model {
                *seeds = Some(args.seeds.clone());
            }
        }
    }
    config.validate()?;
    Ok(config)
}

/// The pretrained EfficientNet-Lite0: `CORTEXBENCH_MODELS/efficientnet_lite0.onnx`, else
/// `models/` beside the data mirror.
fn default_efficientnet() -> Option<PathBuf> {
    let dir = std::env::var_os("CORTEXBENCH_MODELS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CORTEXBENCH_MIRROR").map(|m| PathBuf::from(m).join("../models"))
        })?;
    let path = dir.join("efficientnet_lite0.onnx");
    path.is_file().then_some(path)
}

/// What scoring needs to know of a zoo network beyond its activations.
struct ZooInfo {
    network: model_zoo::Network,
    /// Its training data (geometry probe, input format).
    data: model_zoo::TrainingData,
    /// How its training images were standardised; stimuli are shown the same way.
    normalization: Option<model_zoo::ChannelNormalization>,
}

/// A model opened for scoring: one network (one training seed) of a model entry.
struct Candidate {
    name: String,
    /// Training seed (the run's seed for ONNX models and checkpoints).
    seed: u64,
    /// The entry's first seed: the network whose RDMs and geometry the report shows.
    primary: bool,
    rule: String,
    architecture: String,
    model: Box<dyn Model>,
    layers: Vec<String>,
    /// For a zoo network: the network itself (for its Jacobian) and its training data.
    zoo: Option<ZooInfo>,
    preprocessing: Option<Preprocessing>,
    record: ModelRecord,
}

/// Scores `config` (or one shard of it) and returns what is to be written.
pub fn execute(
    config: &RunConfig,
    shard: Option<[usize; 2]>,
    store: &DataStore,
    zoo: &Path,
    force: bool,
) -> Result<RunOutputs> {
    let started = Instant::now();
    let benchmarks = config.benchmarks()?;
    // One network per model entry and training seed.
    let instances: Vec<(usize, u64)> = config
        .models
        .iter()
        .enumerate()
        .flat_map(|(m, spec)| config.seeds_of(spec).into_iter().map(move |s| (m, s)))
        .collect();
    // The network x benchmark matrix, network-major; a shard takes every n-th pair.
    let pairs: Vec<(usize, usize)> = (0..instances.len())
        .flat_map(|m| (0..benchmarks.len()).map(move |b| (m, b)))
        .enumerate()
        .filter(|(k, _)| shard.is_none_or(|[i, n]| k % n == i))
        .map(|(_, pair)| pair)
        .collect();
    let catalog = Catalog::builtin();

    // Fetch: every benchmark's data, verified, before any model is trained.
    let mut loaded: Vec<Option<BenchmarkData>> = vec![None; benchmarks.len()];
    for (b, benchmark) in benchmarks.iter().enumerate() {
        if pairs.iter().any(|p| p.1 == b) {
            eprintln!("fetch: {}", benchmark.id);
            loaded[b] = Some(
                benchmark
                    .load(store, &catalog)
                    .with_context(|| format!("loading benchmark {}", benchmark.id))?,
            );
        }
    }

    // Before anything large is allocated: the peak memory of extracting and scoring.
    let mut sizes = vec![];
    for (benchmark, data) in benchmarks.iter().zip(&loaded) {
        sizes.push(match data {
            Some(d) => Some(crate::memory::BenchmarkWork {
                stimuli: d.stimuli.name.clone(),
                n: d.stimuli.len(),
                regression: matches!(
                    ceilings::metric_of(benchmark)?,
                    evaluators::MetricSpec::Predictivity { .. }
                ),
            }),
            None => None,
        });
    }
    let work = crate::memory::plan_scoring(config, &instances, &pairs, &sizes)?;
    let estimate = crate::memory::scoring_estimate(
        &work,
        config.projection_dim,
        config.batch_size,
        INPUT_CACHE_BYTES as u64,
    );
    crate::memory::preflight(&estimate, force)?;

    // Train (or reuse) and open the models.
    let mut candidates: Vec<Option<Candidate>> = Vec::with_capacity(instances.len());
    let mut training_sets = crate::training_data::Loaded::new(store);
    let train_bar = bar(
        instances.len(),
        "{msg:24} [{bar:30}] network {pos}/{len} {elapsed}",
    );
    // Networks the zoo lacks are trained first, several side by side.
    let mut jobs = vec![];
    for (i, &(m, seed)) in instances.iter().enumerate() {
        if let Some(request) = zoo_request(&config.models[m], seed)
            && pairs.iter().any(|p| p.0 == i)
        {
            let sets = training_sets.get(request.data)?;
            jobs.push((zoo_cache::training_config(&request, &sets)?, sets));
        }
    }
    let trained_now = zoo_cache::train_missing(zoo, &jobs, &train_bar)?;
    for (i, &(m, seed)) in instances.iter().enumerate() {
        train_bar.set_position(i as u64);
        if !pairs.iter().any(|p| p.0 == i) {
            candidates.push(None);
            continue;
        }
        let mut candidate = open_candidate(
            &config.models[m],
            seed,
            zoo,
            &mut training_sets,
            &train_bar,
            &trained_now,
        )?;
        candidate.primary = config.seeds_of(&config.models[m]).first() == Some(&seed);
        candidates.push(Some(candidate));
    }
    train_bar.finish_and_clear();

    let mut rows = vec![];
    let mut replicates = vec![];
    let mut rdms = RdmFigures::default();
    let mut benchmark_records = vec![];
    let mut onnx_runtime = None;
    let mut extracted = ExtractionCache::default();
    let mut geometry = vec![];
    let mut geometry_done: Vec<(usize, String)> = vec![];
    for (b, benchmark) in benchmarks.iter().enumerate() {
        let Some(data) = &loaded[b] else { continue };
        let benchmark_started = std::time::Instant::now();
        let mut extraction_seconds = 0.0;
        let mut layers_scored = 0;
        let labels = data.stimuli.category_codes();
        let split = SelectionSplit::new(data.stimuli.len(), labels.as_deref(), config.seed);
        let report_target = subset_target(&data.target, &split.report);
        let selection_target = subset_target(&data.target, &split.selection);
        let ceiling = ceilings::measure(benchmark, &report_target)?;
        let metric = ceilings::metric_of(benchmark)?;
        let resample_seed = stream_seed(config.seed, &["stimuli", &benchmark.id]);
        let subjects = match &report_target {
            brain_data::TargetData::Rdms(_) => crate::scoring::subject_groups(&report_target).len(),
            brain_data::TargetData::Responses(_) => 1,
        };
        let resamples = evaluators::resampling::Resamples::draw(
            split.report.len(),
            subjects,
            config.statistics.resamples,
            resample_seed,
        );
        let labels_of = |idx: &[usize]| {
            labels
                .as_ref()
                .map(|l| idx.iter().map(|&i| l[i]).collect::<Vec<_>>())
        };
        let mut record = BenchmarkRecord {
            id: benchmark.id.clone(),
            metric: metric.clone(),
            ceiling: ceiling.method.clone(),
            split: [split.selection.len(), split.report.len()],
            preprocessing: vec![],
            resample_seed: Some(resample_seed),
            resampled_subjects: (subjects > 1).then_some(subjects),
        };
        if let evaluators::MetricSpec::Rsa { rdm, .. } = metric
            && let Some(brain) = brain_rdm(&data.target, rdm)
        {
            rdms.panels.push(RdmFigure {
                benchmark: benchmark.id.clone(),
                title: format!("{} (brain)", benchmark.id),
                n: data.stimuli.len(),
                condensed: brain,
                score: None,
            });
        }
        for (m, candidate) in candidates.iter_mut().enumerate() {
            let Some(candidate) = candidate else { continue };
            if !pairs.contains(&(m, b)) {
                continue;
            }
            if candidate.zoo.is_none() && onnx_runtime.is_none() {
                onnx_runtime = model_zoo::onnx::runtime::loaded_library().ok();
            }
            let preprocessing = preprocessing_for(&benchmark.preprocessing, candidate)?;
            record
                .preprocessing
                .push((candidate.name.clone(), preprocessing.clone()));
            let (activations, projections) = match extracted.get(m, data, &preprocessing) {
                Some(found) => found,
                None => {
                    let extraction_started = std::time::Instant::now();
                    let inputs = extracted.inputs(data, &preprocessing)?;
                    let fresh = extract(
                        candidate,
                        data,
                        inputs.as_deref(),
                        &preprocessing,
                        config,
                        &benchmark.id,
                    )?;
                    extraction_seconds += extraction_started.elapsed().as_secs_f64();
                    extracted.keep(m, data, &preprocessing, fresh.clone());
                    fresh
                }
            };
            if let Some(labels) = &labels
                && candidate.primary
                && !geometry_done.contains(&(m, data.stimuli.name.clone()))
            {
                let subject = crate::geometry::Subject {
                    model: &candidate.name,
                    rule: &candidate.rule,
                    architecture: &candidate.architecture,
                };
                geometry.extend(crate::geometry::layer_geometry(
                    &subject,
                    activations.iter(),
                    labels,
                    &format!("{} (categories)", data.stimuli.name),
                    config.seed,
                )?);
                geometry_done.push((m, data.stimuli.name.clone()));
            }
            if candidate.record.projections.is_empty() {
                candidate.record.projections = projections
                    .into_iter()
                    .filter(|p| p.kept < p.features)
                    .collect();
            }
            let score_bar = bar(
                activations.names().len(),
                "{msg:40} [{bar:30}] layer {pos}/{len}",
            );
            score_bar.set_message(format!("score {} on {}", candidate.name, benchmark.id));
            let mut layer_rows = vec![];
            for (index, (layer, features)) in activations.iter().enumerate() {
                score_bar.set_position(index as u64);
                let context = || format!("{} layer {layer} on {}", candidate.name, benchmark.id);
                let selection = score_features(
                    &metric,
                    subset_features(features, &split.selection).view(),
                    &selection_target,
                    labels_of(&split.selection).as_deref(),
                )
                .with_context(context)?;
                let report = score_features(
                    &metric,
                    subset_features(features, &split.report).view(),
                    &report_target,
                    labels_of(&split.report).as_deref(),
                )
                .with_context(context)?;
                let (normalized, normalization) = match ceiling.value {
                    Some(c) => {
                        let n = config
                            .normalization
                            .apply(report.value, c)
                            .with_context(context)?;
                        (Some(n.normalized), n.normalization.name().to_string())
                    }
                    None => (None, ceiling.method.clone()),
                };
                layer_rows.push(ScoreRow {
                    model: candidate.name.clone(),
                    rule: candidate.rule.clone(),
                    architecture: candidate.architecture.clone(),
                    layer: layer.to_string(),
                    layer_index: index,
                    benchmark: benchmark.id.clone(),
                    region: benchmark.region.clone(),
                    metric: metric.name().to_string(),
                    raw: report.value,
                    sem: report.sem,
                    ceiling: ceiling.value,
                    normalized,
                    normalization,
                    selection_score: selection.value,
                    selected: false,
                    n_stimuli: split.report.len(),
                    seed: candidate.seed,
                });
            }
            score_bar.finish_and_clear();
            let best = layer_rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.selection_score.is_finite())
                .max_by(|a, b| a.1.selection_score.total_cmp(&b.1.selection_score))
                .map(|(i, _)| i);
            if let Some(best) = best {
                layer_rows[best].selected = true;
                let chosen = &layer_rows[best];
                let features = activations.get(&chosen.layer).expect("scored layer");
                let raw = score_replicates(
                    &metric,
                    subset_features(features, &split.report).view(),
                    &report_target,
                    labels_of(&split.report).as_deref(),
                    &resamples,
                    stream_seed(config.seed, &["held-out", &benchmark.id]),
                )
                .with_context(|| {
                    format!(
                        "bootstrap of {} layer {} on {}",
                        candidate.name, chosen.layer, benchmark.id
                    )
                })?;
                replicates.push(reports::BootstrapReplicates {
                    benchmark: benchmark.id.clone(),
                    model: candidate.name.clone(),
                    rule: candidate.rule.clone(),
                    architecture: candidate.architecture.clone(),
                    seed: candidate.seed,
                    estimate: chosen.headline(),
                    values: raw
                        .into_iter()
                        .map(|v| match ceiling.value {
                            Some(c) => config
                                .normalization
                                .apply(v, c)
                                .map_or(f64::NAN, |n| n.normalized),
                            None => v,
                        })
                        .collect(),
                });
                if let evaluators::MetricSpec::Rsa { rdm, .. } = metric
                    && candidate.primary
                {
                    let features = activations
                        .get(&layer_rows[best].layer)
                        .expect("scored layer")
                        .mapv(f64::from);
                    let model_rdm = evaluators::compute_rdm(features.view(), rdm)?;
                    rdms.panels.push(RdmFigure {
                        benchmark: benchmark.id.clone(),
                        title: format!("{} {}", candidate.name, layer_rows[best].layer),
                        n: data.stimuli.len(),
                        condensed: model_rdm.condensed().to_vec(),
                        score: Some(layer_rows[best].headline()),
                    });
                }
            }
            layers_scored += layer_rows.len();
            rows.extend(layer_rows);
        }
        eprintln!(
            "scored {}: {layers_scored} layers in {:.0} s ({:.0} s extracting features)",
            benchmark.id,
            benchmark_started.elapsed().as_secs_f64(),
            extraction_seconds
        );
        benchmark_records.push(record);
    }
    let jacobian = zoo_geometry(
        &mut candidates,
        &pairs,
        config,
        &mut training_sets,
        &mut geometry,
    )?;
    let datasets: Vec<&str> = benchmarks
        .iter()
        .enumerate()
        .filter(|(b, _)| loaded[*b].is_some())
        .map(|(_, bm)| bm.dataset.as_str())
        .collect();
    let manifest = RunManifest {
        format: MANIFEST_FORMAT.into(),
        cortexbench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: run_manifest::git_commit(),
        config: config.clone(),
        shard,
        data: run_manifest::data_files(&catalog, &datasets)?,
        models: candidates.into_iter().flatten().map(|c| c.record).collect(),
        benchmarks: benchmark_records,
        onnx_runtime,
        machine: Machine::current(),
        elapsed_seconds: started.elapsed().as_secs_f64(),
    };
    Ok(RunOutputs {
        rows,
        rdms,
        manifest,
        geometry,
        jacobian,
        replicates,
    })
}

/// Geometry of each zoo network on a balanced probe of its training data's test images (its
/// training task's classes) and the Jacobian alignment of its layers; computed by the shard
/// that holds the model's first benchmark, so that shards do not repeat it.
fn zoo_geometry(
    candidates: &mut [Option<Candidate>],
    pairs: &[(usize, usize)],
    config: &RunConfig,
    training_sets: &mut crate::training_data::Loaded,
    geometry: &mut Vec<reports::GeometryRow>,
) -> Result<Vec<reports::JacobianRow>> {
    let started = Instant::now();
    let mut jacobian = vec![];
    let mut measured = 0;
    for (m, candidate) in candidates.iter().enumerate() {
        let Some(candidate) = candidate else { continue };
        let Some(zoo) = &candidate.zoo else {
            continue;
        };
        if !candidate.primary {
            continue;
        }
        let net = &zoo.network;
        if !pairs.contains(&(m, 0)) {
            continue;
        }
        let sets = training_sets.get(zoo.data)?;
        let (probe, labels) = crate::geometry::class_probe(&sets.test);
        let subject = crate::geometry::Subject {
            model: &candidate.name,
            rule: &candidate.rule,
            architecture: &candidate.architecture,
        };
        let forward = net.forward(probe.view())?;
        let names = net.layer_names();
        geometry.extend(crate::geometry::layer_geometry(
            &subject,
            names.iter().copied().zip(forward.post.iter()),
            &labels,
            &format!(
                "{} test ({} per class)",
                zoo.data.name(),
                crate::geometry::PROBE_PER_CLASS
            ),
            config.seed,
        )?);
        jacobian.extend(crate::geometry::jacobian_rows(&subject, net, &forward)?);
        measured += 1;
    }
    if measured > 0 {
        eprintln!(
            "geometry: {measured} zoo models on their training data's test images in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(jacobian)
}

/// The brain RDM of a target: the mean of its RDMs, or the RDM of the mean responses.
fn brain_rdm(target: &brain_data::TargetData, method: evaluators::RdmMethod) -> Option<Vec<f64>> {
    match target {
        brain_data::TargetData::Rdms(r) => {
            let n = r.rdms.len() as f64;
            let len = r.rdms.first()?.condensed.len();
            Some(
                (0..len)
                    .map(|k| r.rdms.iter().map(|x| x.condensed[k]).sum::<f64>() / n)
                    .collect(),
            )
        }
        brain_data::TargetData::Responses(r) => {
            evaluators::compute_rdm(r.mean_over_repetitions().view(), method)
                .ok()
                .map(|rdm| rdm.condensed().to_vec())
        }
    }
}

/// Model inputs larger than this are preprocessed batch by batch for each model instead of
/// once for all models that share the preprocessing.
const INPUT_CACHE_BYTES: usize = 1 << 30;

/// Activations on the last stimulus set, reused while the following benchmarks show the same
/// stimuli with the same preprocessing (the V4 benchmarks share one session's images), and
/// the preprocessed stimuli themselves, shared by the models that preprocess alike (every
/// zoo network).
#[derive(Default)]
struct ExtractionCache {
    /// The stimulus set's name and ids.
    stimuli: (String, Vec<String>),
    entries: Vec<(
        usize,
        Preprocessing,
        (model_zoo::Activations, Vec<LayerRecord>),
    )>,
    inputs: Vec<(Preprocessing, std::sync::Arc<ndarray::Array4<f32>>)>,
}

impl ExtractionCache {
    fn holds(&self, data: &BenchmarkData) -> bool {
        self.stimuli.0 == data.stimuli.name && self.stimuli.1 == data.stimuli.ids
    }

    fn get(
        &self,
        model: usize,
        data: &BenchmarkData,
        preprocessing: &Preprocessing,
    ) -> Option<(model_zoo::Activations, Vec<LayerRecord>)> {
        if !self.holds(data) {
            return None;
        }
        self.entries
            .iter()
            .find(|(m, p, _)| *m == model && p == preprocessing)
            .map(|(_, _, found)| found.clone())
    }

    fn keep(
        &mut self,
        model: usize,
        data: &BenchmarkData,
        preprocessing: &Preprocessing,
        extracted: (model_zoo::Activations, Vec<LayerRecord>),
    ) {
        self.switch_to(data);
        self.entries.push((model, preprocessing.clone(), extracted));
    }

    fn switch_to(&mut self, data: &BenchmarkData) {
        if !self.holds(data) {
            self.stimuli = (data.stimuli.name.clone(), data.stimuli.ids.clone());
            self.entries.clear();
            self.inputs.clear();
        }
    }

    /// The preprocessed stimuli, computed on first use when they fit the cache's budget.
    fn inputs(
        &mut self,
        data: &BenchmarkData,
        preprocessing: &Preprocessing,
    ) -> Result<Option<std::sync::Arc<ndarray::Array4<f32>>>> {
        self.switch_to(data);
        if let Some((_, found)) = self.inputs.iter().find(|(p, _)| p == preprocessing) {
            return Ok(Some(found.clone()));
        }
        let channels = match preprocessing.channels {
            brain_data::Channels::Rgb => 3,
            brain_data::Channels::Gray => 1,
        };
        let side = preprocessing.size as usize;
        let bytes = data.stimuli.len() * channels * side * side * std::mem::size_of::<f32>();
        if bytes > INPUT_CACHE_BYTES {
            return Ok(None);
        }
        let tensor = std::sync::Arc::new(
            preprocessing
                .apply_all(&data.stimuli)
                .with_context(|| format!("preprocessing {}", data.stimuli.name))?,
        );
        self.inputs.push((preprocessing.clone(), tensor.clone()));
        Ok(Some(tensor))
    }
}

/// Streams a benchmark's stimuli (`inputs` when already preprocessed) through a model and
/// returns the layers' activations.
fn extract(
    candidate: &mut Candidate,
    data: &BenchmarkData,
    inputs: Option<&ndarray::Array4<f32>>,
    preprocessing: &Preprocessing,
    config: &RunConfig,
    benchmark: &str,
) -> Result<(model_zoo::Activations, Vec<LayerRecord>)> {
    let options = ExtractionOptions {
        batch_size: config.batch_size,
        projection: (config.projection_dim > 0).then_some(RandomProjection {
            dim: config.projection_dim,
            seed: config.seed,
        }),
    };
    let n = data.stimuli.len();
    let progress = bar(n, "{msg:40} [{bar:30}] {pos}/{len} stimuli ({eta})");
    progress.set_message(format!("extract {} on {benchmark}", candidate.name));
    let images = &data.stimuli.images;
    let load = |range: std::ops::Range<usize>| {
        progress.set_position(range.end as u64);
        if let Some(inputs) = inputs {
            return Ok(inputs.slice(ndarray::s![range, .., .., ..]).to_owned());
        }
        let planes = images[range]
            .iter()
            .map(|im| preprocessing.apply(im))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| model_zoo::ZooError::Config(e.to_string()))?;
        let views: Vec<_> = planes
            .iter()
            .map(|p| p.view().insert_axis(Axis(0)))
            .collect();
        ndarray::concatenate(Axis(0), &views).map_err(|e| model_zoo::ZooError::Shape(e.to_string()))
    };
    let layers: Vec<&str> = candidate.layers.iter().map(String::as_str).collect();
    let result = model_zoo::extract(candidate.model.as_mut(), n, load, &layers, &options)
        .with_context(|| format!("extracting {} on {benchmark}", candidate.name))?;
    progress.finish_and_clear();
    Ok(result)
}

/// What a zoo entry asks to be trained with `seed` (None for other entries).
fn zoo_request(spec: &ModelSpec, seed: u64) -> Option<zoo_cache::ZooRequest<'_>> {
    match spec {
        ModelSpec::Zoo {
            rule,
            arch,
            dataset,
            preset,
            epochs,
            ..
        } => Some(zoo_cache::ZooRequest {
            data: *dataset,
            preset,
            rule,
            arch,
            epochs: *epochs,
            seed,
        }),
        _ => None,
    }
}

fn open_candidate(
    spec: &ModelSpec,
    seed: u64,
    zoo: &Path,
    training_sets: &mut crate::training_data::Loaded,
    progress: &ProgressBar,
    announced: &[PathBuf],
) -> Result<Candidate> {
    let from_zoo = |z: zoo_cache::ZooNetwork| -> Result<Candidate> {
        if let Some(path) = z.checkpoint.as_ref().filter(|p| !announced.contains(p)) {
            let how = if z.trained_now { "trained" } else { "using" };
            progress.suspend(|| eprintln!("model: {how} {} ({})", z.name, path.display()));
        }
        let network = z.net.clone();
        let mut model = ZooModel::new(z.net)?;
        let layers: Vec<String> = model.layers()?.into_iter().map(|l| l.name).collect();
        Ok(Candidate {
            record: ModelRecord {
                name: z.name.clone(),
                rule: z.rule.clone(),
                architecture: z.arch.clone(),
                source: z.checkpoint.as_ref().map_or(
                    "untrained (initial weights of the training seed)".into(),
                    |p| p.display().to_string(),
                ),
                sha256: z.sha256,
                layers: layers.clone(),
                training: Some(serde_norway::to_string(&z.config)?),
                projections: vec![],
            },
            name: z.name,
            seed,
            primary: true,
            rule: z.rule,
            architecture: z.arch,
            model: Box::new(model),
            layers,
            zoo: Some(ZooInfo {
                network,
                data: z.config.data,
                normalization: z.config.normalization.clone(),
            }),
            preprocessing: None,
        })
    };
    match spec {
        ModelSpec::Zoo { .. } => {
            let request = zoo_request(spec, seed).expect("a zoo entry");
            progress.set_message(spec.name());
            let sets = training_sets.get(request.data)?;
            let training = zoo_cache::training_config(&request, &sets)?;
            from_zoo(zoo_cache::trained(zoo, &training, &sets, progress)?)
        }
        ModelSpec::Untrained { arch, dataset, .. } => {
            let request = zoo_cache::ZooRequest {
                data: *dataset,
                preset: "quick",
                rule: "bp",
                arch,
                epochs: None,
                seed,
            };
            let sets = training_sets.get(*dataset)?;
            from_zoo(zoo_cache::untrained(zoo_cache::training_config(
                &request, &sets,
            )?)?)
        }
        ModelSpec::Checkpoint { path } => {
            let (net, training) = model_zoo::checkpoint::load(path)?;
            let name = spec.name();
            from_zoo(zoo_cache::ZooNetwork {
                name,
                rule: training.rule.name().into(),
                arch: training.architecture.name().into(),
                net,
                checkpoint: Some(path.clone()),
                sha256: Some(brain_data::sha256_file(path)?),
                config: training,
                trained_now: false,
            })
        }
        ModelSpec::Onnx {
            path,
            name: _,
            rule,
            layers,
            input_shape,
            preprocessing,
        } => {
            let (model, _, layers) = open_onnx(path, *input_shape, layers)?;
            let name = spec.name();
            let rule = rule.clone().unwrap_or_else(|| "external".into());
            Ok(Candidate {
                record: ModelRecord {
                    name: name.clone(),
                    rule: rule.clone(),
                    architecture: name.clone(),
                    source: path.display().to_string(),
                    sha256: Some(brain_data::sha256_file(path)?),
                    layers: layers.clone(),
                    training: None,
                    projections: vec![],
                },
                architecture: name.clone(),
                name,
                seed,
                primary: true,
                rule,
                model: Box::new(model),
                layers,
                zoo: None,
                preprocessing: preprocessing.clone(),
            })
        }
    }
}

/// Operators that only move or copy values; their outputs repeat another layer's.
const PLUMBING: [&str; 12] = [
    "Pad",
    "Reshape",
    "Transpose",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Concat",
    "Slice",
    "Gather",
    "Cast",
    "Identity",
    "Shape",
];

/// An ONNX model entry opened: the model, every layer it has, and the layers to score (the
/// entry's, each checked to exist, else [`default_onnx_layers`]).
pub(crate) fn open_onnx(
    path: &Path,
    input_shape: Option<[usize; 3]>,
    layers: &[String],
) -> Result<(OnnxModel, Vec<model_zoo::LayerInfo>, Vec<String>)> {
    let mut model = OnnxModel::open(path, input_shape)?;
    let available = model
        .layers()
        .with_context(|| format!("listing the layers of {}", path.display()))?;
    let chosen = if layers.is_empty() {
        default_onnx_layers(&available)
    } else {
        for layer in layers {
            model.graph().resolve(layer)?;
        }
        layers.to_vec()
    };
    Ok((model, available, chosen))
}

/// Eight float layers evenly spaced through the graph, the last of them its output, skipping
/// operators that only move values.
fn default_onnx_layers(available: &[model_zoo::LayerInfo]) -> Vec<String> {
    let float: Vec<&model_zoo::LayerInfo> = available
        .iter()
        .filter(|l| l.dtype == "f32" && !PLUMBING.contains(&l.op.as_str()))
        .collect();
    if float.is_empty() {
        return vec![];
    }
    let mut picked: Vec<usize> = (1..=8).map(|k| k * (float.len() - 1) / 8).collect();
    picked.dedup();
    picked.into_iter().map(|i| float[i].name.clone()).collect()
}

/// The stimuli's preprocessing for a model: its own when configured, else the benchmark's
/// fitted to the model's input size and channels; zoo networks get their training data's
/// standardisation (CIFAR-10's channel statistics), or none ([0, 1] Fashion-MNIST pixels).
fn preprocessing_for(base: &Preprocessing, candidate: &Candidate) -> Result<Preprocessing> {
    if let Some(p) = &candidate.preprocessing {
        return Ok(p.clone());
    }
    let [c, h, w] = candidate.model.input_shape();
    if h != w {
        bail!(
            "{}: input {h}x{w} is not square; give the model a preprocessing in the run config",
            candidate.name
        );
    }
    let mut p = base.clone();
    p.size = h as u32;
    p.channels = match c {
        1 => Channels::Gray,
        3 => Channels::Rgb,
        _ => bail!(
            "{}: input has {c} channels; stimuli have 1 or 3",
            candidate.name
        ),
    };
    if let Some(zoo) = &candidate.zoo {
        p.normalization = match &zoo.normalization {
            None => None,
            Some(n) if n.mean.is_empty() || n.std.is_empty() => {
                bail!(
                    "{}: its training config has an empty normalisation",
                    candidate.name
                )
            }
            // One channel's statistics serve all three.
            Some(n) => {
                let three = |v: &[f32]| [0, 1, 2].map(|i| *v.get(i).unwrap_or(&v[0]));
                Some(brain_data::Normalization {
                    mean: three(&n.mean),
                    std: three(&n.std),
                })
            }
        };
    }
    Ok(p)
}

fn bar(len: usize, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

/// Writes results (Parquet, CSV, JSON), the leaderboard with its intervals, pairwise tests and
/// tied groups (JSON, Markdown, Parquet, CSV), the bootstrap replicates, RDM figures, manifest
/// and report into `out` (a staging folder, see `output_dir`); returns the
/// leaderboard.
pub fn write_outputs(out: &Path, outputs: &RunOutputs) -> Result<reports::Leaderboard> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    reports::write_results(out, &outputs.rows)?;
    let config = &outputs.manifest.config;
    let board = crate::comparison::leaderboard(
        &outputs.rows,
        &outputs.replicates,
        config.statistics,
        config.seed,
    );
    board.save(&out.join("leaderboard.json"))?;
    reports::write_leaderboard_tables(out, &board)?;
    reports::write_atomically(
        &out.join("bootstrap.json"),
        serde_json::to_string(&outputs.replicates)?.as_bytes(),
    )?;
    reports::write_atomically(&out.join("leaderboard.md"), board.markdown().as_bytes())?;
    reports::write_atomically(
        &out.join("rdms.json"),
        serde_json::to_string(&outputs.rdms)?.as_bytes(),
    )?;
    reports::write_geometry(out, &outputs.geometry, &outputs.jacobian)?;
    let manifest = serde_norway::to_string(&outputs.manifest)?;
    reports::write_atomically(&out.join("manifest.yaml"), manifest.as_bytes())?;
    // The report shows the manifest without its list of data files (tens of thousands of
    // sha256 lines for the pattern benchmarks), which stays in manifest.yaml.
    let mut shown = outputs.manifest.clone();
    let files = std::mem::take(&mut shown.data).len();
    let shown = format!(
        "# data: {files} files, each with its pinned sha256, listed in manifest.yaml\n{}",
        serde_norway::to_string(&shown)?
    );
    let title = match outputs.manifest.shard {
        Some([i, n]) => format!("cortexbench run (shard {i}/{n})"),
        None => "cortexbench run".to_string(),
    };
    reports::write_report(
        &out.join("report.html"),
        &ReportInputs {
            title,
            rows: outputs.rows.clone(),
            leaderboard: Some(board.clone()),
            rdms: outputs.rdms.report_panels(),
            geometry: outputs.geometry.clone(),
            jacobian: outputs.jacobian.clone(),
            manifest: shown,
        },
    )?;
    Ok(board)
}
