//! Feed-forward networks of named dense and convolutional layers: a forward pass that keeps
//! what learning rules need, the two backward primitives every rule is built from, and nothing
//! that knows about any rule.
//!
//! Every layer is a matrix product. Layer l multiplies a matrix `inputs[l]` of shape
//! `(rows, fan_in)` by its weights `(out, fan_in)`: for a dense layer one row per example, for
//! a convolution one row per example and output pixel (its im2col patches, see [`crate::conv`]).
//! So pre-activations are `(rows, out)` matrices, and a rule that assigns them an error signal δ
//! gets its weight update as δᵀ · inputs whatever the layer kind. What a layer passes on, its
//! `post` output, is one row per example (`(batch, features)`, feature maps channels-last, after
//! pooling).

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::conv::{ConvGeometry, col2im, im2col, max_pool, max_pool_values};
use crate::error::{Result, ZooError};

/// What a layer computes before its nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LayerKind {
    /// `a = h Wᵀ + b` on flat inputs.
    Dense,
    /// Valid k×k convolution (stride 1) of channels-last images, then pooling after f.
    Conv(ConvGeometry),
}

/// One layer: `a = inputs · Wᵀ + b`, `h = f(a)` (pooled, for a convolution).
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Name used to request its activations: `conv1`, `fc1`, …
    pub name: String,
    /// Dense or convolutional.
    pub kind: LayerKind,
    /// Weights `(out, fan_in)`; a convolution's columns are its (ky, kx, c) taps.
    pub weight: Array2<f32>,
    /// Biases, `(out)`.
    pub bias: Array1<f32>,
    /// Nonlinearity.
    pub activation: Activation,
}

impl Layer {
    /// Output rows per example of the pre-activation matrix (output pixels of a convolution).
    pub fn positions(&self) -> usize {
        match self.kind {
            LayerKind::Dense => 1,
            LayerKind::Conv(g) => {
                let (h, w) = g.conv_size();
                h * w
            }
        }
    }

    /// Pre-activation units per example: positions × output channels.
    pub fn pre_units(&self) -> usize {
        self.positions() * self.weight.nrows()
    }

    /// Features per example this layer expects from below.
    pub fn input_features(&self) -> usize {
        match self.kind {
            LayerKind::Dense => self.weight.ncols(),
            LayerKind::Conv(g) => g.height * g.width * g.channels,
        }
    }

    /// Features per example it passes on (after pooling).
    pub fn output_features(&self) -> usize {
        match self.kind {
            LayerKind::Dense => self.weight.nrows(),
            LayerKind::Conv(g) => {
                let (h, w) = g.pooled_size();
                h * w * self.weight.nrows()
            }
        }
    }
}

/// A feed-forward network.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// Layers from input to output.
    pub layers: Vec<Layer>,
}

/// What a forward pass leaves for a learning rule.
#[derive(Debug, Clone)]
pub struct Forward {
    /// Examples in the batch.
    pub batch: usize,
    /// The network input, `(batch, features)`.
    pub x: Array2<f32>,
    /// `inputs[l]`: the matrix layer l multiplies by its weights, `(rows, fan_in)`.
    pub inputs: Vec<Array2<f32>>,
    /// `pre[l]`: pre-activations, `(rows, out)`.
    pub pre: Vec<Array2<f32>>,
    /// `act[l]`: f(pre[l]).
    pub act: Vec<Array2<f32>>,
    /// `post[l]`: the layer's output per example, `(batch, features)`; the last is the logits.
    pub post: Vec<Array2<f32>>,
    pool_winners: Vec<Vec<u32>>,
}

impl Forward {
    /// The network output (logits), `(batch, classes)`.
    pub fn output(&self) -> &Array2<f32> {
        self.post.last().expect("at least one layer")
    }
}

/// Uniform weights with Glorot's bound sqrt(6 / (fan_in + fan_out)) (He's, sqrt(6 / fan_in),
/// for ReLU layers).
fn initial_weights(
    out: usize,
    fan_in: usize,
    fan_out: usize,
    activation: Activation,
    rng: &mut ChaCha8Rng,
) -> Array2<f32> {
    let bound = match activation {
        Activation::Relu => (6.0 / fan_in as f32).sqrt(),
        _ => (6.0 / (fan_in + fan_out) as f32).sqrt(),
    };
    Array2::from_shape_fn((out, fan_in), |_| rng.random_range(-bound..bound))
}

