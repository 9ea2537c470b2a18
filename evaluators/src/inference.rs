//! Inference from bootstrap replicates ([`crate::resampling`]): percentile intervals, the
//! replicates of a model trained with several seeds (seeds drawn too, so that the interval
//! includes the seed variance), the paired bootstrap test of two models' difference, Holm's
//! step-down correction, and the models not distinguishable from the best.
//!
//! Replicates are aligned: replicate `r` of every model of a benchmark used the same resample
//! indices. `NaN` replicates (undefined scores) are left out, pairwise on both sides.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::resampling::with_replacement;
use crate::stats;

/// The two-sided percentile interval of the finite replicates at `confidence` (numpy's
/// linear-interpolation percentiles); `None` with fewer than two finite replicates.
pub fn percentile_interval(replicates: &[f64], confidence: f64) -> Option<[f64; 2]> {
    let finite: Vec<f64> = replicates
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if finite.len() < 2 {
        return None;
    }
    let tail = 50.0 * (1.0 - confidence);
    Some([
        stats::percentile(&finite, tail),
        stats::percentile(&finite, 100.0 - tail),
    ])
}

/// Per replicate, which of `n_seeds` seeds it draws (with replacement), from a ChaCha8 stream
/// seeded with `seed`. With one seed every replicate draws it.
pub fn seed_draws(n_seeds: usize, n_resamples: usize, seed: u64) -> Vec<Vec<usize>> {
    if n_seeds <= 1 {
        return vec![vec![0]; n_resamples];
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n_resamples)
        .map(|_| with_replacement(&mut rng, n_seeds))
        .collect()
}

/// A model's estimate over seeds and its replicates: the estimate is the mean of the seeds'
/// estimates; replicate `r` is the mean, over the seeds that `draws[r]` names, of those seeds'
/// replicate `r` (a two-level bootstrap: seeds, then stimuli).
pub fn pool_seeds(
    estimates: &[f64],
    replicates: &[&[f64]],
    draws: &[Vec<usize>],
) -> (f64, Vec<f64>) {
    let estimate = estimates.iter().sum::<f64>() / estimates.len() as f64;
    let pooled = draws
        .iter()
        .enumerate()
        .map(|(r, drawn)| drawn.iter().map(|&s| replicates[s][r]).sum::<f64>() / drawn.len() as f64)
        .collect();
    (estimate, pooled)
}

/// The paired bootstrap comparison of two models on one benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedTest {
    /// `a − b` of the estimates.
    pub difference: f64,
    /// Percentile interval of the replicate differences.
    pub ci95: [f64; 2],
    /// Two-sided p of "no difference": the share of replicate differences, centred on the
    /// observed one, at least as far from it as it is from zero, `(1 + count) / (1 + B)`.
    pub p: f64,
}

/// Tests `a − b` with the replicates of both on the same resamples; `None` with fewer than two
/// replicates defined on both sides.
pub fn paired_test(a: (f64, &[f64]), b: (f64, &[f64]), confidence: f64) -> Option<PairedTest> {
    let difference = a.0 - b.0;
    let deltas: Vec<f64> =
        a.1.iter()
            .zip(b.1)
            .map(|(x, y)| x - y)
            .filter(|d| d.is_finite())
            .collect();
    let ci95 = percentile_interval(&deltas, confidence)?;
    let extreme = deltas
        .iter()
        .filter(|d| (*d - difference).abs() >= difference.abs())
        .count();
    Some(PairedTest {
        difference,
        ci95,
        p: (1 + extreme) as f64 / (1 + deltas.len()) as f64,
    })
}

/// Holm's step-down adjustment of a family of p-values (same order as given): the i-th
/// smallest is multiplied by `m − i + 1`, made monotone, and capped at 1.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_matches_statsmodels() {
        // statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.005], method="holm")
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.005]);
        let expected = [0.03, 0.06, 0.06, 0.02];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
    }

    #[test]
    fn one_seed_pools_to_itself() {
        let reps = [0.1, 0.2, f64::NAN, 0.4];
        let (estimate, pooled) = pool_seeds(&[0.25], &[&reps], &seed_draws(1, 4, 9));
        assert_eq!(estimate, 0.25);
        assert_eq!(pooled[..2], reps[..2]);
        assert!(pooled[2].is_nan());
    }

    #[test]
    fn a_clear_difference_is_significant_and_identical_models_are_not() {
        let a: Vec<f64> = (0..200)
            .map(|r| 0.5 + 0.01 * ((r % 7) as f64 - 3.0))
            .collect();
        let b: Vec<f64> = a.iter().map(|v| v - 0.1).collect();
        let t = paired_test((0.5, &a), (0.4, &b), 0.95).unwrap();
        assert!((t.difference - 0.1).abs() < 1e-12 && t.p < 0.01);
        assert!(t.ci95[0] > 0.09 && t.ci95[1] < 0.11);
        let same = paired_test((0.5, &a), (0.5, &a), 0.95).unwrap();
        assert_eq!(same.p, 1.0);
    }
}
