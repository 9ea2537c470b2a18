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
use brain_data::{BenchmarkData, Catalog, DataStore};
use clap::Args;
use reports::{RdmPanel, ReportInputs, ScoreRow};
use serde::{Deserialize, Serialize};

use super::data::DataArgs;
use crate::candidates::{
    Candidate, ExtractionCache, INPUT_CACHE_BYTES, bar, extract, extraction_options,
    open_candidate, parse_shape, preprocessing_for, zoo_request,
};
use crate::ceilings;
use crate::comparison::stream_seed;
use crate::run_config::{ModelSpec, RunConfig};
use crate::run_manifest::{self, BenchmarkRecord, MANIFEST_FORMAT, Machine, RunManifest};
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
                .map(|path| ModelSpec::from_file(path, &args.layers, args.input_shape))
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
                        &data.stimuli,
                        inputs.as_deref(),
                        &preprocessing,
                        &extraction_options(config),
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
