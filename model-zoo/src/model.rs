//! The interface every scorable model shares, trained zoo networks and ONNX files alike:
//! preprocessed stimuli in, named `(stimuli, features)` activations out, and streaming
//! extraction that keeps memory bounded for large stimulus sets and wide layers.
//!
//! Stimuli are `(n, channels, height, width)` f32 arrays, already resized and normalised the
//! way the model expects. Activations are flattened per stimulus in the tensor's own order
//! (channels, then rows, then columns for feature maps, as PyTorch and ONNX lay them out).

use std::ops::Range;

use ndarray::{Array2, ArrayView2, ArrayView4, Axis, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ZooError};

/// A layer a model can return, with the shape of one stimulus's activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Name to request it by.
    pub name: String,
    /// What computes it (`Conv`, `dense`, …).
    pub op: String,
    /// Shape per stimulus (without the batch axis), e.g. `[32, 112, 112]`.
    pub shape: Vec<usize>,
    /// Element type, e.g. `f32`; only `f32` layers can be extracted.
    pub dtype: String,
}

impl LayerInfo {
    /// Features per stimulus: the product of the shape.
    pub fn features(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Named activations, in the order they were asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activations {
    layers: Vec<(String, Array2<f32>)>,
}

impl Activations {
    /// Wraps `(name, (stimuli, features))` pairs.
    pub fn new(layers: Vec<(String, Array2<f32>)>) -> Self {
        Self { layers }
    }

    /// The activations of `layer`, if present.
    pub fn get(&self, layer: &str) -> Option<&Array2<f32>> {
        self.layers.iter().find(|(n, _)| n == layer).map(|(_, a)| a)
    }

    /// `(name, activations)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Array2<f32>)> {
        self.layers.iter().map(|(n, a)| (n.as_str(), a))
    }

    /// Layer names in order.
    pub fn names(&self) -> Vec<&str> {
        self.layers.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Consumes the set into its pairs.
    pub fn into_inner(self) -> Vec<(String, Array2<f32>)> {
        self.layers
    }
}

/// A model whose layer activations can be read: a zoo [`crate::Network`] (through
/// [`crate::ZooModel`]) or an ONNX file ([`crate::onnx::OnnxModel`]).
pub trait Model {
    /// A one-line description (architecture or file).
    fn describe(&self) -> String;

    /// `(channels, height, width)` of one stimulus.
    fn input_shape(&self) -> [usize; 3];

    /// The layers that can be requested, in computation order.
    fn layers(&mut self) -> Result<Vec<LayerInfo>>;

    /// Activations of `layers` for a batch of stimuli, each `(n, features)`.
    fn activations(&mut self, stimuli: ArrayView4<f32>, layers: &[&str]) -> Result<Activations>;
}

/// Checks a stimulus batch against a model's input shape.
pub(crate) fn check_stimuli(
    stimuli: &ArrayView4<f32>,
    expected: [usize; 3],
    model: &str,
) -> Result<()> {
    let (_, c, h, w) = stimuli.dim();
    if [c, h, w] != expected {
        return Err(ZooError::Shape(format!(
            "{model} takes stimuli of {}x{}x{} (channels x height x width), got {c}x{h}x{w}",
            expected[0], expected[1], expected[2]
        )));
    }
    Ok(())
}

/// How wide layers are shrunk while activations stream in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomProjection {
    /// Layers with more features than this are projected to exactly this many.
    pub dim: usize,
    /// Seed of the projection matrices (each layer's also depends on its name).
    pub seed: u64,
}

/// Options of a streaming extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractionOptions {
    /// Stimuli per forward pass.
    pub batch_size: usize,
    /// Optional random projection of wide layers (a seeded count sketch per layer).
    pub projection: Option<RandomProjection>,
}

impl Default for ExtractionOptions {
    fn default() -> Self {
        Self {
            batch_size: 32,
            projection: None,
        }
    }
}

