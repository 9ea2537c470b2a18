//! Scoring a run config: every model x benchmark of the run (or one shard of that matrix),
//! from fetching the data to the manifest, returned as [`RunOutputs`] to be written by
//! [`crate::run_dir::RunDir`]. `harness score` and `harness reproduce` both call [`execute`].
//!
//! For each benchmark the [`crate::protocol`] splits the stimuli in two seeded halves: every
//! layer is scored on both, the best layer is chosen on the selection half, and the reported
//! score is that layer's on the report half, normalised by the ceiling measured on the report
//! half.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use brain_data::{BenchmarkSpec, Catalog, DataStore};
use evaluators::MetricSpec;
use model_zoo::Activations;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use reports::ScoreRow;

use crate::candidates::{
    Candidate, ExtractionCache, INPUT_CACHE_BYTES, ZooNet, bar, extract, extraction_options,
    open_candidate, preprocessing_for, zoo_request,
};
use crate::comparison::stream_seed;
use crate::protocol::{Benchmark, LayerScores, PreparedBenchmark, ProtocolSettings};
use crate::run_config::{ModelSpec, RunConfig};
use crate::run_dir::{RdmFigure, RdmFigures, RunOutputs};
use crate::run_manifest::{self, BenchmarkRecord, MANIFEST_FORMAT, Machine, RunManifest};
use crate::scoring::{Neural, NeuralData, subset_features};
use crate::zoo_cache;

/// Scores `config` (or one shard of it) and returns what is to be written.
pub fn execute(
    config: &RunConfig,
    shard: Option<[usize; 2]>,
    store: &DataStore,
    zoo: &Path,
    force: bool,
) -> Result<RunOutputs> {
    let started = Instant::now();
    let plan = Plan::new(config, shard)?;
    let catalog = Catalog::builtin();
    let prepared = prepare_benchmarks(config, &plan, store, &catalog)?;
    check_memory(config, &plan, &prepared, force)?;
    let mut training_sets = crate::training_data::Loaded::new(store);
    let mut candidates = open_candidates(config, &plan, zoo, &mut training_sets)?;

    let mut scored = Scored::default();
    let mut records = vec![];
    for (b, prepared) in prepared.iter().enumerate() {
        if let Some(prepared) = prepared {
            records.push(scored.benchmark(config, &plan, b, prepared, &mut candidates)?);
        }
    }
    // The last stimulus set's activations (V1's 9500 stimuli: most of the run's peak) are not
    // needed past scoring; the geometry's training data and Jacobians must not add to them.
    scored.extracted = ExtractionCache::default();
    let jacobian = zoo_geometry(
        &mut candidates,
        &plan.pairs,
        config,
        &mut training_sets,
        &mut scored.geometry,
    )?;
    let datasets: Vec<&str> = prepared
        .iter()
        .flatten()
        .map(|p| p.benchmark.spec.dataset.as_str())
        .collect();
    let manifest = RunManifest {
        format: MANIFEST_FORMAT.into(),
        cortexbench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: run_manifest::git_commit(),
        config: config.clone(),
        shard,
        data: run_manifest::data_files(&catalog, &datasets)?,
        models: candidates.into_iter().flatten().map(|c| c.record).collect(),
        benchmarks: records,
        onnx_runtime: scored.onnx_runtime,
        machine: Machine::current(),
        elapsed_seconds: started.elapsed().as_secs_f64(),
    };
    Ok(RunOutputs {
        rows: scored.rows,
        rdms: scored.rdms,
        manifest,
        geometry: scored.geometry,
        jacobian,
        replicates: scored.replicates,
        spectral: scored.spectral,
    })
}

/// Which networks and benchmarks a run (or shard) covers.
struct Plan {
    /// The benchmarks, with the config's metric overrides.
    benchmarks: Vec<BenchmarkSpec>,
    /// One network per model entry and training seed: (entry, seed).
    instances: Vec<(usize, u64)>,
    /// The (network, benchmark) pairs this run scores.
    pairs: Vec<(usize, usize)>,
}

