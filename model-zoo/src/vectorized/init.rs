//! The paper's initialisation of nonnegative networks, and the gating vectors.

use ndarray::Array2;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A layer's weights `(out, fan_in)`, whose columns are taps of `channels` input channels each
/// (a dense layer: one tap of all its inputs).
///
/// First layer: Gaussian rows of variance 1/fan_in (fan_in counting all K blocks) times √K, in
/// pairs of opposite sign, so that the two units of a pair carry opposite vectors h and −h
/// and, their gating vectors being opposite too, open and close together.
///
/// Later layers: a Gaussian W of variance 4/fan_in on pairs of units and pairs of input
/// channels, its positive part on the (even, even) and (odd, odd) entries and its negative
/// part on the (even, odd) and (odd, even) ones: the even unit of a pair is driven by W h and
/// the odd one by −W h, as if the pair were one unit with mixed-sign weights.
pub(super) fn layer(
    out: usize,
    fan_in: usize,
    channels: usize,
    components: usize,
    first: bool,
    rng: &mut ChaCha8Rng,
) -> Array2<f32> {
    let mut weight = Array2::<f32>::zeros((out, fan_in));
    let mut normal = |scale: f32| -> f32 {
        let z: f32 = StandardNormal.sample(rng);
        z * scale
    };
    if first {
        let scale = (components as f32 / fan_in as f32).sqrt();
        for pair in 0..out / 2 {
            for n in 0..fan_in {
                let w = normal(scale);
                weight[[2 * pair, n]] = w;
                weight[[2 * pair + 1, n]] = -w;
            }
        }
        return weight;
    }
    let scale = (4.0 / fan_in as f32).sqrt();
    for pair in 0..(out / 2).max(1) {
        for tap in 0..fan_in / channels {
            for input_pair in 0..channels / 2 {
                let w = normal(scale);
                let (positive, negative) = (w.max(0.0), (-w).max(0.0));
                let even_in = tap * channels + 2 * input_pair;
                let odd_in = even_in + 1;
                weight[[2 * pair, even_in]] = positive;
                weight[[2 * pair, odd_in]] = negative;
                if out > 1 {
                    weight[[2 * pair + 1, odd_in]] = positive;
                    weight[[2 * pair + 1, even_in]] = negative;
                }
            }
        }
    }
    weight
}

/// Random ±1 gating vectors `(K, units)`, units in pairs with opposite vectors.
pub(super) fn paired_gates(k: usize, units: usize, rng: &mut ChaCha8Rng) -> Array2<f32> {
    let mut gates = Array2::<f32>::zeros((k, units));
    for pair in 0..units / 2 {
        for c in 0..k {
            let t = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            gates[[c, 2 * pair]] = t;
            gates[[c, 2 * pair + 1]] = -t;
        }
    }
    gates
}
