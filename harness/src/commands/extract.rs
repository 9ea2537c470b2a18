//! `harness extract`: a model's activations on every stimulus of a benchmark (in the
//! benchmark's stimulus order, no split) or on a folder of images, one `.npy` per layer, with
//! what was shown and how, and the benchmark's neural target beside them. What thingsvision
//! and Net2Brain users do first; the arrays are the ones `harness score` scores.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use brain_data::{Catalog, Preprocessing, StimulusSet, TargetData};
use clap::Args;
use model_zoo::{ExtractionOptions, RandomProjection};
use ndarray::{Array2, Array3};
use serde::Serialize;

use crate::candidates::{extract, open_candidate, parse_shape, preprocessing_for};
use crate::data_args::DataArgs;
use crate::run_config::ModelSpec;

/// Arguments of `harness extract`.
#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// The model: an ONNX file or a zoo checkpoint (.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// A benchmark whose stimuli to show; its neural target is written too
    /// (`harness datasets --benchmarks` lists them).
    #[arg(long, required_unless_present = "images", conflicts_with = "images")]
    benchmark: Option<String>,
    /// A folder of images (PNG or JPEG), shown in file-name order.
    #[arg(long)]
    images: Option<PathBuf>,
    /// Layers (comma-separated; default: every layer of a zoo model, seven evenly spaced float
    /// layers and the output of an ONNX model).
    #[arg(long, value_delimiter = ',')]
    layers: Vec<String>,
    /// channels,height,width of ONNX graphs that leave them open.
    #[arg(long, value_parser = parse_shape)]
    input_shape: Option<[usize; 3]>,
    /// Preprocessing, as a YAML file or inline YAML with the run config's `preprocessing`
    /// keys, e.g. '{size: 224, normalization: {mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}}'
    /// (default: the benchmark's, fitted to the model's input; for --images, ImageNet's).
    #[arg(long)]
    preprocess: Option<String>,
    /// Project layers wider than this to this many features with a seeded count sketch
    /// (default 0: no projection, every feature written).
    #[arg(long, default_value_t = 0)]
    projection_dim: usize,
    /// Seed of the projection.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stimuli per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Replace an output folder that already holds files (whole, once all files are written).
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    data: DataArgs,
}

/// One layer in `extract.yaml`.
#[derive(Debug, Serialize)]
struct LayerFile {
    layer: String,
    file: String,
    /// `[stimuli, features]` as written.
    shape: [usize; 2],
    /// The layer's own feature count.
    features: usize,
    /// `none`, or `count_sketch` with its dimension and seed.
    projection: String,
}

/// `extract.yaml`: what was run on what.
#[derive(Debug, Serialize)]
struct ExtractRecord {
    model: String,
    sha256: Option<String>,
    stimuli: String,
    n_stimuli: usize,
    benchmark: Option<String>,
    preprocessing: Preprocessing,
    dtype: &'static str,
    layers: Vec<LayerFile>,
}

/// `target.yaml`: what the neural target file holds.
#[derive(Debug, Serialize)]
struct TargetRecord {
    benchmark: String,
    kind: &'static str,
    file: &'static str,
    shape: Vec<usize>,
    dtype: &'static str,
    description: String,
    /// For RDMs: subject (and session) of each, in the file's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rdms: Vec<String>,
}