impl Plan {
    fn new(config: &RunConfig, shard: Option<[usize; 2]>) -> Result<Plan> {
        let benchmarks = config.benchmarks()?;
        let instances: Vec<(usize, u64)> = config
            .models
            .iter()
            .enumerate()
            .flat_map(|(m, spec)| config.seeds_of(spec).into_iter().map(move |s| (m, s)))
            .collect();
        // The network x benchmark matrix, network-major; a shard takes every n-th pair.
        let pairs = (0..instances.len())
            .flat_map(|m| (0..benchmarks.len()).map(move |b| (m, b)))
            .enumerate()
            .filter(|(k, _)| shard.is_none_or(|[i, n]| k % n == i))
            .map(|(_, pair)| pair)
            .collect();
        Ok(Plan {
            benchmarks,
            instances,
            pairs,
        })
    }

    fn has_network(&self, network: usize) -> bool {
        self.pairs.iter().any(|p| p.0 == network)
    }

    fn has_benchmark(&self, benchmark: usize) -> bool {
        self.pairs.iter().any(|p| p.1 == benchmark)
    }
}

/// Fetches and prepares every benchmark of the plan (data verified, split, ceiling) before
/// any model is trained; `None` for benchmarks another shard scores.
fn prepare_benchmarks(
    config: &RunConfig,
    plan: &Plan,
    store: &DataStore,
    catalog: &Catalog,
) -> Result<Vec<Option<PreparedBenchmark>>> {
    let settings = ProtocolSettings {
        seed: config.seed,
        resamples: config.statistics.resamples,
        normalization: config.normalization,
    };
    let mut prepared = Vec::with_capacity(plan.benchmarks.len());
    for (b, spec) in plan.benchmarks.iter().enumerate() {
        prepared.push(if plan.has_benchmark(b) {
            eprintln!("fetch: {}", spec.id);
            Some(Benchmark::new(spec.clone(), settings).prepare(store, catalog)?)
        } else {
            None
        });
    }
    Ok(prepared)
}

/// Before anything large is allocated: the peak memory of extracting and scoring, refused
/// when it exceeds what is available (unless `force`).
fn check_memory(
    config: &RunConfig,
    plan: &Plan,
    prepared: &[Option<PreparedBenchmark>],
    force: bool,
) -> Result<()> {
    let sizes: Vec<Option<crate::memory::BenchmarkWork>> = prepared
        .iter()
        .map(|p| {
            p.as_ref().map(|p| crate::memory::BenchmarkWork {
                stimuli: p.data.stimuli.name.clone(),
                n: p.data.stimuli.len(),
                regression: matches!(p.benchmark.metric(), MetricSpec::Predictivity { .. }),
            })
        })
        .collect();
    let work = crate::memory::plan_scoring(config, &plan.instances, &plan.pairs, &sizes)?;
    let estimate = crate::memory::scoring_estimate(
        &work,
        config.projection_dim,
        config.batch_size,
        INPUT_CACHE_BYTES as u64,
    );
    crate::memory::preflight(&estimate, force)
}

/// Trains the networks the zoo lacks (several side by side), then opens every network of the
/// plan; `None` for networks another shard scores.
fn open_candidates(
    config: &RunConfig,
    plan: &Plan,
    zoo: &Path,
    training_sets: &mut crate::training_data::Loaded,
) -> Result<Vec<Option<Candidate>>> {
    let train_bar = bar(
        plan.instances.len(),
        "{msg:24} [{bar:30}] network {pos}/{len} {elapsed}",
    );
    let mut jobs = vec![];
    for (i, &(m, seed)) in plan.instances.iter().enumerate() {
        let spec = &config.models[m];
        if !plan.has_network(i) {
            continue;
        }
        if let Some(request) = zoo_request(spec, seed) {
            let sets = training_sets.get(request.data)?;
            let training = zoo_cache::training_config(&request, &sets)?;
            jobs.push(zoo_cache::TrainingJob::Zoo(training, sets));
        } else if let ModelSpec::Vectorized { dataset, .. } = spec {
            let training = spec.vectorized_config(seed).expect("a vectorized entry")?;
            let sets = training_sets.get(*dataset)?;
            jobs.push(zoo_cache::TrainingJob::Vectorized(training, sets));
        }
    }
    let trained_now = zoo_cache::train_missing(zoo, &jobs, &train_bar)?;
    let mut candidates = Vec::with_capacity(plan.instances.len());
    for (i, &(m, seed)) in plan.instances.iter().enumerate() {
        train_bar.set_position(i as u64);
        if !plan.has_network(i) {
            candidates.push(None);
            continue;
        }
        let spec = &config.models[m];
        let mut candidate =
            open_candidate(spec, seed, zoo, training_sets, &train_bar, &trained_now)?;
        candidate.primary = config.seeds_of(spec).first() == Some(&seed);
        candidates.push(Some(candidate));
    }
    train_bar.finish_and_clear();
    Ok(candidates)
}

