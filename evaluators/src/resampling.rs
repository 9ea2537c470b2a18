//! Bootstrap replicates of a benchmark score on **fixed** resample indices, so that every
//! model of a benchmark is resampled alike and two models' replicates can be differenced
//! (a paired bootstrap). The indices are drawn once per benchmark ([`Resamples::draw`]); the
//! replicate functions reuse what the score was computed from (RDMs, Gram matrices, held-out
//! predictions) and never recompute features.
//!
//! - RSA: the pattern bootstrap of rsatoolbox: stimuli drawn with replacement, the
//!   dissimilarities of all pairs of *distinct* drawn stimuli compared; with several subjects,
//!   subjects are drawn too (the dual bootstrap) and the replicate is the mean over the drawn
//!   subjects' RDMs.
//! - CKA: stimuli drawn with replacement, each resample's distinct stimuli kept (see
//!   [`cka_replicates`]).
//! - Predictivity: within each cross-validation split, the held-out stimuli drawn with
//!   replacement; per split the median over neuroids of Pearson r between prediction and
//!   response, then the mean over splits (the score's own recipe).
//!
//! A replicate whose score is undefined (e.g. a constant resample) is `NaN`; the inference
//! functions leave such replicates out of both sides of a comparison.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::cka::{self, CkaKernel, CkaOptions};
use crate::compare::{CompareMethod, compare_vectors};
use crate::error::{MetricError, Result};
use crate::gram;
use crate::rdm::{Rdm, condensed_index};
use crate::splits::Split;
use crate::stats;
use crate::stats::TiedOrder;

/// Resample indices shared by every model of one benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Resamples {
    /// Per replicate, `n` stimulus indices drawn with replacement from `0..n`.
    pub stimuli: Vec<Vec<usize>>,
    /// Per replicate, subject indices drawn with replacement (dual bootstrap); `None` with
    /// fewer than two subjects.
    pub subjects: Option<Vec<Vec<usize>>>,
}

impl Resamples {
    /// Draws `n_resamples` replicates over `n_stimuli` stimuli and, with two or more, over
    /// `n_subjects` subjects, from a ChaCha8 stream seeded with `seed` (stimuli of replicate
    /// 0, its subjects, stimuli of replicate 1, …).
    pub fn draw(n_stimuli: usize, n_subjects: usize, n_resamples: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut stimuli = Vec::with_capacity(n_resamples);
        let mut subjects = Vec::with_capacity(n_resamples);
        for _ in 0..n_resamples {
            stimuli.push(with_replacement(&mut rng, n_stimuli));
            if n_subjects > 1 {
                subjects.push(with_replacement(&mut rng, n_subjects));
            }
        }
        Resamples {
            stimuli,
            subjects: (n_subjects > 1).then_some(subjects),
        }
    }

    /// Number of replicates.
    pub fn len(&self) -> usize {
        self.stimuli.len()
    }

    /// Whether there are no replicates.
    pub fn is_empty(&self) -> bool {
        self.stimuli.is_empty()
    }
}

/// `n` indices drawn uniformly with replacement from `0..n`.
pub fn with_replacement(rng: &mut ChaCha8Rng, n: usize) -> Vec<usize> {
    (0..n).map(|_| rng.random_range(0..n)).collect()
}

