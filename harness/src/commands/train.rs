//! `harness train`: train one network under one learning rule on Fashion-MNIST, write its
//! checkpoint (and its ONNX export), per-epoch history and config, and record it in the zoo
//! manifest.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use brain_data::Catalog;
use brain_data::loaders::fashion_mnist::{self, Part};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use model_zoo::manifest::{Manifest, ManifestEntry};
use model_zoo::rules::deep_feedback_control::DfcOptions;
use model_zoo::rules::neural_manifold_noise_correlation::ManifoldOptions;
use model_zoo::rules::perturbation::PerturbationOptions;
use model_zoo::{EpochRecord, LabelledData, RuleConfig, TrainConfig};

use super::data::DataArgs;

/// Learning rules by their command-line names.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RuleName {
    /// Backpropagation.
    Bp,
    /// Feedback alignment.
    Fa,
    /// Direct feedback alignment.
    Dfa,
    /// Sign symmetry.
    Ss,
    /// Noise correlation (node perturbation).
    Nc,
    /// Neural manifold noise correlation.
    Nmnc,
    /// Deep feedback control.
    Dfc,
}

/// Architectures by their command-line names.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ArchName {
    /// 784-256-256-256-10 tanh MLP.
    Mlp,
    /// conv 5x5x32 - pool - conv 5x5x64 - pool - fc 256 - fc 10, tanh.
    Cnn,
}

/// Arguments of `harness train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Learning rule.
    #[arg(long, value_enum)]
    rule: RuleName,
    /// Architecture (default mlp, or the config's).
    #[arg(long, value_enum)]
    arch: Option<ArchName>,
    /// Epochs (default 40, or the config's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed (default 1, or the config's).
    #[arg(long)]
    seed: Option<u64>,
    /// A YAML TrainConfig (arch, hidden, activation, rule, optimizer, batch_size, epochs, seed,
    /// …); --rule, --epochs and --seed override it (the config's rule options are kept when it
    /// names the same rule).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Quick preset: 2 epochs of at most 150 steps.
    #[arg(long)]
    quick: bool,
    /// NC/NMNC: antithetic perturbation pairs per example and step.
    #[arg(long)]
    perturbations: Option<usize>,
    /// Zoo folder: the model goes to <zoo>/<name>/, the manifest is <zoo>/manifest.yaml
    /// (default: <cache>/zoo).
    #[arg(long)]
    zoo: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

/// Trains, writes the outputs, and updates the manifest.
pub fn run(args: &TrainArgs) -> Result<()> {
    let config = config_from(args)?;
    let store = args.data.store()?;
    let (train_set, test_set) = fashion_mnist_sets(&store)?;

    let name = format!(
        "{}-{}-s{}",
        config.rule.name(),
        config.architecture.name(),
        config.seed
    );
    let zoo = match &args.zoo {
        Some(dir) => dir.clone(),
        None => store.cache_dir().join("zoo"),
    };
    let out = zoo.join(&name);
    let bar = ProgressBar::new(config.epochs as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:12} [{bar:30}] epoch {pos}/{len} {elapsed} ({per_sec})")
            .expect("valid"),
    );
    bar.set_message(name.clone());
    // Jacobian–manifold alignment of every hidden layer after each epoch, on a fixed
    // balanced probe of test images.
    let (probe, _) = crate::geometry::fashion_probe(&test_set);
    let mut over_training: Vec<(usize, reports::JacobianRow)> = vec![];
    let mut alignment_error = None;
    let trained = model_zoo::train(&config, &train_set, &test_set, |r: &EpochRecord, net| {
        bar.inc(1);
        let subject = crate::geometry::Subject {
            model: &name,
            rule: config.rule.name(),
            architecture: config.architecture.name(),
        };
        let jacobian = match net
            .forward(probe.view())
            .map_err(anyhow::Error::from)
            .and_then(|forward| crate::geometry::jacobian_rows(&subject, net, &forward))
        {
            Ok(rows) => rows,
            Err(e) => {
                alignment_error.get_or_insert(e);
                vec![]
            }
        };
        let at_ten: Vec<String> = jacobian
            .iter()
            .filter(|j| j.k == 10)
            .map(|j| format!("{} {:.2} (random {:.3})", j.layer, j.captured, j.random))
            .collect();
        over_training.extend(jacobian.into_iter().map(|j| (r.epoch, j)));
        // Printed even when the bar is hidden (not a terminal), so logs keep the history.
        bar.suspend(|| {
            eprintln!(
                "epoch {:>3}: train loss {:.4} acc {:.4} | test loss {:.4} acc {:.4} | alignment {:?} | Jacobian in top-10 PCs: {}",
                r.epoch,
                r.train_loss,
                r.train_accuracy,
                r.test_loss,
                r.test_accuracy,
                r.alignment.iter().map(|a| format!("{a:.3}")).collect::<Vec<_>>(),
                at_ten.join(", ")
            )
        });
    })
    .with_context(|| format!("training {name}"))?;
    bar.finish_and_clear();
    if let Some(e) = alignment_error {
        return Err(e.context(format!("Jacobian alignment of {name}")));
    }

    let checkpoint = out.join("model.safetensors");
    let sha256 = model_zoo::checkpoint::save(&checkpoint, &trained.net, &config)?;
    write_history(
        &out.join("history.csv"),
        &trained.history,
        &trained.net.layer_names(),
    )?;
    write_jacobian_history(&out.join("jacobian_alignment.csv"), &over_training)?;
    write_text(&out.join("config.yaml"), &serde_norway::to_string(&config)?)?;
    let onnx = out.join("model.onnx");
    let metadata = [
        ("rule".to_string(), config.rule.name().to_string()),
        ("seed".to_string(), config.seed.to_string()),
        ("checkpoint_sha256".to_string(), sha256.clone()),
    ];
    model_zoo::onnx::save_onnx(
        &onnx,
        &mut model_zoo::ZooModel::new(trained.net.clone())?,
        &metadata,
    )?;
    let last = trained.history.last().expect("at least one epoch");
    let manifest_path = zoo.join("manifest.yaml");
    let mut manifest = Manifest::load(&manifest_path)?;
    manifest.upsert(ManifestEntry {
        name: name.clone(),
        rule: config.rule.name().to_string(),
        architecture: trained.net.describe(),
        data: "fashion-mnist".into(),
        seed: config.seed,
        epochs: config.epochs,
        test_accuracy: last.test_accuracy,
        checkpoint: format!("{name}/model.safetensors"),
        sha256,
    });
    manifest.save(&manifest_path)?;
    println!(
        "{name}: test accuracy {:.4} after {} epochs; checkpoint {} (and {}); manifest {}",
        last.test_accuracy,
        config.epochs,
        checkpoint.display(),
        onnx.display(),
        manifest_path.display()
    );
    Ok(())
}

