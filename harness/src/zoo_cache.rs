//! Zoo models for scoring runs: trained once per training config and reused from the cache
//! (`<cache>/zoo/by-config/<rule>-<data>-<arch>-<hash>/`, the hash being the sha256 of the
//! config's YAML), or untrained baselines built from the same seed. A network that
//! `harness train` wrote into the same zoo (`<zoo>/<rule>-<data>-<arch>-s<seed>/`) with the
//! very config a run asks for is used as it is, so a long standard-preset run trained on its
//! own is not trained again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use model_zoo::vectorized::VectorTrainConfig;
use model_zoo::{Network, Preset, Rule, TrainConfig, TrainingData};
use sha2::{Digest, Sha256};

use crate::training_data::TrainingSets;

/// The checkpoint's file name in a config's cache folder.
const CHECKPOINT: &str = "model.safetensors";

/// A zoo network ready to score.
pub struct ZooNetwork {
    /// Name in tables, e.g. `bp-cifar-cnn`.
    pub name: String,
    /// Rule (`untrained` for baselines).
    pub rule: String,
    /// `cnn` or `mlp`.
    pub arch: String,
    /// The network.
    pub net: Network,
    /// Where its checkpoint is (trained models).
    pub checkpoint: Option<PathBuf>,
    /// The checkpoint's sha256 (trained models).
    pub sha256: Option<String>,
    /// The training config (for untrained baselines, the one whose initial weights they are).
    pub config: TrainConfig,
    /// Whether this run trained it (false: reused from the cache).
    pub trained_now: bool,
}

/// What to train: a preset's rule on an architecture and data set.
#[derive(Debug, Clone, Copy)]
pub struct ZooRequest<'a> {
    /// Training data.
    pub data: TrainingData,
    /// `quick` or `standard`.
    pub preset: &'a str,
    /// Rule.
    pub rule: Rule,
    /// Architecture name.
    pub arch: &'a str,
    /// Epochs in place of the preset's (all steps of each).
    pub epochs: Option<usize>,
    /// Seed.
    pub seed: u64,
}

/// The training config of a request, with the data's measured normalisation.
pub fn training_config(request: &ZooRequest, sets: &TrainingSets) -> Result<TrainConfig> {
    let mut config =
        Preset::builtin(request.data, request.preset)?.config(request.rule, request.arch)?;
    config.seed = request.seed;
    config.normalization = sets.normalization.clone();
    if let Some(e) = request.epochs {
        config.epochs = e;
        config.max_steps_per_epoch = None;
    }
    Ok(config)
}

/// `<rule>-<data>-<arch>`, e.g. `bp-cifar-cnn`.
pub fn display_name(rule: &str, config: &TrainConfig) -> String {
    format!(
        "{rule}-{}-{}",
        config.data.tag(),
        config.architecture.name()
    )
}

/// The log of one network's training inside a run (a line when it starts and one per epoch),
/// so a run that trains for hours says what it is doing where no progress bar shows.
pub(crate) struct TrainingLog<'a> {
    bar: &'a ProgressBar,
    /// e.g. `bp-cifar-cnn seed 2`.
    label: String,
    epochs: usize,
}

impl<'a> TrainingLog<'a> {
    /// Announces the training of `name` with `seed` for `epochs` into `dir`, continuing a
    /// stopped run when `state` (its training-state file) is there.
    pub(crate) fn start(
        bar: &'a ProgressBar,
        name: &str,
        seed: u64,
        epochs: usize,
        dir: &Path,
        state: &Path,
    ) -> Self {
        let label = format!("{name} seed {seed}");
        let resuming = if state.is_file() {
            ", continuing a stopped run"
        } else {
            ""
        };
        bar.set_message(format!("training {label}"));
        bar.suspend(|| {
            eprintln!(
                "model: training {label} ({epochs} epochs{resuming}) into {}",
                dir.display()
            )
        });
        TrainingLog { bar, label, epochs }
    }