/// RSA replicates: `model` compared with the mean over the drawn subjects of each subject's
/// RDMs' comparisons (`subjects[s]` lists the indices into `targets` of subject `s`; one
/// subject of all RDMs when the resamples draw no subjects).
pub fn rsa_replicates(
    model: &Rdm,
    targets: &[Rdm],
    subjects: &[Vec<usize>],
    method: CompareMethod,
    resamples: &Resamples,
) -> Result<Vec<f64>> {
    let n = model.n_stimuli();
    if let Some(t) = targets.iter().find(|t| t.n_stimuli() != n) {
        return Err(MetricError::ShapeMismatch(format!(
            "RDMs over {n} and {} stimuli cannot be compared",
            t.n_stimuli()
        )));
    }
    if resamples.stimuli.iter().flatten().any(|&i| i >= n)
        || subjects.iter().flatten().any(|&t| t >= targets.len())
    {
        return Err(MetricError::InvalidOption(format!(
            "resample indices out of range for {n} stimuli and {} RDMs",
            targets.len()
        )));
    }
    let whole = [(0..targets.len()).collect::<Vec<_>>()];
    let groups: &[Vec<usize>] = if resamples.subjects.is_some() {
        subjects
    } else {
        &whole
    };
    // Spearman, the default, runs on weights instead of copies: each condensed entry (i, j)
    // appears c_i c_j times in a resample, so ranks come from one sort per RDM for all
    // resamples, and the correlation is a weighted Pearson of those ranks (the same number
    // as ranking the expanded vector, in O(pairs) per resample).
    let sorted = (method == CompareMethod::Spearman).then(|| {
        (
            TiedOrder::of(model.condensed()),
            targets
                .iter()
                .map(|t| TiedOrder::of(t.condensed()))
                .collect::<Vec<_>>(),
        )
    });
    Ok((0..resamples.len())
        .into_par_iter()
        .map(|r| {
            let sample = &resamples.stimuli[r];
            let drawn: &[usize] = match &resamples.subjects {
                Some(s) => &s[r],
                None => &[0],
            };
            let targets_drawn = drawn.iter().flat_map(|&s| groups[s].iter().copied());
            let values: Option<Vec<f64>> = match &sorted {
                Some((model_order, target_orders)) => {
                    let weights = pair_weights(sample, n);
                    let model_ranks = model_order.weighted_ranks(&weights);
                    targets_drawn
                        .map(|t| {
                            let ranks = target_orders[t].weighted_ranks(&weights);
                            weighted_pearson(&model_ranks, &ranks, &weights)
                        })
                        .collect()
                }
                None => {
                    let pairs = distinct_pairs(sample, n);
                    let model_values =
                        Array1::from_iter(pairs.iter().map(|&k| model.condensed()[k]));
                    targets_drawn
                        .map(|t| {
                            let target =
                                Array1::from_iter(pairs.iter().map(|&k| targets[t].condensed()[k]));
                            compare_vectors(model_values.view(), target.view(), method).ok()
                        })
                        .collect()
                }
            };
            values.map_or(f64::NAN, |v| stats::mean_and_sem(&v).0)
        })
        .collect())
}

/// The condensed indices of every pair of positions `p < q` of `sample` holding distinct
/// stimuli (a pair drawn twice appears twice).
fn distinct_pairs(sample: &[usize], n: usize) -> Vec<usize> {
    sample
        .iter()
        .enumerate()
        .flat_map(|(p, &i)| {
            sample[p + 1..]
                .iter()
                .filter(move |&&j| j != i)
                .map(move |&j| condensed_index(n, i.min(j), i.max(j)))
        })
        .collect()
}

/// How often each condensed entry (i, j) appears among the distinct-stimulus pairs of
/// `sample`: c_i c_j, with c the stimulus counts.
fn pair_weights(sample: &[usize], n: usize) -> Vec<f64> {
    let mut counts = vec![0.0f64; n];
    for &i in sample {
        counts[i] += 1.0;
    }
    let mut weights = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            weights.push(counts[i] * counts[j]);
        }
    }
    weights
}

/// Pearson correlation of `a` and `b` with entry k counted `w[k]` times; `None` when either
/// is constant over the weighted entries.
fn weighted_pearson(a: &[f64], b: &[f64], w: &[f64]) -> Option<f64> {
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let mean = |x: &[f64]| x.iter().zip(w).map(|(v, w)| v * w).sum::<f64>() / total;
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for ((x, y), w) in a.iter().zip(b).zip(w) {
        if *w > 0.0 {
            let (dx, dy) = (x - ma, y - mb);
            sab += w * dx * dy;
            saa += w * dx * dx;
            sbb += w * dy * dy;
        }
    }
    let denom = (saa * sbb).sqrt();
    (denom > 0.0).then(|| (sab / denom).clamp(-1.0, 1.0))
}

/// CKA replicates from the two representations' kernels. The debiased estimator is not
/// defined for repeated stimuli (two copies of a stimulus look like a perfectly similar pair
/// and inflate it), so each resample keeps its `m` distinct stimuli (about 63 % of `n`), a
/// subsample without replacement, and its deviation from the full-sample score is scaled by
/// `sqrt(m / (n − m))`, the delete-d jackknife factor that gives the deviations the variance
/// of an `n`-stimulus estimate.
pub fn cka_replicates(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    options: CkaOptions,
    resamples: &Resamples,
) -> Result<Vec<f64>> {
    let kx = cka::kernel_base(x, options.kernel, "x")?;
    let ky = cka::kernel_base(y, options.kernel, "y")?;
    crate::checks::ensure_same_stimuli(kx.nrows(), ky.nrows())?;
    let n = kx.nrows();
    let score = |rows: &[usize]| -> Result<f64> {
        let (sx, sy) = (gram::select(&kx, rows, rows), gram::select(&ky, rows, rows));
        let (sx, sy) = match options.kernel {
            CkaKernel::Linear => (sx, sy),
            CkaKernel::Rbf { threshold } => (
                cka::rbf_from_squared_distances(sx, threshold, "x")?,
                cka::rbf_from_squared_distances(sy, threshold, "y")?,
            ),
        };
        cka::cka_from_grams(sx, sy, options.debiased)
    };
    let full = score(&(0..n).collect::<Vec<_>>())?;
    Ok(resamples
        .stimuli
        .par_iter()
        .map(|sample| {
            let mut distinct = sample.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let m = distinct.len();
            if m == n {
                return full;
            }
            let scale = (m as f64 / (n - m) as f64).sqrt();
            score(&distinct).map_or(f64::NAN, |v| full + scale * (v - full))
        })
        .collect())
}

