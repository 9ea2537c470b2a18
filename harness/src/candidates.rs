//! The models of a run opened for scoring ([`Candidate`]: one network of a model entry, with
//! its layers, preprocessing and manifest record) and their activations on a benchmark's
//! stimuli ([`extract`], reused across benchmarks that show the same stimuli through
//! [`ExtractionCache`]). Shared by `harness score` and `harness extract`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use brain_data::{BenchmarkData, Channels, Preprocessing, StimulusSet};
use indicatif::{ProgressBar, ProgressStyle};
use model_zoo::{ExtractionOptions, LayerRecord, Model, OnnxModel, RandomProjection, ZooModel};

use crate::run_config::{ModelSpec, RunConfig};
use crate::run_manifest::ModelRecord;
use crate::zoo_cache;

/// What scoring needs to know of a zoo network beyond its activations.
pub(crate) struct ZooInfo {
    /// The network, for its geometry (and a scalar network's Jacobian) on the training data.
    pub(crate) network: ZooNet,
    /// Its training data (geometry probe, input format).
    pub(crate) data: model_zoo::TrainingData,
    /// How its training images were standardised; stimuli are shown the same way.
    pub(crate) normalization: Option<model_zoo::ChannelNormalization>,
}

/// A zoo network's weights: a scalar network, or a vectorized nonnegative one.
pub(crate) enum ZooNet {
    /// A network of the zoo's scalar units.
    Scalar(model_zoo::Network),
    /// A vectorized nonnegative network (GEVB's, or backprop's on the same network).
    Vectorized(model_zoo::vectorized::VectorNetwork),
}

/// A model opened for scoring: one network (one training seed) of a model entry.
pub(crate) struct Candidate {
    pub(crate) name: String,
    /// Training seed (the run's seed for ONNX models and checkpoints).
    pub(crate) seed: u64,
    /// The entry's first seed: the network whose RDMs and geometry the report shows.
    pub(crate) primary: bool,
    pub(crate) rule: String,
    pub(crate) architecture: String,
    pub(crate) model: Box<dyn Model>,
    pub(crate) layers: Vec<String>,
    /// For a zoo network: the network itself (for its Jacobian) and its training data.
    pub(crate) zoo: Option<ZooInfo>,
    pub(crate) preprocessing: Option<Preprocessing>,
    pub(crate) record: ModelRecord,
}

/// Model inputs larger than this are preprocessed batch by batch for each model instead of
/// once for all models that share the preprocessing.
pub(crate) const INPUT_CACHE_BYTES: usize = 1 << 30;

/// A network's activations on a stimulus set, with how each layer was kept (its width and
/// projection).
#[derive(Clone)]
pub(crate) struct Extracted {
    /// `(stimuli, features)` per layer, in the network's layer order.
    pub(crate) activations: model_zoo::Activations,
    /// One record per layer.
    pub(crate) layers: Vec<LayerRecord>,
}

/// Activations on the last stimulus set, reused while the following benchmarks show the same
/// stimuli with the same preprocessing (the V4 benchmarks share one session's images), and
/// the preprocessed stimuli themselves, shared by the models that preprocess alike (every
/// zoo network).
#[derive(Default)]
pub(crate) struct ExtractionCache {
    /// The stimulus set held (name and ids); `None` before the first.
    stimuli: Option<(String, Vec<String>)>,
    extractions: Vec<CachedExtraction>,
    inputs: Vec<CachedInputs>,
}

/// One network's extraction under one preprocessing.
struct CachedExtraction {
    model: usize,
    preprocessing: Preprocessing,
    extracted: Extracted,
}

/// The stimuli preprocessed one way.
struct CachedInputs {
    preprocessing: Preprocessing,
    tensor: std::sync::Arc<ndarray::Array4<f32>>,
}

impl ExtractionCache {
    fn holds(&self, data: &BenchmarkData) -> bool {
        self.stimuli
            .as_ref()
            .is_some_and(|(name, ids)| *name == data.stimuli.name && *ids == data.stimuli.ids)
    }