/// The default options of a rule by its short name (`bp`, `fa`, …); `perturbations` sets
/// NC's and NMNC's antithetic pairs per example and step.
pub fn rule_config(name: &str, perturbations: Option<usize>) -> Result<RuleConfig> {
    Ok(match name {
        "bp" => RuleConfig::Bp,
        "fa" => RuleConfig::Fa,
        "dfa" => RuleConfig::Dfa,
        "ss" => RuleConfig::SignSymmetry,
        "nc" => RuleConfig::Nc(PerturbationOptions {
            perturbations: perturbations.unwrap_or(PerturbationOptions::default().perturbations),
            ..PerturbationOptions::default()
        }),
        "nmnc" => {
            let mut options = ManifoldOptions::default();
            if let Some(k) = perturbations {
                options.perturbation.perturbations = k;
            }
            RuleConfig::Nmnc(options)
        }
        "dfc" => RuleConfig::Dfc(DfcOptions::default()),
        other => bail!("unknown rule '{other}' (rules: bp, fa, dfa, ss, nc, nmnc, dfc)"),
    })
}

/// The quick preset: 2 epochs of at most 150 steps.
pub fn make_quick(config: &mut TrainConfig) {
    config.epochs = 2;
    config.max_steps_per_epoch = Some(150);
    config.alignment_every = 25;
}

/// Fashion-MNIST's training and test sets.
pub fn fashion_mnist_sets(store: &brain_data::DataStore) -> Result<(LabelledData, LabelledData)> {
    let catalog = Catalog::builtin();
    let load = |part| -> Result<LabelledData> {
        let d = fashion_mnist::load(store, &catalog, part).context("loading Fashion-MNIST")?;
        Ok(LabelledData::from_u8_images(&d.images, d.labels)?)
    };
    Ok((load(Part::Train)?, load(Part::Test)?))
}

fn config_from(args: &TrainArgs) -> Result<TrainConfig> {
    let rule_name = match args.rule {
        RuleName::Bp => "bp",
        RuleName::Fa => "fa",
        RuleName::Dfa => "dfa",
        RuleName::Ss => "ss",
        RuleName::Nc => "nc",
        RuleName::Nmnc => "nmnc",
        RuleName::Dfc => "dfc",
    };
    let rule = rule_config(rule_name, args.perturbations)?;
    let arch = args.arch.map(|a| match a {
        ArchName::Mlp => "mlp",
        ArchName::Cnn => "cnn",
    });
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut c: TrainConfig = serde_norway::from_str(&text)
                .with_context(|| format!("{}: not a valid training config", path.display()))?;
            if let Some(arch) = arch
                && arch != c.architecture.name()
            {
                bail!(
                    "{}: the config is for a {}, but --arch {arch} was given",
                    path.display(),
                    c.architecture.name()
                );
            }
            // The config's own rule options stand when it names the same rule.
            if c.rule.name() != rule.name() {
                c.rule = rule;
            }
            c
        }
        None => TrainConfig::default_for(arch.unwrap_or("mlp"), rule, 40, 1)?,
    };
    if args.quick {
        make_quick(&mut config);
    }
    if let Some(e) = args.epochs {
        config.epochs = e;
    }
    if let Some(s) = args.seed {
        config.seed = s;
    }
    Ok(config)
}

fn write_history(path: &Path, history: &[EpochRecord], layers: &[&str]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(vec![]);
    let mut header: Vec<String> = [
        "epoch",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(layers.iter().map(|l| format!("alignment_{l}")));
    writer.write_record(&header)?;
    for r in history {
        let mut row = vec![
            r.epoch.to_string(),
            r.train_loss.to_string(),
            r.train_accuracy.to_string(),
            r.test_loss.to_string(),
            r.test_accuracy.to_string(),
        ];
        row.extend(r.alignment.iter().map(|a| a.to_string()));
        writer.write_record(&row)?;
    }
    write_text(path, &String::from_utf8(writer.into_inner()?)?)
}

/// Writes a text file atomically (temporary file, then rename).
/// Jacobian–manifold alignment per epoch, layer and k, as CSV.
fn write_jacobian_history(path: &Path, rows: &[(usize, reports::JacobianRow)]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(vec![]);
    writer.write_record(["epoch", "layer", "k", "captured", "random"])?;
    for (epoch, row) in rows {
        writer.write_record([
            epoch.to_string(),
            row.layer.clone(),
            row.k.to_string(),
            row.captured.to_string(),
            row.random.to_string(),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    reports::write_atomically(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
