//! Vectorized nonnegative networks (GEVB's, and backprop's on the same network) as zoo models:
//! their presets, and each config trained once and reused from the cache
//! (`<cache>/zoo/by-config/<rule>-<data>-<arch>-<hash>/`, as the scalar zoo's) or from the
//! folder `harness train` wrote it to with the same config.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use model_zoo::architecture::ConvStage;
use model_zoo::vectorized::{
    VectorRule, VectorTrainConfig, load_vectorized, save_vectorized, train_vectorized_resumable,
};
use model_zoo::{Augmentation, LrSchedule, OptimizerConfig, TrainingData};
use sha2::{Digest, Sha256};

use crate::training_data::TrainingSets;
use crate::zoo_cache::{TrainedBefore, TrainingLog};

/// The architecture names: a VNN MLP, a VNN convnet.
pub const ARCHS: [&str; 2] = ["vnn-mlp", "vnn-cnn"];

/// Whether `arch` names a vectorized network.
pub fn is_vectorized(arch: &str) -> bool {
    ARCHS.contains(&arch)
}

/// The checkpoint's file name in a config's cache folder.
const CHECKPOINT: &str = "model.safetensors";

/// The config of a VNN preset. Architectures: `vnn-mlp`, the paper's MLP for the data set
/// (Fashion-MNIST: 784×10 – 1024 – 512 – 1; CIFAR-10: 3072×10 – 1024 – 512 – 512 – 512 – 1);
/// `vnn-cnn`, the zoo's CIFAR-10 convnet vectorized (3×3 convolutions of 32, 64 and 128
/// channels, each gated and average-pooled, fc 256, the output unit; on Fashion-MNIST the
/// first two). Adam 3e-4 (the paper's; 1e-4 for the convnet: on a narrower copy one step at
/// 3e-4 took the CIFAR-10 test loss from 2.3 to 6.5, under backprop as under GEVB) with the
/// zoo's cosine schedule, batch 128, CIFAR-10 augmented as the zoo's. `standard`: 20 epochs
/// (30 for the CIFAR-10 convnet, as the zoo's); `quick`: 2 epochs of 100 steps, as the zoo's
/// quick preset. `epochs` replaces the preset's (every step of each).
pub fn preset_config(
    rule: VectorRule,
    arch: &str,
    data: TrainingData,
    preset: &str,
    epochs: Option<usize>,
    seed: u64,
) -> Result<VectorTrainConfig> {
    if !ARCHS.contains(&arch) {
        bail!(
            "a vectorized network's architecture is {}, not {arch}",
            ARCHS.join(" or ")
        );
    }
    let stage = |channels| ConvStage {
        channels,
        kernel: 3,
        padding: 1,
    };
    let (stages, hidden) = match (arch, data) {
        ("vnn-mlp", TrainingData::FashionMnist) => (vec![], vec![1024, 512]),
        ("vnn-mlp", TrainingData::Cifar10) => (vec![], vec![1024, 512, 512, 512]),
        (_, TrainingData::FashionMnist) => (vec![stage(32), stage(64)], vec![256]),
        (_, TrainingData::Cifar10) => (vec![stage(32), stage(64), stage(128)], vec![256]),
    };
    let cifar_cnn = arch == "vnn-cnn" && data == TrainingData::Cifar10;
    let (preset_epochs, mut max_steps_per_epoch) = match preset {
        "quick" => (2, Some(100)),
        "standard" if cifar_cnn => (30, None),
        "standard" => (20, None),
        other => bail!("unknown preset '{other}' (quick or standard)"),
    };
    if epochs == Some(0) {
        bail!("epochs must be at least 1");
    }
    if epochs.is_some() {
        max_steps_per_epoch = None;
    }
    Ok(VectorTrainConfig {
        data,
        normalization: None,
        augmentation: (data == TrainingData::Cifar10).then_some(Augmentation {
            crop_padding: 4,
            horizontal_flip: true,
        }),
        hidden,
        rule,
        optimizer: OptimizerConfig::adam(if stages.is_empty() { 3e-4 } else { 1e-4 }),
        stages,
        lr_schedule: LrSchedule::Cosine {
            final_fraction: 0.01,
        },
        batch_size: 128,
        epochs: epochs.unwrap_or(preset_epochs),
        seed,
        alignment_every: 50,
        max_steps_per_epoch,
    })
}

