//! Credit-assignment rules. The forward pass is shared; a rule decides how the output error
//! reaches each layer and so what update each layer's weights get. One module per rule, headed
//! by the equation it implements and the paper it comes from.
//!
//! Notation: layer l computes aₗ = hₗ₋₁ Wₗᵀ + bₗ and hₗ = f(aₗ); e = ∂L/∂a_L is the output error
//! of the softmax cross-entropy; δₗ is the error signal a rule assigns to aₗ. Every rule here
//! updates weights locally from it: ΔWₗ = δₗᵀ hₗ₋₁, Δbₗ = Σ_batch δₗ.

pub mod backprop;
pub mod deep_feedback_control;
pub mod direct_feedback_alignment;
pub mod feedback_alignment;
pub mod neural_manifold_noise_correlation;
pub mod noise_correlation;
pub mod perturbation;
pub mod sign_symmetry;

use ndarray::{Array1, Array2, ArrayD, Axis};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ZooError};
use crate::network::{Forward, Network};

/// Update directions for every layer, descended by the optimizer (for backprop, the gradient).
#[derive(Debug, Clone, PartialEq)]
pub struct Updates {
    /// Per layer, shaped like its weights.
    pub weight: Vec<Array2<f32>>,
    /// Per layer, shaped like its biases.
    pub bias: Vec<Array1<f32>>,
}

impl Updates {
    /// ΔWₗ = δₗᵀ hₗ₋₁ and Δbₗ = Σ δₗ from per-layer error signals and a forward pass's inputs.
    pub fn from_deltas(forward: &Forward, deltas: &[Array2<f32>]) -> Updates {
        Updates::from_signals(&forward.inputs, deltas)
    }

    /// ΔWₗ = δₗᵀ inputsₗ and Δbₗ = Σ δₗ, for layer inputs `inputs` (`Forward::inputs` layout).
    pub fn from_signals(inputs: &[Array2<f32>], deltas: &[Array2<f32>]) -> Updates {
        Updates {
            weight: deltas
                .iter()
                .zip(inputs)
                .map(|(d, h)| d.t().dot(h))
                .collect(),
            bias: deltas.iter().map(|d| d.sum_axis(Axis(0))).collect(),
        }
    }
}

/// A credit-assignment rule.
pub trait LearningRule: Send {
    /// Which rule this is.
    fn rule(&self) -> Rule;

    /// The rule's name in configs and results (`bp`, `fa`, …).
    fn name(&self) -> &'static str {
        self.rule().name()
    }

    /// Update directions for a batch, given its forward pass and labels. `rng` is the rule's
    /// own seeded stream (for perturbation-based rules).
    fn updates(
        &mut self,
        net: &Network,
        forward: &Forward,
        labels: &[u8],
        rng: &mut ChaCha8Rng,
    ) -> Result<Updates>;

    /// The dimension of each layer's noise subspace, for rules whose perturbations are
    /// restricted to one (NMNC; per layer, in the order of the network's layers); empty for
    /// the others.
    fn noise_subspace(&self) -> Vec<usize> {
        vec![]
    }

    /// The state the rule has accumulated (learned feedback weights, running statistics, a
    /// random stream of its own), for resuming training exactly; what the rule rebuilds from
    /// its config and seed is not in it. Stateless rules return the empty state.
    fn state(&self) -> RuleState {
        RuleState::default()
    }

    /// Continues from a [`LearningRule::state`] of the same rule on the same network.
    fn restore(&mut self, state: RuleState) -> Result<()> {
        if state == RuleState::default() {
            Ok(())
        } else {
            Err(ZooError::Config(format!(
                "rule '{}' keeps no state, but a state was given",
                self.name()
            )))
        }
    }
}

/// A rule's accumulated state: named arrays (stored exactly as f64) and small values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleState {
    /// Arrays by name, e.g. `feedback.0`.
    pub arrays: Vec<(String, ArrayD<f64>)>,
    /// Counters, flags and random streams, as JSON (`null` when none).
    pub values: serde_json::Value,
}

impl RuleState {
    /// Removes and returns the array `name`, which must have `shape`.
    pub(crate) fn take(&mut self, name: &str, shape: &[usize]) -> Result<ArrayD<f64>> {
        let at = self
            .arrays
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| ZooError::Config(format!("rule state lacks '{name}'")))?;
        let (_, array) = self.arrays.swap_remove(at);
        if array.shape() != shape {
            return Err(ZooError::Shape(format!(
                "rule state '{name}' is {:?}, the network needs {shape:?}",
                array.shape()
            )));
        }
        Ok(array)
    }

    /// Reads the JSON values as `T`.
    pub(crate) fn values<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.values.clone())
            .map_err(|e| ZooError::Config(format!("rule state values: {e}")))
    }
}

/// A learning rule, known everywhere (command line, configs, presets, model names, results)
/// by the one name of its row in [`REGISTRY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// Backpropagation.
    Bp,
    /// Feedback alignment.
    Fa,
    /// Direct feedback alignment.
    Dfa,
    /// Sign-symmetric feedback.
    SignSymmetry,
    /// Node perturbation with isotropic noise.
    Nc,
    /// Node perturbation in each layer's principal activity subspace.
    Nmnc,
    /// Deep feedback control.
    Dfc,
}

