//! Elementwise nonlinearities and their derivatives.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// A layer's nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// tanh.
    Tanh,
    /// max(0, x).
    Relu,
    /// No nonlinearity (the output layer, whose softmax is part of the loss).
    Identity,
}

impl Activation {
    /// f(a) for a matrix of pre-activations.
    pub fn apply(self, pre: &Array2<f32>) -> Array2<f32> {
        match self {
            Activation::Tanh => pre.mapv(f32::tanh),
            Activation::Relu => pre.mapv(|v| v.max(0.0)),
            Activation::Identity => pre.clone(),
        }
    }

    /// f'(a), given the pre-activations `pre` and the activations `post` = f(pre).
    pub fn derivative(self, pre: &Array2<f32>, post: &Array2<f32>) -> Array2<f32> {
        match self {
            Activation::Tanh => post.mapv(|h| 1.0 - h * h),
            Activation::Relu => pre.mapv(|a| if a > 0.0 { 1.0 } else { 0.0 }),
            Activation::Identity => Array2::ones(pre.raw_dim()),
        }
    }
}
