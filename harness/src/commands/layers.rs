//! `harness layers` and `harness export`: what a model's layers are, and zoo checkpoints as
//! ONNX files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use model_zoo::{Model, OnnxModel, ZooModel};

use crate::candidates::parse_shape;

/// Arguments of `harness layers`.
#[derive(Args, Debug)]
pub struct LayersArgs {
    /// An ONNX file or a zoo checkpoint (.safetensors).
    pub model: PathBuf,
    /// channels,height,width of one input, for ONNX graphs that leave them open (e.g. 3,224,224).
    #[arg(long, value_parser = parse_shape)]
    pub input_shape: Option<[usize; 3]>,
    /// Also list tensors that are not float32 (they cannot be scored).
    #[arg(long)]
    pub all: bool,
}

/// Arguments of `harness export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A zoo checkpoint (.safetensors) written by `harness train`.
    pub checkpoint: PathBuf,
    /// Where to write the ONNX file.
    #[arg(long, short)]
    pub out: PathBuf,
}

/// Opens an ONNX file or a zoo checkpoint as a [`Model`].
pub fn open_model(path: &Path, input_shape: Option<[usize; 3]>) -> Result<Box<dyn Model>> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("onnx") => Ok(Box::new(OnnxModel::open(path, input_shape)?)),
        Some("safetensors") if crate::candidates::is_vectorized(path)? => {
            let (net, _) = model_zoo::vectorized::load_vectorized(path)?;
            Ok(Box::new(
                model_zoo::vectorized::VectorZooModel::new(net)
                    .with_context(|| path.display().to_string())?,
            ))
        }
        Some("safetensors") => {
            let (net, _) = model_zoo::checkpoint::load(path)?;
            Ok(Box::new(
                ZooModel::new(net).with_context(|| path.display().to_string())?,
            ))
        }
        _ => bail!(
            "{}: expected an ONNX file (.onnx) or a zoo checkpoint (.safetensors)",
            path.display()
        ),
    }
}

/// Prints one line per layer: name, op, shape per stimulus, features.
pub fn layers(args: &LayersArgs) -> Result<()> {
    let mut model = open_model(&args.model, args.input_shape)?;
    let layers = model
        .layers()
        .with_context(|| format!("listing the layers of {}", args.model.display()))?;
    let [c, h, w] = model.input_shape();
    println!("{}: input {c}x{h}x{w}", model.describe());
    let shown: Vec<_> = layers
        .iter()
        .filter(|l| args.all || l.dtype == "f32")
        .collect();
    let width = shown.iter().map(|l| l.name.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<width$}  {:<18}  {:<16}  {:>10}",
        "name", "op", "shape", "features"
    );
    for layer in &shown {
        let shape = layer
            .shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("x");
        let op = if layer.dtype == "f32" {
            layer.op.clone()
        } else {
            format!("{} ({})", layer.op, layer.dtype)
        };
        println!(
            "{:<width$}  {:<18}  {:<16}  {:>10}",
            layer.name,
            op,
            shape,
            layer.features()
        );
    }
    let hidden = layers.len() - shown.len();
    if hidden > 0 {
        println!("({hidden} tensors that are not float32 not shown; --all lists them)");
    }
    Ok(())
}

/// Writes a checkpoint's network as ONNX with every layer a named output.
pub fn export(args: &ExportArgs) -> Result<()> {
    let (net, config) = model_zoo::checkpoint::load(&args.checkpoint)?;
    let sha256 = brain_data::sha256_file(&args.checkpoint)?;
    let metadata = [
        ("rule".to_string(), config.rule.name().to_string()),
        ("seed".to_string(), config.seed.to_string()),
        ("checkpoint_sha256".to_string(), sha256),
    ];
    let mut model = ZooModel::new(net)?;
    model_zoo::onnx::save_onnx(&args.out, &mut model, &metadata)
        .with_context(|| format!("exporting {}", args.checkpoint.display()))?;
    println!("{} -> {}", args.checkpoint.display(), args.out.display());
    Ok(())
}