    /// One finished epoch.
    pub(crate) fn epoch(&self, record: &model_zoo::EpochRecord) {
        self.bar.suspend(|| {
            eprintln!(
                "model: {} epoch {}/{}: test accuracy {:.1} %",
                self.label,
                record.epoch,
                self.epochs,
                100.0 * record.test_accuracy
            )
        });
        self.bar.tick();
    }
}

/// `<rule>-<data>-<arch>-s<seed>`, e.g. `bp-cifar-cnn-s1`: the name `harness train` gives a
/// network and its folder in the zoo.
pub fn seeded_name(config: &TrainConfig) -> String {
    format!(
        "{}-s{}",
        display_name(config.rule.name(), config),
        config.seed
    )
}

/// What `harness train` left in a zoo for a config's name and seed.
pub(crate) enum TrainedBefore<N> {
    /// Nothing.
    Nothing,
    /// A run that has not finished (its training state, no checkpoint): running elsewhere, or
    /// stopped.
    Unfinished(PathBuf),
    /// A checkpoint trained with exactly this config, and its network.
    Same(PathBuf, N),
    /// A checkpoint trained with another config (other options, another version's preset).
    Other(PathBuf),
}

impl<N> TrainedBefore<N> {
    /// What `folder` (`<zoo>/<name>-s<seed>/`) holds: `load` reads a checkpoint and tells
    /// whether it was trained with the config asked for.
    pub(crate) fn look(
        folder: &Path,
        load: impl FnOnce(&Path) -> Result<(N, bool)>,
    ) -> Result<TrainedBefore<N>> {
        let checkpoint = folder.join(CHECKPOINT);
        if checkpoint.is_file() {
            let (net, same) = load(&checkpoint)?;
            return Ok(if same {
                TrainedBefore::Same(checkpoint, net)
            } else {
                TrainedBefore::Other(checkpoint)
            });
        }
        let state = folder.join(model_zoo::resume::STATE_FILE);
        Ok(if state.is_file() {
            TrainedBefore::Unfinished(folder.to_path_buf())
        } else {
            TrainedBefore::Nothing
        })
    }

    /// Says why a network of the run's name there is not used, when there is one (before
    /// training the run's own).
    pub(crate) fn note_unused(&self, bar: &ProgressBar) {
        let note = match self {
            TrainedBefore::Other(path) => format!(
                "note: {} was trained with another config than this run's; training this run's in the cache",
                path.display()
            ),
            TrainedBefore::Unfinished(folder) => format!(
                "note: {} holds an unfinished `harness train` run; this run trains its own in the cache (to use that one, let its `harness train` command finish first)",
                folder.display()
            ),
            TrainedBefore::Nothing | TrainedBefore::Same(..) => return,
        };
        bar.suspend(|| eprintln!("{note}"));
    }
}

/// The network `harness train` wrote for `config`'s name and seed, if it was trained with
/// exactly `config`.
pub(crate) fn trained_by_harness_train(
    zoo: &Path,
    config: &TrainConfig,
) -> Result<TrainedBefore<Network>> {
    TrainedBefore::look(&zoo.join(seeded_name(config)), |checkpoint| {
        let (net, saved) = model_zoo::checkpoint::load(checkpoint)?;
        Ok((net, &saved == config))
    })
}

/// The cache folder of a training config.
pub fn cache_dir(zoo: &Path, config: &TrainConfig) -> Result<PathBuf> {
    let yaml = serde_norway::to_string(config)?;
    let hash = hex::encode(Sha256::digest(yaml.as_bytes()));
    Ok(zoo.join("by-config").join(format!(
        "{}-{}",
        display_name(config.rule.name(), config),
        &hash[..16]
    )))
}