/// The config whose initial weights are the untrained baseline of a VNN architecture: the
/// quick preset's (initialisation depends on the architecture, data set and seed alone, not
/// on the rule or the schedule).
pub fn untrained_config(arch: &str, data: TrainingData, seed: u64) -> Result<VectorTrainConfig> {
    preset_config(VectorRule::Gevb, arch, data, "quick", None, seed)
}

/// `vnn-mlp` or `vnn-cnn`.
pub fn arch_name(config: &VectorTrainConfig) -> &'static str {
    if config.stages.is_empty() {
        "vnn-mlp"
    } else {
        "vnn-cnn"
    }
}

/// `<rule>-<data>-<arch>`, e.g. `gevb-cifar-vnn-mlp`.
pub fn display_name(config: &VectorTrainConfig) -> String {
    format!(
        "{}-{}-{}",
        config.rule.name(),
        config.data.tag(),
        arch_name(config)
    )
}

/// The cache folder of a VNN training config.
fn cache_dir(zoo: &Path, config: &VectorTrainConfig) -> Result<PathBuf> {
    let yaml = serde_norway::to_string(config)?;
    let hash = hex::encode(Sha256::digest(yaml.as_bytes()));
    Ok(zoo
        .join("by-config")
        .join(format!("{}-{}", display_name(config), &hash[..16])))
}

/// `<rule>-<data>-<arch>-s<seed>`, e.g. `gevb-cifar-vnn-cnn-s1`: the name `harness train`
/// gives a VNN and its folder in the zoo.
pub fn seeded_name(config: &VectorTrainConfig) -> String {
    format!("{}-s{}", display_name(config), config.seed)
}

/// The VNN `harness train` wrote for `config`'s name and seed, if it was trained with exactly
/// `config`.
fn trained_by_harness_train(zoo: &Path, config: &VectorTrainConfig) -> Result<TrainedBefore<()>> {
    TrainedBefore::look(&zoo.join(seeded_name(config)), |checkpoint| {
        let (_, saved) = load_vectorized(checkpoint)?;
        Ok(((), &saved == config))
    })
}

/// `config` with the normalisation of its data as measured on `sets`.
fn normalized(config: &VectorTrainConfig, sets: &TrainingSets) -> VectorTrainConfig {
    VectorTrainConfig {
        normalization: sets.normalization.clone(),
        ..config.clone()
    }
}

/// The checkpoint of `config` (normalised) that the zoo holds: the one `harness train` wrote
/// with this config, else the cache's; with what `harness train` left otherwise.
fn cached(zoo: &Path, config: &VectorTrainConfig) -> Result<(Option<PathBuf>, TrainedBefore<()>)> {
    let before = trained_by_harness_train(zoo, config)?;
    if let TrainedBefore::Same(checkpoint, ()) = &before {
        return Ok((Some(checkpoint.clone()), TrainedBefore::Nothing));
    }
    let checkpoint = cache_dir(zoo, config)?.join(CHECKPOINT);
    Ok((checkpoint.is_file().then_some(checkpoint), before))
}

/// The cache folder `config` (its normalisation measured on `sets`) trains into when the zoo
/// holds no network of it yet (saying why a network of its name there is not used); `None`
/// when it does.
pub fn missing(
    zoo: &Path,
    config: &VectorTrainConfig,
    sets: &TrainingSets,
    bar: &ProgressBar,
) -> Result<Option<PathBuf>> {
    let config = normalized(config, sets);
    match cached(zoo, &config)? {
        (Some(_), _) => Ok(None),
        (None, before) => {
            before.note_unused(bar);
            Ok(Some(cache_dir(zoo, &config)?))
        }
    }
}

