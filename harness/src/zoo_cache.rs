//! Zoo models for scoring runs: trained once per training config and reused from the cache
//! (`<cache>/zoo/by-config/<rule>-<arch>-<hash>/`, the hash being the sha256 of the config's
//! YAML), or untrained baselines built from the same seed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use model_zoo::{LabelledData, Network, TrainConfig};
use sha2::{Digest, Sha256};

use crate::commands::train::{make_quick, rule_config};

/// A zoo network ready to score.
pub struct ZooNetwork {
    /// Name in tables, e.g. `bp-mlp`.
    pub name: String,
    /// Rule (`untrained` for baselines).
    pub rule: String,
    /// `mlp` or `cnn`.
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

/// The training config a run uses for `rule` on `arch`.
pub fn training_config(
    rule: &str,
    arch: &str,
    epochs: Option<usize>,
    seed: u64,
) -> Result<TrainConfig> {
    let mut config = TrainConfig::default_for(arch, rule_config(rule, None)?, 2, seed)?;
    make_quick(&mut config);
    if let Some(e) = epochs {
        config.epochs = e;
        config.max_steps_per_epoch = None;
    }
    Ok(config)
}

/// The cache folder of a training config.
pub fn cache_dir(zoo: &Path, config: &TrainConfig) -> Result<PathBuf> {
    let yaml = serde_norway::to_string(config)?;
    let hash = hex::encode(Sha256::digest(yaml.as_bytes()));
    Ok(zoo.join("by-config").join(format!(
        "{}-{}-{}",
        config.rule.name(),
        config.architecture.name(),
        &hash[..16]
    )))
}

/// The trained network of `config`, from the cache or trained now (and cached).
pub fn trained(
    zoo: &Path,
    config: &TrainConfig,
    data: impl FnOnce() -> Result<(LabelledData, LabelledData)>,
    bar: &ProgressBar,
) -> Result<ZooNetwork> {
    let dir = cache_dir(zoo, config)?;
    let checkpoint = dir.join("model.safetensors");
    let name = format!("{}-{}", config.rule.name(), config.architecture.name());
    let mut trained_now = false;
    if !checkpoint.is_file() {
        let (train_set, test_set) = data()?;
        bar.set_message(format!("training {name}"));
        let trained = model_zoo::train(config, &train_set, &test_set, |_, _| bar.tick())
            .with_context(|| format!("training {name}"))?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        model_zoo::checkpoint::save(&checkpoint, &trained.net, config)?;
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

/// The untrained baseline of `arch`: the initial weights training with `seed` starts from.
pub fn untrained(arch: &str, seed: u64) -> Result<ZooNetwork> {
    let config = training_config("bp", arch, None, seed)?;
    let net = config.architecture.build(
        (28, 28, 1),
        &config.hidden,
        10,
        config.activation,
        config.seed,
    )?;
    Ok(ZooNetwork {
        name: format!("untrained-{arch}"),
        rule: "untrained".into(),
        arch: arch.into(),
        net,
        checkpoint: None,
        sha256: None,
        config,
        trained_now: false,
    })
}
