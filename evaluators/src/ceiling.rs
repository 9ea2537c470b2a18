//! Reliability ceilings of neural responses and ceiling normalisation.

use ndarray::{Array2, ArrayView3};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{MetricError, Result};
use crate::stats;

/// Split-half internal consistency of repeated responses, Spearman-Brown corrected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitHalfCeiling {
    /// Mean over splits of the median (over neuroids) corrected reliability.
    pub ceiling: f64,
    /// Standard error of the mean over splits.
    pub sem: f64,
    /// Median over neuroids, per split.
    pub per_split: Vec<f64>,
    /// Mean over splits of each neuroid's corrected reliability (`None`: never defined).
    pub per_neuroid: Vec<Option<f64>>,
    /// Number of repetitions in the data.
    pub n_repetitions: usize,
}

/// Split-half ceiling with `n_splits` seeded random halvings of the repetitions.
///
/// `responses` is `(stimuli, neuroids, repetitions)`; NaN marks a missing repetition. For each
/// halving, each stimulus's recorded repetitions are split in two balanced halves (see
/// `half_means`), each neuroid's two half means are correlated over stimuli (stimuli with a
/// single repetition are left out), and the correlation is corrected to full length by
/// Spearman-Brown, 2r / (1 + r).
pub fn split_half_ceiling(
    responses: ArrayView3<f64>,
    n_splits: usize,
    seed: u64,
) -> Result<SplitHalfCeiling> {
    let reps = responses.dim().2;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let permutations: Vec<Vec<usize>> = (0..n_splits)
        .map(|_| {
            let mut p: Vec<usize> = (0..reps).collect();
            p.shuffle(&mut rng);
            p
        })
        .collect();
    split_half_ceiling_with_permutations(responses, &permutations)
}

/// As [`split_half_ceiling`] with given permutations of the repetition axis. Without missing
/// repetitions, the first `reps / 2` entries of each permutation form one half and the rest
/// the other.
pub fn split_half_ceiling_with_permutations(
    responses: ArrayView3<f64>,
    permutations: &[Vec<usize>],
) -> Result<SplitHalfCeiling> {
    let (n_stimuli, n_neuroids, reps) = responses.dim();
    if reps < 2 {
        return Err(MetricError::InvalidOption(format!(
            "a split-half ceiling needs at least 2 repetitions, got {reps}"
        )));
    }
    if permutations.is_empty() {
        return Err(MetricError::InvalidOption(
            "a split-half ceiling needs at least one split".into(),
        ));
    }
    crate::checks::ensure_min_stimuli(n_stimuli, 3, "responses")?;
    if let Some(((s, n, r), v)) = responses.indexed_iter().find(|(_, v)| v.is_infinite()) {
        return Err(MetricError::NonFinite {
            what: "responses".into(),
            index: vec![s, n, r],
            value: *v,
        });
    }
    let mut per_split = vec![];
    let mut sums = vec![(0.0, 0usize); n_neuroids];
    for perm in permutations {
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        if sorted != (0..reps).collect::<Vec<_>>() {
            return Err(MetricError::InvalidOption(format!(
                "{perm:?} is not a permutation of the {reps} repetitions"
            )));
        }
        let (half_a, half_b) = half_means(responses, perm);
        let mut corrected = vec![];
        for j in 0..n_neuroids {
            let (a, b): (Vec<f64>, Vec<f64>) = (0..n_stimuli)
                .filter(|&s| half_a[[s, j]].is_finite() && half_b[[s, j]].is_finite())
                .map(|s| (half_a[[s, j]], half_b[[s, j]]))
                .unzip();
            if a.len() < 3 {
                continue;
            }
            if let Some(r) =
                stats::pearson(ndarray::ArrayView1::from(&a), ndarray::ArrayView1::from(&b))
            {
                let sb = spearman_brown(r);
                corrected.push(sb);
                sums[j].0 += sb;
                sums[j].1 += 1;
            }
        }
        per_split.push(
            stats::median(&corrected).ok_or_else(|| MetricError::ZeroVariance {
                what: "every neuroid's split-half responses".into(),
                consequence: "no split-half reliability is defined".into(),
            })?,
        );
    }
    let (ceiling, sem) = stats::mean_and_sem(&per_split);
    Ok(SplitHalfCeiling {
        ceiling,
        sem,
        per_split,
        per_neuroid: sums
            .iter()
            .map(|&(s, c)| (c > 0).then(|| s / c as f64))
            .collect(),
        n_repetitions: reps,
    })
}

/// Spearman-Brown prophecy for doubling the number of repetitions: 2r / (1 + r).
pub fn spearman_brown(r: f64) -> f64 {
    2.0 * r / (1.0 + r)
}

