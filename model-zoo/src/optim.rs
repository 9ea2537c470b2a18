//! Optimizers that descend a rule's update directions.

use ndarray::{Array1, Array2, Zip};
use serde::{Deserialize, Serialize};

use crate::mlp::Mlp;
use crate::rules::Updates;

/// Optimizer and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// SGD with heavy-ball momentum: v ← μ v + g, w ← w - lr v.
    Sgd {
        /// Learning rate.
        lr: f32,
        /// Momentum μ.
        momentum: f32,
    },
    /// Adam (Kingma & Ba 2015) with bias correction.
    Adam {
        /// Learning rate.
        lr: f32,
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Denominator offset.
        eps: f32,
    },
}

impl OptimizerConfig {
    /// Adam with the usual defaults and this learning rate.
    pub fn adam(lr: f32) -> Self {
        OptimizerConfig::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Optimizer state for one network.
#[derive(Debug, Clone)]
pub struct Optimizer {
    config: OptimizerConfig,
    step: i32,
    first: (Vec<Array2<f32>>, Vec<Array1<f32>>),
    second: (Vec<Array2<f32>>, Vec<Array1<f32>>),
}

impl Optimizer {
    /// Zero state shaped like `net`.
    pub fn new(config: OptimizerConfig, net: &Mlp) -> Self {
        let zeros = || {
            (
                net.layers
                    .iter()
                    .map(|l| Array2::zeros(l.weight.raw_dim()))
                    .collect(),
                net.layers
                    .iter()
                    .map(|l| Array1::zeros(l.bias.raw_dim()))
                    .collect(),
            )
        };
        Self {
            config,
            step: 0,
            first: zeros(),
            second: zeros(),
        }
    }

    /// Applies one step of `updates` to `net`.
    pub fn step(&mut self, net: &mut Mlp, updates: &Updates) {
        self.step += 1;
        for (l, layer) in net.layers.iter_mut().enumerate() {
            self.apply(&mut layer.weight, &updates.weight[l], Slot::Weight(l));
            self.apply(&mut layer.bias, &updates.bias[l], Slot::Bias(l));
        }
    }

    fn apply<D: ndarray::Dimension>(
        &mut self,
        param: &mut ndarray::Array<f32, D>,
        grad: &ndarray::Array<f32, D>,
        slot: Slot,
    ) {
        let (m, v) = match slot {
            Slot::Weight(l) => (
                self.first.0[l].view_mut().into_dyn(),
                self.second.0[l].view_mut().into_dyn(),
            ),
            Slot::Bias(l) => (
                self.first.1[l].view_mut().into_dyn(),
                self.second.1[l].view_mut().into_dyn(),
            ),
        };
        let (param, grad) = (param.view_mut().into_dyn(), grad.view().into_dyn());
        match self.config {
            OptimizerConfig::Sgd { lr, momentum } => {
                Zip::from(param).and(m).and(grad).for_each(|p, m, &g| {
                    *m = momentum * *m + g;
                    *p -= lr * *m;
                });
            }
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                let c1 = 1.0 - beta1.powi(self.step);
                let c2 = 1.0 - beta2.powi(self.step);
                Zip::from(param)
                    .and(m)
                    .and(v)
                    .and(grad)
                    .for_each(|p, m, v, &g| {
                        *m = beta1 * *m + (1.0 - beta1) * g;
                        *v = beta2 * *v + (1.0 - beta2) * g * g;
                        *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                    });
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Weight(usize),
    Bias(usize),
}
