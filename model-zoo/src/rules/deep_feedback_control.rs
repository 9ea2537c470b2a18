//! Deep feedback control, DFC (Meulemans, Tristany Farinha, García Ordóñez, Vilimelis Aceituno,
//! Sacramento & Grewe 2021, NeurIPS; arXiv 2106.07887).
//!
//! A controller watches the output and drives every layer through feedback weights Qᵢ
//! (`(unitsᵢ, classes)`) until the output reaches a nudged target r_L* = r_L⁻ − λ ∂L/∂r_L.
//! Each unit has a basal input vᵢᶠᶠ = Wᵢ rᵢ₋₁ + bᵢ and a somatic voltage vᵢ; the network and the
//! PI controller evolve as
//!
//! ```text
//! τ_v dvᵢ/dt = −vᵢ + Wᵢ rᵢ₋₁ + bᵢ + Qᵢ u,        rᵢ = φ(vᵢ)
//! e = r_L* − r_L,   u = u_int + k_p e,   τ_u du_int/dt = e − α u_int
//! ```
//!
//! and the weights learn locally from the somatic–basal difference (the paper's eq. 5):
//! ΔWᵢ ∝ (φ(vᵢ) − φ(vᵢᶠᶠ)) rᵢ₋₁ᵀ at the controlled state. This module descends
//! −(φ(vᵢ) − φ(vᵢᶠᶠ)) / λ, which for small λ and suitable Q approaches a Gauss–Newton step.
//!
//! Two ways to reach the controlled state:
//! - [`Dynamics::SteadyState`] (DFC-SS): linearise the network around its feedforward pass,
//!   where the steady state satisfies Δvᵢ = Qᵢ u with u = (JQ + α̃ I)⁻¹ (−λ ∂L/∂r_L),
//!   J = [∂r_L/∂v₁ … ∂r_L/∂v_L] and α̃ = α / (1 + k_p α); solve that small system per example
//!   (LAPACK through ndarray-linalg), then run the network with Qᵢ u added to its voltages.
//! - [`Dynamics::Simulated`]: integrate the equations above with forward Euler steps from the
//!   feedforward state and use the final state.
//!
//! The feedback weights are fixed random matrices ([`FeedbackWeights::Fixed`]) or learned as in
//! the paper ([`FeedbackWeights::Trained`], its eq. 13): with noise ε of variance σ² in the
//! somatic voltages and no output target, the controller fights the noise, and
//! τ_Q dQᵢ/dt = −σ⁻² vᵢᴬ uᵀ − β Qᵢ with the apical voltage vᵢᴬ = vᵢ − vᵢᶠᶠ = Qᵢ u + εᵢ. Here the
//! noisy controlled state is taken at its linearised steady state, the update is by default
//! its expectation over the noise ([`FeedbackNoise`]), and one such update follows every
//! training step (after `pretrain_steps` of feedback learning alone on the first batch).
//! Its fixed points put the column space of Q in the row space of J (the paper's Condition 2).

use std::borrow::Cow;

use ndarray::{Array2, Array3, Axis, s};
use ndarray_linalg::{Eig, Inverse, Solve};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{LearningRule, RuleState, Updates, propagate_error, random_feedback};
use crate::error::{Result, ZooError};
use crate::loss::output_error;
use crate::network::{Forward, Network};

/// How the controlled state is found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dynamics {
    /// DFC-SS: the linearised steady state, solved directly.
    SteadyState,
    /// Forward-Euler integration of the network and controller dynamics.
    Simulated {
        /// Euler steps.
        steps: usize,
        /// Step size in units of τ_v.
        dt: f32,
        /// Controller time constant τ_u in units of τ_v.
        tau_u: f32,
    },
}

/// Whether and how the feedback weights Q learn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeedbackWeights {
    /// Q stays at its random initialisation.
    Fixed,
    /// Q follows the paper's feedback learning rule.
    Trained {
        /// SGD learning rate of Q.
        lr: f32,
        /// Sampled noise, or the rule's expectation over it.
        noise: FeedbackNoise,
        /// Weight decay β.
        decay: f32,
        /// Leak α of the controller while Q learns (a larger leak keeps the noisy controlled
        /// network stable while Q is still far from the Jacobian's row space).
        alpha: f32,
        /// Feedback-only updates on the first batch before the first forward update.
        pretrain_steps: usize,
    },
}

