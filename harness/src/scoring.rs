//! The pieces of the protocol that work on stimulus subsets: the seeded selection/report
//! split, and a target restricted to a subset in the forms the metrics consume.

use anyhow::Result;
use brain_data::{NeuralAssembly, RdmAssembly, TargetData};
use evaluators::{NeuralTarget, Rdm};
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// A neural target restricted to some stimuli, in the forms the metrics consume.
#[derive(Debug, Clone)]
pub struct NeuralData {
    /// The target as brain-data describes it (the ceiling is measured on it).
    pub data: TargetData,
    /// What the metrics compare with.
    pub neural: Neural,
}

/// The metrics' view of a target.
#[derive(Debug, Clone)]
pub enum Neural {
    /// One RDM per subject or session, and the RDMs of each subject (indices, in order of
    /// first appearance) for the bootstrap over subjects.
    Rdms {
        /// The RDMs.
        rdms: Vec<Rdm>,
        /// Indices into `rdms` per subject.
        subjects: Vec<Vec<usize>>,
    },
    /// Repeat-averaged responses, `(stimuli, neuroids)`.
    Responses(Array2<f64>),
}

impl NeuralData {
    /// `target` restricted to `stimuli` (in that order).
    pub fn of(target: &TargetData, stimuli: &[usize]) -> Result<NeuralData> {
        let data = subset_target(target, stimuli)?;
        let neural = match &data {
            TargetData::Rdms(r) => Neural::Rdms {
                rdms: r
                    .rdms
                    .iter()
                    .map(|x| Rdm::from_condensed(Array1::from(x.condensed.clone())))
                    .collect::<Result<_, _>>()?,
                subjects: subject_groups(r),
            },
            TargetData::Responses(r) => Neural::Responses(r.mean_over_repetitions()),
        };
        Ok(NeuralData { data, neural })
    }

    /// The target as a metric's argument.
    pub fn as_target(&self) -> NeuralTarget<'_> {
        match &self.neural {
            Neural::Rdms { rdms, .. } => NeuralTarget::Rdms(rdms),
            Neural::Responses(r) => NeuralTarget::Responses(r.view()),
        }
    }

    /// The RDMs' indices per subject (one group for responses), for the bootstrap.
    pub fn subject_groups(&self) -> &[Vec<usize>] {
        match &self.neural {
            Neural::Rdms { subjects, .. } => subjects,
            Neural::Responses(_) => &[],
        }
    }

    /// Subjects the bootstrap resamples (1 for responses).
    pub fn subjects(&self) -> usize {
        match &self.neural {
            Neural::Rdms { subjects, .. } => subjects.len(),
            Neural::Responses(_) => 1,
        }
    }
}

/// The RDMs grouped by subject (indices into the RDMs, in order of first appearance).
fn subject_groups(r: &RdmAssembly) -> Vec<Vec<usize>> {
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
pub fn subset_target(target: &TargetData, stimuli: &[usize]) -> Result<TargetData> {
    Ok(match target {
        TargetData::Rdms(r) => {
            let rdms = r
                .rdms
                .iter()
                .map(|rdm| {
                    let whole = Rdm::from_condensed(Array1::from(rdm.condensed.clone()))?;
                    let mut x = rdm.clone();
                    x.condensed = whole.select(stimuli)?.condensed().to_vec();
                    Ok(x)
                })
                .collect::<Result<_>>()?;
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
    })
}

/// Rows `stimuli` of `features`, as f64.
pub fn subset_features(features: &Array2<f32>, stimuli: &[usize]) -> Array2<f64> {
    features.select(Axis(0), stimuli).mapv(f64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

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