    /// Network `model`'s activations on these stimuli under `preprocessing`, if kept.
    pub(crate) fn get(
        &self,
        model: usize,
        data: &BenchmarkData,
        preprocessing: &Preprocessing,
    ) -> Option<Extracted> {
        if !self.holds(data) {
            return None;
        }
        self.extractions
            .iter()
            .find(|c| c.model == model && c.preprocessing == *preprocessing)
            .map(|c| c.extracted.clone())
    }

    /// Keeps an extraction (dropping everything kept for other stimuli).
    pub(crate) fn keep(
        &mut self,
        model: usize,
        data: &BenchmarkData,
        preprocessing: &Preprocessing,
        extracted: Extracted,
    ) {
        self.switch_to(data);
        self.extractions.push(CachedExtraction {
            model,
            preprocessing: preprocessing.clone(),
            extracted,
        });
    }

    fn switch_to(&mut self, data: &BenchmarkData) {
        if !self.holds(data) {
            self.stimuli = Some((data.stimuli.name.clone(), data.stimuli.ids.clone()));
            self.extractions.clear();
            self.inputs.clear();
        }
    }

    /// The preprocessed stimuli, computed on first use when they fit the cache's budget.
    pub(crate) fn inputs(
        &mut self,
        data: &BenchmarkData,
        preprocessing: &Preprocessing,
    ) -> Result<Option<std::sync::Arc<ndarray::Array4<f32>>>> {
        self.switch_to(data);
        if let Some(found) = self
            .inputs
            .iter()
            .find(|c| c.preprocessing == *preprocessing)
        {
            return Ok(Some(found.tensor.clone()));
        }
        let channels = match preprocessing.channels {
            brain_data::Channels::Rgb => 3,
            brain_data::Channels::Gray => 1,
        };
        let side = preprocessing.size as usize;
        let bytes = data.stimuli.len() * channels * side * side * std::mem::size_of::<f32>();
        if bytes > INPUT_CACHE_BYTES {
            return Ok(None);
        }
        let tensor = std::sync::Arc::new(
            preprocessing
                .apply_all(&data.stimuli)
                .with_context(|| format!("preprocessing {}", data.stimuli.name))?,
        );
        self.inputs.push(CachedInputs {
            preprocessing: preprocessing.clone(),
            tensor: tensor.clone(),
        });
        Ok(Some(tensor))
    }
}

/// How a run extracts activations: its batch size, and its random projection of wide layers
/// (`projection_dim` 0: none) seeded by the run's seed.
pub(crate) fn extraction_options(config: &RunConfig) -> ExtractionOptions {
    ExtractionOptions {
        batch_size: config.batch_size,
        projection: (config.projection_dim > 0).then_some(RandomProjection {
            dim: config.projection_dim,
            seed: config.seed,
        }),
    }
}

/// Streams `stimuli` (`inputs` when already preprocessed) through a model and returns the
/// layers' activations, in the stimuli's order; `label` names the stimuli in messages.
pub(crate) fn extract(
    candidate: &mut Candidate,
    stimuli: &StimulusSet,
    inputs: Option<&ndarray::Array4<f32>>,
    preprocessing: &Preprocessing,
    options: &ExtractionOptions,
    label: &str,
) -> Result<Extracted> {
    let n = stimuli.len();
    let progress = bar(n, "{msg:40} [{bar:30}] {pos}/{len} stimuli ({eta})");
    progress.set_message(format!("extract {} on {label}", candidate.name));
    let images = &stimuli.images;
    let load = |range: std::ops::Range<usize>| {
        progress.set_position(range.end as u64);
        if let Some(inputs) = inputs {
            return Ok(inputs.slice(ndarray::s![range, .., .., ..]).to_owned());
        }
        preprocessing
            .apply_batch(&images[range])
            .map_err(|e| model_zoo::ZooError::Config(e.to_string()))
    };
    let layers: Vec<&str> = candidate.layers.iter().map(String::as_str).collect();
    let (activations, layers) =
        model_zoo::extract(candidate.model.as_mut(), n, load, &layers, options)
            .with_context(|| format!("extracting {} on {label}", candidate.name))?;
    progress.finish_and_clear();
    Ok(Extracted {
        activations,
        layers,
    })
}