/// How the feedback rule meets the noise it learns from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeedbackNoise {
    /// The update's expectation over the noise, E[−σ⁻² vᴬ uᵀ] = Gᵀ − Q G Gᵀ per example with
    /// G = (JQ + α̃ I)⁻¹ J: the same fixed points without sampling error, which otherwise
    /// random-walks Q off the Jacobian's row space over tens of thousands of steps (measured:
    /// with sampled noise the hidden-layer alignment of a 40-epoch run fell from 0.78 to 0.5 by
    /// epoch 26 and the controller lost stability at epoch 28).
    Expected,
    /// One draw of Gaussian noise with this standard deviation σ per example and step.
    Sampled {
        /// σ.
        sigma: f32,
    },
}

/// DFC options.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DfcOptions {
    /// λ, the step from the output towards lower loss that the controller enforces.
    pub target_step: f32,
    /// α, the leak of the integral controller (regularises JQ + α̃ I).
    pub alpha: f32,
    /// k_p, the proportional gain.
    pub proportional_gain: f32,
    /// Steady state or simulated dynamics.
    pub dynamics: Dynamics,
    /// Fixed or learned feedback weights.
    pub feedback: FeedbackWeights,
}

impl Default for DfcOptions {
    fn default() -> Self {
        DfcOptions {
            target_step: 0.01,
            alpha: 0.01,
            proportional_gain: 1.0,
            dynamics: Dynamics::SteadyState,
            feedback: FeedbackWeights::Trained {
                lr: 1e-3,
                noise: FeedbackNoise::Expected,
                decay: 0.01,
                alpha: 0.1,
                pretrain_steps: 300,
            },
        }
    }
}

impl DfcOptions {
    fn check(&self) -> Result<()> {
        let positive = |v: f32| v.is_finite() && v > 0.0;
        let valid = positive(self.target_step)
            && positive(self.alpha)
            && self.proportional_gain.is_finite()
            && self.proportional_gain >= 0.0
            && match self.dynamics {
                Dynamics::SteadyState => true,
                Dynamics::Simulated { steps, dt, tau_u } => {
                    steps > 0 && positive(dt) && positive(tau_u)
                }
            }
            && match self.feedback {
                FeedbackWeights::Fixed => true,
                FeedbackWeights::Trained {
                    lr,
                    noise,
                    decay,
                    alpha,
                    ..
                } => {
                    positive(lr)
                        && match noise {
                            FeedbackNoise::Expected => true,
                            FeedbackNoise::Sampled { sigma } => positive(sigma),
                        }
                        && positive(alpha)
                        && decay.is_finite()
                        && decay >= 0.0
                }
            };
        if valid {
            Ok(())
        } else {
            Err(ZooError::Config(format!(
                "DFC needs positive target_step, alpha, step sizes and noise, and non-negative gain and decay: {self:?}"
            )))
        }
    }

    /// α̃ = α / (1 + k_p α), the effective leak of the PI controller at steady state.
    /// Whether feedback learning uses the expectation over its noise, the one step that reads
    /// each example's J Jᵀ.
    fn needs_row_products(&self) -> bool {
        matches!(
            self.feedback,
            FeedbackWeights::Trained {
                noise: FeedbackNoise::Expected,
                ..
            }
        )
    }

    fn effective_alpha(&self) -> f32 {
        self.alpha / (1.0 + self.proportional_gain * self.alpha)
    }
}

/// DFC with its feedback weights.
#[derive(Debug, Clone)]
pub struct DeepFeedbackControl {
    options: DfcOptions,
    /// `feedback[i]`: Qᵢ, `(pre-activation units of layer i, classes)`.
    feedback: Vec<Array2<f32>>,
    noise_rng: ChaCha8Rng,
    pretrained: bool,
}

