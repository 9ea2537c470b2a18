//! The zoo's architectures as configs name them, and how each is built for a dataset.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::Result;
use crate::network::Network;

/// One convolutional stage: a valid k×k convolution, the nonlinearity, 2×2 max pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvStage {
    /// Output channels.
    pub channels: usize,
    /// Kernel size.
    pub kernel: usize,
    /// Zeros on every side of the input (0: valid; (kernel - 1) / 2: same size).
    #[serde(default)]
    pub padding: usize,
}

/// Network family; the hidden dense sizes and the nonlinearity live beside it in the config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "snake_case", deny_unknown_fields)]
pub enum Architecture {
    /// Dense layers only (`fc1` … on flattened images).
    #[default]
    Mlp,
    /// Convolutional stages (`conv1` …) then dense layers (`fc1` …).
    Cnn {
        /// The stages, input to output.
        stages: Vec<ConvStage>,
    },
}

impl Architecture {
    /// The small CNN of the zoo: conv 5×5×32 – pool – conv 5×5×64 – pool (then the dense
    /// layers of the config, fc 256 – fc 10 by default).
    pub fn small_cnn() -> Architecture {
        Architecture::Cnn {
            stages: vec![
                ConvStage {
                    channels: 32,
                    kernel: 5,
                    padding: 0,
                },
                ConvStage {
                    channels: 64,
                    kernel: 5,
                    padding: 0,
                },
            ],
        }
    }

    /// `mlp` or `cnn`, as on the command line and in results.
    pub fn name(&self) -> &'static str {
        match self {
            Architecture::Mlp => "mlp",
            Architecture::Cnn { .. } => "cnn",
        }
    }

    /// The network for `(height, width, channels)` images and `classes` outputs, with
    /// `hidden` dense layers before the output.
    pub fn build(
        &self,
        image: (usize, usize, usize),
        hidden: &[usize],
        classes: usize,
        activation: Activation,
        seed: u64,
    ) -> Result<Network> {
        let mut dense = hidden.to_vec();
        dense.push(classes);
        match self {
            Architecture::Mlp => {
                let mut sizes = vec![image.0 * image.1 * image.2];
                sizes.extend(dense);
                Network::mlp(&sizes, activation, seed)
            }
            Architecture::Cnn { stages } => {
                let convs: Vec<(usize, usize, usize)> = stages
                    .iter()
                    .map(|s| (s.channels, s.kernel, s.padding))
                    .collect();
                Network::padded_cnn(image, &convs, &dense, activation, seed)
            }
        }
    }
}