/// What happened to one layer during extraction, for the run manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// The layer.
    pub layer: String,
    /// Its features per stimulus.
    pub features: usize,
    /// Features kept (less than `features` when projected).
    pub kept: usize,
    /// The projection seed, when projected.
    pub projection_seed: Option<u64>,
}

/// Runs `model` over `n` stimuli that `load(range)` produces batch by batch, so that only one
/// batch of stimuli and the (possibly projected) activations are ever held.
pub fn extract(
    model: &mut dyn Model,
    n: usize,
    mut load: impl FnMut(Range<usize>) -> Result<ndarray::Array4<f32>>,
    layers: &[&str],
    options: &ExtractionOptions,
) -> Result<(Activations, Vec<LayerRecord>)> {
    if options.batch_size == 0 {
        return Err(ZooError::Config("batch size must be at least 1".into()));
    }
    if let Some(p) = options.projection
        && p.dim == 0
    {
        return Err(ZooError::Config(
            "projection dimension must be at least 1".into(),
        ));
    }
    let mut outputs: Vec<Option<Array2<f32>>> = vec![None; layers.len()];
    let mut projections: Vec<Option<CountSketch>> = vec![];
    let mut records = vec![];
    for start in (0..n).step_by(options.batch_size) {
        let range = start..(start + options.batch_size).min(n);
        let stimuli = load(range.clone())?;
        if stimuli.len_of(Axis(0)) != range.len() {
            return Err(ZooError::Shape(format!(
                "asked for stimuli {range:?}, got {}",
                stimuli.len_of(Axis(0))
            )));
        }
        let batch = model.activations(stimuli.view(), layers)?;
        for (l, (name, features)) in batch.into_inner().into_iter().enumerate() {
            if projections.len() <= l {
                let projection = options
                    .projection
                    .filter(|p| features.ncols() > p.dim)
                    .map(|p| CountSketch::new(features.ncols(), p.dim, p.seed, &name));
                records.push(LayerRecord {
                    layer: name.clone(),
                    features: features.ncols(),
                    kept: projection.as_ref().map_or(features.ncols(), |p| p.dim),
                    projection_seed: options
                        .projection
                        .filter(|_| projection.is_some())
                        .map(|p| p.seed),
                });
                projections.push(projection);
            }
            let kept = match &projections[l] {
                Some(p) => p.apply(features.view()),
                None => features,
            };
            let out = outputs[l].get_or_insert_with(|| Array2::zeros((n, kept.ncols())));
            out.slice_mut(s![range.clone(), ..]).assign(&kept);
        }
    }
    let layers = layers
        .iter()
        .zip(outputs)
        .map(|(name, a)| (name.to_string(), a.unwrap_or_else(|| Array2::zeros((0, 0)))))
        .collect();
    Ok((Activations::new(layers), records))
}

/// A count sketch (feature hashing; Weinberger et al. 2009, Kane & Nelson 2014 with one
/// nonzero per input): each input feature adds its value, with a random sign, to one random
/// output column. Inner products, and so distances, are preserved in expectation, with a
/// variance (|x|²|y|² + ⟨x,y⟩² − 2Σᵢ xᵢ²yᵢ²)/dim no larger than a dense Gaussian projection's;
/// applying it costs one addition per nonzero activation, which is what keeps extraction from
/// layers of hundreds of thousands of features cheap.
struct CountSketch {
    dim: usize,
    /// Output column of each input feature, with [`NEGATIVE`] set where its sign is −1.
    targets: Vec<u32>,
}

/// Sign bit of a projection entry.
const NEGATIVE: u32 = 1 << 31;

/// Stimuli × features above which a batch is projected on all cores.
const PARALLEL_WORK: usize = 1 << 20;