impl Network {
    /// A multilayer perceptron of the given sizes (`[784, 256, 256, 256, 10]`), the `hidden`
    /// nonlinearity between layers and none on the output, layers named `fc1` … `fcN`; biases
    /// start at 0.
    pub fn mlp(sizes: &[usize], hidden: Activation, seed: u64) -> Result<Network> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(ZooError::Config(format!(
                "layer sizes {sizes:?} must be at least two positive numbers"
            )));
        }
        Network::build(None, &[], &sizes[1..], sizes[0], hidden, seed)
    }

    /// A convolutional network on `(height, width, channels)` images: `convs` as
    /// (output channels, kernel) pairs of valid convolutions, each followed by f and 2×2 max
    /// pooling (`conv1`, …), then dense layers of `dense` sizes (`fc1`, …) whose last is the
    /// output.
    pub fn cnn(
        image: (usize, usize, usize),
        convs: &[(usize, usize)],
        dense: &[usize],
        hidden: Activation,
        seed: u64,
    ) -> Result<Network> {
        let convs: Vec<(usize, usize, usize)> = convs.iter().map(|&(c, k)| (c, k, 0)).collect();
        Network::padded_cnn(image, &convs, dense, hidden, seed)
    }

    /// [`Network::cnn`] with (output channels, kernel, padding) per convolution: padding
    /// (k - 1) / 2 keeps the image size ("same" convolutions).
    pub fn padded_cnn(
        image: (usize, usize, usize),
        convs: &[(usize, usize, usize)],
        dense: &[usize],
        hidden: Activation,
        seed: u64,
    ) -> Result<Network> {
        if dense.is_empty() || dense.contains(&0) || convs.iter().any(|&(c, _, _)| c == 0) {
            return Err(ZooError::Config(format!(
                "a CNN needs positive channel counts and at least one dense layer, got {convs:?} and {dense:?}"
            )));
        }
        Network::build(Some(image), convs, dense, 0, hidden, seed)
    }

    fn build(
        image: Option<(usize, usize, usize)>,
        convs: &[(usize, usize, usize)],
        dense: &[usize],
        flat_inputs: usize,
        hidden: Activation,
        seed: u64,
    ) -> Result<Network> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut layers = vec![];
        let mut features = flat_inputs;
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
                layers.push(Layer {
                    name: format!("conv{}", i + 1),
                    kind: LayerKind::Conv(g),
                    weight: initial_weights(
                        out,
                        g.fan_in(),
                        out * kernel * kernel,
                        hidden,
                        &mut rng,
                    ),
                    bias: Array1::zeros(out),
                    activation: hidden,
                });
                (height, width) = g.pooled_size();
                channels = out;
            }
            features = height * width * channels;
        }
        for (i, &out) in dense.iter().enumerate() {
            let activation = if i + 1 == dense.len() {
                Activation::Identity
            } else {
                hidden
            };
            layers.push(Layer {
                name: format!("fc{}", i + 1),
                kind: LayerKind::Dense,
                weight: initial_weights(out, features, out, activation, &mut rng),
                bias: Array1::zeros(out),
                activation,
            });
            features = out;
        }
        let net = Network { layers };
        net.check()?;
        Ok(net)
    }

    /// Checks that each layer's input size is the output size of the one below.
    pub fn check(&self) -> Result<()> {
        if self.layers.is_empty() {
            return Err(ZooError::Config(
                "a network needs at least one layer".into(),
            ));
        }
        for layer in &self.layers {
            if layer.bias.len() != layer.weight.nrows() {
                return Err(ZooError::Shape(format!(
                    "{}: {} biases for {} outputs",
                    layer.name,
                    layer.bias.len(),
                    layer.weight.nrows()
                )));
            }
            if let LayerKind::Conv(g) = layer.kind {
                g.check()
                    .map_err(|e| ZooError::Shape(format!("{}: {e}", layer.name)))?;
                if layer.weight.ncols() != g.fan_in() {
                    return Err(ZooError::Shape(format!(
                        "{}: weights have {} columns, the kernel has {} taps",
                        layer.name,
                        layer.weight.ncols(),
                        g.fan_in()
                    )));
                }
            }
        }
        for pair in self.layers.windows(2) {
            if pair[0].output_features() != pair[1].input_features() {
                return Err(ZooError::Shape(format!(
                    "{} gives {} features, {} takes {}",
                    pair[0].name,
                    pair[0].output_features(),
                    pair[1].name,
                    pair[1].input_features()
                )));
            }
        }
        Ok(())
    }

    /// Number of input features per example (an image's h·w·c, channels-last).
    pub fn n_inputs(&self) -> usize {
        self.layers[0].input_features()
    }

    /// A one-line description: input size, then each layer, then the hidden nonlinearity, e.g.
    /// `784-fc256-fc256-fc256-fc10 tanh` or `28x28x1-conv5x5x32/2-conv5x5x64/2-fc256-fc10 relu`.
    pub fn describe(&self) -> String {
        let input = match self.layers[0].kind {
            LayerKind::Dense => self.n_inputs().to_string(),
            LayerKind::Conv(g) => format!("{}x{}x{}", g.height, g.width, g.channels),
        };
        let layers = self.layers.iter().map(|l| match l.kind {
            LayerKind::Dense => format!("fc{}", l.weight.nrows()),
            LayerKind::Conv(g) if g.padding > 0 => format!(
                "conv{k}x{k}x{}p{}/{}",
                l.weight.nrows(),
                g.padding,
                g.pool,
                k = g.kernel
            ),
            LayerKind::Conv(g) => {
                format!("conv{k}x{k}x{}/{}", l.weight.nrows(), g.pool, k = g.kernel)
            }
        });
        let hidden = self.layers[0].activation;
        let hidden = serde_json::to_value(hidden)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        format!(
            "{}-{} {hidden}",
            input,
            layers.collect::<Vec<_>>().join("-")
        )
    }

    /// Names of the layers, input to output.
    pub fn layer_names(&self) -> Vec<&str> {
        self.layers.iter().map(|l| l.name.as_str()).collect()
    }

    /// Forward pass over a `(batch, inputs)` matrix.
    pub fn forward(&self, x: ArrayView2<f32>) -> Result<Forward> {
        self.forward_perturbed(x, None)
    }

    /// Forward pass with `perturbations[l]` (shaped like `pre[l]`) added to the pre-activations
    /// of layer l before its nonlinearity (activity noise, or a controller's feedback).
    pub fn forward_perturbed(
        &self,
        x: ArrayView2<f32>,
        perturbations: Option<&[Array2<f32>]>,
    ) -> Result<Forward> {
        if x.ncols() != self.n_inputs() {
            return Err(ZooError::Shape(format!(
                "the network takes {} inputs per example, got {}",
                self.n_inputs(),
                x.ncols()
            )));
        }
        let n = self.layers.len();
        let batch = x.nrows();
        let mut forward = Forward {
            batch,
            x: x.to_owned(),
            inputs: Vec::with_capacity(n),
            pre: Vec::with_capacity(n),
            act: Vec::with_capacity(n),
            post: Vec::with_capacity(n),
            pool_winners: Vec::with_capacity(n),
        };
        for l in 0..n {
            let below = if l == 0 {
                x
            } else {
                forward.post[l - 1].view()
            };
            let (input, mut a) = self.drive(l, below);
            if let Some(noise) = perturbations {
                a += &noise[l];
            }
            let act = self.layers[l].activation.apply(&a);
            let (out, winners) = self.layer_output(l, &act, batch);
            forward.inputs.push(input);
            forward.pre.push(a);
            forward.act.push(act);
            forward.pool_winners.push(winners);
            forward.post.push(out);
        }
        Ok(forward)
    }

    /// The logits alone of a forward pass with `perturbations[l]` added to the
    /// pre-activations of layer l, keeping no intermediate results (for perturbation rules,
    /// which need only the loss). The perturbations stack several copies of the batch
    /// (`(copies · rows, units)`, copy-major); the pass starts from `first_pre`, the first
    /// layer's unperturbed pre-activations `(rows, units)` of one copy, which every perturbed
    /// copy shares, so they are computed once.
    pub fn output_perturbed(
        &self,
        first_pre: ArrayView2<f32>,
        perturbations: &[ArrayView2<f32>],
    ) -> Result<Array2<f32>> {
        let first = &self.layers[0];
        let rows = first_pre.nrows();
        if perturbations.len() != self.layers.len()
            || first_pre.ncols() != first.weight.nrows()
            || rows == 0
            || !rows.is_multiple_of(first.positions())
            || perturbations[0].dim().1 != first_pre.ncols()
            || !perturbations[0].nrows().is_multiple_of(rows)
        {
            return Err(ZooError::Shape(format!(
                "{} perturbations (the first of shape {:?}) and first-layer pre-activations of shape {:?} for a network of {} layers whose first has {} units",
                perturbations.len(),
                perturbations.first().map(|p| p.dim()),
                first_pre.dim(),
                self.layers.len(),
                first.weight.nrows()
            )));
        }
        let batch = perturbations[0].nrows() / first.positions();
        let mut h = Array2::zeros((0, 0));
        for (l, noise) in perturbations.iter().enumerate() {
            let mut a = if l == 0 {
                let mut a = noise.to_owned();
                for mut copy in a.exact_chunks_mut((rows, first_pre.ncols())) {
                    copy += &first_pre;
                }
                a
            } else {
                let mut a = self.drive(l, h.view()).1;
                a += noise;
                a
            };
            self.layers[l].activation.apply_in_place(&mut a);
            h = match self.layers[l].kind {
                LayerKind::Dense => a,
                LayerKind::Conv(g) => max_pool_values(&a, &g, batch),
            };
        }
        Ok(h)
    }

    /// Layer l's matrix input (im2col patches for a convolution) and its feedforward
    /// pre-activations `inputs · Wᵀ + b`, for a `(batch, features)` input `h`.
    pub fn drive(&self, l: usize, h: ArrayView2<f32>) -> (Array2<f32>, Array2<f32>) {
        let layer = &self.layers[l];
        let input = match layer.kind {
            LayerKind::Dense => h.to_owned(),
            LayerKind::Conv(g) => im2col(h, &g),
        };
        // The biases first, then the product added onto them: one pass over the output.
        let mut a = layer
            .bias
            .view()
            .insert_axis(Axis(0))
            .broadcast((input.nrows(), layer.bias.len()))
            .expect("one bias per output")
            .to_owned();
        ndarray::linalg::general_mat_mul(1.0, &input, &layer.weight.t(), 1.0, &mut a);
        (input, a)
    }

    /// Layer l's per-example output `(batch, features)` for activations `act` in the
    /// pre-activation layout (pooled for a convolution, with each window's winner).
    pub fn layer_output(
        &self,
        l: usize,
        act: &Array2<f32>,
        batch: usize,
    ) -> (Array2<f32>, Vec<u32>) {
        match self.layers[l].kind {
            LayerKind::Dense => (act.clone(), vec![]),
            LayerKind::Conv(g) => max_pool(act, &g, batch),
        }
    }

    /// The gradient with respect to the input of layer l (in the layout of the layer below's
    /// `post`), given the error signal `delta` on its pre-activations and the matrix that
    /// carries it down: the layer's own weights for backprop, a stand-in for the other rules.
    pub fn input_gradient(
        &self,
        l: usize,
        delta: &Array2<f32>,
        feedback: &Array2<f32>,
    ) -> Array2<f32> {
        let back = delta.dot(feedback);
        match self.layers[l].kind {
            LayerKind::Dense => back,
            LayerKind::Conv(g) => {
                col2im(back.view(), &g, delta.nrows() / self.layers[l].positions())
            }
        }
    }

    /// The error signal on layer l's pre-activations, `(rows, out)`, given a gradient with
    /// respect to its output `post[l]`: back through the pooling, times f'(aₗ).
    pub fn delta_from_output_gradient(
        &self,
        l: usize,
        forward: &Forward,
        gradient: &Array2<f32>,
    ) -> Array2<f32> {
        let layer = &self.layers[l];
        match layer.kind {
            LayerKind::Dense => {
                gradient
                    * &layer
                        .activation
                        .derivative(&forward.pre[l], &forward.act[l])
            }
            LayerKind::Conv(_) => unpool_through(
                gradient,
                &forward.pool_winners[l],
                &forward.pre[l],
                &forward.act[l],
                layer.activation,
            ),
        }
    }

    /// Reshapes per-example pre-activation signals `(batch, positions·out)` of layer l to the
    /// `(rows, out)` layout of `pre[l]` (identity for dense layers); see [`Network::to_per_example`]
    /// for the inverse.
    pub fn to_pre_layout(&self, l: usize, per_example: Array2<f32>) -> Array2<f32> {
        let out = self.layers[l].weight.nrows();
        let rows = per_example.len() / out;
        per_example
            .into_shape_with_order((rows, out))
            .expect("positions·out features per example")
    }

    /// Reshapes a `(rows, out)` signal of layer l to one row per example, `(batch, positions·out)`.
    pub fn to_per_example(&self, l: usize, rows: Array2<f32>) -> Array2<f32> {
        let units = self.layers[l].pre_units();
        let batch = rows.len() / units;
        rows.as_standard_layout()
            .into_owned()
            .into_shape_with_order((batch, units))
            .expect("rows·out values")
    }

    /// Outputs of the named layers, `(batch, features)` each (convolutional maps channels-last,
    /// after pooling), in the order asked.
    pub fn activations(
        &self,
        x: ArrayView2<f32>,
        names: &[&str],
    ) -> Result<Vec<(String, Array2<f32>)>> {
        let indices = names
            .iter()
            .map(|name| self.layer_index(name))
            .collect::<Result<Vec<_>>>()?;
        let forward = self.forward(x)?;
        Ok(names
            .iter()
            .zip(indices)
            .map(|(name, l)| (name.to_string(), forward.post[l].clone()))
            .collect())
    }

    /// The Jacobian of the logits with respect to the output of the layer called `name`, for
    /// every example of a forward pass and every logit: row `e · classes + j` holds d(logit j
    /// of example e)/d(layer output of example e), `((batch·classes), features)`, in the
    /// layout of [`Network::activations`]. Computed by backpropagating each one-hot logit.
    pub fn output_jacobian(&self, forward: &Forward, name: &str) -> Result<Array2<f32>> {
        let target = self.layer_index(name)?;
        let batch = forward.batch;
        let classes = forward.output().ncols();
        let features = forward.post[target].ncols();
        let mut jacobian = Array2::<f32>::zeros((batch * classes, features));
        for j in 0..classes {
            let mut gradient = Array2::<f32>::zeros((batch, classes));
            gradient.column_mut(j).fill(1.0);
            for l in (target + 1..self.layers.len()).rev() {
                let delta = self.delta_from_output_gradient(l, forward, &gradient);
                gradient = self.input_gradient(l, &delta, &self.layers[l].weight);
            }
            for e in 0..batch {
                jacobian.row_mut(e * classes + j).assign(&gradient.row(e));
            }
        }
        Ok(jacobian)
    }

    /// Index of the layer called `name`.
    pub fn layer_index(&self, name: &str) -> Result<usize> {
        self.layers
            .iter()
            .position(|layer| layer.name == name)
            .ok_or_else(|| {
                ZooError::Shape(format!(
                    "no layer named '{name}' (layers: {})",
                    self.layer_names().join(", ")
                ))
            })
    }
}