/// Runs `harness extract`.
pub fn run(args: &ExtractArgs) -> Result<()> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    crate::output_dir::check_target(&args.out, args.overwrite)?;
    let store = args.data.store()?.with_progress(true);
    let benchmark = args
        .benchmark
        .as_deref()
        .map(brain_data::BenchmarkSpec::find)
        .transpose()?;
    let data = match &benchmark {
        Some(b) => Some(
            b.load(&store, &Catalog::builtin())
                .with_context(|| format!("loading benchmark {}", b.id))?,
        ),
        None => None,
    };
    let folder;
    let stimuli = match (&data, &args.images) {
        (Some(d), _) => &d.stimuli,
        (None, Some(dir)) => {
            folder = images_in(dir)?;
            &folder
        }
        (None, None) => bail!("give --benchmark or --images"),
    };

    let is_checkpoint = args.model.extension().and_then(|e| e.to_str()) == Some("safetensors");
    let spec_layers = if is_checkpoint {
        &[][..]
    } else {
        &args.layers[..]
    };
    let spec = ModelSpec::from_file(&args.model, spec_layers, args.input_shape)?;
    let mut training_sets = crate::training_data::Loaded::new(&store);
    let quiet = indicatif::ProgressBar::hidden();
    let zoo = crate::data_args::zoo_folder(None, &store);
    let mut candidate = open_candidate(&spec, args.seed, &zoo, &mut training_sets, &quiet, &[])?;
    if is_checkpoint && !args.layers.is_empty() {
        for layer in &args.layers {
            if !candidate.layers.contains(layer) {
                bail!(
                    "{}: no layer '{layer}' (layers: {})",
                    args.model.display(),
                    candidate.layers.join(", ")
                );
            }
        }
        candidate.layers = args.layers.clone();
    }
    if let Some(text) = &args.preprocess {
        candidate.preprocessing = Some(parse_preprocessing(text)?);
    }
    let base = match &benchmark {
        Some(b) => b.preprocessing.clone(),
        None => Preprocessing::imagenet(224),
    };
    let preprocessing = preprocessing_for(&base, &candidate)?;
    let options = ExtractionOptions {
        batch_size: args.batch_size,
        projection: (args.projection_dim > 0).then_some(RandomProjection {
            dim: args.projection_dim,
            seed: args.seed,
        }),
    };
    let crate::candidates::Extracted {
        activations,
        layers: records,
    } = extract(
        &mut candidate,
        stimuli,
        None,
        &preprocessing,
        &options,
        &stimuli.name,
    )?;

    crate::output_dir::write_staged(&args.out, args.overwrite, |dir| {
        let mut layers = vec![];
        for (k, ((layer, values), record)) in activations.iter().zip(&records).enumerate() {
            let file = format!("{k:02}_{}.npy", file_stem(layer));
            ndarray_npy::write_npy(dir.join(&file), values)
                .with_context(|| format!("writing {file}"))?;
            layers.push(LayerFile {
                layer: layer.to_string(),
                file,
                shape: [values.nrows(), values.ncols()],
                features: record.features,
                projection: match record.projection_seed {
                    Some(seed) => format!("count_sketch (dim {}, seed {seed})", record.kept),
                    None => "none".into(),
                },
            });
        }
        write_stimuli_csv(&dir.join("stimuli.csv"), stimuli)?;
        let record = ExtractRecord {
            model: args.model.display().to_string(),
            sha256: candidate.record.sha256.clone(),
            stimuli: stimuli.name.clone(),
            n_stimuli: stimuli.len(),
            benchmark: benchmark.as_ref().map(|b| b.id.clone()),
            preprocessing: preprocessing.clone(),
            dtype: "float32",
            layers,
        };
        std::fs::write(dir.join("extract.yaml"), serde_norway::to_string(&record)?)
            .context("writing extract.yaml")?;
        if let (Some(b), Some(d)) = (&benchmark, &data) {
            write_target(dir, &b.id, &d.target)?;
        }
        Ok(())
    })?;
    eprintln!(
        "extracted {} layers of {} on {} stimuli into {}",
        activations.iter().count(),
        candidate.name,
        stimuli.len(),
        args.out.display()
    );
    Ok(())
}

/// A preprocessing from a YAML file, or from inline YAML.
fn parse_preprocessing(text: &str) -> Result<Preprocessing> {
    let path = Path::new(text);
    let (yaml, origin) = if path.is_file() {
        (
            std::fs::read_to_string(path).with_context(|| format!("reading {text}"))?,
            text.to_string(),
        )
    } else {
        (text.to_string(), "--preprocess".to_string())
    };
    serde_norway::from_str(&yaml).with_context(|| format!("{origin}: not a valid preprocessing"))
}