/// What a zoo entry asks to be trained with `seed` (None for other entries).
pub(crate) fn zoo_request(spec: &ModelSpec, seed: u64) -> Option<zoo_cache::ZooRequest<'_>> {
    match spec {
        ModelSpec::Zoo {
            rule,
            arch,
            dataset,
            preset,
            epochs,
            ..
        } => Some(zoo_cache::ZooRequest {
            data: *dataset,
            preset,
            rule: *rule,
            arch,
            epochs: *epochs,
            seed,
        }),
        _ => None,
    }
}

pub(crate) fn open_candidate(
    spec: &ModelSpec,
    seed: u64,
    zoo: &Path,
    training_sets: &mut crate::training_data::Loaded,
    progress: &ProgressBar,
    announced: &[PathBuf],
) -> Result<Candidate> {
    let from_zoo = |z: zoo_cache::ZooNetwork| -> Result<Candidate> {
        if let Some(path) = z.checkpoint.as_ref().filter(|p| !announced.contains(p)) {
            let how = if z.trained_now { "trained" } else { "using" };
            progress.suspend(|| eprintln!("model: {how} {} ({})", z.name, path.display()));
        }
        let network = z.net.clone();
        let mut model = ZooModel::new(z.net)?;
        let layers: Vec<String> = model.layers()?.into_iter().map(|l| l.name).collect();
        Ok(Candidate {
            record: ModelRecord {
                name: z.name.clone(),
                rule: z.rule.clone(),
                architecture: z.arch.clone(),
                source: z.checkpoint.as_ref().map_or(
                    "untrained (initial weights of the training seed)".into(),
                    |p| p.display().to_string(),
                ),
                sha256: z.sha256,
                layers: layers.clone(),
                training: Some(serde_norway::to_string(&z.config)?),
                projections: vec![],
            },
            name: z.name,
            seed,
            primary: true,
            rule: z.rule,
            architecture: z.arch,
            model: Box::new(model),
            layers,
            zoo: Some(ZooInfo {
                network: ZooNet::Scalar(network),
                data: z.config.data,
                normalization: z.config.normalization.clone(),
            }),
            preprocessing: None,
        })
    };
    match spec {
        ModelSpec::Zoo { .. } => {
            let request = zoo_request(spec, seed).expect("a zoo entry");
            progress.set_message(spec.name());
            let sets = training_sets.get(request.data)?;
            let training = zoo_cache::training_config(&request, &sets)?;
            from_zoo(zoo_cache::trained(zoo, &training, &sets, progress)?)
        }
        ModelSpec::Untrained { dataset, .. } if spec.vectorized_config(seed).is_some() => {
            let config = spec.vectorized_config(seed).expect("a vectorized entry")?;
            let sets = training_sets.get(*dataset)?;
            let config = model_zoo::vectorized::VectorTrainConfig {
                normalization: sets.normalization.clone(),
                ..config
            };
            let net = config.network()?;
            let arch = crate::vectorized_zoo::arch_name(&config);
            vectorized_candidate(
                net,
                &config,
                VectorSource {
                    name: spec.name(),
                    rule: crate::comparison::UNTRAINED.into(),
                    architecture: arch.into(),
                    source: "untrained (initial weights of the training seed)".into(),
                    sha256: None,
                },
                seed,
            )
        }
        ModelSpec::Untrained { arch, dataset, .. } => {
            let request = zoo_cache::ZooRequest {
                data: *dataset,
                preset: "quick",
                rule: model_zoo::Rule::Bp,
                arch,
                epochs: None,
                seed,
            };
            let sets = training_sets.get(*dataset)?;
            from_zoo(zoo_cache::untrained(zoo_cache::training_config(
                &request, &sets,
            )?)?)
        }
        ModelSpec::Vectorized { dataset, .. } => {
            progress.set_message(spec.name());
            let sets = training_sets.get(*dataset)?;
            let config = spec.vectorized_config(seed).expect("a vectorized entry")?;
            let (path, trained_now) =
                crate::vectorized_zoo::trained(zoo, &config, &sets, progress)?;
            if !announced.contains(&path) {
                let how = if trained_now { "trained" } else { "using" };
                progress.suspend(|| eprintln!("model: {how} {} ({})", spec.name(), path.display()));
            }
            open_vectorized(&path, spec.name(), seed)
        }
        ModelSpec::Checkpoint { path } if is_vectorized(path)? => {
            open_vectorized(path, spec.name(), seed)
        }
        ModelSpec::Checkpoint { path } => {
            let (net, training) = model_zoo::checkpoint::load(path)?;
            let name = spec.name();
            from_zoo(zoo_cache::ZooNetwork {
                name,
                rule: training.rule.name().into(),
                arch: training.architecture.name().into(),
                net,
                checkpoint: Some(path.clone()),
                sha256: Some(brain_data::sha256_file(path)?),
                config: training,
                trained_now: false,
            })
        }
        ModelSpec::Onnx {
            path,
            name: _,
            rule,
            layers,
            input_shape,
            preprocessing,
        } => {
            let (model, _, layers) = open_onnx(path, *input_shape, layers)?;
            let name = spec.name();
            let rule = rule.clone().unwrap_or_else(|| "external".into());
            Ok(Candidate {
                record: ModelRecord {
                    name: name.clone(),
                    rule: rule.clone(),
                    architecture: name.clone(),
                    source: path.display().to_string(),
                    sha256: Some(brain_data::sha256_file(path)?),
                    layers: layers.clone(),
                    training: None,
                    projections: vec![],
                },
                architecture: name.clone(),
                name,
                seed,
                primary: true,
                rule,
                model: Box::new(model),
                layers,
                zoo: None,
                preprocessing: preprocessing.clone(),
            })
        }
    }
}