/// The trained network of `config`: the one `harness train` wrote with this config, else
/// the cache's, else trained now on `sets` (and cached).
pub fn trained(
    zoo: &Path,
    config: &TrainConfig,
    sets: &TrainingSets,
    bar: &ProgressBar,
) -> Result<ZooNetwork> {
    let name = display_name(config.rule.name(), config);
    if let TrainedBefore::Same(checkpoint, net) = trained_by_harness_train(zoo, config)? {
        return zoo_network(name, net, checkpoint, config, false);
    }
    let dir = cache_dir(zoo, config)?;
    let checkpoint = dir.join(CHECKPOINT);
    let mut trained_now = false;
    // Processes sharing the zoo (shards of one run) train each network once: the first takes
    // the folder's lock, the others wait for its checkpoint.
    let _lock = if checkpoint.is_file() {
        None
    } else {
        let key = dir.strip_prefix(zoo).unwrap_or(&dir);
        Some(brain_data::CacheLock::acquire(zoo, key)?)
    };
    if !checkpoint.is_file() {
        // Saved after every epoch, so a stopped run continues where it was.
        let state = dir.join(model_zoo::resume::STATE_FILE);
        let log = TrainingLog::start(bar, &name, config.seed, config.epochs, &dir, &state);
        let trained =
            model_zoo::train_resumable(config, &sets.train, &sets.test, &state, |r, _| {
                log.epoch(r)
            })
            .with_context(|| format!("training {name}"))?;
        model_zoo::checkpoint::save(&checkpoint, &trained.net, config)?;
        std::fs::remove_file(&state).with_context(|| format!("removing {}", state.display()))?;
        trained_now = true;
    }
    let (net, saved) = model_zoo::checkpoint::load(&checkpoint)?;
    if &saved != config {
        anyhow::bail!(
            "{}: the cached checkpoint was trained with another config; delete the folder",
            checkpoint.display()
        );
    }
    zoo_network(name, net, checkpoint, config, trained_now)
}

fn zoo_network(
    name: String,
    net: Network,
    checkpoint: PathBuf,
    config: &TrainConfig,
    trained_now: bool,
) -> Result<ZooNetwork> {
    let sha256 = brain_data::sha256_file(&checkpoint)?;
    Ok(ZooNetwork {
        name,
        rule: config.rule.name().into(),
        arch: config.architecture.name().into(),
        net,
        checkpoint: Some(checkpoint),
        sha256: Some(sha256),
        config: config.clone(),
        trained_now,
    })
}

/// A network a run needs trained: a zoo network or a VNN.
pub enum TrainingJob {
    /// A zoo network's config and its training data.
    Zoo(TrainConfig, Arc<TrainingSets>),
    /// A VNN's config (normalisation from its data) and its training data.
    Vectorized(VectorTrainConfig, Arc<TrainingSets>),
}

/// Steps of a VNN convnet relative to the zoo convnet's backprop steps (CIFAR-10, one core:
/// about 450 s against 85 s per epoch), for ordering only.
const VNN_CNN_STEP_COST: f64 = 5.0;

impl TrainingJob {
    /// The cache folder it trains into when neither the cache nor a `harness train` folder
    /// holds its network yet (saying why a network of its name there is not used); `None`
    /// when one does.
    fn missing(&self, zoo: &Path, bar: &ProgressBar) -> Result<Option<PathBuf>> {
        match self {
            TrainingJob::Zoo(config, _) => {
                let before = trained_by_harness_train(zoo, config)?;
                if matches!(before, TrainedBefore::Same(..)) {
                    return Ok(None);
                }
                let dir = cache_dir(zoo, config)?;
                if dir.join(CHECKPOINT).is_file() {
                    return Ok(None);
                }
                before.note_unused(bar);
                Ok(Some(dir))
            }
            TrainingJob::Vectorized(config, sets) => {
                crate::vectorized_zoo::missing(zoo, config, sets, bar)
            }
        }
    }

    /// Trains (or, if another process sharing the zoo has meanwhile, finds) its network:
    /// its name and checkpoint, with whether this call trained it.
    fn train(&self, zoo: &Path, bar: &ProgressBar) -> Result<(String, PathBuf, bool)> {
        match self {
            TrainingJob::Zoo(config, sets) => {
                let network = trained(zoo, config, sets, bar)?;
                let checkpoint = network.checkpoint.expect("trained networks have one");
                Ok((network.name, checkpoint, network.trained_now))
            }
            TrainingJob::Vectorized(config, sets) => {
                let (checkpoint, now) = crate::vectorized_zoo::trained(zoo, config, sets, bar)?;
                Ok((crate::vectorized_zoo::display_name(config), checkpoint, now))
            }
        }
    }