/// What scoring accumulates over benchmarks.
#[derive(Default)]
struct Scored {
    rows: Vec<ScoreRow>,
    replicates: Vec<reports::BootstrapReplicates>,
    rdms: RdmFigures,
    geometry: Vec<reports::GeometryRow>,
    /// (network, stimulus set) pairs whose category geometry is measured.
    geometry_done: Vec<(usize, String)>,
    spectral: Vec<reports::SpectralRow>,
    /// (network, response target) pairs whose spectral decomposition is measured.
    spectral_done: Vec<(usize, String)>,
    extracted: ExtractionCache,
    onnx_runtime: Option<String>,
}

impl Scored {
    /// Scores every network of the plan on one benchmark; returns the benchmark's record.
    fn benchmark(
        &mut self,
        config: &RunConfig,
        plan: &Plan,
        b: usize,
        prepared: &PreparedBenchmark,
        candidates: &mut [Option<Candidate>],
    ) -> Result<BenchmarkRecord> {
        let started = Instant::now();
        let (id, data) = (prepared.id(), &prepared.data);
        let subjects = prepared.report.target.subjects();
        let mut record = BenchmarkRecord {
            id: id.to_string(),
            metric: prepared.benchmark.metric().clone(),
            ceiling: prepared.ceiling.method.clone(),
            split: [
                prepared.selection.stimuli.len(),
                prepared.report.stimuli.len(),
            ],
            preprocessing: vec![],
            resample_seed: Some(prepared.resample_seed),
            resampled_subjects: (subjects > 1).then_some(subjects),
        };
        if let Some(brain) = prepared.brain_rdm()? {
            self.rdms.panels.push(RdmFigure {
                benchmark: id.to_string(),
                title: format!("{id} (brain)"),
                n: data.stimuli.len(),
                condensed: brain.condensed().to_vec(),
                score: None,
            });
        }
        let (mut layers, mut extraction_seconds) = (0, 0.0);
        for (m, candidate) in candidates.iter_mut().enumerate() {
            let Some(candidate) = candidate else { continue };
            if !plan.pairs.contains(&(m, b)) {
                continue;
            }
            if candidate.zoo.is_none() && self.onnx_runtime.is_none() {
                self.onnx_runtime = model_zoo::onnx::runtime::loaded_library().ok();
            }
            let preprocessing =
                preprocessing_for(&prepared.benchmark.spec.preprocessing, candidate)?;
            record
                .preprocessing
                .push((candidate.name.clone(), preprocessing.clone()));
            let extraction_started = Instant::now();
            let activations = self.activations(config, m, candidate, prepared, &preprocessing)?;
            extraction_seconds += extraction_started.elapsed().as_secs_f64();
            layers += self.candidate(config, m, candidate, prepared, &activations)?;
        }
        eprintln!(
            "scored {id}: {layers} layers in {:.0} s ({extraction_seconds:.0} s extracting features)",
            started.elapsed().as_secs_f64(),
        );
        Ok(record)
    }

    /// The network's activations on the benchmark's stimuli: extracted once per network,
    /// stimulus set and preprocessing, and kept for the benchmarks that share them.
    fn activations(
        &mut self,
        config: &RunConfig,
        m: usize,
        candidate: &mut Candidate,
        prepared: &PreparedBenchmark,
        preprocessing: &brain_data::Preprocessing,
    ) -> Result<Activations> {
        let data = &prepared.data;
        let extracted = match self.extracted.get(m, data, preprocessing) {
            Some(found) => found,
            None => {
                let inputs = self.extracted.inputs(data, preprocessing)?;
                let fresh = extract(
                    candidate,
                    &data.stimuli,
                    inputs.as_deref(),
                    preprocessing,
                    &extraction_options(config),
                    prepared.id(),
                )?;
                self.extracted.keep(m, data, preprocessing, fresh.clone());
                fresh
            }
        };
        if candidate.record.projections.is_empty() {
            candidate.record.projections = extracted
                .layers
                .into_iter()
                .filter(|p| p.kept < p.features)
                .collect();
        }
        Ok(extracted.activations)
    }

