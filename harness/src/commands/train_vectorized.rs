//! `harness train --arch vnn-mlp|vnn-cnn --rule gevb|bp`: a vectorized nonnegative MLP or
//! convnet trained by
//! global error-vector broadcasting or by backprop (model_zoo::vectorized), written to
//! `<zoo>/<name>/` as a checkpoint, its ONNX export, its per-epoch history (accuracy,
//! alignment and sign agreement with the gradient) and its config. Training saves its state
//! after every epoch, and the same command continues an interrupted run. VNNs are not in the zoo
//! manifest; `harness score --model` scores their checkpoints, and a scoring run whose
//! `vectorized` entry asks for the same config (`--zoo` this zoo) uses them.

use std::path::Path;

use anyhow::{Context, Result, bail};
use model_zoo::TrainingData;
use model_zoo::vectorized::{
    VectorEpoch, VectorRule, VectorTrainConfig, save_vectorized, train_vectorized_resumable,
};

use super::train::{TrainArgs, write_history, write_text};

/// The architecture names on the command line: a VNN MLP, a VNN convnet.
pub use crate::vectorized_zoo::ARCHS;

/// Trains one VNN and writes its outputs.
pub fn run(args: &TrainArgs) -> Result<()> {
    let config = config_from(args)?;
    let store = args.data.store()?;
    let sets = crate::training_data::load(&store, config.data)?;
    let config = VectorTrainConfig {
        normalization: sets.normalization.clone(),
        ..config
    };
    let name = crate::vectorized_zoo::seeded_name(&config);
    let zoo = crate::data_args::zoo_folder(args.zoo.as_deref(), &store);
    let out = zoo.join(&name);
    let _lock = brain_data::CacheLock::acquire(&zoo, Path::new(&name))?;
    let started = std::time::Instant::now();
    // Training saves its state after every epoch and continues from it when rerun (same
    // command, same config).
    let state = out.join(model_zoo::resume::STATE_FILE);
    let trained = train_vectorized_resumable(&config, &sets.train, &sets.test, &state, |e: &VectorEpoch| {
        let r = &e.record;
        let fmt = |v: &[f32]| v.iter().map(|a| format!("{a:.3}")).collect::<Vec<_>>();
        eprintln!(
            "epoch {:>3}: train loss {:.4} acc {:.4} | test loss {:.4} acc {:.4} | alignment {:?} | sign agreement: batch {:?}, one example {:?} | {:.0} s",
            r.epoch,
            r.train_loss,
            r.train_accuracy,
            r.test_loss,
            r.test_accuracy,
            fmt(&r.alignment),
            fmt(&e.sign_agreement_batch),
            fmt(&e.sign_agreement_example),
            started.elapsed().as_secs_f64()
        );
    })
    .with_context(|| format!("training {name}"))?;
    let checkpoint = out.join("model.safetensors");
    let sha256 = save_vectorized(&checkpoint, &trained.net, &config)?;
    let onnx = out.join("model.onnx");
    model_zoo::onnx::save_vectorized_onnx(
        &onnx,
        &mut model_zoo::vectorized::VectorZooModel::new(trained.net.clone())?,
        &[
            ("rule".to_string(), config.rule.name().to_string()),
            ("seed".to_string(), config.seed.to_string()),
            ("checkpoint_sha256".to_string(), sha256),
        ],
    )?;
    // Per layer: the alignment with the gradient and the sign agreement of the batch's update
    // and of one example's.
    let layers: Vec<&str> = trained.net.layers.iter().map(|l| l.name.as_str()).collect();
    write_history(
        &out.join("history.csv"),
        &trained.history,
        &layers,
        &[
            "alignment",
            "sign_agreement_batch",
            "sign_agreement_example",
        ],
        |e: &VectorEpoch| {
            (
                &e.record,
                vec![
                    &e.record.alignment[..],
                    &e.sign_agreement_batch[..],
                    &e.sign_agreement_example[..],
                ],
            )
        },
    )?;
    write_text(&out.join("config.yaml"), &serde_norway::to_string(&config)?)?;
    std::fs::remove_file(&state).with_context(|| format!("removing {}", state.display()))?;
    let last = &trained.history.last().expect("at least one epoch").record;
    let resumed = match trained.resumed_after {
        0 => String::new(),
        k => format!(
            " (resumed after epoch {k}; {:.0} s in this run)",
            started.elapsed().as_secs_f64()
        ),
    };
    println!(
        "{name} ({}): test accuracy {:.4} after {} epochs in {:.0} s{resumed}; checkpoint {} (and {})",
        trained.net.describe(),
        last.test_accuracy,
        config.epochs,
        trained.seconds,
        checkpoint.display(),
        onnx.display()
    );
    Ok(())
}

/// The VNN's config from the command line: `--arch` and `--dataset` (each defaulting from
/// the other), `--preset` (default standard), `--epochs`, `--seed`; the presets are
/// [`crate::vectorized_zoo::preset_config`]'s.
fn config_from(args: &TrainArgs) -> Result<VectorTrainConfig> {
    if args.config.is_some() || args.perturbations.is_some() {
        bail!(
            "vectorized networks take --rule, --dataset, --arch, --preset, --epochs and --seed only"
        );
    }
    let rule = match args.rule.as_str() {
        "gevb" => VectorRule::Gevb,
        "bp" => VectorRule::Bp,
        other => bail!("vectorized networks train with gevb or bp, not {other}"),
    };
    let data = match (args.dataset, args.arch.as_deref()) {
        (Some(data), _) => data,
        (None, Some("vnn-mlp")) => TrainingData::FashionMnist,
        (None, _) => TrainingData::Cifar10,
    };
    let arch = match args.arch.as_deref() {
        Some(arch) if ARCHS.contains(&arch) => arch,
        Some(arch) => bail!(
            "--rule gevb trains a vectorized network: --arch {}, not {arch}",
            ARCHS.join(" or ")
        ),
        None if data == TrainingData::FashionMnist => "vnn-mlp",
        None => "vnn-cnn",
    };
    let preset = match (&args.preset, args.quick) {
        (Some(p), _) => p.as_str(),
        (None, true) => "quick",
        (None, false) => "standard",
    };
    let mut config = crate::vectorized_zoo::preset_config(
        rule,
        arch,
        data,
        preset,
        None,
        args.seed.unwrap_or(1),
    )?;
    // On the command line --epochs keeps the preset's steps per epoch.
    if let Some(epochs) = args.epochs {
        config.epochs = epochs;
    }
    Ok(config)
}