/// A regression's predictions of the held-out stimuli of each cross-validation split.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOutPredictions {
    /// The splits (their `test` rows are the predicted stimuli, in order).
    pub splits: Vec<Split>,
    /// Per split, `(test stimuli, neuroids)` predictions of the scored neuroids.
    pub predictions: Vec<Array2<f64>>,
    /// The scored neuroids (columns of the responses; zero-variance ones are left out).
    pub neuroids: Vec<usize>,
}

/// Per split, per replicate, positions into that split's test stimuli drawn with
/// replacement, from a ChaCha8 stream seeded with `seed`.
pub fn held_out_resamples(splits: &[Split], n_resamples: usize, seed: u64) -> Vec<Vec<Vec<usize>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n_resamples)
        .map(|_| {
            splits
                .iter()
                .map(|s| with_replacement(&mut rng, s.test.len()))
                .collect()
        })
        .collect()
}

/// Predictivity replicates: per replicate and split, the median over neuroids of Pearson r
/// between the resampled predictions and responses; the mean over splits. `draws[r][s]` are
/// positions into split `s`'s test stimuli ([`held_out_resamples`]).
pub fn predictivity_replicates(
    held_out: &HeldOutPredictions,
    responses: ArrayView2<f64>,
    draws: &[Vec<Vec<usize>>],
) -> Result<Vec<f64>> {
    let actual: Vec<Array2<f64>> = held_out
        .splits
        .iter()
        .map(|s| responses.select(Axis(0), &s.test))
        .collect();
    for (s, (a, p)) in actual.iter().zip(&held_out.predictions).enumerate() {
        if p.nrows() != a.nrows() || p.ncols() != held_out.neuroids.len() {
            return Err(MetricError::ShapeMismatch(format!(
                "split {s}: {} x {} predictions for {} test stimuli and {} neuroids",
                p.nrows(),
                p.ncols(),
                a.nrows(),
                held_out.neuroids.len()
            )));
        }
    }
    Ok(draws
        .par_iter()
        .map(|per_split| {
            let mut medians = Vec::with_capacity(per_split.len());
            for (s, positions) in per_split.iter().enumerate() {
                let predicted = held_out.predictions[s].select(Axis(0), positions);
                let observed = actual[s].select(Axis(0), positions);
                let rs: Vec<f64> = held_out
                    .neuroids
                    .iter()
                    .enumerate()
                    .filter_map(|(k, &j)| stats::pearson(predicted.column(k), observed.column(j)))
                    .collect();
                match stats::median(&rs) {
                    Some(m) => medians.push(m),
                    None => return f64::NAN,
                }
            }
            stats::mean_and_sem(&medians).0
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_spearman_equals_ranking_the_expanded_pairs() {
        // Ties in both RDMs, repeated stimuli in every resample.
        let n = 14;
        let len = n * (n - 1) / 2;
        let model = Rdm::from_condensed(Array1::from_iter((0..len).map(|k| ((k * 7) % 11) as f64)))
            .unwrap();
        let targets: Vec<Rdm> = (0..3)
            .map(|t| {
                Rdm::from_condensed(Array1::from_iter(
                    (0..len).map(|k| ((k * (3 + t) + t) % 13) as f64 * 0.5),
                ))
                .unwrap()
            })
            .collect();
        let subjects = vec![vec![0, 1], vec![2]];
        let resamples = Resamples::draw(n, 2, 40, 8);
        let fast = rsa_replicates(
            &model,
            &targets,
            &subjects,
            CompareMethod::Spearman,
            &resamples,
        )
        .unwrap();
        let groups = |s: usize| subjects[s].clone();
        for (r, sample) in resamples.stimuli.iter().enumerate() {
            let pairs = distinct_pairs(sample, n);
            let pick = |rdm: &Rdm| Array1::from_iter(pairs.iter().map(|&k| rdm.condensed()[k]));
            let values: Vec<f64> = resamples.subjects.as_ref().unwrap()[r]
                .iter()
                .flat_map(|&s| groups(s))
                .map(|t| {
                    compare_vectors(
                        pick(&model).view(),
                        pick(&targets[t]).view(),
                        CompareMethod::Spearman,
                    )
                    .unwrap()
                })
                .collect();
            let slow = stats::mean_and_sem(&values).0;
            assert!(
                (fast[r] - slow).abs() < 1e-12,
                "resample {r}: {} vs {slow}",
                fast[r]
            );
        }
    }
}
