//! `harness train`: train one network under one learning rule on CIFAR-10 or Fashion-MNIST,
//! write its checkpoint (and its ONNX export), per-epoch history and config, and record it in
//! the zoo manifest.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use model_zoo::manifest::{Manifest, ManifestEntry};
use model_zoo::{EpochRecord, Preset, Rule, RuleConfig, TrainConfig, TrainingData};

use crate::data_args::DataArgs;

/// Arguments of `harness train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Learning rule: bp, fa, dfa, ss, nc, nmnc or dfc; gevb or bp on a vectorized network
    /// (--arch vnn-cnn or vnn-mlp).
    #[arg(long)]
    pub(crate) rule: String,
    /// Training data: cifar10 or fashion-mnist (default cifar10, or the config's).
    #[arg(long)]
    pub(crate) dataset: Option<TrainingData>,
    /// Architecture: cnn or mlp, or the vectorized vnn-cnn or vnn-mlp (default: cnn on
    /// cifar10, mlp on fashion-mnist, or the config's; vnn-cnn and vnn-mlp for gevb).
    #[arg(long)]
    pub(crate) arch: Option<String>,
    /// Preset: quick (the default run's zoo) or standard (the full comparison; the default).
    #[arg(long, conflicts_with = "config")]
    pub(crate) preset: Option<String>,
    /// The quick preset (same as --preset quick).
    #[arg(long, hide = true, conflicts_with_all = ["preset", "config"])]
    pub(crate) quick: bool,
    /// Epochs (default: the preset's or the config's).
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    /// Seed (default 1, or the config's).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// A YAML TrainConfig (data, architecture, hidden, activation, rule, optimizer,
    /// batch_size, epochs, seed, …) in place of a preset; --rule, --epochs and --seed override
    /// it (the config's rule options are kept when it names the same rule).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// NC/NMNC: antithetic perturbation pairs per example and step.
    #[arg(long)]
    pub(crate) perturbations: Option<usize>,
    /// Zoo folder: the model goes to <zoo>/<name>/, the manifest is <zoo>/manifest.yaml
    /// (default: <cache>/zoo).
    #[arg(long)]
    pub(crate) zoo: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) data: DataArgs,
}