/// Every PNG and JPEG in `dir`, in file-name order, named by file name.
fn images_in(dir: &Path) -> Result<StimulusSet> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    files.retain(|p| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
    });
    files.sort();
    if files.is_empty() {
        bail!("{}: no PNG or JPEG images", dir.display());
    }
    let images = files
        .iter()
        .map(|p| image::open(p).with_context(|| format!("{}: not a readable image", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let set = StimulusSet {
        name: dir
            .file_name()
            .map_or("images".into(), |n| n.to_string_lossy().into_owned()),
        ids: files
            .iter()
            .map(|p| {
                p.file_name()
                    .expect("a file")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        images,
        categories: None,
    };
    set.validate()?;
    Ok(set)
}

/// A layer name as a file name: letters, digits, `-` and `_` kept, everything else `_`.
fn file_stem(layer: &str) -> String {
    let stem: String = layer
        .trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() {
        "layer".into()
    } else {
        stem
    }
}

fn write_stimuli_csv(path: &Path, stimuli: &StimulusSet) -> Result<()> {
    let mut text = String::from("index,stimulus_id,category\n");
    for (i, id) in stimuli.ids.iter().enumerate() {
        let category = stimuli.categories.as_ref().map_or("", |c| c[i].as_str());
        text.push_str(&format!("{i},{},{}\n", csv_field(id), csv_field(category)));
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// The benchmark's neural target: `target.npy` (stimuli x neuroids, averaged over
/// repetitions) or `target_rdms.npy` (RDMs x stimuli x stimuli), float64, and `target.yaml`.
fn write_target(dir: &Path, benchmark: &str, target: &TargetData) -> Result<()> {
    let record = match target {
        TargetData::Responses(r) => {
            let mean: Array2<f64> = r.mean_over_repetitions();
            ndarray_npy::write_npy(dir.join("target.npy"), &mean).context("writing target.npy")?;
            TargetRecord {
                benchmark: benchmark.into(),
                kind: "responses",
                file: "target.npy",
                shape: mean.shape().to_vec(),
                dtype: "float64",
                description:
                    "stimuli x neuroids, averaged over repetitions, in stimuli.csv's order".into(),
                rdms: vec![],
            }
        }
        TargetData::Rdms(r) => {
            let n = r.stimulus_ids.len();
            let mut stack = Array3::<f64>::zeros((r.rdms.len(), n, n));
            for (mut square, rdm) in stack.outer_iter_mut().zip(&r.rdms) {
                let full =
                    evaluators::Rdm::from_condensed(ndarray::Array1::from(rdm.condensed.clone()))?
                        .to_square();
                square.assign(&full);
            }
            ndarray_npy::write_npy(dir.join("target_rdms.npy"), &stack)
                .context("writing target_rdms.npy")?;
            TargetRecord {
                benchmark: benchmark.into(),
                kind: "rdms",
                file: "target_rdms.npy",
                shape: stack.shape().to_vec(),
                dtype: "float64",
                description: "RDMs x stimuli x stimuli, in stimuli.csv's order; the benchmark \
                              scores the mean of a model RDM's comparisons with each"
                    .into(),
                rdms: r
                    .rdms
                    .iter()
                    .map(|x| match &x.session {
                        Some(s) => format!("{} {s}", x.subject),
                        None => x.subject.clone(),
                    })
                    .collect(),
            }
        }
    };
    std::fs::write(dir.join("target.yaml"), serde_norway::to_string(&record)?)
        .context("writing target.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli<T: clap::Args> {
        #[command(flatten)]
        args: T,
    }

    fn parse<T: clap::Args>(args: &[&str]) -> T {
        Cli::<T>::try_parse_from(std::iter::once("harness").chain(args.iter().copied()))
            .unwrap()
            .args
    }

    fn models() -> PathBuf {
        std::env::var_os("CORTEXBENCH_MODELS")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("CORTEXBENCH_MIRROR").map(|m| PathBuf::from(m).join("../models"))
            })
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models")
            })
    }

    /// `extract` writes the very activations `score` computes for the same model and
    /// benchmark (same preprocessing, projection and stimulus order), the benchmark's target
    /// RDMs, and `similarity --y-rdm` on them gives the benchmark's RSA arithmetic on all
    /// stimuli.
    #[test]
    fn extract_writes_what_score_scores_and_similarity_reproduces_the_rsa_score() {
        let cache = tempfile::tempdir().unwrap();
        let out = cache.path().join("extracted");
        let model = models().join("efficientnet_lite0.onnx");
        let benchmark_id = "kriegeskorte2008.hIT-rsa";
        let wide = "/_blocks.1/_project_conv/Conv_output_0";
        let layers = format!("logits,{wide}");
        let args: ExtractArgs = parse(&[
            "--model",
            model.to_str().unwrap(),
            "--benchmark",
            benchmark_id,
            "--layers",
            &layers,
            "--projection-dim",
            "4096",
            "--out",
            out.to_str().unwrap(),
            "--data-dir",
            cache.path().to_str().unwrap(),
        ]);
        run(&args).unwrap();

        // What `score` extracts: the run's extraction options and cached inputs.
        let store = args.data.store().unwrap();
        let benchmark = brain_data::BenchmarkSpec::find(benchmark_id).unwrap();
        let data = benchmark.load(&store, &Catalog::builtin()).unwrap();
        let mut config = crate::run_config::RunConfig::default_run(None);
        config.seed = 1;
        assert_eq!(config.projection_dim, 4096);
        let spec = ModelSpec::from_file(&model, &["logits".into(), wide.into()], None).unwrap();
        let mut sets = crate::training_data::Loaded::new(&store);
        let hidden = indicatif::ProgressBar::hidden();
        let zoo = cache.path().join("zoo");
        let mut candidate = open_candidate(&spec, 1, &zoo, &mut sets, &hidden, &[]).unwrap();
        let preprocessing = preprocessing_for(&benchmark.preprocessing, &candidate).unwrap();
        let mut cache_of_inputs = crate::candidates::ExtractionCache::default();
        let inputs = cache_of_inputs.inputs(&data, &preprocessing).unwrap();
        let scored = extract(
            &mut candidate,
            &data.stimuli,
            inputs.as_deref(),
            &preprocessing,
            &crate::candidates::extraction_options(&config),
            benchmark_id,
        )
        .unwrap();

        let logits: Array2<f32> = ndarray_npy::read_npy(out.join("00_logits.npy")).unwrap();
        let wide_file = out.join(format!("01_{}.npy", file_stem(wide)));
        let projected: Array2<f32> = ndarray_npy::read_npy(&wide_file).unwrap();
        assert_eq!(logits.dim(), (92, 1000));
        assert_eq!(projected.dim(), (92, 4096));
        assert_eq!(&logits, scored.activations.get("logits").unwrap());
        assert_eq!(&projected, scored.activations.get(wide).unwrap());

        let yaml = std::fs::read_to_string(out.join("extract.yaml")).unwrap();
        let sha = brain_data::sha256_file(&model).unwrap();
        assert!(yaml.contains(&sha), "{yaml}");
        assert!(yaml.contains("count_sketch (dim 4096, seed 1)"), "{yaml}");
        let csv = std::fs::read_to_string(out.join("stimuli.csv")).unwrap();
        assert_eq!(csv.lines().count(), 93);
        for (line, id) in csv.lines().skip(1).zip(&data.stimuli.ids) {
            assert!(
                line.split(',').nth(1) == Some(id.as_str()),
                "{line} vs {id}"
            );
        }
        let rdms: Array3<f64> = ndarray_npy::read_npy(out.join("target_rdms.npy")).unwrap();
        assert_eq!(rdms.dim(), (8, 92, 92));
        assert!(
            std::fs::read_to_string(out.join("target.yaml"))
                .unwrap()
                .contains("kind: rdms")
        );

        // The benchmark's RSA on all stimuli, and `similarity --y-rdm` on the files.
        let metric = benchmark.metric.clone();
        let features = logits.mapv(f64::from);
        let all: Vec<usize> = (0..92).collect();
        let target = crate::scoring::NeuralData::of(&data.target, &all).unwrap();
        let expected = metric
            .score(features.view(), target.as_target(), None)
            .unwrap();
        let evaluators::MetricSpec::Rsa { rdm, compare } = metric else {
            panic!("an RSA benchmark")
        };
        let rdm = serde_json::to_value(rdm).unwrap();
        let compare = serde_json::to_value(compare).unwrap();
        let similarity: super::super::similarity::SimilarityArgs = parse(&[
            "--metric",
            "rsa",
            "--x",
            out.join("00_logits.npy").to_str().unwrap(),
            "--y-rdm",
            out.join("target_rdms.npy").to_str().unwrap(),
            "--rdm",
            rdm.as_str().unwrap(),
            "--compare",
            compare.as_str().unwrap(),
        ]);
        let report = super::super::similarity::score(&similarity).unwrap();
        assert_eq!(report.score, expected.value);
        assert!(
            expected.value > 0.05,
            "EfficientNet's logits resemble hIT: {}",
            expected.value
        );
    }

    /// A folder of images is shown in file-name order, with no target; a folder without
    /// images and an asymmetric `--y-rdm` are clear errors.
    #[test]
    fn a_folder_of_images_is_extracted_in_name_order_and_bad_inputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images");
        std::fs::create_dir(&images).unwrap();
        for (name, colour) in [("b.png", [200u8, 30, 30]), ("a.jpg", [30, 200, 30])] {
            let image = image::RgbImage::from_fn(40, 30, |x, _| {
                image::Rgb(colour.map(|c| c.saturating_add(x as u8)))
            });
            image.save(images.join(name)).unwrap();
        }
        std::fs::write(images.join("notes.txt"), "not an image").unwrap();
        let out = dir.path().join("out");
        let model = models().join("efficientnet_lite0.onnx");
        let args: ExtractArgs = parse(&[
            "--model",
            model.to_str().unwrap(),
            "--images",
            images.to_str().unwrap(),
            "--layers",
            "logits",
            "--out",
            out.to_str().unwrap(),
            "--data-dir",
            dir.path().to_str().unwrap(),
        ]);
        run(&args).unwrap();
        let logits: Array2<f32> = ndarray_npy::read_npy(out.join("00_logits.npy")).unwrap();
        assert_eq!(logits.dim(), (2, 1000));
        assert_ne!(logits.row(0), logits.row(1));
        let csv = std::fs::read_to_string(out.join("stimuli.csv")).unwrap();
        assert_eq!(csv, "index,stimulus_id,category\n0,a.jpg,\n1,b.png,\n");
        assert!(!out.join("target.yaml").exists());
        assert!(!out.join("target.npy").exists() && !out.join("target_rdms.npy").exists());

        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let mut args = args;
        args.images = Some(empty.clone());
        args.out = dir.path().join("out2");
        let err = format!("{:#}", run(&args).unwrap_err());
        assert!(
            err.contains("no PNG or JPEG images") && err.contains("empty"),
            "{err}"
        );
        assert!(!args.out.exists(), "nothing written on failure");

        let mut rdm = ndarray::Array2::<f64>::from_elem((2, 2), 1.0);
        rdm[[0, 0]] = 0.0;
        rdm[[1, 1]] = 0.0;
        rdm[[0, 1]] = 0.5;
        let rdm_file = dir.path().join("rdm.npy");
        ndarray_npy::write_npy(&rdm_file, &rdm).unwrap();
        let similarity: super::super::similarity::SimilarityArgs = parse(&[
            "--metric",
            "rsa",
            "--x",
            out.join("00_logits.npy").to_str().unwrap(),
            "--y-rdm",
            rdm_file.to_str().unwrap(),
        ]);
        let Err(err) = super::super::similarity::score(&similarity) else {
            panic!("an asymmetric RDM was accepted")
        };
        let err = format!("{err:#}");
        assert!(
            err.contains("rdm.npy") && err.contains("not symmetric"),
            "{err}"
        );
    }

    #[test]
    fn layer_names_become_safe_distinct_file_names() {
        assert_eq!(
            file_stem("/_blocks.1/_project_conv/Conv_output_0"),
            "_blocks_1__project_conv_Conv_output_0"
        );
        assert_eq!(file_stem("conv1"), "conv1");
        assert_eq!(file_stem("/"), "layer");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
