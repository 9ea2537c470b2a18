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
use rand_distr::{Binomial, Distribution};
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
    /// Optional very sparse random projection of wide layers (Li, Hastie & Church 2006).
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
    let mut projections: Vec<Option<SparseProjection>> = vec![];
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
                    .map(|p| SparseProjection::new(features.ncols(), p.dim, p.seed, &name));
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

/// A very sparse random projection `R` (features x dim): each entry is ±sqrt(s/dim) with
/// probability 1/(2s) each and 0 otherwise, with s = sqrt(features), which preserves pairwise
/// distances in expectation (Li, Hastie & Church 2006, as scikit-learn's
/// `SparseRandomProjection` with density `auto`). Drawn column by column, stored by input
/// feature (compressed rows), so that applying it reads each stimulus's activations once, in
/// order, and scatters into an output row small enough to stay in cache.
struct SparseProjection {
    dim: usize,
    scale: f32,
    /// `row_starts[f]..row_starts[f + 1]` indexes `entries` for input feature `f`.
    row_starts: Vec<usize>,
    /// Output column, with [`NEGATIVE`] set where the entry is −1.
    entries: Vec<u32>,
}

/// Sign bit of a projection entry.
const NEGATIVE: u32 = 1 << 31;

impl SparseProjection {
    fn new(features: usize, dim: usize, seed: u64, layer: &str) -> Self {
        let s = (features as f64).sqrt();
        let density = 1.0 / s;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a(layer.as_bytes()));
        let nonzeros = Binomial::new(features as u64, density).expect("density in (0, 1]");
        let mut by_feature: Vec<Vec<u32>> = vec![vec![]; features];
        for column in 0..dim as u32 {
            let k = nonzeros.sample(&mut rng) as usize;
            for feature in rand::seq::index::sample(&mut rng, features, k) {
                let sign = if rng.random_bool(0.5) { 0 } else { NEGATIVE };
                by_feature[feature].push(column | sign);
            }
        }
        let mut row_starts = Vec::with_capacity(features + 1);
        row_starts.push(0);
        let mut entries = vec![];
        for row in by_feature {
            entries.extend(row);
            row_starts.push(entries.len());
        }
        Self {
            dim,
            scale: (s / dim as f64).sqrt() as f32,
            row_starts,
            entries,
        }
    }

    fn apply(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let x = x.as_standard_layout();
        let mut out = Array2::zeros((x.nrows(), self.dim));
        for (row, mut projected) in x.outer_iter().zip(out.outer_iter_mut()) {
            let row = row.as_slice().expect("standard layout");
            let projected = projected.as_slice_mut().expect("fresh array");
            for (f, &value) in row.iter().enumerate() {
                if value == 0.0 {
                    continue; // common after ReLU
                }
                for &entry in &self.entries[self.row_starts[f]..self.row_starts[f + 1]] {
                    let column = (entry & !NEGATIVE) as usize;
                    if entry & NEGATIVE == 0 {
                        projected[column] += value;
                    } else {
                        projected[column] -= value;
                    }
                }
            }
            projected.iter_mut().for_each(|v| *v *= self.scale);
        }
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
    fn sparse_projection_preserves_distances_on_average() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((20, 20_000), |_| rng.random_range(-1.0f32..1.0));
        let p = SparseProjection::new(20_000, 2_000, 7, "layer");
        let y = p.apply(x.view());
        let ratios: Vec<f32> = (1..20)
            .map(|i| {
                let d = |a: &Array2<f32>| (&a.row(0) - &a.row(i)).mapv(|v| v * v).sum();
                d(&y) / d(&x)
            })
            .collect();
        let mean = ratios.iter().sum::<f32>() / ratios.len() as f32;
        assert!((mean - 1.0).abs() < 0.03, "{mean}");
        assert!(ratios.iter().all(|r| (r - 1.0).abs() < 0.15), "{ratios:?}");
    }

    #[test]
    fn projections_differ_by_layer_and_repeat_by_seed() {
        let a = SparseProjection::new(1_000, 10, 1, "a");
        let b = SparseProjection::new(1_000, 10, 1, "b");
        let a2 = SparseProjection::new(1_000, 10, 1, "a");
        assert_eq!(a.entries, a2.entries);
        assert_eq!(a.row_starts, a2.row_starts);
        assert_ne!(a.entries, b.entries);
    }

    #[test]
    fn sparse_projection_equals_the_dense_product() {
        let (features, dim) = (500, 40);
        let p = SparseProjection::new(features, dim, 5, "layer");
        let mut dense = Array2::<f32>::zeros((features, dim));
        for f in 0..features {
            for &entry in &p.entries[p.row_starts[f]..p.row_starts[f + 1]] {
                let sign = if entry & NEGATIVE == 0 { 1.0 } else { -1.0 };
                dense[[f, (entry & !NEGATIVE) as usize]] = sign * p.scale;
            }
        }
        // About features / sqrt(features) nonzeros per column.
        let per_column = p.entries.len() as f64 / dim as f64;
        assert!(
            (per_column - (features as f64).sqrt()).abs() < 6.0,
            "{per_column}"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let x = Array2::from_shape_fn((7, features), |_| rng.random_range(-1.0f32..1.0).max(0.0));
        let worst = (&p.apply(x.view()) - &x.dot(&dense))
            .iter()
            .fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(worst < 1e-5, "{worst}");
    }
}