/// Trains, writes the outputs, and updates the manifest.
pub fn run(args: &TrainArgs) -> Result<()> {
    let vectorized = args
        .arch
        .as_deref()
        .is_some_and(|a| super::train_vectorized::ARCHS.contains(&a));
    if vectorized || args.rule == "gevb" {
        return super::train_vectorized::run(args);
    }
    let mut config = config_from(args)?;
    let store = args.data.store()?;
    let sets = crate::training_data::load(&store, config.data)?;
    config.normalization = sets.normalization.clone();
    let (train_set, test_set) = (&sets.train, &sets.test);

    let name = crate::zoo_cache::seeded_name(&config);
    let zoo = crate::data_args::zoo_folder(args.zoo.as_deref(), &store);
    let out = zoo.join(&name);
    // Two processes training the same model into one zoo take turns instead of writing one
    // folder at once.
    let _model_lock = brain_data::CacheLock::acquire(&zoo, Path::new(&name))?;
    let bar = ProgressBar::new(config.epochs as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:12} [{bar:30}] epoch {pos}/{len} {elapsed} ({per_sec})")
            .expect("valid"),
    );
    bar.set_message(name.clone());
    // Jacobian–manifold alignment of every hidden layer after each epoch, on a fixed
    // balanced probe of test images.
    let (probe, _) = crate::geometry::class_probe(test_set);
    // Training saves its state after every epoch and continues from it when rerun (same
    // command, same config); the Jacobian history so far is kept beside it.
    let state = out.join(model_zoo::resume::STATE_FILE);
    let jacobian_state = out.join(JACOBIAN_STATE);
    let mut over_training = earlier_jacobian_history(&state, &jacobian_state)?;
    let mut alignment_error = None;
    let started = std::time::Instant::now();
    let trained = model_zoo::train_resumable(&config, train_set, test_set, &state, |r: &EpochRecord, net| {
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
        over_training.retain(|(epoch, _)| *epoch < r.epoch);
        over_training.extend(jacobian.into_iter().map(|j| (r.epoch, j)));
        if let Err(e) = serde_json::to_string(&over_training)
            .map_err(anyhow::Error::from)
            .and_then(|json| write_text(&jacobian_state, &json))
        {
            alignment_error.get_or_insert(e);
        }
        // NMNC's noise subspace per layer: a subspace shrinking to a direction or two is how
        // its learning stalls.
        let subspace = if r.noise_subspace.is_empty() {
            String::new()
        } else {
            let dims: Vec<String> = net
                .layer_names()
                .iter()
                .zip(&r.noise_subspace)
                .map(|(layer, k)| format!("{layer} {k}"))
                .collect();
            format!(" | noise subspace: {}", dims.join(", "))
        };
        // Printed even when the bar is hidden (not a terminal), so logs keep the history.
        bar.suspend(|| {
            eprintln!(
                "epoch {:>3}: train loss {:.4} acc {:.4} | test loss {:.4} acc {:.4} | alignment {:?} | Jacobian in top-10 PCs: {}{subspace} | {:.0} s",
                r.epoch,
                r.train_loss,
                r.train_accuracy,
                r.test_loss,
                r.test_accuracy,
                r.alignment.iter().map(|a| format!("{a:.3}")).collect::<Vec<_>>(),
                at_ten.join(", "),
                started.elapsed().as_secs_f64()
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
        &["alignment"],
        |r| (r, vec![&r.alignment[..]]),
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
    for done in [&state, &jacobian_state] {
        std::fs::remove_file(done).with_context(|| format!("removing {}", done.display()))?;
    }
    let last = trained.history.last().expect("at least one epoch");
    let manifest_path = zoo.join("manifest.yaml");
    // Read, changed and written under a lock, so no concurrent training loses its entry.
    let _manifest_lock = brain_data::CacheLock::acquire(&zoo, Path::new("manifest.yaml"))?;
    let mut manifest = Manifest::load(&manifest_path)?;
    manifest.upsert(ManifestEntry {
        name: name.clone(),
        rule: config.rule.name().to_string(),
        architecture: trained.net.describe(),
        data: config.data.name().into(),
        seed: config.seed,
        epochs: config.epochs,
        test_accuracy: last.test_accuracy,
        checkpoint: format!("{name}/model.safetensors"),
        sha256,
    });
    manifest.save(&manifest_path)?;
    let resumed = match trained.resumed_after {
        0 => String::new(),
        k => format!(
            " (resumed after epoch {k}; {:.0} s in this run)",
            started.elapsed().as_secs_f64()
        ),
    };
    println!(
        "{name}: test accuracy {:.4} after {} epochs in {:.0} s of training{resumed}; checkpoint {} (and {}); manifest {}",
        last.test_accuracy,
        config.epochs,
        trained.seconds,
        checkpoint.display(),
        onnx.display(),
        manifest_path.display()
    );
    Ok(())
}

/// The Jacobian alignment history of the epochs in the training state.
const JACOBIAN_STATE: &str = "training-state.jacobian.json";

/// The Jacobian history of the epochs a saved training state holds (empty without one).
fn earlier_jacobian_history(
    state: &Path,
    history: &Path,
) -> Result<Vec<(usize, reports::JacobianRow)>> {
    if !state.is_file() || !history.is_file() {
        return Ok(vec![]);
    }
    let text = std::fs::read_to_string(history)
        .with_context(|| format!("reading {}", history.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a Jacobian alignment history", history.display()))
}

/// The default architecture of a data set: the CIFAR convnet, Fashion-MNIST's MLP.
pub fn default_arch(data: TrainingData) -> &'static str {
    match data {
        TrainingData::Cifar10 => "cnn",
        TrainingData::FashionMnist => "mlp",
    }
}

/// Sets NC's and NMNC's antithetic pairs per example and step.
fn set_perturbations(rule: &mut RuleConfig, perturbations: usize) {
    match rule {
        RuleConfig::Nc(options) => options.perturbations = perturbations,
        RuleConfig::Nmnc(options) => options.perturbation.perturbations = perturbations,
        _ => {}
    }
}

fn config_from(args: &TrainArgs) -> Result<TrainConfig> {
    let rule: Rule = args.rule.parse().map_err(|e| {
        anyhow::anyhow!("--rule: {e}; gevb trains vectorized networks (--arch vnn-mlp or vnn-cnn)")
    })?;
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut c: TrainConfig = serde_norway::from_str(&text)
                .with_context(|| format!("{}: not a valid training config", path.display()))?;
            if let Some(arch) = &args.arch
                && arch != c.architecture.name()
            {
                bail!(
                    "{}: the config is for a {}, but --arch {arch} was given",
                    path.display(),
                    c.architecture.name()
                );
            }
            if let Some(data) = args.dataset
                && data != c.data
            {
                bail!(
                    "{}: the config trains on {}, but --dataset {} was given",
                    path.display(),
                    c.data.name(),
                    data.name()
                );
            }
            // The config's own rule options stand when it names the same rule; another rule
            // comes with the standard preset's options.
            if c.rule.rule() != rule {
                c.rule = Preset::builtin(c.data, "standard")?
                    .config(rule, c.architecture.name())?
                    .rule;
            }
            c
        }
        None => {
            let data = args.dataset.unwrap_or(TrainingData::Cifar10);
            let preset = match (&args.preset, args.quick) {
                (Some(p), _) => p.as_str(),
                (None, true) => "quick",
                (None, false) => "standard",
            };
            let arch = args.arch.as_deref().unwrap_or(default_arch(data));
            Preset::builtin(data, preset)?.config(rule, arch)?
        }
    };
    if let Some(k) = args.perturbations {
        if k == 0 {
            bail!("--perturbations must be at least 1");
        }
        set_perturbations(&mut config.rule, k);
    }
    if let Some(e) = args.epochs {
        config.epochs = e;
    }
    if let Some(s) = args.seed {
        config.seed = s;
    }
    Ok(config)
}

/// The per-epoch history as CSV: loss and accuracy, then for each name in `per_layer` one
/// column per layer (`<name>_<layer>`), filled from the slices `columns` gives an entry, in
/// the same order.
pub(crate) fn write_history<'a, T>(
    path: &Path,
    history: &'a [T],
    layers: &[&str],
    per_layer: &[&str],
    columns: impl Fn(&'a T) -> (&'a EpochRecord, Vec<&'a [f32]>),
) -> Result<()> {
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
    for name in per_layer {
        header.extend(layers.iter().map(|l| format!("{name}_{l}")));
    }
    writer.write_record(&header)?;
    for entry in history {
        let (r, values) = columns(entry);
        let mut row = vec![
            r.epoch.to_string(),
            r.train_loss.to_string(),
            r.train_accuracy.to_string(),
            r.test_loss.to_string(),
            r.test_accuracy.to_string(),
        ];
        for v in values {
            row.extend(v.iter().map(|a| a.to_string()));
        }
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

pub(crate) fn write_text(path: &Path, text: &str) -> Result<()> {
    reports::write_atomically(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