impl DeepFeedbackControl {
    /// Random feedback weights for `net`, drawn from `seed`: Glorot-scaled when fixed; when
    /// learned, a hundred times smaller, so that the controlled network starts stable (JQ ≈ 0)
    /// and Q grows along the Jacobian's row space.
    /// Errors on options out of range (non-positive step sizes or noise, negative gain or
    /// decay).
    pub fn new(net: &Network, options: DfcOptions, seed: u64) -> Result<Self> {
        options.check()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let classes = net.layers.last().expect("a layer").weight.nrows();
        let scale = match options.feedback {
            FeedbackWeights::Fixed => 1.0,
            FeedbackWeights::Trained { .. } => 0.01,
        };
        let feedback = net
            .layers
            .iter()
            .map(|l| random_feedback(l.pre_units(), classes, &mut rng) * scale)
            .collect();
        Ok(DeepFeedbackControl {
            options,
            feedback,
            noise_rng: ChaCha8Rng::seed_from_u64(seed.wrapping_add(1)),
            pretrained: false,
        })
    }

    /// The feedback weights Qᵢ, one `(units, classes)` matrix per layer.
    pub fn feedback_weights(&self) -> &[Array2<f32>] {
        &self.feedback
    }

    /// One feedback-learning update of Q on this batch (see the module documentation); a no-op
    /// for fixed feedback.
    pub fn learn_feedback(&mut self, net: &Network, forward: &Forward) -> Result<()> {
        let jacobian = Jacobian::of(net, forward, self.options.needs_row_products());
        self.learn_feedback_with(&jacobian)
    }

    fn learn_feedback_with(&mut self, jacobian: &Jacobian) -> Result<()> {
        let FeedbackWeights::Trained {
            lr,
            noise,
            decay,
            alpha,
            ..
        } = self.options.feedback
        else {
            return Ok(());
        };
        let effective = alpha / (1.0 + self.options.proportional_gain * alpha);
        let jq = controlled_gain(&jacobian.rows, &self.feedback);
        let gradients = match noise {
            FeedbackNoise::Expected => {
                expected_feedback_gradients(jacobian, &self.feedback, &jq, effective)?
            }
            FeedbackNoise::Sampled { sigma } => {
                self.sampled_feedback_gradients(&jacobian.rows, &jq, effective, sigma)?
            }
        };
        for (q, gradient) in self.feedback.iter_mut().zip(gradients) {
            let gradient = gradient + &*q * decay;
            q.scaled_add(-lr, &gradient);
        }
        if self
            .feedback
            .iter()
            .any(|q| q.iter().any(|v| !v.is_finite()))
        {
            return Err(ZooError::Diverged(
                "DFC feedback weights became non-finite; lower the feedback learning rate".into(),
            ));
        }
        Ok(())
    }

