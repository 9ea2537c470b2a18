//! The estimator shared by the noise-correlation rules: perturb every layer's pre-activations
//! with noise ξ, run the network forward with +ξ and -ξ (antithetic pairs), and correlate the
//! change in each example's loss with the noise. For small σ,
//! E[(L(a+ξ) - L(a-ξ)) / (2σ²) · ξ] = Σξ ∇ₐL / σ², the gradient projected onto the noise's
//! covariance (the full gradient for isotropic noise).

use ndarray::{Array2, Axis};
use rand_chacha::ChaCha8Rng;

use super::Updates;
use crate::error::{Result, ZooError};
use crate::loss::per_example_cross_entropy;
use crate::network::{Forward, Network};

/// Options of a perturbation rule.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
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

impl PerturbationOptions {
    /// At least one perturbation, and a positive finite noise scale.
    pub(crate) fn check(&self) -> crate::Result<()> {
        if self.perturbations == 0 || !(self.sigma.is_finite() && self.sigma > 0.0) {
            return Err(crate::ZooError::Config(format!(
                "noise correlation needs at least one perturbation and a positive sigma: {self:?}"
            )));
        }
        Ok(())
    }
}

/// Values per independently seeded stream of [`gaussian`] noise.
const NOISE_CHUNK: usize = 1 << 16;

/// A `(rows, cols)` matrix of N(0, σ²) noise, drawn on all cores: one seed from `rng`, then
/// one ChaCha stream per chunk of values, so the noise depends on the seed alone, not on the
/// number of threads.
pub(crate) fn gaussian(rows: usize, cols: usize, sigma: f32, rng: &mut ChaCha8Rng) -> Array2<f32> {
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Normal};
    use rayon::prelude::*;
    let normal = Normal::new(0.0f32, sigma).expect("sigma checked positive");
    let seed: u64 = rng.random();
    let mut values = vec![0.0f32; rows * cols];
    values
        .par_chunks_mut(NOISE_CHUNK)
        .enumerate()
        .for_each(|(chunk, values)| {
            let mut stream = ChaCha8Rng::seed_from_u64(seed);
            stream.set_stream(chunk as u64);
            for v in values {
                *v = normal.sample(&mut stream);
            }
        });
    Array2::from_shape_vec((rows, cols), values).expect("rows·cols values")
}

/// Examples per stacked forward pass of perturbed copies of the batch (bounds a CNN's
/// im2col buffers to a few hundred MB).
const STACKED_EXAMPLES: usize = 512;

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
    let mut deltas: Vec<Array2<f32>> = forward
        .pre
        .iter()
        .map(|a| Array2::zeros(a.raw_dim()))
        .collect();
    let scale =
        1.0 / (2.0 * options.sigma * options.sigma * options.perturbations as f32 * batch as f32);
    // The ±ξ passes of several perturbations run as one stacked batch, so each layer is one
    // GEMM over (2 · pairs · batch) examples.
    let pairs_per_pass = (STACKED_EXAMPLES / (2 * batch)).clamp(1, options.perturbations);
    let mut done = 0;
    while done < options.perturbations {
        let pairs = pairs_per_pass.min(options.perturbations - done);
        done += pairs;
        let noise: Vec<Vec<Array2<f32>>> = (0..pairs)
            .map(|_| {
                (0..net.layers.len())
                    .map(|l| sample(l, forward.pre[l].nrows(), rng))
                    .collect()
            })
            .collect();
        // Per layer: [ξ₁; -ξ₁; ξ₂; -ξ₂; …], rows example-major like the stacked inputs.
        let stacked_noise: Vec<Array2<f32>> = (0..net.layers.len())
            .map(|l| {
                let signed: Vec<Array2<f32>> = noise
                    .iter()
                    .flat_map(|xi| [xi[l].clone(), -&xi[l]])
                    .collect();
                let views: Vec<_> = signed.iter().map(|a| a.view()).collect();
                ndarray::concatenate(Axis(0), &views).expect("same widths")
            })
            .collect();
        // The first layer's pre-activations are the same for every copy of the batch.
        let copies: Vec<_> = (0..2 * pairs).map(|_| forward.pre[0].view()).collect();
        let stacked_pre = ndarray::concatenate(Axis(0), &copies).expect("same widths");
        let stacked_labels: Vec<u8> = (0..2 * pairs)
            .flat_map(|_| labels.iter().copied())
            .collect();
        let logits = net.output_perturbed(&stacked_pre, &stacked_noise)?;
        let losses = per_example_cross_entropy(&logits, &stacked_labels);
        for (pair, xi) in noise.iter().enumerate() {
            let plus = &losses[2 * pair * batch..(2 * pair + 1) * batch];
            let minus = &losses[(2 * pair + 1) * batch..(2 * pair + 2) * batch];
            for (delta, xi) in deltas.iter_mut().zip(xi) {
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
    }
    Ok(Updates::from_deltas(forward, &deltas))
}