    /// Scores one network's layers on one benchmark (with its category geometry the first
    /// time it sees the stimuli); returns the number of layers scored.
    fn candidate(
        &mut self,
        config: &RunConfig,
        m: usize,
        candidate: &Candidate,
        prepared: &PreparedBenchmark,
        activations: &Activations,
    ) -> Result<usize> {
        let (id, stimuli) = (prepared.id(), &prepared.data.stimuli);
        if let Some(labels) = stimuli.category_codes()
            && candidate.primary
            && !self.geometry_done.contains(&(m, stimuli.name.clone()))
        {
            let subject = crate::geometry::Subject {
                model: &candidate.name,
                rule: &candidate.rule,
                architecture: &candidate.architecture,
            };
            self.geometry.extend(crate::geometry::layer_geometry(
                &subject,
                activations.iter(),
                &labels,
                &format!("{} (categories)", stimuli.name),
                config.seed,
            )?);
            self.geometry_done.push((m, stimuli.name.clone()));
        }
        self.spectral_once(config, m, candidate, prepared, activations)?;
        let score_bar = bar(
            activations.names().len(),
            "{msg:40} [{bar:30}] layer {pos}/{len}",
        );
        score_bar.set_message(format!("score {} on {id}", candidate.name));
        let scores = prepared
            .score_layers(activations, &score_bar)
            .with_context(|| format!("scoring {}", candidate.name))?;
        score_bar.finish_and_clear();
        let layer_rows = score_rows(candidate, prepared, &scores);
        if let Some(best) = scores.selected {
            let chosen = &layer_rows[best];
            self.replicates.push(reports::BootstrapReplicates {
                benchmark: id.to_string(),
                model: candidate.name.clone(),
                rule: candidate.rule.clone(),
                architecture: candidate.architecture.clone(),
                seed: candidate.seed,
                estimate: chosen.headline(),
                values: scores.replicates,
            });
            if let MetricSpec::Rsa { rdm, .. } = prepared.benchmark.metric()
                && candidate.primary
            {
                let features = activations.get(&chosen.layer).expect("scored layer");
                let model_rdm = evaluators::compute_rdm(features.mapv(f64::from).view(), *rdm)?;
                self.rdms.panels.push(RdmFigure {
                    benchmark: id.to_string(),
                    title: format!("{} {}", candidate.name, chosen.layer),
                    n: stimuli.len(),
                    condensed: model_rdm.condensed().to_vec(),
                    score: Some(chosen.headline()),
                });
            }
        }
        let n = layer_rows.len();
        self.rows.extend(layer_rows);
        Ok(n)
    }
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
        let stimuli = format!(
            "{} test ({} per class)",
            zoo.data.name(),
            crate::geometry::PROBE_PER_CLASS
        );
        match &zoo.network {
            ZooNet::Scalar(net) => {
                let forward = net.forward(probe.view())?;
                let names = net.layer_names();
                geometry.extend(crate::geometry::layer_geometry(
                    &subject,
                    names.iter().copied().zip(forward.post.iter()),
                    &labels,
                    &stimuli,
                    config.seed,
                )?);
                jacobian.extend(crate::geometry::jacobian_rows(&subject, net, &forward)?);
            }
            // A VNN's hidden layers as it is scored (its K components side by side); the
            // Jacobian alignment is defined for the scalar networks' output only.
            ZooNet::Vectorized(net) => {
                let hidden = net.hidden_in_batches(probe.view(), VECTORIZED_PROBE_BATCH)?;
                geometry.extend(crate::geometry::layer_geometry(
                    &subject,
                    net.hidden_names().into_iter().zip(hidden.iter()),
                    &labels,
                    &stimuli,
                    config.seed,
                )?);
            }
        }
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

/// Probe images forwarded at once through a VNN for its geometry (a `vnn-cnn`'s first-layer
/// maps of all 500 would take about 0.7 GiB).
const VECTORIZED_PROBE_BATCH: usize = 50;

/// Stimuli of the spectral decomposition: a benchmark's own when it has at most this many,
/// else a seeded subset (the V1 benchmark's 9500 patterns would need a 9500² eigenproblem per
/// layer).
const SPECTRAL_MAX_STIMULI: usize = 640;

/// The stimuli of the spectral decomposition: all `n`, or a seeded subset of
/// [`SPECTRAL_MAX_STIMULI`] in their order.
fn spectral_stimuli(n: usize, seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    if n <= SPECTRAL_MAX_STIMULI {
        return all;
    }
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut kept = all[..SPECTRAL_MAX_STIMULI].to_vec();
    kept.sort_unstable();
    kept
}

/// Random training sets per size of the spectral decomposition's simulated learning curve.
const SPECTRAL_TRIALS: usize = 3;

impl Scored {
    /// The spectral theory of neural prediction for every layer of a primary network against
    /// a response target, once per network and target (the V4 benchmarks share one).
    fn spectral_once(
        &mut self,
        config: &RunConfig,
        m: usize,
        candidate: &Candidate,
        prepared: &PreparedBenchmark,
        activations: &Activations,
    ) -> Result<()> {
        let spec = &prepared.benchmark.spec;
        if spec.target.kind()? != brain_data::TargetKind::Responses {
            return Ok(());
        }
        let target = format!(
            "{} {}{}",
            spec.region,
            spec.target.source,
            spec.target
                .options
                .values()
                .map(|v| format!(" {v}"))
                .collect::<String>()
        );
        if !candidate.primary || self.spectral_done.contains(&(m, target.clone())) {
            return Ok(());
        }
        let started = Instant::now();
        let seed = stream_seed(config.seed, &["spectral", &target]);
        let stimuli = spectral_stimuli(prepared.data.stimuli.len(), seed);
        let Neural::Responses(responses) = NeuralData::of(&prepared.data.target, &stimuli)?.neural
        else {
            unreachable!("a response target")
        };
        let mut options = evaluators::SpectralOptions::for_stimuli(stimuli.len());
        options.trials = SPECTRAL_TRIALS;
        options.seed = seed;
        for (index, (layer, features)) in activations.iter().enumerate() {
            let x = subset_features(features, &stimuli);
            let result = evaluators::spectral_prediction(x.view(), responses.view(), &options)
                .with_context(|| {
                    format!(
                        "spectral decomposition of {} layer {layer} on {target}",
                        candidate.name
                    )
                })?;
            for point in &result.theory {
                let empirical = result.empirical.iter().find(|e| e.p == point.p);
                self.spectral.push(reports::SpectralRow {
                    model: candidate.name.clone(),
                    rule: candidate.rule.clone(),
                    architecture: candidate.architecture.clone(),
                    seed: candidate.seed,
                    layer: layer.to_string(),
                    layer_index: index,
                    target: target.clone(),
                    n_stimuli: stimuli.len(),
                    p: point.p,
                    alpha: options.alpha,
                    theory: point.error,
                    empirical: empirical.map(|e| e.error),
                    empirical_sem: empirical.map(|e| e.sem),
                    radius: point.radius,
                    dimension: point.dimension,
                });
            }
        }
        self.spectral_done.push((m, target));
        eprintln!(
            "spectral: {} on {} stimuli of {} in {:.1} s",
            candidate.name,
            stimuli.len(),
            spec.region,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

/// The score table's rows of one model on one benchmark.
fn score_rows(
    candidate: &Candidate,
    prepared: &PreparedBenchmark,
    scores: &LayerScores,
) -> Vec<ScoreRow> {
    let spec = &prepared.benchmark.spec;
    let normalization = prepared.normalization();
    scores
        .layers
        .iter()
        .enumerate()
        .map(|(index, layer)| ScoreRow {
            model: candidate.name.clone(),
            rule: candidate.rule.clone(),
            architecture: candidate.architecture.clone(),
            layer: layer.layer.clone(),
            layer_index: index,
            benchmark: spec.id.clone(),
            region: spec.region.clone(),
            metric: spec.metric.name().to_string(),
            raw: layer.report.value,
            sem: layer.report.sem,
            ceiling: prepared.ceiling.value,
            normalized: layer.normalized,
            normalization: normalization.map(str::to_string),
            ceiling_method: prepared.ceiling.method.clone(),
            selection_score: layer.selection,
            selected: scores.selected == Some(index),
            n_stimuli: prepared.report.stimuli.len(),
            seed: candidate.seed,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectral_stimuli_are_all_of_a_small_set_and_a_seeded_sorted_subset_of_a_large_one() {
        assert_eq!(spectral_stimuli(92, 1), (0..92).collect::<Vec<_>>());
        let subset = spectral_stimuli(9500, 3);
        assert_eq!(subset.len(), SPECTRAL_MAX_STIMULI);
        assert!(subset.windows(2).all(|w| w[0] < w[1]) && subset[639] < 9500);
        assert_eq!(subset, spectral_stimuli(9500, 3));
        assert_ne!(subset, spectral_stimuli(9500, 4));
    }
}