/// The error signal on a pooled layer's pre-activations: each pooled gradient routed to its
/// window's winner (the adjoint of max pooling) times f' there; every other unit gets 0.
fn unpool_through(
    gradient: &Array2<f32>,
    winners: &[u32],
    pre: &Array2<f32>,
    act: &Array2<f32>,
    activation: Activation,
) -> Array2<f32> {
    let mut out = Array2::zeros(pre.raw_dim());
    let flat = out.as_slice_mut().expect("fresh array");
    let pre = pre.as_slice().expect("standard layout");
    let act = act.as_slice().expect("standard layout");
    let examples = gradient.nrows();
    let gradient = gradient.as_standard_layout();
    let gradient = gradient.as_slice().expect("standard layout");
    // Each example's winners lie in its own rows: examples on all cores.
    let per_example_in = gradient.len() / examples.max(1);
    let per_example_out = flat.len() / examples.max(1);
    flat.par_chunks_mut(per_example_out)
        .zip(gradient.par_chunks(per_example_in))
        .zip(winners.par_chunks(per_example_in))
        .enumerate()
        .for_each(|(e, ((rows, gradient), winners))| {
            let offset = e * per_example_out;
            for (g, &at) in gradient.iter().zip(winners) {
                let at = at as usize;
                rows[at - offset] += g * activation.slope(pre[at], act[at]);
            }
        });
    out
}