/// Whether a checkpoint holds a vectorized network (`harness train --rule gevb`).
pub(crate) fn is_vectorized(path: &Path) -> Result<bool> {
    Ok(model_zoo::checkpoint::format_of(path)?.as_deref()
        == Some(model_zoo::vectorized::CHECKPOINT_FORMAT))
}

/// A vectorized network's checkpoint (`harness train --rule gevb`) as a candidate.
fn open_vectorized(path: &Path, name: String, seed: u64) -> Result<Candidate> {
    let (net, training) = model_zoo::vectorized::load_vectorized(path)?;
    let source = VectorSource {
        name,
        rule: training.rule.name().into(),
        architecture: crate::vectorized_zoo::arch_name(&training).into(),
        source: path.display().to_string(),
        sha256: Some(brain_data::sha256_file(path)?),
    };
    vectorized_candidate(net, &training, source, seed)
}

/// What a vectorized candidate is called and where its weights came from.
struct VectorSource {
    name: String,
    rule: String,
    architecture: String,
    source: String,
    sha256: Option<String>,
}

/// A vectorized network as a candidate: scored on its hidden layers' vectors, shown the
/// stimuli as its training images were.
fn vectorized_candidate(
    net: model_zoo::vectorized::VectorNetwork,
    training: &model_zoo::vectorized::VectorTrainConfig,
    from: VectorSource,
    seed: u64,
) -> Result<Candidate> {
    let mut model = model_zoo::vectorized::VectorZooModel::new(net.clone())?;
    let layers: Vec<String> = model.layers()?.into_iter().map(|l| l.name).collect();
    Ok(Candidate {
        record: ModelRecord {
            name: from.name.clone(),
            rule: from.rule.clone(),
            architecture: from.architecture.clone(),
            source: from.source,
            sha256: from.sha256,
            layers: layers.clone(),
            training: Some(serde_norway::to_string(training)?),
            projections: vec![],
        },
        name: from.name,
        seed,
        primary: true,
        rule: from.rule,
        architecture: from.architecture,
        model: Box::new(model),
        layers,
        zoo: Some(ZooInfo {
            network: ZooNet::Vectorized(net),
            data: training.data,
            normalization: training.normalization.clone(),
        }),
        preprocessing: None,
    })
}