impl CountSketch {
    fn new(features: usize, dim: usize, seed: u64, layer: &str) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a(layer.as_bytes()));
        let targets = (0..features)
            .map(|_| {
                let column = rng.random_range(0..dim as u32);
                if rng.random_bool(0.5) {
                    column
                } else {
                    column | NEGATIVE
                }
            })
            .collect();
        Self { dim, targets }
    }

    fn apply(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let x = x.as_standard_layout();
        let mut out = Array2::zeros((x.nrows(), self.dim));
        let threads = if x.len() > PARALLEL_WORK {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            1
        };
        let rows_per = x.nrows().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for (inputs, mut outputs) in x
                .axis_chunks_iter(Axis(0), rows_per)
                .zip(out.axis_chunks_iter_mut(Axis(0), rows_per))
            {
                scope.spawn(move || {
                    for (row, mut projected) in inputs.outer_iter().zip(outputs.outer_iter_mut()) {
                        let row = row.as_slice().expect("standard layout");
                        let projected = projected.as_slice_mut().expect("fresh array");
                        for (&value, &target) in row.iter().zip(&self.targets) {
                            if value == 0.0 {
                                continue; // common after ReLU
                            }
                            let column = (target & !NEGATIVE) as usize;
                            if target & NEGATIVE == 0 {
                                projected[column] += value;
                            } else {
                                projected[column] -= value;
                            }
                        }
                    }
                });
            }
        });
        out
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn count_sketch_preserves_distances_on_average() {
        // 20 independent pairs: each squared-distance ratio has sd √(2/2000) ≈ 0.03.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((40, 20_000), |_| rng.random_range(-1.0f32..1.0));
        let p = CountSketch::new(20_000, 2_000, 7, "layer");
        let y = p.apply(x.view());
        let ratios: Vec<f32> = (0..20)
            .map(|i| {
                let d = |a: &Array2<f32>| (&a.row(2 * i) - &a.row(2 * i + 1)).mapv(|v| v * v).sum();
                d(&y) / d(&x)
            })
            .collect();
        let mean = ratios.iter().sum::<f32>() / ratios.len() as f32;
        assert!((mean - 1.0).abs() < 0.03, "{mean}");
        assert!(ratios.iter().all(|r| (r - 1.0).abs() < 0.15), "{ratios:?}");
    }

    #[test]
    fn projections_differ_by_layer_and_repeat_by_seed() {
        let a = CountSketch::new(1_000, 10, 1, "a");
        let b = CountSketch::new(1_000, 10, 1, "b");
        let a2 = CountSketch::new(1_000, 10, 1, "a");
        assert_eq!(a.targets, a2.targets);
        assert_ne!(a.targets, b.targets);
    }

    #[test]
    fn count_sketch_equals_the_dense_product_serial_and_parallel() {
        let (features, dim) = (30_000, 40);
        let p = CountSketch::new(features, dim, 5, "layer");
        let mut dense = Array2::<f32>::zeros((features, dim));
        for (f, &target) in p.targets.iter().enumerate() {
            let sign = if target & NEGATIVE == 0 { 1.0 } else { -1.0 };
            dense[[f, (target & !NEGATIVE) as usize]] = sign;
        }
        // Every column used, about equally; both signs.
        let per_column = dense.map_axis(Axis(0), |c| c.iter().filter(|v| **v != 0.0).count());
        assert!(
            per_column.iter().all(|&c| c > 600 && c < 900),
            "{per_column:?}"
        );
        let negative = p.targets.iter().filter(|t| **t & NEGATIVE != 0).count();
        assert!((negative as f64 / features as f64 - 0.5).abs() < 0.02);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        // 7 rows stay serial; 64 rows exceed PARALLEL_WORK and are split over threads.
        for rows in [7, 64] {
            let x = Array2::from_shape_fn((rows, features), |_| {
                rng.random_range(-1.0f32..1.0).max(0.0)
            });
            let worst = (&p.apply(x.view()) - &x.dot(&dense))
                .iter()
                .fold(0.0f32, |m, d| m.max(d.abs()));
            assert!(worst < 1e-3, "{rows} rows: {worst}");
        }
    }
}
