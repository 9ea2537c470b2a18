//! Scoring one model layer against one benchmark's neural target with the benchmark's metric,
//! on a chosen subset of the stimuli, and choosing a model's layer on stimuli that the reported
//! score does not use.

use anyhow::{Result, bail};
use brain_data::{NeuralAssembly, RdmAssembly, TargetData};
use evaluators::resampling::{
    Resamples, cka_replicates, held_out_resamples, predictivity_replicates, rsa_replicates,
};
use evaluators::{MetricSpec, Rdm};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// A raw score with its standard error where the metric has one (over splits or subjects).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawScore {
    /// The score.
    pub value: f64,
    /// Standard error of the mean over cross-validation splits or target RDMs.
    pub sem: Option<f64>,
}

/// Scores `features` (stimuli, features) against `target` on the same stimuli.
///
/// RSA compares the model RDM with each target RDM (or with the RDM of the repeat-averaged
/// responses) and averages over target RDMs; CKA and predictivity use repeat-averaged
/// responses, predictivity stratified by `labels` when given.
pub fn score_features(
    metric: &MetricSpec,
    features: ArrayView2<f64>,
    target: &TargetData,
    labels: Option<&[i64]>,
) -> Result<RawScore> {
    Ok(match (metric, target) {
        (MetricSpec::Rsa { rdm, compare }, _) => {
            let model = evaluators::compute_rdm(features, *rdm)?;
            let brain = target_rdms(target, *rdm)?;
            let values = brain
                .iter()
                .map(|b| evaluators::compare_rdms(&model, b, *compare))
                .collect::<Result<Vec<f64>, _>>()?;
            mean_with_sem(&values)
        }
        (MetricSpec::Cka { options }, TargetData::Responses(r)) => RawScore {
            value: evaluators::cka(features, r.mean_over_repetitions().view(), *options)?,
            sem: None,
        },
        (
            MetricSpec::Predictivity {
                regression,
                cross_validation,
            },
            TargetData::Responses(r),
        ) => {
            let p = evaluators::cross_validated_predictivity(
                features,
                r.mean_over_repetitions().view(),
                labels,
                regression,
                cross_validation,
            )?;
            RawScore {
                value: p.score,
                sem: Some(p.sem),
            }
        }
        (metric, TargetData::Rdms(_)) => bail!(
            "{} needs neural responses, but this target is a set of RDMs",
            metric.name()
        ),
    })
}

/// Bootstrap replicates of the raw score of `features` against `target` (the same stimuli
/// as [`score_features`]) on the benchmark's shared resamples; predictivity resamples each
/// split's held-out predictions with positions drawn from `held_out_seed`.
pub fn score_replicates(
    metric: &MetricSpec,
    features: ArrayView2<f64>,
    target: &TargetData,
    labels: Option<&[i64]>,
    resamples: &Resamples,
    held_out_seed: u64,
) -> Result<Vec<f64>> {
    Ok(match (metric, target) {
        (MetricSpec::Rsa { rdm, compare }, _) => {
            let model = evaluators::compute_rdm(features, *rdm)?;
            let brain = target_rdms(target, *rdm)?;
            rsa_replicates(&model, &brain, &subject_groups(target), *compare, resamples)?
        }
        (MetricSpec::Cka { options }, TargetData::Responses(r)) => cka_replicates(
            features,
            r.mean_over_repetitions().view(),
            *options,
            resamples,
        )?,
        (
            MetricSpec::Predictivity {
                regression,
                cross_validation,
            },
            TargetData::Responses(r),
        ) => {
            let responses = r.mean_over_repetitions();
            let held_out = evaluators::held_out_predictions(
                features,
                responses.view(),
                labels,
                regression,
                cross_validation,
            )?;
            let draws = held_out_resamples(&held_out.splits, resamples.len(), held_out_seed);
            predictivity_replicates(&held_out, responses.view(), &draws)?
        }
        (metric, TargetData::Rdms(_)) => bail!(
            "{} needs neural responses, but this target is a set of RDMs",
            metric.name()
        ),
    })
}

/// The target's RDMs grouped by subject (indices into its RDMs, in order of first
/// appearance); one group for responses.
pub fn subject_groups(target: &TargetData) -> Vec<Vec<usize>> {
    match target {
        TargetData::Rdms(r) => {
            let mut names: Vec<&str> = vec![];
            let mut groups: Vec<Vec<usize>> = vec![];
            for (i, rdm) in r.rdms.iter().enumerate() {
                match names.iter().position(|n| *n == rdm.subject) {
                    Some(g) => groups[g].push(i),
                    None => {
                        names.push(&rdm.subject);
                        groups.push(vec![i]);
                    }
                }
            }
            groups
        }
        TargetData::Responses(_) => vec![vec![0]],
    }
}

/// The target's RDMs: as given, or computed from repeat-averaged responses.
fn target_rdms(target: &TargetData, method: evaluators::RdmMethod) -> Result<Vec<Rdm>> {
    Ok(match target {
        TargetData::Rdms(r) => r
            .rdms
            .iter()
            .map(|x| Rdm::from_condensed(Array1::from(x.condensed.clone())))
            .collect::<Result<_, _>>()?,
        TargetData::Responses(r) => {
            vec![evaluators::compute_rdm(
                r.mean_over_repetitions().view(),
                method,
            )?]
        }
    })
}

