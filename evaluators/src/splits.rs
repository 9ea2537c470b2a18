//! Seeded train/test splits (Brain-Score's 10 × 90/10 stratified shuffle splits).

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{MetricError, Result};

/// How stimuli are split into train and test sets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossValidation {
    /// Number of independent random splits.
    pub n_splits: usize,
    /// Fraction of stimuli held out for testing (rounded up, as scikit-learn does).
    pub test_fraction: f64,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl Default for CrossValidation {
    /// Brain-Score's: 10 splits, 90 % train / 10 % test.
    fn default() -> Self {
        Self {
            n_splits: 10,
            test_fraction: 0.1,
            seed: 1,
        }
    }
}

/// One split: sorted stimulus indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Stimuli the regression is fitted on.
    pub train: Vec<usize>,
    /// Held-out stimuli it is scored on.
    pub test: Vec<usize>,
}

impl Split {
    /// Checks that both parts are non-empty, hold each of `n` stimuli at most once, and share
    /// none (a held-out stimulus in the training set would leak into the score).
    pub fn validate(&self, n: usize) -> Result<()> {
        let mut seen = vec![0u8; n];
        for (part, indices, mark) in [("train", &self.train, 1u8), ("test", &self.test, 2u8)] {
            if indices.is_empty() {
                return Err(MetricError::InvalidOption(format!(
                    "the {part} set of a split is empty"
                )));
            }
            for &i in indices {
                let Some(slot) = seen.get_mut(i) else {
                    return Err(MetricError::ShapeMismatch(format!(
                        "split index {i} is out of range for {n} stimuli"
                    )));
                };
                match *slot {
                    0 => *slot = mark,
                    m if m == mark => {
                        return Err(MetricError::InvalidOption(format!(
                            "stimulus {i} appears twice in the {part} set of a split"
                        )));
                    }
                    _ => {
                        return Err(MetricError::InvalidOption(format!(
                            "stimulus {i} is in both the train and the test set of a split"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

impl CrossValidation {
    /// Checks the options before any data is seen: 1 to [`MAX_SPLITS`] splits, a test
    /// fraction strictly between 0 and 1.
    pub fn validate(&self) -> Result<()> {
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(MetricError::InvalidOption(format!(
                "test fraction must be in (0, 1), got {}",
                self.test_fraction
            )));
        }
        if self.n_splits == 0 || self.n_splits > MAX_SPLITS {
            return Err(MetricError::InvalidOption(format!(
                "the number of splits must be 1 to {MAX_SPLITS}, got {}",
                self.n_splits
            )));
        }
        Ok(())
    }
}

/// The most splits a cross-validation may ask for: far beyond any use (Brain-Score's
/// convention is 10), and small enough that the splits' index lists always fit in memory.
pub const MAX_SPLITS: usize = 10_000;

/// Shuffle splits of `n` stimuli. With labels, every split holds out each label in proportion
/// to its frequency (largest-remainder rounding), like scikit-learn's `StratifiedShuffleSplit`;
/// each label then needs at least 2 stimuli.
pub fn shuffle_splits(
    n: usize,
    labels: Option<&[i64]>,
    cv: &CrossValidation,
) -> Result<Vec<Split>> {
    cv.validate()?;
    let n_test = (cv.test_fraction * n as f64).ceil() as usize;
    if n_test < 3 || n - n_test < 3 {
        return Err(MetricError::TooFewStimuli {
            what: format!(
                "a {:.0}/{:.0} split",
                100.0 * (1.0 - cv.test_fraction),
                100.0 * cv.test_fraction
            ),
            got: n,
            min: (3.0 / cv.test_fraction.min(1.0 - cv.test_fraction)).ceil() as usize,
        });
    }
    let groups: Vec<Vec<usize>> = match labels {
        None => vec![(0..n).collect()],
        Some(labels) => {
            if labels.len() != n {
                return Err(MetricError::ShapeMismatch(format!(
                    "{} labels for {n} stimuli",
                    labels.len()
                )));
            }
            let mut by_label: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
            for (i, &l) in labels.iter().enumerate() {
                by_label.entry(l).or_default().push(i);
            }
            if let Some((label, members)) = by_label.iter().find(|(_, m)| m.len() < 2) {
                return Err(MetricError::InvalidOption(format!(
                    "label {label} has only {} stimulus; stratified splits need at least 2 per label",
                    members.len()
                )));
            }
            by_label.into_values().collect()
        }
    };
    let test_counts = apportion(n_test, &groups.iter().map(Vec::len).collect::<Vec<_>>());
    let mut rng = ChaCha8Rng::seed_from_u64(cv.seed);
    let splits = (0..cv.n_splits)
        .map(|_| {
            let (mut train, mut test) =
                (Vec::with_capacity(n - n_test), Vec::with_capacity(n_test));
            for (group, &k) in groups.iter().zip(&test_counts) {
                let mut members = group.clone();
                members.shuffle(&mut rng);
                test.extend_from_slice(&members[..k]);
                train.extend_from_slice(&members[k..]);
            }
            train.sort_unstable();
            test.sort_unstable();
            Split { train, test }
        })
        .collect();
    Ok(splits)
}

/// Splits `total` into integer parts proportional to `sizes` (largest remainder; ties to the
/// earlier group), never giving a group all of its members.
fn apportion(total: usize, sizes: &[usize]) -> Vec<usize> {
    let n: usize = sizes.iter().sum();
    let exact: Vec<f64> = sizes
        .iter()
        .map(|&s| total as f64 * s as f64 / n as f64)
        .collect();
    let mut counts: Vec<usize> = exact
        .iter()
        .zip(sizes)
        .map(|(e, &s)| (e.floor() as usize).min(s - 1))
        .collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut missing = total - counts.iter().sum::<usize>();
    while missing > 0 {
        let before = missing;
        for &g in &order {
            if missing > 0 && counts[g] + 1 < sizes[g] {
                counts[g] += 1;
                missing -= 1;
            }
        }
        if missing == before {
            break;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_splits_are_disjoint_balanced_and_seeded() {
        let labels: Vec<i64> = (0..100).map(|i| i % 4).collect();
        let cv = CrossValidation::default();
        let splits = shuffle_splits(100, Some(&labels), &cv).unwrap();
        assert_eq!(splits.len(), 10);
        for s in &splits {
            assert_eq!(s.test.len(), 10);
            assert_eq!(s.train.len(), 90);
            let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..100).collect::<Vec<_>>());
            let mut per_label = [0; 4];
            s.test
                .iter()
                .for_each(|&i| per_label[labels[i] as usize] += 1);
            assert!(per_label.iter().all(|&c| c == 2 || c == 3), "{per_label:?}");
        }
        assert_ne!(splits[0].test, splits[1].test);
        assert_eq!(splits, shuffle_splits(100, Some(&labels), &cv).unwrap());
    }

    #[test]
    fn singleton_label_is_rejected() {
        let labels = [
            0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
            2,
        ];
        let cv = CrossValidation::default();
        assert!(matches!(
            shuffle_splits(30, Some(&labels), &cv),
            Err(MetricError::InvalidOption(_))
        ));
    }
}
