//! The estimator shared by the noise-correlation rules: perturb every layer's pre-activations
//! with noise ξ, run the network forward with +ξ and -ξ (antithetic pairs), and correlate the
//! change in each example's loss with the noise. For small σ,
//! E[(L(a+ξ) - L(a-ξ)) / (2σ²) · ξ] = Σξ ∇ₐL / σ², the gradient projected onto the noise's
//! covariance (the full gradient for isotropic noise).

use ndarray::Array2;
use rand_chacha::ChaCha8Rng;

use super::Updates;
use crate::error::{Result, ZooError};
use crate::loss::per_example_cross_entropy;
use crate::network::{Forward, Network};

/// Options of a perturbation rule.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PerturbationOptions {
    /// Antithetic noise pairs per example and step.
    pub perturbations: usize,
    /// Noise standard deviation per perturbed dimension.
    pub sigma: f32,
}

impl Default for PerturbationOptions {
    fn default() -> Self {
        Self {
            perturbations: 8,
            sigma: 1e-3,
        }
    }
}

/// Estimated error signals δₗ for every layer, with noise drawn by `sample(layer, rows, rng)`
/// (shaped like `pre[l]`, `(rows, units)`; variance σ² along each perturbed direction). Each
/// example's loss change weights the noise of all of its rows (every output pixel of a
/// convolution).
pub(crate) fn estimate_updates(
    net: &Network,
    forward: &Forward,
    labels: &[u8],
    options: PerturbationOptions,
    rng: &mut ChaCha8Rng,
    mut sample: impl FnMut(usize, usize, &mut ChaCha8Rng) -> Array2<f32>,
) -> Result<Updates> {
    if options.perturbations == 0
        || options.sigma.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
    {
        return Err(ZooError::Config(format!(
            "perturbation rules need at least one perturbation and sigma > 0, got {} and {}",
            options.perturbations, options.sigma
        )));
    }
    let batch = labels.len();
    let x = forward.x.view();
    let mut deltas: Vec<Array2<f32>> = forward
        .pre
        .iter()
        .map(|a| Array2::zeros(a.raw_dim()))
        .collect();
    let scale =
        1.0 / (2.0 * options.sigma * options.sigma * options.perturbations as f32 * batch as f32);
    for _ in 0..options.perturbations {
        let noise: Vec<Array2<f32>> = (0..net.layers.len())
            .map(|l| sample(l, forward.pre[l].nrows(), rng))
            .collect();
        let negative: Vec<Array2<f32>> = noise.iter().map(|n| -n).collect();
        let plus =
            per_example_cross_entropy(net.forward_perturbed(x, Some(&noise))?.output(), labels);
        let minus =
            per_example_cross_entropy(net.forward_perturbed(x, Some(&negative))?.output(), labels);
        for (delta, xi) in deltas.iter_mut().zip(&noise) {
            let rows_per_example = delta.nrows() / batch;
            for (row, (mut delta_row, xi_row)) in
                delta.rows_mut().into_iter().zip(xi.rows()).enumerate()
            {
                let n = row / rows_per_example;
                let change = (plus[n] - minus[n]) * scale;
                delta_row.scaled_add(change, &xi_row);
            }
        }
    }
    Ok(Updates::from_deltas(forward, &deltas))
}
