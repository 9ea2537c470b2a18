//! Typed data: stimulus sets, neural response assemblies and RDM assemblies.

use image::DynamicImage;
use ndarray::{Array2, Array3, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Ordered stimuli with their images and optional category labels.
#[derive(Debug, Clone)]
pub struct StimulusSet {
    /// Stable name, e.g. `kriegeskorte2008-92images`.
    pub name: String,
    /// One id per stimulus, unique.
    pub ids: Vec<String>,
    /// The images, in the same order (RGB or grayscale, 8 bits per channel).
    pub images: Vec<DynamicImage>,
    /// Category of each stimulus, when the dataset has one.
    pub categories: Option<Vec<String>>,
}

impl StimulusSet {
    /// Checks that ids are unique and that images and categories match the ids.
    pub fn validate(&self) -> Result<()> {
        let n = self.ids.len();
        let bad = |message: String| DataError::format(&self.name, message);
        if self.images.len() != n {
            return Err(bad(format!(
                "{} images for {n} stimulus ids",
                self.images.len()
            )));
        }
        if let Some(c) = &self.categories
            && c.len() != n
        {
            return Err(bad(format!("{} categories for {n} stimulus ids", c.len())));
        }
        let mut sorted = self.ids.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad(format!("stimulus id '{}' appears twice", w[0])));
        }
        Ok(())
    }

    /// Number of stimuli.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no stimuli.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Category labels as integers (in order of first appearance), for stratified splits.
    pub fn category_codes(&self) -> Option<Vec<i64>> {
        let categories = self.categories.as_ref()?;
        let mut seen: Vec<&String> = vec![];
        Some(
            categories
                .iter()
                .map(|c| match seen.iter().position(|s| *s == c) {
                    Some(i) => i as i64,
                    None => {
                        seen.push(c);
                        (seen.len() - 1) as i64
                    }
                })
                .collect(),
        )
    }
}

/// Where and how a neuroid was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neuroid {
    /// Unique id, e.g. `210325-n07`.
    pub id: String,
    /// Brain region, e.g. `V4`.
    pub region: String,
    /// Recording session.
    pub session: String,
    /// Animal (or subject) id, when known.
    pub animal: Option<String>,
}

/// Responses of neuroids to stimuli, with repetitions.
#[derive(Debug, Clone)]
pub struct NeuralAssembly {
    /// Stimulus ids, matching a [`StimulusSet`]'s order.
    pub stimulus_ids: Vec<String>,
    /// The neuroids.
    pub neuroids: Vec<Neuroid>,
    /// `(stimuli, neuroids, repetitions)`; NaN marks a repetition that was not recorded.
    pub responses: Array3<f64>,
    /// How responses were binned in time, as the dataset describes it.
    pub time_bin: Option<String>,
}

impl NeuralAssembly {
    /// Checks shapes against the ids, and that every stimulus-neuroid pair has at least one
    /// recorded repetition and no infinite value.
    pub fn validate(&self, name: &str) -> Result<()> {
        let (s, n, _) = self.responses.dim();
        let bad = |message: String| DataError::format(name, message);
        if s != self.stimulus_ids.len() || n != self.neuroids.len() {
            return Err(bad(format!(
                "responses are {s} stimuli x {n} neuroids, but there are {} stimulus ids and {} neuroids",
                self.stimulus_ids.len(),
                self.neuroids.len()
            )));
        }
        if let Some(((i, j, r), v)) = self.responses.indexed_iter().find(|(_, v)| v.is_infinite()) {
            return Err(bad(format!("response ({i}, {j}, {r}) is {v}")));
        }
        for ((i, j), lane) in self
            .responses
            .lanes(Axis(2))
            .into_iter()
            .enumerate()
            .map(|(k, l)| ((k / n, k % n), l))
        {
            if lane.iter().all(|v| v.is_nan()) {
                return Err(bad(format!(
                    "stimulus {} has no recorded repetition for neuroid {}",
                    self.stimulus_ids[i], self.neuroids[j].id
                )));
            }
        }
        Ok(())
    }

    /// `(stimuli, neuroids)` mean over the recorded repetitions.
    pub fn mean_over_repetitions(&self) -> Array2<f64> {
        self.responses.map_axis(Axis(2), |lane| {
            let (sum, count) = lane
                .iter()
                .filter(|v| !v.is_nan())
                .fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
            sum / count as f64
        })
    }

    /// Number of repetitions recorded per stimulus (for the first neuroid).
    pub fn repetitions_per_stimulus(&self) -> Vec<usize> {
        self.responses
            .index_axis(Axis(1), 0)
            .rows()
            .into_iter()
            .map(|r| r.iter().filter(|v| !v.is_nan()).count())
            .collect()
    }
}

/// One RDM of an [`RdmAssembly`].
#[derive(Debug, Clone, PartialEq)]
pub struct NamedRdm {
    /// Subject or animal.
    pub subject: String,
    /// Session, when there are several.
    pub session: Option<String>,
    /// Condensed upper triangle (row-major, diagonal excluded).
    pub condensed: Vec<f64>,
}

/// One or more RDMs over the same stimuli.
#[derive(Debug, Clone)]
pub struct RdmAssembly {
    /// Stimulus ids, matching a [`StimulusSet`]'s order.
    pub stimulus_ids: Vec<String>,
    /// Brain region.
    pub region: String,
    /// The RDMs.
    pub rdms: Vec<NamedRdm>,
}

impl RdmAssembly {
    /// Checks every RDM's length against the stimulus count and that values are finite.
    pub fn validate(&self, name: &str) -> Result<()> {
        let n = self.stimulus_ids.len();
        let expected = n * n.saturating_sub(1) / 2;
        for rdm in &self.rdms {
            if rdm.condensed.len() != expected {
                return Err(DataError::format(
                    name,
                    format!(
                        "RDM of {} has {} entries; {n} stimuli need {expected}",
                        rdm.subject,
                        rdm.condensed.len()
                    ),
                ));
            }
            if rdm.condensed.iter().any(|v| !v.is_finite()) {
                return Err(DataError::format(
                    name,
                    format!("RDM of {} has non-finite entries", rdm.subject),
                ));
            }
        }
        Ok(())
    }
}

/// Condensed upper triangle (row-major) of a square matrix given column-major, as MATLAB stores it.
pub(crate) fn condensed_from_column_major(values: &[f64], n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            out.push(values[i + n * j]);
        }
    }
    out
}
