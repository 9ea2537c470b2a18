//! `harness score`: models x benchmarks -> per-layer scores, the layer chosen on held-out
//! stimuli, ceilings, a results table, a leaderboard, an HTML report and a run manifest
//! ([`crate::run::execute`] scores, [`RunDir`] writes). Nothing is written until every score
//! is computed, so a failed run leaves no partial outputs.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::candidates::parse_shape;
use crate::data_args::DataArgs;
use crate::run_config::{DefaultPreset, ModelSpec, RunConfig};
use crate::run_dir::RunDir;

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
    /// Training preset of the default model set: quick (the default run) or standard (the
    /// full comparison: every rule and the VNN convnet trained to the end, many hours; the
    /// networks `harness train` wrote into the zoo with the same config are used as they are).
    #[arg(long, value_enum)]
    pub preset: Option<DefaultPreset>,
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

/// Resolves the run, scores it, writes the outputs and prints the summary.
pub fn run(args: &ScoreArgs) -> Result<()> {
    let config = resolve_config(args)?;
    let store = args.data.store()?.with_progress(true);
    let zoo = crate::data_args::zoo_folder(args.zoo.as_deref(), &store);
    let run_dir = RunDir::new(&config.out);
    run_dir.check_writable(args.overwrite)?;
    let outputs = crate::run::execute(&config, args.shard, &store, &zoo, args.force)?;
    let board = run_dir.write(&outputs, args.overwrite)?;
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
    if args.preset.is_some() && (args.config.is_some() || !args.models.is_empty()) {
        bail!(
            "--preset chooses the default model set's training; a --config gives each entry its own preset, and --model files are trained already"
        );
    }
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
            c.statistics.resamples = c.statistics.resamples_for(c.models.len());
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
            RunConfig::default_set(args.preset.unwrap_or(DefaultPreset::Quick), efficientnet)
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
            if let ModelSpec::Zoo { seeds, .. }
            | ModelSpec::Vectorized { seeds, .. }
            | ModelSpec::Untrained { seeds, .. } = model
            {
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