/// Mean and, over more than one value, its standard error.
fn mean_with_sem(values: &[f64]) -> RawScore {
    let (value, sem) = evaluators::stats::mean_and_sem(values);
    RawScore {
        value,
        sem: (values.len() > 1).then_some(sem),
    }
}

/// The stimuli split in two disjoint halves: one to choose a model's best layer on, one to
/// report its score on. Seeded; stratified by `labels` when given, so both halves cover every
/// category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionSplit {
    /// Stimuli used to choose the layer.
    pub selection: Vec<usize>,
    /// Stimuli the reported score uses.
    pub report: Vec<usize>,
}

impl SelectionSplit {
    /// Splits `n` stimuli half and half (the report half gets the odd one).
    pub fn new(n: usize, labels: Option<&[i64]>, seed: u64) -> SelectionSplit {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut groups: Vec<Vec<usize>> = match labels {
            Some(labels) => {
                let mut distinct: Vec<i64> = labels.to_vec();
                distinct.sort_unstable();
                distinct.dedup();
                distinct
                    .iter()
                    .map(|c| (0..n).filter(|&i| labels[i] == *c).collect())
                    .collect()
            }
            None => vec![(0..n).collect()],
        };
        let (mut selection, mut report) = (vec![], vec![]);
        // Alternating which half gets a group's odd stimulus keeps the halves balanced.
        let mut odd_to_report = true;
        for group in &mut groups {
            group.shuffle(&mut rng);
            let mut half = group.len() / 2;
            if group.len() % 2 == 1 {
                if !odd_to_report {
                    half += 1;
                }
                odd_to_report = !odd_to_report;
            }
            selection.extend_from_slice(&group[..half]);
            report.extend_from_slice(&group[half..]);
        }
        selection.sort_unstable();
        report.sort_unstable();
        SelectionSplit { selection, report }
    }
}

/// The target restricted to `stimuli` (in that order).
pub fn subset_target(target: &TargetData, stimuli: &[usize]) -> TargetData {
    match target {
        TargetData::Rdms(r) => {
            let n = r.stimulus_ids.len();
            let rdms = r
                .rdms
                .iter()
                .map(|rdm| {
                    let mut x = rdm.clone();
                    x.condensed = sub_condensed(&rdm.condensed, n, stimuli);
                    x
                })
                .collect();
            TargetData::Rdms(RdmAssembly {
                stimulus_ids: stimuli.iter().map(|&i| r.stimulus_ids[i].clone()).collect(),
                region: r.region.clone(),
                rdms,
            })
        }
        TargetData::Responses(r) => TargetData::Responses(NeuralAssembly {
            stimulus_ids: stimuli.iter().map(|&i| r.stimulus_ids[i].clone()).collect(),
            neuroids: r.neuroids.clone(),
            responses: r.responses.select(Axis(0), stimuli),
            time_bin: r.time_bin.clone(),
        }),
    }
}

/// The condensed RDM of the chosen stimuli from the condensed RDM of all `n`.
fn sub_condensed(condensed: &[f64], n: usize, stimuli: &[usize]) -> Vec<f64> {
    let at = |i: usize, j: usize| {
        let (i, j) = if i < j { (i, j) } else { (j, i) };
        // Row-major upper triangle without the diagonal.
        condensed[i * n - i * (i + 1) / 2 + (j - i - 1)]
    };
    let mut out = Vec::with_capacity(stimuli.len() * stimuli.len().saturating_sub(1) / 2);
    for (a, &i) in stimuli.iter().enumerate() {
        for &j in &stimuli[a + 1..] {
            out.push(at(i, j));
        }
    }
    out
}

/// Rows `stimuli` of `features`, as f64.
pub fn subset_features(features: &Array2<f32>, stimuli: &[usize]) -> Array2<f64> {
    features.select(Axis(0), stimuli).mapv(f64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_condensed_matches_the_full_matrix() {
        let n = 6;
        let sym = |i: usize, j: usize| (i.min(j) * 10 + i.max(j)) as f64;
        let condensed: Vec<f64> = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .map(|(i, j)| sym(i, j))
            .collect();
        let pick = [4, 1, 5];
        assert_eq!(
            sub_condensed(&condensed, n, &pick),
            vec![sym(4, 1), sym(4, 5), sym(1, 5)]
        );
    }

    #[test]
    fn selection_split_is_disjoint_balanced_stratified_and_seeded() {
        let labels: Vec<i64> = (0..92).map(|i| i / 12).collect();
        let s = SelectionSplit::new(92, Some(&labels), 3);
        assert_eq!(s.selection.len() + s.report.len(), 92);
        assert!(s.selection.iter().all(|i| !s.report.contains(i)));
        assert!((s.selection.len() as i64 - s.report.len() as i64).abs() <= 1);
        for c in 0..8 {
            let count = |half: &[usize]| half.iter().filter(|&&i| labels[i] == c).count();
            assert!(
                count(&s.selection) >= 2 && count(&s.report) >= 2,
                "category {c}"
            );
        }
        assert_eq!(s, SelectionSplit::new(92, Some(&labels), 3));
        assert_ne!(s, SelectionSplit::new(92, Some(&labels), 4));
    }
}