/// One row of the rule registry.
struct RuleEntry {
    rule: Rule,
    name: &'static str,
    /// Time of a training step relative to backprop's on the CIFAR-10 convnet (quick preset:
    /// BP 38 s, NC with 4 pairs 125 s, DFC 170 s), for scheduling only.
    relative_cost: f64,
}

/// The rules, in the order the default run trains and lists them. Adding a rule: its module
/// (the [`LearningRule`]), a variant here, in [`Rule`] and in [`RuleConfig`] with its
/// constructor in [`RuleConfig::build`], and its keys in the presets.
const REGISTRY: [RuleEntry; 7] = [
    RuleEntry {
        rule: Rule::Bp,
        name: "bp",
        relative_cost: 1.0,
    },
    RuleEntry {
        rule: Rule::Fa,
        name: "fa",
        relative_cost: 1.0,
    },
    RuleEntry {
        rule: Rule::Dfa,
        name: "dfa",
        relative_cost: 1.0,
    },
    RuleEntry {
        rule: Rule::SignSymmetry,
        name: "ss",
        relative_cost: 1.0,
    },
    RuleEntry {
        rule: Rule::Nc,
        name: "nc",
        relative_cost: 3.3,
    },
    RuleEntry {
        rule: Rule::Nmnc,
        name: "nmnc",
        relative_cost: 3.3,
    },
    RuleEntry {
        rule: Rule::Dfc,
        name: "dfc",
        relative_cost: 4.5,
    },
];

impl Rule {
    /// Every rule, in registry order.
    pub const ALL: [Rule; 7] = [
        Rule::Bp,
        Rule::Fa,
        Rule::Dfa,
        Rule::SignSymmetry,
        Rule::Nc,
        Rule::Nmnc,
        Rule::Dfc,
    ];

    fn entry(self) -> &'static RuleEntry {
        REGISTRY
            .iter()
            .find(|e| e.rule == self)
            .expect("every rule has a registry row")
    }

    /// Its name: `bp`, `fa`, `dfa`, `ss`, `nc`, `nmnc`, `dfc`.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// Time of one of its training steps relative to backprop's (for scheduling).
    pub fn relative_cost(self) -> f64 {
        self.entry().relative_cost
    }

    /// Every rule's name, comma-separated (for messages).
    pub fn names() -> String {
        REGISTRY
            .iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Rule {
    type Err = ZooError;

    fn from_str(name: &str) -> Result<Rule> {
        REGISTRY
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.rule)
            .ok_or_else(|| {
                ZooError::Config(format!(
                    "unknown learning rule '{name}' (rules: {})",
                    Rule::names()
                ))
            })
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Rule, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A rule and its options, as configs give them (`rule: <name>` and the rule's own keys; the
/// tag of each variant is its [`Rule`] name, which a test holds to the registry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleConfig {
    /// Backpropagation.
    Bp,
    /// Feedback alignment.
    Fa,
    /// Direct feedback alignment.
    Dfa,
    /// Sign-symmetric feedback.
    #[serde(rename = "ss")]
    SignSymmetry,
    /// Node perturbation with isotropic noise.
    Nc(perturbation::PerturbationOptions),
    /// Node perturbation in each layer's principal activity subspace.
    Nmnc(neural_manifold_noise_correlation::ManifoldOptions),
    /// Deep feedback control.
    Dfc(deep_feedback_control::DfcOptions),
}

impl RuleConfig {
    /// Which rule it configures.
    pub fn rule(&self) -> Rule {
        match self {
            RuleConfig::Bp => Rule::Bp,
            RuleConfig::Fa => Rule::Fa,
            RuleConfig::Dfa => Rule::Dfa,
            RuleConfig::SignSymmetry => Rule::SignSymmetry,
            RuleConfig::Nc(_) => Rule::Nc,
            RuleConfig::Nmnc(_) => Rule::Nmnc,
            RuleConfig::Dfc(_) => Rule::Dfc,
        }
    }

    /// The rule's name (see [`Rule::name`]; also what the built rule's
    /// [`LearningRule::name`] returns).
    pub fn name(&self) -> &'static str {
        self.rule().name()
    }

    /// Builds the rule for `net`; fixed random feedback is drawn from `seed`. The options are
    /// checked here, once, so that a bad one is an error before the first step.
    pub fn build(&self, net: &Network, seed: u64) -> Result<Box<dyn LearningRule>> {
        Ok(match self {
            RuleConfig::Bp => Box::new(backprop::Backprop),
            RuleConfig::Fa => Box::new(feedback_alignment::FeedbackAlignment::new(net, seed)),
            RuleConfig::Dfa => Box::new(direct_feedback_alignment::DirectFeedbackAlignment::new(
                net, seed,
            )),
            RuleConfig::SignSymmetry => Box::new(sign_symmetry::SignSymmetry),
            RuleConfig::Nc(options) => {
                options.check()?;
                Box::new(noise_correlation::NoiseCorrelation::new(*options))
            }
            RuleConfig::Nmnc(options) => {
                options.check()?;
                Box::new(
                    neural_manifold_noise_correlation::NeuralManifoldNoiseCorrelation::new(
                        net, *options,
                    ),
                )
            }
            RuleConfig::Dfc(options) => Box::new(deep_feedback_control::DeepFeedbackControl::new(
                net, *options, seed,
            )?),
        })
    }
}

/// Propagates an output error `e` (`(batch, classes)`, e.g. ∂L/∂a_L) down the layers
/// through per-layer feedback matrices: δ_L = e, δₗ = back(δₗ₊₁ Bₗ₊₁) ⊙ f'(aₗ), where back
/// undoes the layer's im2col and pooling, and `feedback(l)` gives Bₗ, shaped like Wₗ.
pub(crate) fn propagate_error<'a>(
    net: &Network,
    forward: &Forward,
    e: Array2<f32>,
    feedback: impl Fn(usize) -> std::borrow::Cow<'a, Array2<f32>>,
) -> Vec<Array2<f32>> {
    let n = net.layers.len();
    let mut deltas = vec![Array2::zeros((0, 0)); n];
    deltas[n - 1] = e;
    for l in (0..n - 1).rev() {
        let gradient = net.input_gradient(l + 1, &deltas[l + 1], feedback(l + 1).as_ref());
        deltas[l] = net.delta_from_output_gradient(l, forward, &gradient);
    }
    deltas
}