/// The two half means, `(stimuli, neuroids)` each, of one halving: for every stimulus and
/// neuroid, its recorded (non-NaN) repetitions are taken in the order of `permutation` and
/// split in two, the first ⌊k/2⌋ against the rest, so that halves stay balanced when stimuli
/// have different numbers of repetitions. A half with no repetition is NaN.
fn half_means(responses: ArrayView3<f64>, permutation: &[usize]) -> (Array2<f64>, Array2<f64>) {
    let (n_stimuli, n_neuroids, _) = responses.dim();
    let mut first = Array2::from_elem((n_stimuli, n_neuroids), f64::NAN);
    let mut second = first.clone();
    let mut recorded = Vec::with_capacity(permutation.len());
    for s in 0..n_stimuli {
        for n in 0..n_neuroids {
            recorded.clear();
            recorded.extend(
                permutation
                    .iter()
                    .map(|&r| responses[[s, n, r]])
                    .filter(|v| !v.is_nan()),
            );
            let (a, b) = recorded.split_at(recorded.len() / 2);
            let mean = |v: &[f64]| {
                if v.is_empty() {
                    f64::NAN
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            };
            first[[s, n]] = mean(a);
            second[[s, n]] = mean(b);
        }
    }
    (first, second)
}

/// How a raw score is related to its ceiling. Brain-Score switched from (r/c)² to r²/c in
/// January 2026, which made old and new leaderboards incomparable: every output names the
/// normalisation it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CeilingNormalization {
    /// raw / ceiling.
    #[default]
    #[serde(rename = "raw/ceiling")]
    RawOverCeiling,
    /// (raw / ceiling)²: explained variance as Brain-Score reported it before January 2026.
    #[serde(rename = "(raw/ceiling)^2")]
    SquaredRatio,
    /// raw² / ceiling: explained variance as Brain-Score reports it since January 2026.
    #[serde(rename = "raw^2/ceiling")]
    SquaredRawOverCeiling,
}

impl CeilingNormalization {
    /// Every normalisation, for listings.
    pub const ALL: [CeilingNormalization; 3] = [
        Self::RawOverCeiling,
        Self::SquaredRatio,
        Self::SquaredRawOverCeiling,
    ];

    /// The formula, as written in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Self::RawOverCeiling => "raw/ceiling",
            Self::SquaredRatio => "(raw/ceiling)^2",
            Self::SquaredRawOverCeiling => "raw^2/ceiling",
        }
    }

    /// Applies the normalisation. A ceiling that is not positive is an error, not a silent
    /// infinity.
    pub fn apply(self, raw: f64, ceiling: f64) -> Result<NormalizedScore> {
        if ceiling.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(MetricError::InvalidOption(format!(
                "the ceiling is {ceiling}; a score can only be normalised by a positive ceiling"
            )));
        }
        let normalized = match self {
            Self::RawOverCeiling => raw / ceiling,
            Self::SquaredRatio => (raw / ceiling).powi(2),
            Self::SquaredRawOverCeiling => raw * raw / ceiling,
        };
        Ok(NormalizedScore {
            raw,
            ceiling,
            normalized,
            normalization: self,
        })
    }
}

/// A raw score with its ceiling and the normalisation that relates them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NormalizedScore {
    /// The metric's value.
    pub raw: f64,
    /// The ceiling it is normalised by.
    pub ceiling: f64,
    /// The normalised score.
    pub normalized: f64,
    /// How `normalized` was computed.
    pub normalization: CeilingNormalization,
}

/// Split-half reliability of an RDM: for each halving of the repetitions, the RDMs of the two
/// half means are compared and the similarity is Spearman-Brown corrected; mean over halvings.
/// `responses` is `(stimuli, neuroids, repetitions)`, NaN for missing repetitions (a stimulus
/// missing in a half for some neuroid makes that half's RDM undefined: an error).
pub fn rdm_split_half_ceiling(
    responses: ArrayView3<f64>,
    rdm_method: crate::rdm::RdmMethod,
    compare: crate::compare::CompareMethod,
    n_splits: usize,
    seed: u64,
) -> Result<SplitHalfCeiling> {
    let reps = responses.dim().2;
    if reps < 2 {
        return Err(MetricError::InvalidOption(format!(
            "a split-half ceiling needs at least 2 repetitions, got {reps}"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut per_split = Vec::with_capacity(n_splits);
    for _ in 0..n_splits.max(1) {
        let mut p: Vec<usize> = (0..reps).collect();
        p.shuffle(&mut rng);
        let (a, b) = half_means(responses, &p);
        let ra = crate::rdm::compute_rdm(a.view(), rdm_method)?;
        let rb = crate::rdm::compute_rdm(b.view(), rdm_method)?;
        per_split.push(spearman_brown(crate::compare::compare_rdms(
            &ra, &rb, compare,
        )?));
    }
    let (ceiling, sem) = stats::mean_and_sem(&per_split);
    Ok(SplitHalfCeiling {
        ceiling,
        sem,
        per_split,
        per_neuroid: vec![],
        n_repetitions: reps,
    })
}