/// Operators that only move or copy values; their outputs repeat another layer's.
const PLUMBING: [&str; 12] = [
    "Pad",
    "Reshape",
    "Transpose",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Concat",
    "Slice",
    "Gather",
    "Cast",
    "Identity",
    "Shape",
];

/// An ONNX model entry opened: the model, every layer it has, and the layers to score (the
/// entry's, each checked to exist, else [`default_onnx_layers`]).
pub(crate) fn open_onnx(
    path: &Path,
    input_shape: Option<[usize; 3]>,
    layers: &[String],
) -> Result<(OnnxModel, Vec<model_zoo::LayerInfo>, Vec<String>)> {
    let mut model = OnnxModel::open(path, input_shape)?;
    let available = model
        .layers()
        .with_context(|| format!("listing the layers of {}", path.display()))?;
    let chosen = if layers.is_empty() {
        default_onnx_layers(&available)
    } else {
        for layer in layers {
            model.graph().resolve(layer)?;
        }
        layers.to_vec()
    };
    Ok((model, available, chosen))
}

/// Eight float layers evenly spaced through the graph, the last of them its output, skipping
/// operators that only move values.
fn default_onnx_layers(available: &[model_zoo::LayerInfo]) -> Vec<String> {
    let float: Vec<&model_zoo::LayerInfo> = available
        .iter()
        .filter(|l| l.dtype == "f32" && !PLUMBING.contains(&l.op.as_str()))
        .collect();
    if float.is_empty() {
        return vec![];
    }
    let mut picked: Vec<usize> = (1..=8).map(|k| k * (float.len() - 1) / 8).collect();
    picked.dedup();
    picked.into_iter().map(|i| float[i].name.clone()).collect()
}

/// The stimuli's preprocessing for a model: its own when configured, else the benchmark's
/// fitted to the model's input size and channels; zoo networks get their training data's
/// standardisation (CIFAR-10's channel statistics), or none ([0, 1] Fashion-MNIST pixels).
pub(crate) fn preprocessing_for(
    base: &Preprocessing,
    candidate: &Candidate,
) -> Result<Preprocessing> {
    if let Some(p) = &candidate.preprocessing {
        return Ok(p.clone());
    }
    let [c, h, w] = candidate.model.input_shape();
    if h != w {
        bail!(
            "{}: input {h}x{w} is not square; give the model a preprocessing in the run config",
            candidate.name
        );
    }
    let mut p = base.clone();
    p.size = h as u32;
    p.channels = match c {
        1 => Channels::Gray,
        3 => Channels::Rgb,
        _ => bail!(
            "{}: input has {c} channels; stimuli have 1 or 3",
            candidate.name
        ),
    };
    if let Some(zoo) = &candidate.zoo {
        p.normalization = match &zoo.normalization {
            None => None,
            Some(n) if n.mean.is_empty() || n.std.is_empty() => {
                bail!(
                    "{}: its training config has an empty normalisation",
                    candidate.name
                )
            }
            // One channel's statistics serve all three.
            Some(n) => {
                let three = |v: &[f32]| [0, 1, 2].map(|i| *v.get(i).unwrap_or(&v[0]));
                Some(brain_data::Normalization {
                    mean: three(&n.mean),
                    std: three(&n.std),
                })
            }
        };
    }
    Ok(p)
}

/// A progress bar of `len` steps drawn with `template`.
pub(crate) fn bar(len: usize, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

/// Parses `c,h,w`.
pub(crate) fn parse_shape(text: &str) -> std::result::Result<[usize; 3], String> {
    let dims: Vec<usize> = text
        .split(',')
        .map(|d| d.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("'{text}': {e}; expected channels,height,width"))?;
    match dims[..] {
        [c, h, w] if c > 0 && h > 0 && w > 0 => Ok([c, h, w]),
        _ => Err(format!(
            "'{text}': expected three positive numbers channels,height,width"
        )),
    }
}
