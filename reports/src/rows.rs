//! The results table's schema: one row per model, layer and benchmark.

use serde::{Deserialize, Serialize};

/// One layer of one model scored on one benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredScoreRow")]
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
    /// How `normalized` was computed from raw and ceiling (`raw/ceiling`, …); `None` without
    /// a ceiling.
    pub normalization: Option<String>,
    /// How the ceiling was measured, or why the benchmark has none (`none: …`).
    pub ceiling_method: String,
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

/// A [`ScoreRow`] as files hold it. Runs before the ceiling's method had a column of its own
/// wrote `normalization: "none: <why>"` for benchmarks without a ceiling; they read as no
/// normalisation, with that text as the ceiling's method.
#[derive(Deserialize)]
struct StoredScoreRow {
    model: String,
    rule: String,
    architecture: String,
    layer: String,
    layer_index: usize,
    benchmark: String,
    region: String,
    metric: String,
    raw: f64,
    sem: Option<f64>,
    ceiling: Option<f64>,
    normalized: Option<f64>,
    normalization: Option<String>,
    #[serde(default)]
    ceiling_method: Option<String>,
    selection_score: f64,
    selected: bool,
    n_stimuli: usize,
    seed: u64,
}

impl From<StoredScoreRow> for ScoreRow {
    fn from(s: StoredScoreRow) -> ScoreRow {
        let (normalization, ceiling_method) = match (s.normalization, s.ceiling_method) {
            (normalization, Some(method)) => (normalization, method),
            (Some(old), None) if old.starts_with("none") => (None, old),
            (normalization, None) => (normalization, String::new()),
        };
        ScoreRow {
            model: s.model,
            rule: s.rule,
            architecture: s.architecture,
            layer: s.layer,
            layer_index: s.layer_index,
            benchmark: s.benchmark,
            region: s.region,
            metric: s.metric,
            raw: s.raw,
            sem: s.sem,
            ceiling: s.ceiling,
            normalized: s.normalized,
            normalization,
            ceiling_method,
            selection_score: s.selection_score,
            selected: s.selected,
            n_stimuli: s.n_stimuli,
            seed: s.seed,
        }
    }
}

impl ScoreRow {
    /// The score a leaderboard ranks by: normalised where there is a ceiling, else raw.
    pub fn headline(&self) -> f64 {
        self.normalized.unwrap_or(self.raw)
    }

    /// What identifies a leaderboard entry across runs: the model on a benchmark, whichever
    /// layer each run chose.
    pub fn entry_key(&self) -> (String, String, String) {
        (
            self.model.clone(),
            self.benchmark.clone(),
            self.metric.clone(),
        )
    }

    /// What identifies a row across runs: one network (model and seed) and one layer on a
    /// benchmark.
    pub fn row_key(&self) -> (&str, &str, &str, &str, u64) {
        (
            &self.model,
            &self.benchmark,
            &self.metric,
            &self.layer,
            self.seed,
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

/// A selected row of a synthetic model on a V4 PLS benchmark, for tests.
#[cfg(test)]
pub(crate) fn synthetic_row(model: &str, rule: &str, layer: &str, seed: u64, raw: f64) -> ScoreRow {
    ScoreRow {
        model: model.into(),
        rule: rule.into(),
        architecture: "cnn".into(),
        layer: layer.into(),
        layer_index: 0,
        benchmark: "cowley2023.V4-pls".into(),
        region: "V4".into(),
        metric: "pls".into(),
        raw,
        sem: None,
        ceiling: None,
        normalized: None,
        normalization: None,
        ceiling_method: "none: synthetic".into(),
        selection_score: raw,
        selected: true,
        n_stimuli: 320,
        seed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(layer: &str, seed: u64) -> ScoreRow {
        synthetic_row("bp-cifar-cnn", "bp", layer, seed, 0.4)
    }

    /// Rows of two layers or two seeds are different rows of the same leaderboard entry.
    #[test]
    fn the_row_key_tells_layers_and_seeds_apart_and_the_entry_key_does_not() {
        let (a, b, c) = (row("conv1", 1), row("conv2", 1), row("conv1", 2));
        assert_ne!(a.row_key(), b.row_key());
        assert_ne!(a.row_key(), c.row_key());
        assert_eq!(a.row_key(), row("conv1", 1).row_key());
        assert_eq!(a.entry_key(), b.entry_key());
        assert_eq!(a.entry_key(), c.entry_key());
    }

    /// The normalisation and the ceiling's method are two fields; rows written before the
    /// split (the reason for a missing ceiling in `normalization`) read into both.
    #[test]
    fn rows_round_trip_and_rows_of_earlier_runs_read_into_the_two_fields() {
        let mut normalised = row("conv1", 1);
        normalised.ceiling = Some(0.8);
        normalised.normalized = Some(0.5);
        normalised.normalization = Some("raw/ceiling".into());
        normalised.ceiling_method = "split-half".into();
        for r in [row("conv1", 1), normalised] {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<ScoreRow>(&json).unwrap(), r);
        }
        let mut old = serde_json::to_value(row("conv1", 1)).unwrap();
        let fields = old.as_object_mut().unwrap();
        fields.remove("ceiling_method");
        fields.insert("normalization".into(), "none: one pooled RDM".into());
        let read: ScoreRow = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(read.normalization, None);
        assert_eq!(read.ceiling_method, "none: one pooled RDM");
        let fields = old.as_object_mut().unwrap();
        fields.insert("normalization".into(), "raw/ceiling".into());
        let read: ScoreRow = serde_json::from_value(old).unwrap();
        assert_eq!(read.normalization.as_deref(), Some("raw/ceiling"));
        assert_eq!(read.ceiling_method, "");
    }
}
