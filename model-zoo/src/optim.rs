//! Optimizers that descend a rule's update directions.

use ndarray::{Array1, Array2, Zip};
use serde::{Deserialize, Serialize};

use crate::network::Network;
use crate::rules::Updates;

/// Optimizer and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
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

/// How the learning rate changes over training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// The configured rate throughout.
    #[default]
    Constant,
    /// Cosine decay from the configured rate to `final_fraction` of it over all epochs
    /// (Loshchilov & Hutter 2017, without restarts).
    Cosine {
        /// Rate at the end as a fraction of the start.
        final_fraction: f32,
    },
}

impl LrSchedule {
    /// Multiplier of the base rate after `done` of `total` epochs.
    pub fn factor(self, done: usize, total: usize) -> f32 {
        match self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine { final_fraction } => {
                let progress = done as f32 / total.max(1) as f32;
                final_fraction
                    + (1.0 - final_fraction) * 0.5 * (1.0 + (std::f32::consts::PI * progress).cos())
            }
        }
    }
}

/// Optimizer state for one network.
#[derive(Debug, Clone)]
pub struct Optimizer {
    config: OptimizerConfig,
    lr_factor: f32,
    /// Steps taken (Adam's bias correction).
    pub(crate) step: i32,
    /// First moments (SGD: momentum), weights and biases per layer.
    pub(crate) first: Moments,
    /// Second moments (Adam), weights and biases per layer.
    pub(crate) second: Moments,
}

/// Per-layer weight and bias arrays shaped like a network's.
pub(crate) type Moments = (Vec<Array2<f32>>, Vec<Array1<f32>>);

impl Optimizer {
    /// Zero state shaped like `net`.
    pub fn new(config: OptimizerConfig, net: &Network) -> Self {
        let weights: Vec<&Array2<f32>> = net.layers.iter().map(|l| &l.weight).collect();
        let biases: Vec<&Array1<f32>> = net.layers.iter().map(|l| &l.bias).collect();
        Self::for_parameters(config, &weights, &biases)
    }

    /// Zero state shaped like these weight and bias arrays (one of each per layer).
    pub fn for_parameters(
        config: OptimizerConfig,
        weights: &[&Array2<f32>],
        biases: &[&Array1<f32>],
    ) -> Self {
        let zeros = || {
            (
                weights.iter().map(|w| Array2::zeros(w.raw_dim())).collect(),
                biases.iter().map(|b| Array1::zeros(b.raw_dim())).collect(),
            )
        };
        Self {
            config,
            lr_factor: 1.0,
            step: 0,
            first: zeros(),
            second: zeros(),
        }
    }

    /// Scales the configured learning rate by `factor` from now on.
    pub fn set_lr_factor(&mut self, factor: f32) {
        self.lr_factor = factor;
    }

    /// Applies one step of `updates` to `net`.
    pub fn step(&mut self, net: &mut Network, updates: &Updates) {
        self.step_parameters(
            net.layers
                .iter_mut()
                .map(|layer| (&mut layer.weight, &mut layer.bias)),
            updates,
        );
    }

    /// Applies one step of `updates` to the (weight, bias) pairs this optimizer was shaped
    /// for ([`Optimizer::for_parameters`]), in the same order.
    pub fn step_parameters<'a>(
        &mut self,
        parameters: impl Iterator<Item = (&'a mut Array2<f32>, &'a mut Array1<f32>)>,
        updates: &Updates,
    ) {
        self.step += 1;
        for (l, (weight, bias)) in parameters.enumerate() {
            self.apply(weight, &updates.weight[l], Slot::Weight(l));
            self.apply(bias, &updates.bias[l], Slot::Bias(l));
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
                let lr = lr * self.lr_factor;
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
                let lr = lr * self.lr_factor;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_schedule_starts_at_one_and_decays_to_its_floor() {
        let s = LrSchedule::Cosine {
            final_fraction: 0.01,
        };
        assert_eq!(s.factor(0, 40), 1.0);
        assert!((s.factor(20, 40) - 0.505).abs() < 1e-6);
        assert!((s.factor(40, 40) - 0.01).abs() < 1e-6);
        assert!((1..40).all(|e| s.factor(e, 40) < s.factor(e - 1, 40)));
        assert_eq!(LrSchedule::Constant.factor(39, 40), 1.0);
    }
}

#[cfg(test)]
mod step_tests {
    use super::*;
    use crate::activation::Activation;

    /// The change one step makes to the first weight, for a given rate factor.
    fn first_step(config: OptimizerConfig, factor: f32) -> f32 {
        let mut net = Network::mlp(&[3, 2], Activation::Identity, 1).unwrap();
        let before = net.layers[0].weight[[0, 0]];
        let updates = Updates {
            weight: vec![Array2::from_elem((2, 3), 0.5)],
            bias: vec![Array1::from_elem(2, 0.5)],
        };
        let mut optimizer = Optimizer::new(config, &net);
        optimizer.set_lr_factor(factor);
        optimizer.step(&mut net, &updates);
        net.layers[0].weight[[0, 0]] - before
    }

    #[test]
    fn both_optimizers_scale_their_step_by_the_schedule_factor() {
        for config in [
            OptimizerConfig::Sgd {
                lr: 0.1,
                momentum: 0.9,
            },
            OptimizerConfig::adam(0.1),
        ] {
            let (full, half) = (first_step(config, 1.0), first_step(config, 0.5));
            assert!(full < 0.0, "{config:?} descends");
            assert!(
                (half - 0.5 * full).abs() < 1e-6,
                "{config:?}: {half} vs {full}"
            );
            assert_eq!(first_step(config, 0.0), 0.0);
        }
    }
}