    /// Whether it trains on one core beside others: zoo networks and VNN convnets (whose steps
    /// gain little from a second core: about 7.5 min per CIFAR-10 epoch pinned to one core
    /// beside another run, 7 min alone on both); VNN MLPs train on all cores after them.
    fn side_by_side(&self) -> bool {
        match self {
            TrainingJob::Zoo(..) => true,
            TrainingJob::Vectorized(config, _) => !config.stages.is_empty(),
        }
    }

    /// The seed it trains with.
    fn seed(&self) -> u64 {
        match self {
            TrainingJob::Zoo(config, _) => config.seed,
            TrainingJob::Vectorized(config, _) => config.seed,
        }
    }

    /// Rough relative training time (for ordering only): steps times the relative cost of a
    /// step.
    fn relative_cost(&self) -> f64 {
        let (per_step, epochs, steps) = match self {
            TrainingJob::Zoo(config, _) => (
                config.rule.rule().relative_cost(),
                config.epochs,
                config.max_steps_per_epoch,
            ),
            TrainingJob::Vectorized(config, _) => {
                (VNN_CNN_STEP_COST, config.epochs, config.max_steps_per_epoch)
            }
        };
        per_step * (epochs * steps.unwrap_or(400)) as f64
    }
}

/// Trains every network of `jobs` that the zoo does not hold yet (neither in its cache nor as
/// `harness train` wrote it), several side by side (VNN MLPs after them, on all cores): on a
/// machine with c cores, up to c networks train at once, each on one thread (OpenBLAS and
/// rayon single-threaded for the duration). One network's batches of 128 leave a second core
/// half idle (its threads wait on each other: 1.5x faster on 2 cores than on 1), so two
/// networks on one core each finish sooner than one after the other on both (the default
/// run's 14 networks: 13 min instead of about 18). Longest jobs first, so the last ones finish
/// together. Returns the checkpoints trained (each announced as it is written).
///
/// With OpenBLAS's Cooper Lake kernels the weights are those `harness train` gets on all
/// cores, byte for byte for every rule on the CIFAR-10 convnet (checked on the default run's
/// 14 networks; NMNC needed its eigendecomposition held to one OpenBLAS thread). OpenBLAS does
/// not promise this: a 1024-wide MLP's products round differently on 1 and 2 threads there,
/// and with its Haswell kernels (measured on an AMD EPYC) every product of the convnet does.
/// So a zoo folder holds whichever run trained its config first.
pub fn train_missing(zoo: &Path, jobs: &[TrainingJob], bar: &ProgressBar) -> Result<Vec<PathBuf>> {
    let mut missing = vec![];
    let mut folders = vec![];
    for job in jobs {
        if let Some(dir) = job.missing(zoo, bar)?
            && !folders.contains(&dir)
        {
            folders.push(dir);
            missing.push(job);
        }
    }
    let done = Mutex::new(vec![]);
    let train = |job: &TrainingJob| -> Result<()> {
        let (name, path, trained_now) = job.train(zoo, bar)?;
        // (Another process sharing the zoo may have trained it meanwhile: not announced.)
        if trained_now {
            let seed = job.seed();
            bar.suspend(|| eprintln!("model: trained {name} seed {seed} ({})", path.display()));
            done.lock().expect("no thread panics holding it").push(path);
        }
        Ok(())
    };
    let (mut side_by_side, all_cores): (Vec<&TrainingJob>, Vec<&TrainingJob>) =
        missing.into_iter().partition(|job| job.side_by_side());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores.min(side_by_side.len());
    if workers <= 1 {
        match side_by_side.len() + all_cores.len() {
            0 => {}
            1 => bar.suspend(|| eprintln!("training 1 network")),
            count => bar.suspend(|| eprintln!("training {count} networks, one after another")),
        }
        for job in side_by_side.into_iter().chain(all_cores) {
            train(job)?;
        }
        return Ok(done.into_inner().expect("no thread panicked"));
    }
    side_by_side.sort_by(|a, b| b.relative_cost().total_cmp(&a.relative_cost()));
    let after = match all_cores.len() {
        0 => String::new(),
        1 => ", then 1 on all cores".to_string(),
        count => format!(", then {count} one after another on all cores"),
    };
    bar.suspend(|| {
        eprintln!(
            "training {} networks, {workers} at a time on one core each{after}",
            side_by_side.len()
        )
    });
    let queue = Mutex::new(side_by_side.into_iter());
    let failed = AtomicBool::new(false);
    let blas = model_zoo::blas_threads::SingleThreadedBlas::new();
    let outcomes: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
                    pool.install(|| {
                        while !failed.load(Ordering::Relaxed) {
                            let next = queue.lock().expect("no thread panics holding it").next();
                            let Some(job) = next else { break };
                            if let Err(e) = train(job) {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                        Ok(())
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    outcomes.into_iter().collect::<Result<()>>()?;
    // OpenBLAS on all its threads again.
    drop(blas);
    for job in all_cores {
        train(job)?;
    }
    Ok(done.into_inner().expect("no thread panicked"))
}

/// The untrained baseline of a config's architecture: the initial weights training with its
/// seed starts from.
pub fn untrained(config: TrainConfig) -> Result<ZooNetwork> {
    let (image, classes) = config.data.shape();
    let net = config.architecture.build(
        image,
        &config.hidden,
        classes,
        config.activation,
        config.seed,
    )?;
    Ok(ZooNetwork {
        name: display_name("untrained", &config),
        rule: "untrained".into(),
        arch: config.architecture.name().into(),
        net,
        checkpoint: None,
        sha256: None,
        config,
        trained_now: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use model_zoo::rules::deep_feedback_control::{DfcOptions, FeedbackWeights};
    use model_zoo::rules::neural_manifold_noise_correlation::ManifoldOptions;
    use model_zoo::{LabelledData, RuleConfig};
    use rand::{Rng, SeedableRng};

    /// Random 28x28 gray images in 10 classes: enough for a few steps of every rule.
    fn synthetic_sets() -> Arc<TrainingSets> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut part = |n: usize| {
            let images = ndarray::Array3::from_shape_fn((n, 28, 28), |_| rng.random::<u8>());
            let labels = (0..n).map(|i| (i % 10) as u8).collect();
            LabelledData::from_u8_images(&images, labels).unwrap()
        };
        Arc::new(TrainingSets {
            train: part(192),
            test: part(40),
            normalization: None,
        })
    }

    fn config(rule: RuleConfig) -> TrainConfig {
        let mut config = TrainConfig::cnn_default(rule, 1, 3);
        config.batch_size = 32;
        config.max_steps_per_epoch = Some(3);
        config.alignment_every = 2;
        config
    }

    /// Whether a product of the training's shapes gives the same bits on one OpenBLAS thread
    /// as on all.
    fn sgemm_is_thread_independent() -> bool {
        let a = ndarray::Array2::from_shape_fn((4096, 75), |(i, j)| {
            ((i * 31 + j * 17) % 101) as f32 / 7.0 - 7.0
        });
        let b = ndarray::Array2::from_shape_fn((75, 32), |(i, j)| {
            ((i * 13 + j * 29) % 89) as f32 / 11.0 - 4.0
        });
        let all = a.dot(&b);
        let _blas = model_zoo::blas_threads::SingleThreadedBlas::new();
        all == a.dot(&b)
    }

    #[test]
    fn networks_trained_side_by_side_equal_networks_trained_alone() {
        let dfc = DfcOptions {
            feedback: match DfcOptions::default().feedback {
                FeedbackWeights::Trained {
                    lr,
                    noise,
                    decay,
                    alpha,
                    ..
                } => FeedbackWeights::Trained {
                    lr,
                    noise,
                    decay,
                    alpha,
                    pretrain_steps: 2,
                },
                fixed => fixed,
            },
            ..DfcOptions::default()
        };
        let sets = synthetic_sets();
        let mut jobs: Vec<TrainingJob> = [
            RuleConfig::Bp,
            RuleConfig::Nc(Default::default()),
            RuleConfig::Nmnc(ManifoldOptions {
                refresh_every: 1,
                ..ManifoldOptions::default()
            }),
            RuleConfig::Dfc(dfc),
        ]
        .into_iter()
        .map(|rule| TrainingJob::Zoo(config(rule), sets.clone()))
        .collect();
        // A VNN convnet trains side by side too.
        let vnn = VectorTrainConfig {
            stages: vec![model_zoo::architecture::ConvStage {
                channels: 4,
                kernel: 3,
                padding: 1,
            }],
            hidden: vec![8],
            batch_size: 32,
            epochs: 1,
            max_steps_per_epoch: Some(3),
            alignment_every: 2,
            ..VectorTrainConfig::mlp_default(model_zoo::vectorized::VectorRule::Gevb, 1, 3)
        };
        jobs.push(TrainingJob::Vectorized(vnn, sets.clone()));
        let folder = |zoo: &Path, job: &TrainingJob| match job {
            TrainingJob::Zoo(config, _) => cache_dir(zoo, config).unwrap(),
            TrainingJob::Vectorized(config, sets) => {
                crate::vectorized_zoo::missing(zoo, config, sets, &ProgressBar::hidden())
                    .unwrap()
                    .unwrap_or_else(|| zoo.join("(cached)"))
            }
        };
        let bar = ProgressBar::hidden();
        // Alone, one after the other: on one thread as side by side, and on all cores.
        let alone_one_thread = tempfile::tempdir().unwrap();
        {
            let _blas = model_zoo::blas_threads::SingleThreadedBlas::new();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            pool.install(|| {
                for job in &jobs {
                    job.train(alone_one_thread.path(), &bar).unwrap();
                }
            });
        }
        let alone_all_cores = tempfile::tempdir().unwrap();
        for job in &jobs {
            job.train(alone_all_cores.path(), &bar).unwrap();
        }
        let side_by_side = tempfile::tempdir().unwrap();
        // The folders each job will train into, before they hold anything.
        let folders: Vec<PathBuf> = jobs
            .iter()
            .map(|job| folder(side_by_side.path(), job))
            .collect();
        let written = train_missing(side_by_side.path(), &jobs, &bar).unwrap();
        assert_eq!(written.len(), jobs.len());
        for (folder, written) in folders.iter().zip(&written) {
            assert!(written.starts_with(side_by_side.path()), "{written:?}");
            assert!(
                folders.contains(&written.parent().unwrap().to_path_buf()),
                "{folder:?}"
            );
        }
        // Whether OpenBLAS's products round the same on one thread and on several depends on
        // the CPU's kernels (the same on Cooper Lake's, not on Haswell's: README, "Time of the
        // default run"); where they do, all-core training gives the same weights too.
        let blas_independent_of_threads = sgemm_is_thread_independent();
        for (job, folder) in jobs.iter().zip(&folders) {
            let name = folder.file_name().unwrap().to_string_lossy();
            let in_zoo = |zoo: &Path| zoo.join(folder.strip_prefix(side_by_side.path()).unwrap());
            let read = |zoo: &Path| std::fs::read(in_zoo(zoo).join(CHECKPOINT)).unwrap();
            assert!(
                read(alone_one_thread.path()) == read(side_by_side.path()),
                "{name} differs"
            );
            // (The VNN's products are not among those checked for thread independence.)
            if blas_independent_of_threads && matches!(job, TrainingJob::Zoo(..)) {
                assert!(
                    read(alone_all_cores.path()) == read(side_by_side.path()),
                    "{name} differs on all cores"
                );
            }
        }
        // Everything is cached now: nothing left to train.
        assert!(
            train_missing(side_by_side.path(), &jobs, &bar)
                .unwrap()
                .is_empty()
        );
    }
}
