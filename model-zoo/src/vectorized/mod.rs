//! Vectorized nonnegative networks (VNNs) and global error-vector broadcasting (GEVB), the rule
//! that trains them with one broadcast error vector (Clark, Abbott & Chung 2021, NeurIPS;
//! arXiv 2106.04089).
//!
//! Every unit of a VNN carries a vector of K components, K the number of classes, and a weight
//! is one number shared by the K components. The first layer gives each component its own
//! block of mixed-sign input weights (the paper's expanded input: component k of unit m is
//! (W_k x)_m); every layer past it has nonnegative weights, kept so after each step by taking
//! absolute values, as the authors' code does. A hidden unit is on or off as a whole: its gate
//! opens when tₘ · hₘ ≥ 0 for a fixed random ±1 vector tₘ, units coming in pairs with opposite
//! gates (the paper's tReLU). The one output unit's K components are the logits.
//!
//! With nonnegative weights downstream, the gradient of the loss with respect to a hidden
//! unit's vector is a nonnegative multiple of the output error e = softmax − one-hot, so GEVB's
//! update of a weight, ΔW_mn ∝ gateₘ (hₙ · e), has the sign of the gradient for every example
//! (the paper's Theorem 1). A convolution's weight is shared by every pixel: each use is
//! sign-matched, but their sum over pixels, weighted by different positive factors in the
//! gradient and equally in GEVB, need not be. Backprop on the same network is
//! [`VectorNetwork::gradient`].
//!
//! Convolutional VNNs gate each channel's vector at every pixel (one gating vector per channel,
//! the paper's ctReLU) and average-pool.
//!
//! Layout: a layer's vectors are `(K, batch, features)` arrays, component-major, so that each
//! layer is one matrix product over all components (the first layer one per component, on the
//! input or its im2col patches shared by all). The forward and backward passes are in `pass`,
//! the initialisation in `init`.

mod checkpoint;
mod init;
mod model;
mod pass;
mod resume;
mod train;

use ndarray::{Array1, Array2, Array3, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::conv::ConvGeometry;
use crate::error::{Result, ZooError};
use crate::rules::Updates;

pub use checkpoint::{FORMAT as CHECKPOINT_FORMAT, load_vectorized, save_vectorized};
pub use model::VectorZooModel;
pub use train::{
    VectorEpoch, VectorTrainConfig, VectorTrained, evaluate_vectorized, train_vectorized,
    train_vectorized_resumable,
};

/// Which rule trains a VNN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorRule {
    /// Global error-vector broadcasting.
    Gevb,
    /// Backpropagation on the same network (the paper's baseline).
    Bp,
}

impl VectorRule {
    /// `gevb` or `bp`.
    pub fn name(self) -> &'static str {
        match self {
            VectorRule::Gevb => "gevb",
            VectorRule::Bp => "bp",
        }
    }
}

/// What a VNN layer computes before its gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VectorLayerKind {
    /// Every unit from every input feature.
    Dense,
    /// A convolution of channels-last images (im2col, as in [`crate::conv`]), then average
    /// pooling over the geometry's `pool` windows.
    Conv(ConvGeometry),
}

/// One layer of a VNN.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorLayer {
    /// `conv1`, `fc1`, …
    pub name: String,
    /// Dense or convolutional.
    pub kind: VectorLayerKind,
    /// `(out, fan_in)`, a convolution's columns its (ky, kx, c) taps; the first layer's columns
    /// are K blocks of input features (or taps), one block per component.
    pub weight: Array2<f32>,
    /// One bias per component and unit (channel), component-major (`k · out + m`).
    pub bias: Array1<f32>,
    /// The hidden units' ±1 gating vectors `(K, out)` (one per channel of a convolution); none
    /// on the output layer.
    pub gates: Option<Array2<f32>>,
}

impl VectorLayer {
    /// Features per example and component it passes on (after pooling).
    fn output_features(&self) -> usize {
        match self.kind {
            VectorLayerKind::Dense => self.weight.nrows(),
            VectorLayerKind::Conv(g) => {
                let (h, w) = g.pooled_size();
                h * w * self.weight.nrows()
            }
        }
    }

