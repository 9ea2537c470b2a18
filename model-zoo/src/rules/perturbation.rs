//! The estimator shared by the noise-correlation rules: perturb every layer's pre-activations
//! with noise ξ, run the network forward with +ξ and -ξ (antithetic pairs), and correlate the
//! change in each example's loss with the noise. For small σ,
//! E[(L(a+ξ) - L(a-ξ)) / (2σ²) · ξ] = Σξ ∇ₐL / σ², the gradient projected onto the noise's
//! covariance (the full gradient for isotropic noise).

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};
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

/// Values per independently seeded stream of [`fill_gaussian`] noise.
const NOISE_CHUNK: usize = 1 << 16;

/// Fills a (standard-layout) matrix with N(0, σ²) noise, drawn on all cores: one seed from
/// `rng`, then one ChaCha stream per chunk of values, so the noise depends on the seed alone,
/// not on the number of threads.
pub(crate) fn fill_gaussian(mut out: ArrayViewMut2<f32>, sigma: f32, rng: &mut ChaCha8Rng) {
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Normal};
    use rayon::prelude::*;
    let normal = Normal::new(0.0f32, sigma).expect("sigma checked positive");
    let seed: u64 = rng.random();
    let values = out
        .as_slice_mut()
        .expect("noise is written into standard-layout rows");
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
}

/// A `(rows, cols)` matrix of N(0, σ²) noise (see [`fill_gaussian`]).
pub(crate) fn gaussian(rows: usize, cols: usize, sigma: f32, rng: &mut ChaCha8Rng) -> Array2<f32> {
    let mut noise = Array2::zeros((rows, cols));
    fill_gaussian(noise.view_mut(), sigma, rng);
    noise
}

/// Examples per stacked forward pass of perturbed copies of the batch (bounds a CNN's
/// im2col buffers to a few hundred MB).
const STACKED_EXAMPLES: usize = 512;

/// Estimated error signals δₗ for every layer, with noise written by
/// `sample(layer, out, rng)` into `out`, shaped like `pre[l]` (`(rows, units)`; variance σ²
/// along each perturbed direction). Each example's loss change weights the noise of all of
/// its rows (every output pixel of a convolution).
pub(crate) fn estimate_updates(
    net: &Network,
    forward: &Forward,
    labels: &[u8],
    options: PerturbationOptions,
    rng: &mut ChaCha8Rng,
    mut sample: impl FnMut(usize, ArrayViewMut2<f32>, &mut ChaCha8Rng),
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
    // GEMM over (2 · pairs · batch) examples. Per layer, one buffer holds the pass's noise
    // [ξ₁; -ξ₁; ξ₂; -ξ₂; …], rows example-major like the stacked inputs, reused by every pass.
    let pairs_per_pass = (STACKED_EXAMPLES / (2 * batch)).clamp(1, options.perturbations);
    let mut stacked_noise: Vec<Array2<f32>> = forward
        .pre
        .iter()
        .map(|pre| Array2::zeros((2 * pairs_per_pass * pre.nrows(), pre.ncols())))
        .collect();
    let mut done = 0;
    while done < options.perturbations {
        let pairs = pairs_per_pass.min(options.perturbations - done);
        done += pairs;
        // Drawn pair by pair, layer by layer: the same noise whatever the pass's size.
        for pair in 0..pairs {
            for (l, noise) in stacked_noise.iter_mut().enumerate() {
                let rows = forward.pre[l].nrows();
                let (mut plus, mut minus) = noise
                    .slice_mut(s![2 * pair * rows..(2 * pair + 2) * rows, ..])
                    .split_at(Axis(0), rows);
                sample(l, plus.view_mut(), rng);
                minus.zip_mut_with(&plus, |m, &p| *m = -p);
            }
        }
        let views: Vec<ArrayView2<f32>> = stacked_noise
            .iter()
            .zip(&forward.pre)
            .map(|(noise, pre)| noise.slice(s![..2 * pairs * pre.nrows(), ..]))
            .collect();
        let stacked_labels: Vec<u8> = (0..2 * pairs)
            .flat_map(|_| labels.iter().copied())
            .collect();
        let logits = net.output_perturbed(forward.pre[0].view(), &views)?;
        let losses = per_example_cross_entropy(&logits, &stacked_labels);
        for pair in 0..pairs {
            let plus = &losses[2 * pair * batch..(2 * pair + 1) * batch];
            let minus = &losses[(2 * pair + 1) * batch..(2 * pair + 2) * batch];
            for (delta, noise) in deltas.iter_mut().zip(&stacked_noise) {
                let rows = delta.nrows();
                let xi = noise.slice(s![2 * pair * rows..(2 * pair + 1) * rows, ..]);
                correlate(delta, xi, plus, minus, scale);
            }
        }
    }
    Ok(Updates::from_deltas(forward, &deltas))
}

/// δ += (L₊ - L₋) · scale · ξ row by row, each row weighted by its example's loss change
/// (examples own equal consecutive blocks of rows), on all cores.
fn correlate(
    delta: &mut Array2<f32>,
    xi: ArrayView2<f32>,
    plus: &[f32],
    minus: &[f32],
    scale: f32,
) {
    use rayon::prelude::*;
    let rows_per_example = delta.nrows() / plus.len();
    delta
        .axis_chunks_iter_mut(Axis(0), rows_per_example)
        .into_par_iter()
        .zip(xi.axis_chunks_iter(Axis(0), rows_per_example))
        .enumerate()
        .for_each(|(n, (mut delta, xi))| {
            delta.scaled_add((plus[n] - minus[n]) * scale, &xi);
        });
}