/// The checkpoint of `config` (its normalisation measured on `sets`): the one `harness train`
/// wrote with this config, else the cache's, else trained now on the threads it is given
/// and cached; `true` with it when trained now.
pub fn trained(
    zoo: &Path,
    config: &VectorTrainConfig,
    sets: &TrainingSets,
    bar: &ProgressBar,
) -> Result<(PathBuf, bool)> {
    let config = normalized(config, sets);
    // (Why a network of its name was not used is said when the run looks for missing ones.)
    if let (Some(checkpoint), _) = cached(zoo, &config)? {
        return Ok((checkpoint, false));
    }
    let dir = cache_dir(zoo, &config)?;
    let checkpoint = dir.join(CHECKPOINT);
    // Processes sharing the zoo train each network once: the first takes the folder's lock,
    // the others wait for its checkpoint.
    let key = dir.strip_prefix(zoo).unwrap_or(&dir).to_path_buf();
    let _lock = brain_data::CacheLock::acquire(zoo, &key)?;
    if checkpoint.is_file() {
        return Ok((checkpoint, false));
    }
    let name = display_name(&config);
    // An interrupted run continues from its last epoch.
    let state = dir.join(model_zoo::resume::STATE_FILE);
    let log = TrainingLog::start(bar, &name, config.seed, config.epochs, &dir, &state);
    let trained = train_vectorized_resumable(&config, &sets.train, &sets.test, &state, |e| {
        log.epoch(&e.record)
    })
    .with_context(|| format!("training {name}"))?;
    save_vectorized(&checkpoint, &trained.net, &config)?;
    std::fs::remove_file(&state).with_context(|| format!("removing {}", state.display()))?;
    Ok((checkpoint, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_give_the_documented_schedules_and_refuse_the_unknown() {
        let quick = preset_config(
            VectorRule::Gevb,
            "vnn-mlp",
            TrainingData::Cifar10,
            "quick",
            None,
            2,
        )
        .unwrap();
        assert_eq!((quick.epochs, quick.max_steps_per_epoch), (2, Some(100)));
        assert_eq!(quick.hidden, vec![1024, 512, 512, 512]);
        assert!(quick.stages.is_empty() && quick.augmentation.is_some());
        assert_eq!((quick.seed, quick.batch_size), (2, 128));
        assert_eq!(display_name(&quick), "gevb-cifar-vnn-mlp");
        let cnn = preset_config(
            VectorRule::Bp,
            "vnn-cnn",
            TrainingData::Cifar10,
            "standard",
            None,
            1,
        )
        .unwrap();
        assert_eq!((cnn.epochs, cnn.max_steps_per_epoch), (30, None));
        assert_eq!(cnn.stages.len(), 3);
        assert_eq!(arch_name(&cnn), "vnn-cnn");
        let fmnist = preset_config(
            VectorRule::Gevb,
            "vnn-mlp",
            TrainingData::FashionMnist,
            "quick",
            Some(3),
            1,
        )
        .unwrap();
        // Epochs in place of the preset's run every step of each.
        assert_eq!((fmnist.epochs, fmnist.max_steps_per_epoch), (3, None));
        assert_eq!(fmnist.hidden, vec![1024, 512]);
        assert!(fmnist.augmentation.is_none());
        // The network a config builds has its data set's input and the paper's vector width.
        let net = fmnist.network().unwrap();
        assert_eq!(net.n_inputs(), 784);
        assert_eq!(net.components, 10);
        for (arch, preset, epochs, message) in [
            ("cnn", "quick", None, "not cnn"),
            ("vnn-mlp", "long", None, "unknown preset"),
            ("vnn-mlp", "quick", Some(0), "at least 1"),
        ] {
            let err = preset_config(
                VectorRule::Gevb,
                arch,
                TrainingData::Cifar10,
                preset,
                epochs,
                1,
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(message), "{err}");
        }
    }

    #[test]
    fn every_config_has_its_own_cache_folder() {
        let zoo = Path::new("/zoo");
        let config = |rule, seed| {
            preset_config(rule, "vnn-mlp", TrainingData::Cifar10, "quick", None, seed).unwrap()
        };
        let a = cache_dir(zoo, &config(VectorRule::Gevb, 1)).unwrap();
        assert!(a.starts_with("/zoo/by-config"));
        assert!(
            a.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("gevb-cifar-vnn-mlp-")
        );
        assert_eq!(a, cache_dir(zoo, &config(VectorRule::Gevb, 1)).unwrap());
        assert_ne!(a, cache_dir(zoo, &config(VectorRule::Gevb, 2)).unwrap());
        assert_ne!(a, cache_dir(zoo, &config(VectorRule::Bp, 1)).unwrap());
    }
}
