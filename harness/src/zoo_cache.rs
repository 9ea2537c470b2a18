//! Zoo models for scoring runs: trained once per training config and reused from the cache
//! (`<cache>/zoo/by-config/<rule>-<data>-<arch>-<hash>/`, the hash being the sha256 of the
//! config's YAML), or untrained baselines built from the same seed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use model_zoo::{Network, Preset, TrainConfig, TrainingData};
use sha2::{Digest, Sha256};

use crate::training_data::TrainingSets;

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
    /// Rule name.
    pub rule: &'a str,
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

/// The trained network of `config`, from the cache or trained now on `sets` (and cached).
pub fn trained(
    zoo: &Path,
    config: &TrainConfig,
    sets: &TrainingSets,
    bar: &ProgressBar,
) -> Result<ZooNetwork> {
    let dir = cache_dir(zoo, config)?;
    let checkpoint = dir.join("model.safetensors");
    let name = display_name(config.rule.name(), config);
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
        bar.set_message(format!("training {name}"));
        // Saved after every epoch, so a stopped run continues where it was.
        let state = dir.join(model_zoo::resume::STATE_FILE);
        let trained =
            model_zoo::train_resumable(config, &sets.train, &sets.test, &state, |_, _| bar.tick())
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