    /// Features per example and component it takes from below.
    fn input_features(&self, fan_in: usize) -> usize {
        match self.kind {
            VectorLayerKind::Dense => fan_in,
            VectorLayerKind::Conv(g) => g.height * g.width * g.channels,
        }
    }
}

/// A vectorized nonnegative network: convolutions, then dense layers, then one output unit.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorNetwork {
    /// K, the components of every unit (the number of classes).
    pub components: usize,
    /// Layers from input to output; the last has one unit.
    pub layers: Vec<VectorLayer>,
}

/// What a forward pass leaves for the learning rules.
#[derive(Debug, Clone)]
pub struct VectorForward {
    /// Examples in the batch.
    pub batch: usize,
    /// Each layer's matrix input: for the first, `(batch · positions, taps)`, shared by the
    /// components; for the others `(K · batch · positions, fan_in)`.
    inputs: Vec<Array2<f32>>,
    /// Each hidden layer's gates, 1 open and 0 closed, `(batch · positions, out)`.
    open: Vec<Array2<f32>>,
    /// Each hidden layer's output vectors, `(K, batch, features)`.
    hidden: Vec<Array3<f32>>,
    /// The logits, `(batch, K)`.
    pub logits: Array2<f32>,
}

impl VectorForward {
    /// Hidden layer `l`'s output per example, `(batch, K · features)` (component-major within
    /// an example; a convolution's features channels-last after pooling), what a scorer sees.
    pub fn hidden_features(&self, l: usize) -> Array2<f32> {
        let h = &self.hidden[l];
        let (k, batch, units) = h.dim();
        h.view()
            .permuted_axes([1, 0, 2])
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((batch, k * units))
            .expect("K · units features per example")
    }
}

impl VectorNetwork {
    /// A VNN MLP on `inputs` features with `hidden` unit counts (each even: units come in pairs
    /// of opposite gates) and `classes` components, initialised as the paper's nonnegative
    /// networks are (see [`init`]).
    pub fn mlp(inputs: usize, hidden: &[usize], classes: usize, seed: u64) -> Result<Self> {
        if inputs == 0 || hidden.is_empty() {
            return Err(ZooError::Config(format!(
                "a VNN MLP needs inputs and at least one hidden layer, got {inputs} inputs and hidden {hidden:?}"
            )));
        }
        Self::build(None, &[], hidden, inputs, classes, seed)
    }

    /// A VNN convnet on `(height, width, channels)` images: `convs` as (channels, kernel,
    /// padding) convolutions, each gated and average-pooled 2×2 (`conv1`, …), then gated
    /// dense layers of `dense` sizes (`fc1`, …), then the output unit.
    pub fn cnn(
        image: (usize, usize, usize),
        convs: &[(usize, usize, usize)],
        dense: &[usize],
        classes: usize,
        seed: u64,
    ) -> Result<Self> {
        if convs.is_empty() {
            return Err(ZooError::Config("a VNN convnet needs a convolution".into()));
        }
        Self::build(Some(image), convs, dense, 0, classes, seed)
    }