    /// σ⁻² vᴬ uᵀ averaged over the batch, for one draw of somatic noise ε per example; unstable
    /// examples (u = 0) pull Q back to stability instead (see [`restore_stability`]).
    fn sampled_feedback_gradients(
        &mut self,
        jacobian: &[Vec<Array2<f32>>],
        jq: &Array3<f32>,
        alpha: f32,
        sigma: f32,
    ) -> Result<Vec<Array2<f32>>> {
        let batch = jq.dim().0;
        let normal = Normal::new(0.0f32, sigma).expect("sigma checked positive");
        let noise: Vec<Array2<f32>> = self
            .feedback
            .iter()
            .map(|q| {
                Array2::from_shape_simple_fn((batch, q.nrows()), || {
                    normal.sample(&mut self.noise_rng)
                })
            })
            .collect();
        // The noise's effect on the output, J ε, which the controller opposes.
        let mut output_shift = Array2::<f32>::zeros((batch, jq.dim().1));
        for (k, rows) in jacobian.iter().enumerate() {
            for (j, eps) in rows.iter().zip(&noise) {
                let shift = (j * eps).sum_axis(Axis(1));
                output_shift.column_mut(k).scaled_add(1.0, &shift);
            }
        }
        let u = solve_controls(jq, &(-output_shift), alpha)?;
        let unstable = (0..batch)
            .filter_map(|b| match stable_gain(jq, b, alpha) {
                Ok(Some(_)) => None,
                Ok(None) => Some(Ok(b)),
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<Vec<usize>>>()?;
        let pulls = restore_stability(jacobian, &self.feedback, &unstable, alpha, batch);
        let scale = 1.0 / (sigma * sigma * batch as f32);
        Ok(self
            .feedback
            .iter()
            .zip(&noise)
            .zip(pulls)
            .map(|((q, eps), pull)| {
                let apical = u.dot(&q.t()) + eps;
                apical.t().dot(&u) * scale + pull
            })
            .collect())
    }

    /// The controller's feedback to every layer's voltages, `Qᵢ u`, in the `pre` layout.
    fn feedback_to_layers(&self, net: &Network, u: &Array2<f32>) -> Vec<Array2<f32>> {
        self.feedback
            .iter()
            .enumerate()
            .map(|(l, q)| net.to_pre_layout(l, u.dot(&q.t())))
            .collect()
    }

    /// The linearised steady state: the feedback `Qᵢ u` to every layer.
    fn steady_state_feedback(
        &self,
        net: &Network,
        jacobian: &[Vec<Array2<f32>>],
        target_shift: &Array2<f32>,
    ) -> Result<Vec<Array2<f32>>> {
        let jq = controlled_gain(jacobian, &self.feedback);
        let u = solve_controls(&jq, target_shift, self.options.effective_alpha())?;
        Ok(self.feedback_to_layers(net, &u))
    }

    /// Euler integration of network and controller; returns each layer's final somatic
    /// voltages, basal drive and matrix input.
    fn simulate(
        &self,
        net: &Network,
        forward: &Forward,
        target_shift: &Array2<f32>,
        steps: usize,
        dt: f32,
        tau_u: f32,
    ) -> Result<ControlledState> {
        let target = forward.output() + target_shift;
        let mut voltages = forward.pre.clone();
        let mut integral = Array2::<f32>::zeros(target.raw_dim());
        for _ in 0..steps {
            let state = self.basal_state(net, forward, &voltages);
            let error = &target - state.outputs.last().expect("a layer");
            let u = &integral + &(&error * self.options.proportional_gain);
            for ((v, basal), fb) in voltages
                .iter_mut()
                .zip(&state.basal)
                .zip(self.feedback_to_layers(net, &u))
            {
                let drift = basal + &fb - &*v;
                v.scaled_add(dt, &drift);
            }
            let leak = &error - &(&integral * self.options.alpha);
            integral.scaled_add(dt / tau_u, &leak);
            if voltages.iter().any(|v| v.iter().any(|x| !x.is_finite())) {
                return Err(ZooError::Diverged(
                    "DFC controller dynamics diverged; use a smaller dt or trained feedback".into(),
                ));
            }
        }
        let state = self.basal_state(net, forward, &voltages);
        Ok(ControlledState {
            voltages,
            basal: state.basal,
            inputs: state.inputs,
        })
    }

    /// Every layer's rates from its voltages, and the basal drive and matrix input those rates
    /// give the layer above.
    fn basal_state(&self, net: &Network, forward: &Forward, voltages: &[Array2<f32>]) -> Basal {
        let mut basal = Vec::with_capacity(voltages.len());
        let mut inputs = Vec::with_capacity(voltages.len());
        let mut outputs = Vec::with_capacity(voltages.len());
        let mut below = forward.x.clone();
        for (l, v) in voltages.iter().enumerate() {
            let (input, drive) = net.drive(l, below.view());
            let rates = net.layers[l].activation.apply(v);
            let (out, _) = net.layer_output(l, &rates, forward.batch);
            basal.push(drive);
            inputs.push(input);
            below = out.clone();
            outputs.push(out);
        }
        Basal {
            basal,
            inputs,
            outputs,
        }
    }
}

struct Basal {
    basal: Vec<Array2<f32>>,
    inputs: Vec<Array2<f32>>,
    outputs: Vec<Array2<f32>>,
}

struct ControlledState {
    voltages: Vec<Array2<f32>>,
    basal: Vec<Array2<f32>>,
    inputs: Vec<Array2<f32>>,
}

/// The Jacobian of a batch, and each example's J_b J_bᵀ (summed over layers), which feedback
/// learning needs at every one of its steps on the same batch.
struct Jacobian {
    rows: Vec<Vec<Array2<f32>>>,
    /// `(classes, classes)` per example.
    row_products: Vec<Array2<f32>>,
}

impl Jacobian {
    /// The rows, and the row products when `products` (only the expected feedback gradient
    /// reads them).
    fn of(net: &Network, forward: &Forward, products: bool) -> Jacobian {
        let rows = jacobian_rows(net, forward);
        let row_products = if products {
            row_products(&rows)
        } else {
            vec![]
        };
        Jacobian { rows, row_products }
    }
}

/// Each example's J_b J_bᵀ = Σᵢ Jᵢ,b Jᵢ,bᵀ from dot products of Jacobian rows; examples on all
/// cores.
fn row_products(rows: &[Vec<Array2<f32>>]) -> Vec<Array2<f32>> {
    let classes = rows.len();
    let batch = rows[0][0].nrows();
    (0..batch)
        .into_par_iter()
        .map(|b| {
            let mut jjt = Array2::<f32>::zeros((classes, classes));
            for (k, row_k) in rows.iter().enumerate() {
                for (k2, row_k2) in rows.iter().enumerate().skip(k) {
                    let v: f32 = row_k
                        .iter()
                        .zip(row_k2)
                        .map(|(a, c)| a.row(b).dot(&c.row(b)))
                        .sum();
                    jjt[[k, k2]] = v;
                    jjt[[k2, k]] = v;
                }
            }
            jjt
        })
        .collect()
}

/// Rows of every layer's Jacobian ∂r_L/∂vᵢ at the feedforward state: `rows[k][i]` is
/// `(batch, unitsᵢ)`, row k of each example's Jᵢ (backprop of the k-th unit output error).
fn jacobian_rows(net: &Network, forward: &Forward) -> Vec<Vec<Array2<f32>>> {
    let classes = forward.output().ncols();
    (0..classes)
        .map(|k| {
            let mut e = Array2::zeros((forward.batch, classes));
            e.column_mut(k).fill(1.0);
            propagate_error(net, forward, e, |l| Cow::Borrowed(&net.layers[l].weight))
                .into_iter()
                .enumerate()
                .map(|(l, d)| net.to_per_example(l, d))
                .collect()
        })
        .collect()
}

/// Each example's JQ = Σᵢ Jᵢ Qᵢ, `(batch, classes, classes)`.
fn controlled_gain(jacobian: &[Vec<Array2<f32>>], feedback: &[Array2<f32>]) -> Array3<f32> {
    let classes = jacobian.len();
    let batch = jacobian[0][0].nrows();
    let mut jq = Array3::zeros((batch, classes, classes));
    for (k, rows) in jacobian.iter().enumerate() {
        let mut row_k = Array2::<f32>::zeros((batch, classes));
        for (j, q) in rows.iter().zip(feedback) {
            row_k += &j.dot(q);
        }
        jq.slice_mut(s![.., k, ..]).assign(&row_k);
    }
    jq
}

/// The expectation over somatic noise of σ⁻² vᴬ uᵀ, batch-averaged: Q G Gᵀ − Gᵀ with
/// G_b = (J_b Q + α I)⁻¹ J_b, from u = −G ε and vᴬ = Q u + ε. An example whose controller is
/// unstable (see [`stable_gain`]) has no steady state to take the expectation at; it takes
/// G_b = J_b / α instead, the gain where J_b Q ≈ 0, and contributes only its −G_bᵀ part (see
/// [`restore_stability`]).
fn expected_feedback_gradients(
    jacobian: &Jacobian,
    feedback: &[Array2<f32>],
    jq: &Array3<f32>,
    alpha: f32,
) -> Result<Vec<Array2<f32>>> {
    let (batch, classes, _) = jq.dim();
    // inverse[b] = (J_b Q + α I)⁻¹, zero for unstable examples.
    let mut inverse = Array3::<f32>::zeros((batch, classes, classes));
    let mut unstable = Vec::new();
    for b in 0..batch {
        match stable_gain(jq, b, alpha)? {
            Some(a) => {
                let inv = a
                    .inv()
                    .map_err(|e| ZooError::Diverged(format!("DFC controller gain: {e}")))?;
                inverse
                    .slice_mut(s![b, .., ..])
                    .assign(&inv.mapv(|v| v as f32));
            }
            None => unstable.push(b),
        }
    }
    // Σ_b G_b G_bᵀ = Σ_b A_b⁻¹ (J_b J_bᵀ) A_b⁻ᵀ over the stable examples.
    let mut g_gt = Array2::<f32>::zeros((classes, classes));
    for (b, jjt) in jacobian.row_products.iter().enumerate() {
        let inv = inverse.slice(s![b, .., ..]);
        g_gt += &inv.dot(jjt).dot(&inv.t());
    }
    // Σ_b G_bᵀ = Σ_k (rows k of every example's J)ᵀ · C_k with C_k[b, j] = (A_b⁻¹)[j, k]: one
    // GEMM per class and layer.
    let columns: Vec<Array2<f32>> = (0..classes)
        .map(|k| inverse.slice(s![.., .., k]).to_owned())
        .collect();
    // Averages over the stable examples, as the expectation is theirs.
    let n = (batch - unstable.len()).max(1) as f32;
    g_gt /= n;
    let pulls = restore_stability(&jacobian.rows, feedback, &unstable, alpha, batch);
    Ok(feedback
        .iter()
        .zip(pulls)
        .enumerate()
        .map(|(layer, (q, pull))| {
            let mut sum = Array2::<f32>::zeros(q.raw_dim());
            for (k, c_k) in columns.iter().enumerate() {
                ndarray::linalg::general_mat_mul(
                    1.0,
                    &jacobian.rows[k][layer].t(),
                    c_k,
                    1.0,
                    &mut sum,
                );
            }
            q.dot(&g_gt) - sum / n + pull
        })
        .collect())
}

/// The feedback-learning pull of the unstable examples `unstable` when they are more than half
/// of the batch's `n`: −Σ_b J_bᵀ / (α n) per layer, the −G_bᵀ term of the expected gradient at
/// J_b Q ≈ 0, where Q starts learning. Descending it adds a multiple of J_b J_bᵀ ≻ 0 to J_b Q,
/// which moves J_b Q's eigenvalues to the right until the example's controller is stable
/// again. Without it, a network whose examples had all turned unstable stopped learning
/// altogether: no update to W, and none to Q but its decay (the standard CIFAR-10 preset,
/// epoch 18). With fewer unstable examples, the stable ones keep Q learning, and the pull is
/// left out: applied to every unstable example, it outweighed them and pulled Q off the
/// Jacobian's row space (the quick CIFAR-10 preset: update alignment 0.88 → 0.56, test
/// accuracy 49.4 % → 44.6 %).
fn restore_stability(
    jacobian: &[Vec<Array2<f32>>],
    feedback: &[Array2<f32>],
    unstable: &[usize],
    alpha: f32,
    n: usize,
) -> Vec<Array2<f32>> {
    let scale = -1.0 / (alpha * n as f32);
    let recovering = 2 * unstable.len() > n;
    feedback
        .iter()
        .enumerate()
        .map(|(layer, q)| {
            let mut pull = Array2::<f32>::zeros(q.raw_dim());
            if !recovering {
                return pull;
            }
            for (k, rows) in jacobian.iter().enumerate() {
                let mut column = pull.column_mut(k);
                for &b in unstable {
                    column.scaled_add(scale, &rows[layer].row(b));
                }
            }
            pull
        })
        .collect()
}

/// JQ_b + α I in f64, or `None` when an eigenvalue has a real part below α/2: no stable steady
/// state, or one so close to losing stability that the control (the inverse gain times the
/// error) is huge. Without the margin, one such example's update destroyed a network that had
/// trained for 15 epochs.
fn stable_gain(jq: &Array3<f32>, b: usize, alpha: f32) -> Result<Option<Array2<f64>>> {
    let classes = jq.dim().1;
    let mut a = jq.slice(s![b, .., ..]).mapv(f64::from);
    for d in 0..classes {
        a[[d, d]] += f64::from(alpha);
    }
    let (eigenvalues, _) = a
        .eig()
        .map_err(|e| ZooError::Diverged(format!("DFC controller gain: {e}")))?;
    let margin = 0.5 * f64::from(alpha);
    if eigenvalues.iter().any(|l| l.re.is_nan() || l.re < margin) {
        return Ok(None);
    }
    Ok(Some(a))
}

/// Solves (JQ_b + α I) u_b = rhs_b for every example b (in f64). An example whose
/// controlled dynamics are unstable or nearly so (see [`stable_gain`]) has no steady state for
/// the controller to settle in: it gets u_b = 0 (no feedback, no update) instead of the huge,
/// meaningless solution of the linear system.
fn solve_controls(jq: &Array3<f32>, rhs: &Array2<f32>, alpha: f32) -> Result<Array2<f32>> {
    let (batch, classes, _) = jq.dim();
    let mut u = Array2::zeros((batch, classes));
    for b in 0..batch {
        let Some(a) = stable_gain(jq, b, alpha)? else {
            continue;
        };
        let x = a
            .solve_into(rhs.row(b).mapv(f64::from))
            .map_err(|e| ZooError::Diverged(format!("DFC steady state is singular: {e}")))?;
        u.row_mut(b).assign(&x.mapv(|v| v as f32));
    }
    Ok(u)
}

impl DeepFeedbackControl {
    /// The apical voltages vᵢ − vᵢᶠᶠ of every layer (`pre` layout) at the controlled state
    /// for this batch and its labels, with the configured dynamics.
    pub fn controlled_shift(
        &self,
        net: &Network,
        forward: &Forward,
        labels: &[u8],
    ) -> Result<Vec<Array2<f32>>> {
        let state = self.controlled_state(net, forward, labels, &jacobian_rows(net, forward))?;
        Ok(state
            .voltages
            .iter()
            .zip(&state.basal)
            .map(|(v, b)| v - b)
            .collect())
    }

    fn controlled_state(
        &self,
        net: &Network,
        forward: &Forward,
        labels: &[u8],
        jacobian: &[Vec<Array2<f32>>],
    ) -> Result<ControlledState> {
        // −λ ∂L/∂r_L per example (output_error is the gradient of the batch mean).
        let target_shift = output_error(forward.output(), labels)
            * (-self.options.target_step * forward.batch as f32);
        match self.options.dynamics {
            Dynamics::SteadyState => {
                let feedback = self.steady_state_feedback(net, jacobian, &target_shift)?;
                let controlled = net.forward_perturbed(forward.x.view(), Some(&feedback))?;
                let basal = controlled
                    .pre
                    .iter()
                    .zip(&feedback)
                    .map(|(v, fb)| v - fb)
                    .collect();
                Ok(ControlledState {
                    voltages: controlled.pre,
                    basal,
                    inputs: controlled.inputs,
                })
            }
            Dynamics::Simulated { steps, dt, tau_u } => {
                self.simulate(net, forward, &target_shift, steps, dt, tau_u)
            }
        }
    }
}

impl LearningRule for DeepFeedbackControl {
    fn rule(&self) -> super::Rule {
        super::Rule::Dfc
    }

    fn updates(
        &mut self,
        net: &Network,
        forward: &Forward,
        labels: &[u8],
        _: &mut ChaCha8Rng,
    ) -> Result<Updates> {
        let jacobian = Jacobian::of(net, forward, self.options.needs_row_products());
        if !self.pretrained {
            if let FeedbackWeights::Trained { pretrain_steps, .. } = self.options.feedback {
                for _ in 0..pretrain_steps {
                    self.learn_feedback_with(&jacobian)?;
                }
            }
            self.pretrained = true;
        }
        let state = self.controlled_state(net, forward, labels, &jacobian.rows)?;
        let scale = -1.0 / (self.options.target_step * forward.batch as f32);
        let deltas: Vec<Array2<f32>> = net
            .layers
            .iter()
            .zip(state.voltages.iter().zip(&state.basal))
            .map(|(layer, (v, basal))| {
                (layer.activation.apply(v) - layer.activation.apply(basal)) * scale
            })
            .collect();
        let updates = Updates::from_signals(&state.inputs, &deltas);
        self.learn_feedback_with(&jacobian)?;
        Ok(updates)
    }

    /// Q (`feedback.<i>`), the noise stream and whether feedback pre-training has run.
    fn state(&self) -> RuleState {
        RuleState {
            arrays: self
                .feedback
                .iter()
                .enumerate()
                .map(|(i, q)| (format!("feedback.{i}"), q.mapv(f64::from).into_dyn()))
                .collect(),
            values: serde_json::to_value(DfcValues {
                noise_rng: self.noise_rng.clone(),
                pretrained: self.pretrained,
            })
            .expect("serialisable"),
        }
    }

    fn restore(&mut self, mut state: RuleState) -> Result<()> {
        let values: DfcValues = state.values()?;
        let mut feedback = Vec::with_capacity(self.feedback.len());
        for (i, q) in self.feedback.iter().enumerate() {
            let saved = state.take(&format!("feedback.{i}"), q.shape())?;
            feedback.push(
                saved
                    .mapv(|v| v as f32)
                    .into_dimensionality()
                    .expect("2-D, shape checked"),
            );
        }
        self.feedback = feedback;
        self.noise_rng = values.noise_rng;
        self.pretrained = values.pretrained;
        Ok(())
    }
}

/// DFC's saved scalars.
#[derive(Serialize, Deserialize)]
struct DfcValues {
    noise_rng: ChaCha8Rng,
    pretrained: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use rand::Rng;

    /// How many examples of the batch have a stable controller with leak `alpha`.
    fn stable_examples(dfc: &DeepFeedbackControl, jacobian: &Jacobian, alpha: f32) -> usize {
        let jq = controlled_gain(&jacobian.rows, &dfc.feedback);
        (0..jq.dim().0)
            .filter(|&b| stable_gain(&jq, b, alpha).unwrap().is_some())
            .count()
    }

    #[test]
    fn feedback_learning_brings_unstable_controllers_back_to_stability() {
        let net = Network::mlp(&[20, 30, 30, 10], Activation::Tanh, 3).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let x = Array2::from_shape_fn((32, 20), |_| rng.random_range(-1.0f32..1.0));
        let forward = net.forward(x.view()).unwrap();
        for noise in [
            FeedbackNoise::Expected,
            FeedbackNoise::Sampled { sigma: 0.1 },
        ] {
            let options: DfcOptions = serde_json::from_value(serde_json::json!({
                "feedback": {"kind": "trained", "lr": 1.0e-3, "noise": noise,
                             "decay": 0.01, "alpha": 0.1, "pretrain_steps": 0}
            }))
            .unwrap();
            let mut dfc = DeepFeedbackControl::new(&net, options, 5).unwrap();
            let jacobian = Jacobian::of(&net, &forward, true);
            // Q against the Jacobian: J Q = −J Jᵀ for every example, no stable controller.
            let mut against: Vec<Array2<f32>> = dfc
                .feedback
                .iter()
                .map(|q| Array2::zeros(q.raw_dim()))
                .collect();
            for (k, rows) in jacobian.rows.iter().enumerate() {
                for (q, j) in against.iter_mut().zip(rows) {
                    q.column_mut(k).assign(&(j.sum_axis(Axis(0)) * -0.02));
                }
            }
            dfc.feedback = against;
            // The feedback rule's leak (0.1, with k_p = 1) and the controller's (0.01).
            let (learning, control) = (0.1 / 1.1, dfc.options.effective_alpha());
            assert_eq!(stable_examples(&dfc, &jacobian, learning), 0, "{noise:?}");
            for _ in 0..200 {
                dfc.learn_feedback_with(&jacobian).unwrap();
            }
            assert_eq!(stable_examples(&dfc, &jacobian, learning), 32, "{noise:?}");
            assert_eq!(stable_examples(&dfc, &jacobian, control), 32, "{noise:?}");
        }
    }

    #[test]
    fn only_a_batch_mostly_unstable_pulls_the_feedback_weights() {
        let net = Network::mlp(&[20, 30, 10], Activation::Tanh, 3).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let x = Array2::from_shape_fn((32, 20), |_| rng.random_range(-1.0f32..1.0));
        let forward = net.forward(x.view()).unwrap();
        let jacobian = Jacobian::of(&net, &forward, false);
        let dfc = DeepFeedbackControl::new(&net, DfcOptions::default(), 5).unwrap();
        let pull = |unstable: Vec<usize>| -> f32 {
            restore_stability(&jacobian.rows, &dfc.feedback, &unstable, 0.1, 32)
                .iter()
                .map(|p| p.iter().map(|v| v.abs()).sum::<f32>())
                .sum()
        };
        assert_eq!(pull((0..16).collect()), 0.0);
        assert!(pull((0..17).collect()) > 0.0);
    }
}
