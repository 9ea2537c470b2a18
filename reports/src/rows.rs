//! The results table's schema: one row per model, layer and benchmark.

use serde::{Deserialize, Serialize};

/// One layer of one model scored on one benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow {
    /// The model's name (zoo name or file stem).
    pub model: String,
    /// Learning rule (`bp`, `fa`, …; `pretrained` or `untrained` for reference models).
    pub rule: String,
    /// Architecture, e.g. `mlp` or `efficientnet_lite0`.
    pub architecture: String,
    /// Layer.
    pub layer: String,
    /// Position of the layer in the model, from the input (0-based).
    pub layer_index: usize,
    /// Benchmark id.
    pub benchmark: String,
    /// Brain region.
    pub region: String,
    /// Metric name (`rsa`, `cka`, `pls`, …).
    pub metric: String,
    /// Raw score on the report half of the stimuli.
    pub raw: f64,
    /// Its standard error over cross-validation splits or target RDMs, when defined.
    pub sem: Option<f64>,
    /// Ceiling on the report half, when the benchmark has one.
    pub ceiling: Option<f64>,
    /// Ceiling-normalised score, when there is a ceiling.
    pub normalized: Option<f64>,
    /// How `normalized` was computed, or why there is no ceiling.
    pub normalization: String,
    /// Raw score on the selection half, which chooses the layer.
    pub selection_score: f64,
    /// Whether this layer was chosen for the leaderboard.
    pub selected: bool,
    /// Stimuli behind the reported score.
    pub n_stimuli: usize,
    /// Training seed of the network (the run's seed for ONNX models and checkpoints; the
    /// stimulus split and projections always use the run's seed).
    pub seed: u64,
}

impl ScoreRow {
    /// The score a leaderboard ranks by: normalised where there is a ceiling, else raw.
    pub fn headline(&self) -> f64 {
        self.normalized.unwrap_or(self.raw)
    }

    /// What identifies a leaderboard entry across runs.
    pub fn key(&self) -> (String, String, String) {
        (
            self.model.clone(),
            self.benchmark.clone(),
            self.metric.clone(),
        )
    }
}

/// The bootstrap replicates of one network's chosen layer on one benchmark, in the headline
/// unit (normalised where there is a ceiling, the ceiling held fixed), on the benchmark's
/// shared resamples: replicate `r` of every network used the same resample indices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapReplicates {
    /// Benchmark id.
    pub benchmark: String,
    /// The model's name (shared by its seeds).
    pub model: String,
    /// Learning rule.
    pub rule: String,
    /// Architecture.
    pub architecture: String,
    /// Training seed of this network.
    pub seed: u64,
    /// The headline score the replicates scatter around.
    pub estimate: f64,
    /// One value per resample; `null` where the resample's score is undefined.
    #[serde(with = "nan_as_null")]
    pub values: Vec<f64>,
}

/// JSON has no NaN: undefined replicates are written as `null` and read back as NaN.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|v| v.is_finite().then_some(*v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let values: Vec<Option<f64>> = Vec::deserialize(d)?;
        Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
}