    fn build(
        image: Option<(usize, usize, usize)>,
        convs: &[(usize, usize, usize)],
        dense: &[usize],
        flat_inputs: usize,
        classes: usize,
        seed: u64,
    ) -> Result<Self> {
        let widths = convs.iter().map(|c| c.0).chain(dense.iter().copied());
        if let Some(odd) = widths.clone().find(|&n| n == 0 || n % 2 == 1) {
            return Err(ZooError::Config(format!(
                "VNN hidden layers come in pairs of units with opposite gates: {odd} units (or channels) is not a positive even number"
            )));
        }
        if classes < 2 {
            return Err(ZooError::Config(format!(
                "a VNN needs at least two classes, got {classes}"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut layers = vec![];
        let mut features = flat_inputs;
        let fan_in = |taps: usize, first: bool| if first { taps * classes } else { taps };
        if let Some((mut height, mut width, mut channels)) = image {
            for (i, &(out, kernel, padding)) in convs.iter().enumerate() {
                let g = ConvGeometry {
                    height,
                    width,
                    channels,
                    kernel,
                    padding,
                    pool: 2,
                };
                g.check()
                    .map_err(|e| ZooError::Config(format!("conv{}: {e}", i + 1)))?;
                let first = i == 0;
                layers.push(VectorLayer {
                    name: format!("conv{}", i + 1),
                    kind: VectorLayerKind::Conv(g),
                    weight: init::layer(
                        out,
                        fan_in(g.fan_in(), first),
                        channels,
                        classes,
                        first,
                        &mut rng,
                    ),
                    bias: Array1::zeros(classes * out),
                    gates: Some(init::paired_gates(classes, out, &mut rng)),
                });
                (height, width) = g.pooled_size();
                channels = out;
            }
            features = height * width * channels;
        }
        for (i, &out) in dense.iter().chain(std::iter::once(&1)).enumerate() {
            let first = layers.is_empty();
            let last = i == dense.len();
            layers.push(VectorLayer {
                name: format!("fc{}", i + 1),
                kind: VectorLayerKind::Dense,
                weight: init::layer(
                    out,
                    fan_in(features, first),
                    features,
                    classes,
                    first,
                    &mut rng,
                ),
                bias: Array1::zeros(classes * out),
                gates: (!last).then(|| init::paired_gates(classes, out, &mut rng)),
            });
            features = out;
        }
        let net = VectorNetwork {
            components: classes,
            layers,
        };
        net.check()?;
        Ok(net)
    }

    /// Checks that the layers fit together: the first layer's blocks, each layer's input the
    /// one below's output, biases per component, gates on every hidden layer, one output unit.
    pub fn check(&self) -> Result<()> {
        let k = self.components;
        let Some(last) = self.layers.last() else {
            return Err(ZooError::Shape("a VNN needs at least one layer".into()));
        };
        if k < 2
            || !self.layers[0].weight.ncols().is_multiple_of(k)
            || last.weight.nrows() != 1
            || last.kind != VectorLayerKind::Dense
        {
            return Err(ZooError::Shape(format!(
                "{k} components, {} first-layer inputs and {} output units: a VNN needs K >= 2, K blocks of inputs and one dense output unit",
                self.layers[0].weight.ncols(),
                last.weight.nrows()
            )));
        }
        for (i, layer) in self.layers.iter().enumerate() {
            let out = layer.weight.nrows();
            let taps = if i == 0 {
                layer.weight.ncols() / k
            } else {
                layer.weight.ncols()
            };
            let geometry_fits = match layer.kind {
                VectorLayerKind::Dense => true,
                VectorLayerKind::Conv(g) => g.check().is_ok() && g.fan_in() == taps,
            };
            let fits_below =
                i == 0 || self.layers[i - 1].output_features() == layer.input_features(taps);
            let gates_fit = match &layer.gates {
                Some(g) => i + 1 < self.layers.len() && g.dim() == (k, out),
                None => i + 1 == self.layers.len(),
            };
            if !geometry_fits || !fits_below || layer.bias.len() != k * out || !gates_fit {
                return Err(ZooError::Shape(format!(
                    "{}: weights {:?}, {} biases, gates {:?} do not fit {k} components, its geometry and the layer below",
                    layer.name,
                    layer.weight.dim(),
                    layer.bias.len(),
                    layer.gates.as_ref().map(Array2::dim)
                )));
            }
        }
        Ok(())
    }

    /// Input features per example (an image's h·w·c, channels-last).
    pub fn n_inputs(&self) -> usize {
        let first = &self.layers[0];
        first.input_features(first.weight.ncols() / self.components)
    }

    /// Names of the hidden layers, whose outputs a scorer can read.
    pub fn hidden_names(&self) -> Vec<&str> {
        let hidden = self.layers.len() - 1;
        self.layers[..hidden]
            .iter()
            .map(|l| l.name.as_str())
            .collect()
    }

    /// `784x10-fc1024-fc512-fc1 vnn` or `32x32x3x10-conv3x3x32p1/2-…-fc1 vnn`: the input
    /// times the components, then the layers.
    pub fn describe(&self) -> String {
        let input = match self.layers[0].kind {
            VectorLayerKind::Dense => format!("{}x{}", self.n_inputs(), self.components),
            VectorLayerKind::Conv(g) => {
                format!(
                    "{}x{}x{}x{}",
                    g.height, g.width, g.channels, self.components
                )
            }
        };
        let layers: Vec<String> = self
            .layers
            .iter()
            .map(|l| match l.kind {
                VectorLayerKind::Dense => format!("fc{}", l.weight.nrows()),
                VectorLayerKind::Conv(g) => format!(
                    "conv{k}x{k}x{}p{}/{}",
                    l.weight.nrows(),
                    g.padding,
                    g.pool,
                    k = g.kernel
                ),
            })
            .collect();
        format!("{input}-{} vnn", layers.join("-"))
    }

    /// Restores nonnegativity past the first layer after a step (|W|, as the authors do).
    pub fn keep_nonnegative(&mut self) {
        for layer in &mut self.layers[1..] {
            layer.weight.mapv_inplace(f32::abs);
        }
    }

    /// Outputs of the named hidden layers, `(batch, K · features)` each, in the order asked.
    pub fn activations(
        &self,
        x: ArrayView2<f32>,
        names: &[&str],
    ) -> Result<Vec<(String, Array2<f32>)>> {
        let forward = self.forward(x)?;
        let hidden = self.hidden_names();
        names
            .iter()
            .map(|name| {
                let l = hidden.iter().position(|n| n == name).ok_or_else(|| {
                    ZooError::Shape(format!(
                        "no hidden layer named '{name}' (layers: {})",
                        hidden.join(", ")
                    ))
                })?;
                Ok((name.to_string(), forward.hidden_features(l)))
            })
            .collect()
    }

    /// Every hidden layer's output on `x`, `(n, K · features)` each as
    /// [`VectorForward::hidden_features`], forwarded `batch` examples at a time so that a
    /// convnet's first-layer maps are never held for all of `x` at once.
    pub fn hidden_in_batches(&self, x: ArrayView2<f32>, batch: usize) -> Result<Vec<Array2<f32>>> {
        let chunks: Vec<ArrayView2<f32>> = if x.nrows() == 0 {
            vec![x]
        } else {
            x.axis_chunks_iter(Axis(0), batch.max(1)).collect()
        };
        let mut parts: Vec<Vec<Array2<f32>>> = vec![vec![]; self.layers.len() - 1];
        for rows in chunks {
            let forward = self.forward(rows)?;
            for (l, part) in parts.iter_mut().enumerate() {
                part.push(forward.hidden_features(l));
            }
        }
        parts
            .iter()
            .map(|part| {
                let views: Vec<_> = part.iter().map(|a| a.view()).collect();
                ndarray::concatenate(Axis(0), &views)
                    .map_err(|e| ZooError::Shape(format!("hidden layers of the batches: {e}")))
            })
            .collect()
    }
}

/// Per layer, the fraction of weights whose update has the sign of the gradient, among those
/// where both are nonzero (GEVB's claim: all of them, for one example).
pub fn sign_agreement(update: &Updates, gradient: &Updates) -> Vec<f32> {
    update
        .weight
        .iter()
        .zip(&gradient.weight)
        .map(|(u, g)| {
            let (mut same, mut both) = (0usize, 0usize);
            for (&a, &b) in u.iter().zip(g) {
                if a != 0.0 && b != 0.0 {
                    both += 1;
                    same += usize::from((a > 0.0) == (b > 0.0));
                }
            }
            if both == 0 {
                1.0
            } else {
                same as f32 / both as f32
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
