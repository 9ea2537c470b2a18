//! Fully connected networks: named dense layers, a forward pass that keeps what learning rules
//! need, and nothing that knows about any rule.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::activation::Activation;
use crate::error::{Result, ZooError};

/// One dense layer: `a = h_in Wᵀ + b`, `h = f(a)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseLayer {
    /// Name used to request its activations, e.g. `fc1`.
    pub name: String,
    /// Weights, `(out, in)`.
    pub weight: Array2<f32>,
    /// Biases, `(out)`.
    pub bias: Array1<f32>,
    /// Nonlinearity.
    pub activation: Activation,
}

/// A multilayer perceptron.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// Layers from input to output.
    pub layers: Vec<DenseLayer>,
}

/// What a forward pass leaves for a learning rule.
#[derive(Debug, Clone)]
pub struct Forward {
    /// `inputs[l]`: the input to layer l, `(batch, in_l)`; `inputs[0]` is the network input.
    pub inputs: Vec<Array2<f32>>,
    /// `pre[l]`: pre-activations of layer l, `(batch, out_l)`.
    pub pre: Vec<Array2<f32>>,
    /// `post[l]`: activations f(pre[l]); the last is the output (logits).
    pub post: Vec<Array2<f32>>,
}

impl Forward {
    /// The network output (logits), `(batch, classes)`.
    pub fn output(&self) -> &Array2<f32> {
        self.post.last().expect("at least one layer")
    }
}

impl Mlp {
    /// Layers of the given sizes (`[784, 256, 256, 256, 10]`), `hidden` nonlinearity between
    /// them and none on the output, named `fc1` … `fcN`. Weights are drawn uniformly with
    /// Glorot's bound sqrt(6 / (in + out)) (He's, sqrt(6 / in), for ReLU); biases start at 0.
    pub fn new(sizes: &[usize], hidden: Activation, seed: u64) -> Result<Mlp> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(ZooError::Config(format!(
                "layer sizes {sizes:?} must be at least two positive numbers"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(l, w)| {
                let (n_in, n_out) = (w[0], w[1]);
                let is_output = l == sizes.len() - 2;
                let bound = match (hidden, is_output) {
                    (Activation::Relu, false) => (6.0 / n_in as f32).sqrt(),
                    _ => (6.0 / (n_in + n_out) as f32).sqrt(),
                };
                DenseLayer {
                    name: format!("fc{}", l + 1),
                    weight: Array2::from_shape_fn((n_out, n_in), |_| {
                        rng.random_range(-bound..bound)
                    }),
                    bias: Array1::zeros(n_out),
                    activation: if is_output {
                        Activation::Identity
                    } else {
                        hidden
                    },
                }
            })
            .collect();
        Ok(Mlp { layers })
    }

    /// Number of input features.
    pub fn n_inputs(&self) -> usize {
        self.layers[0].weight.ncols()
    }

    /// Forward pass over a `(batch, inputs)` matrix.
    pub fn forward(&self, x: ArrayView2<f32>) -> Result<Forward> {
        self.forward_perturbed(x, None)
    }

    /// Forward pass with `perturbations[l]` added to the pre-activations of layer l before its
    /// nonlinearity (activity noise, for perturbation-based rules).
    pub fn forward_perturbed(
        &self,
        x: ArrayView2<f32>,
        perturbations: Option<&[Array2<f32>]>,
    ) -> Result<Forward> {
        if x.ncols() != self.n_inputs() {
            return Err(ZooError::Shape(format!(
                "the network takes {} inputs, got {}",
                self.n_inputs(),
                x.ncols()
            )));
        }
        let mut inputs = Vec::with_capacity(self.layers.len());
        let mut pre = Vec::with_capacity(self.layers.len());
        let mut post = Vec::with_capacity(self.layers.len());
        let mut h = x.to_owned();
        for (l, layer) in self.layers.iter().enumerate() {
            let mut a = h.dot(&layer.weight.t()) + layer.bias.view().insert_axis(Axis(0));
            if let Some(noise) = perturbations {
                a += &noise[l];
            }
            let out = layer.activation.apply(&a);
            inputs.push(h);
            pre.push(a);
            h = out.clone();
            post.push(out);
        }
        Ok(Forward { inputs, pre, post })
    }

    /// Activations of the named layers, `(batch, units)` each, in the order asked.
    pub fn activations(
        &self,
        x: ArrayView2<f32>,
        names: &[&str],
    ) -> Result<Vec<(String, Array2<f32>)>> {
        let forward = self.forward(x)?;
        names
            .iter()
            .map(|name| {
                let l = self
                    .layers
                    .iter()
                    .position(|layer| layer.name == *name)
                    .ok_or_else(|| {
                        ZooError::Shape(format!(
                            "no layer named '{name}' (layers: {})",
                            self.layers
                                .iter()
                                .map(|l| l.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                Ok((name.to_string(), forward.post[l].clone()))
            })
            .collect()
    }
}