/// [`propagate_error`] of the softmax cross-entropy's output error for `labels`.
pub(crate) fn propagate<'a>(
    net: &Network,
    forward: &Forward,
    labels: &[u8],
    feedback: impl Fn(usize) -> std::borrow::Cow<'a, Array2<f32>>,
) -> Vec<Array2<f32>> {
    let e = crate::loss::output_error(forward.output(), labels);
    propagate_error(net, forward, e, feedback)
}

/// Uniform random matrix with Glorot's bound, for fixed feedback weights.
pub(crate) fn random_feedback(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Array2<f32> {
    use rand::Rng;
    let bound = (6.0 / (rows + cols) as f32).sqrt();
    Array2::from_shape_fn((rows, cols), |_| rng.random_range(-bound..bound))
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    /// Options out of range are refused when the rule is built, before any step.
    #[test]
    fn bad_rule_options_are_refused_when_the_rule_is_built() {
        let net = Network::mlp(&[4, 3, 2], crate::Activation::Relu, 1).unwrap();
        let no_noise = perturbation::PerturbationOptions {
            perturbations: 8,
            sigma: 0.0,
        };
        let no_pairs = perturbation::PerturbationOptions {
            perturbations: 0,
            sigma: 1e-3,
        };
        let manifold = neural_manifold_noise_correlation::ManifoldOptions::default;
        let bad = [
            RuleConfig::Nc(no_noise),
            RuleConfig::Nc(no_pairs),
            RuleConfig::Nmnc(neural_manifold_noise_correlation::ManifoldOptions {
                perturbation: no_noise,
                ..manifold()
            }),
            RuleConfig::Nmnc(neural_manifold_noise_correlation::ManifoldOptions {
                subspace: neural_manifold_noise_correlation::SubspaceSize::Components(0),
                ..manifold()
            }),
            RuleConfig::Nmnc(neural_manifold_noise_correlation::ManifoldOptions {
                covariance_decay: 1.0,
                ..manifold()
            }),
            RuleConfig::Dfc(deep_feedback_control::DfcOptions {
                target_step: -1.0,
                ..Default::default()
            }),
        ];
        for config in bad {
            let err = config.build(&net, 1).err().expect("refused").to_string();
            assert!(err.contains("needs"), "{config:?}: {err}");
        }
        assert!(RuleConfig::Nmnc(manifold()).build(&net, 1).is_ok());
    }

    /// One name per rule: the registry's names are distinct, parse back to their rule, and
    /// are the tags configs use for the rule's options.
    #[test]
    fn every_rule_has_one_name_used_by_configs_and_the_command_line() {
        assert_eq!(REGISTRY.len(), Rule::ALL.len());
        for (entry, rule) in REGISTRY.iter().zip(Rule::ALL) {
            assert_eq!(
                entry.rule, rule,
                "registry and Rule::ALL list rules in one order"
            );
            assert_eq!(rule.name().parse::<Rule>().unwrap(), rule);
            assert_eq!(rule.to_string(), rule.name());
            let config: RuleConfig =
                serde_norway::from_str(&format!("rule: {}", rule.name())).unwrap();
            assert_eq!(config.rule(), rule);
            assert_eq!(config.name(), rule.name());
            let yaml = serde_norway::to_string(&rule).unwrap();
            assert_eq!(serde_norway::from_str::<Rule>(&yaml).unwrap(), rule);
        }
        let err = "sign_symmetry".parse::<Rule>().unwrap_err().to_string();
        assert!(err.contains("bp, fa, dfa, ss, nc, nmnc, dfc"), "{err}");
    }
}
