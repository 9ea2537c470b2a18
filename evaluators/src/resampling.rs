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
    Ok((0..resamples.len())
        .into_par_iter()
        .map(|r| {
            let sample = &resamples.stimuli[r];
            let pairs: Vec<usize> = sample
                .iter()
                .enumerate()
                .flat_map(|(p, &i)| {
                    sample[p + 1..]
                        .iter()
                        .filter(move |&&j| j != i)
                        .map(move |&j| condensed_index(n, i.min(j), i.max(j)))
                })
                .collect();
            let model_values = Array1::from_iter(pairs.iter().map(|&k| model.condensed()[k]));
            let drawn: Vec<usize> = match &resamples.subjects {
                Some(s) => s[r].clone(),
                None => vec![0],
            };
            let whole = [(0..targets.len()).collect::<Vec<_>>()];
            let groups: &[Vec<usize>] = if resamples.subjects.is_some() {
                subjects
            } else {
                &whole
            };
            let mut values = vec![];
            for s in drawn {
                for &t in &groups[s] {
                    let target =
                        Array1::from_iter(pairs.iter().map(|&k| targets[t].condensed()[k]));
                    match compare_vectors(model_values.view(), target.view(), method) {
                        Ok(v) => values.push(v),
                        Err(_) => return f64::NAN,
                    }
                }
            }
            stats::mean_and_sem(&values).0
        })
        .collect())
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
