//! Leaderboards: the chosen layer of every model on every benchmark, as JSON (for CI gates)
//! and Markdown, and the comparison of two leaderboards.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomically;
use crate::error::{ReportError, Result};
use crate::rows::ScoreRow;

/// A run's leaderboard: every model's entry on every benchmark with its interval, the
/// pairwise tests of each benchmark, and the models tied with each benchmark's best.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    /// Format marker.
    pub format: String,
    /// One entry per model and benchmark, sorted by benchmark, then best score first.
    pub entries: Vec<Entry>,
    /// How the intervals and tests were computed (absent in format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics: Option<StatisticsNote>,
    /// Every pair of models on every benchmark (absent in format 1).
    #[serde(default)]
    pub pairwise: Vec<PairwiseRow>,
    /// Per benchmark, the models not distinguishable from the best (absent in format 1).
    #[serde(default)]
    pub groups: Vec<TiedGroup>,
}

/// A model's entry on one benchmark: its chosen layer's score (the mean over its training
/// seeds when it has several) with a bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The chosen layer's row; with several seeds `raw`, `normalized`, `selection_score` and
    /// `sem` are means over seeds, `layer` lists each seed's choice (`conv3/fc1`), and
    /// `seed` is the first seed.
    #[serde(flatten)]
    pub row: ScoreRow,
    /// 95 % (or the run's confidence) bootstrap interval of the headline score.
    #[serde(default)]
    pub ci95: Option<[f64; 2]>,
    /// Training seeds averaged.
    #[serde(default = "one")]
    pub n_seeds: usize,
    /// Which seeds.
    #[serde(default)]
    pub seeds: Vec<u64>,
    /// Not distinguishable from the benchmark's best (Holm-adjusted paired test).
    #[serde(default)]
    pub tied_with_best: Option<bool>,
    /// Significantly above the untrained network of its architecture (`None`: no such
    /// baseline in the run, or the entry is that baseline or not a trained zoo network).
    #[serde(default)]
    pub above_untrained: Option<bool>,
}

fn one() -> usize {
    1
}

impl Entry {
    /// The score the leaderboard ranks by (see [`ScoreRow::headline`]).
    pub fn headline(&self) -> f64 {
        self.row.headline()
    }
}

/// How a leaderboard's intervals and tests were computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatisticsNote {
    /// The method in words.
    pub method: String,
    /// Bootstrap resamples per benchmark.
    pub resamples: usize,
    /// Interval coverage; tests are significant below 1 − confidence.
    pub confidence: f64,
    /// The run seed the resample streams derive from.
    pub seed: u64,
    /// The multiple-comparison family of each benchmark.
    pub family: String,
}

/// The paired bootstrap test of two models on one benchmark; `a` is the higher-scoring one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairwiseRow {
    /// Benchmark.
    pub benchmark: String,
    /// The model with the higher score.
    pub a: String,
    /// The other model.
    pub b: String,
    /// Headline score of `a` minus that of `b`.
    pub difference: f64,
    /// Bootstrap interval of the difference.
    pub ci95: [f64; 2],
    /// Two-sided bootstrap p of no difference.
    pub p: f64,
    /// `p` after Holm's correction over the benchmark's pairs.
    pub p_adjusted: f64,
    /// `p_adjusted` below 1 − confidence.
    pub significant: bool,
}

/// The models of a benchmark that no test separates from its best.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TiedGroup {
    /// Benchmark.
    pub benchmark: String,
    /// The best-scoring model.
    pub best: String,
    /// It and every model not significantly below it, best first.
    pub models: Vec<String>,
}

/// The leaderboard format this version writes.
/// Format 3 gives the ceiling's method a field of its own (`ceiling_method`) and leaves
/// `normalization` empty without a ceiling.
pub const LEADERBOARD_FORMAT: &str = "cortexbench-leaderboard-3";

/// Earlier formats [`Leaderboard::load`] still reads (1: entries without intervals; 1 and 2:
/// the reason for a missing ceiling in `normalization`).
const READABLE_FORMATS: [&str; 3] = [
    "cortexbench-leaderboard-1",
    "cortexbench-leaderboard-2",
    LEADERBOARD_FORMAT,
];

impl Leaderboard {
    /// The selected rows of `rows` as entries of one seed each, without intervals or tests,
    /// sorted by benchmark, then best score first.
    pub fn from_rows(rows: &[ScoreRow]) -> Leaderboard {
        let entries = rows
            .iter()
            .filter(|r| r.selected)
            .map(|r| Entry {
                row: r.clone(),
                ci95: None,
                n_seeds: 1,
                seeds: vec![r.seed],
                tied_with_best: None,
                above_untrained: None,
            })
            .collect();
        Leaderboard::new(entries, None, vec![], vec![])
    }

    /// A leaderboard of these entries (sorted here), tests and groups.
    pub fn new(
        mut entries: Vec<Entry>,
        statistics: Option<StatisticsNote>,
        pairwise: Vec<PairwiseRow>,
        groups: Vec<TiedGroup>,
    ) -> Leaderboard {
        entries.sort_by(|a, b| {
            a.row
                .benchmark
                .cmp(&b.row.benchmark)
                .then(b.headline().total_cmp(&a.headline()))
                .then(a.row.model.cmp(&b.row.model))
        });
        Leaderboard {
            format: LEADERBOARD_FORMAT.into(),
            entries,
            statistics,
            pairwise,
            groups,
        }
    }

    /// Reads a leaderboard JSON file.
    pub fn load(path: &Path) -> Result<Leaderboard> {
        let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
        let board: Leaderboard = serde_json::from_str(&text).map_err(|e| {
            ReportError::bad_file(path, format!("not a cortexbench leaderboard: {e}"))
        })?;
        if !READABLE_FORMATS.contains(&board.format.as_str()) {
            return Err(ReportError::bad_file(
                path,
                format!(
                    "format '{}', expected one of {}",
                    board.format,
                    READABLE_FORMATS.join(", ")
                ),
            ));
        }
        Ok(board)
    }

    /// Writes the JSON form atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("serialisable");
        write_atomically(path, text.as_bytes())
    }

    /// A Markdown table per benchmark, with each benchmark's tied group and how many of its
    /// pairs differ.
    pub fn markdown(&self) -> String {
        let mut text = String::new();
        let mut current = None;
        for e in &self.entries {
            let r = &e.row;
            if current != Some(&r.benchmark) {
                if let Some(previous) = current {
                    text.push_str(&self.benchmark_footer(previous));
                    text.push('\n');
                }
                text.push_str(&format!(
                    "### {} ({}, {})\n\n| rank | model | rule | layer | seeds | score | 95 % CI | raw | ceiling | tied with best | above untrained |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
                    r.benchmark, r.region, r.metric
                ));
                current = Some(&r.benchmark);
            }
            let rank = self
                .entries
                .iter()
                .filter(|o| o.row.benchmark == r.benchmark && o.headline() > e.headline())
                .count()
                + 1;
            let flag = |v: Option<bool>| match v {
                Some(true) => "yes",
                Some(false) => "no",
                None => "–",
            };
            text.push_str(&format!(
                "| {rank} | {} | {} | {} | {} | {:.4} | {} | {:.4} | {} | {} | {} |\n",
                r.model,
                r.rule,
                r.layer,
                e.n_seeds,
                e.headline(),
                e.ci95
                    .map_or("–".into(), |[lo, hi]| format!("[{lo:.4}, {hi:.4}]")),
                r.raw,
                fmt_opt(r.ceiling),
                flag(e.tied_with_best),
                flag(e.above_untrained),
            ));
        }
        if let Some(last) = current {
            text.push_str(&self.benchmark_footer(last));
        }
        let normalizations: Vec<&str> = {
            let mut n: Vec<&str> = self
                .entries
                .iter()
                .filter(|e| e.row.normalized.is_some())
                .filter_map(|e| e.row.normalization.as_deref())
                .collect();
            n.sort_unstable();
            n.dedup();
            n
        };
        if !normalizations.is_empty() {
            text.push_str(&format!(
                "\nScore = normalised where the benchmark has a ceiling ({}), else raw.\n",
                normalizations.join(", ")
            ));
        }
        if let Some(note) = &self.statistics {
            text.push_str(&format!("\n{} {}\n", note.method, note.family));
        }
        text
    }

    /// The tied group and the count of significant pairs of one benchmark.
    fn benchmark_footer(&self, benchmark: &str) -> String {
        let pairs: Vec<&PairwiseRow> = self
            .pairwise
            .iter()
            .filter(|p| p.benchmark == benchmark)
            .collect();
        let mut text = String::new();
        if let Some(group) = self.groups.iter().find(|g| g.benchmark == benchmark) {
            text.push_str(&format!(
                "\nNot distinguishable from the best: {}.",
                group.models.join(", ")
            ));
        }
        if !pairs.is_empty() {
            text.push_str(&format!(
                " {} of {} pairs differ significantly (Holm).\n",
                pairs.iter().filter(|p| p.significant).count(),
                pairs.len()
            ));
        } else if !text.is_empty() {
            text.push('\n');
        }
        text
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.4}"))
}

/// One line of a leaderboard comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// Model.
    pub model: String,
    /// Benchmark.
    pub benchmark: String,
    /// Metric.
    pub metric: String,
    /// Score before (normalised where there is a ceiling).
    pub old: Option<f64>,
    /// Score after.
    pub new: Option<f64>,
    /// Interval of `new − old` from both entries' intervals (independent runs), when both
    /// have one.
    pub change_ci: Option<[f64; 2]>,
    /// What the comparison found.
    pub status: Status,
}

/// How an entry changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within tolerance, or better.
    Ok,
    /// Dropped by more than the tolerance, but the interval of the change includes zero
    /// (only when significance is asked for); passes.
    WithinNoise,
    /// Dropped by more than the tolerance (and, when significance is asked for, its interval
    /// excludes zero or is unknown).
    Dropped,
    /// In the old leaderboard only.
    Missing,
    /// In the new leaderboard only.
    Added,
}

/// Compares two leaderboards entry by entry (model, benchmark, metric): an entry whose score
/// dropped by more than `tolerance`, or that disappeared, fails the gate. With
/// `significant`, a drop fails only when the interval of the change also excludes zero; the
/// interval treats the runs as independent: `change ± z·sqrt(se_old² + se_new²)`, each
/// standard error read off its entry's interval as `width / 2z`. A drop whose entries have no
/// interval (format-1 leaderboards) fails as without `significant`.
pub fn compare(
    old: &Leaderboard,
    new: &Leaderboard,
    tolerance: f64,
    significant: bool,
) -> Vec<Difference> {
    type Key = (String, String, String);
    let index = |b: &Leaderboard| -> BTreeMap<Key, (f64, Option<[f64; 2]>)> {
        b.entries
            .iter()
            .map(|e| (e.row.entry_key(), (e.headline(), e.ci95)))
            .collect()
    };
    let z = |b: &Leaderboard| normal_quantile(b.statistics.as_ref().map_or(0.95, |s| s.confidence));
    let (z_old, z_new) = (z(old), z(new));
    let (before, after) = (index(old), index(new));
    let mut keys: Vec<_> = before.keys().chain(after.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let (o, n) = (before.get(&key).copied(), after.get(&key).copied());
            let change_ci = match (o, n) {
                (Some((o, Some([ol, oh]))), Some((n, Some([nl, nh])))) => {
                    let se = ((oh - ol) / (2.0 * z_old)).hypot((nh - nl) / (2.0 * z_new));
                    let zc = z_new.max(z_old);
                    Some([n - o - zc * se, n - o + zc * se])
                }
                _ => None,
            };
            let status = match (o, n) {
                (Some((o, _)), Some((n, _))) if n < o - tolerance || n.is_nan() => {
                    match change_ci {
                        Some([_, high]) if significant && high >= 0.0 && !n.is_nan() => {
                            Status::WithinNoise
                        }
                        _ => Status::Dropped,
                    }
                }
                (Some(_), Some(_)) => Status::Ok,
                (Some(_), None) => Status::Missing,
                (None, _) => Status::Added,
            };
            Difference {
                model: key.0,
                benchmark: key.1,
                metric: key.2,
                old: o.map(|v| v.0),
                new: n.map(|v| v.0),
                change_ci,
                status,
            }
        })
        .collect()
}

/// The standard normal quantile of a two-sided interval's coverage (e.g. 0.95 → 1.96), by
/// bisection on the normal CDF.
fn normal_quantile(confidence: f64) -> f64 {
    let target = 0.5 + confidence / 2.0;
    let (mut lo, mut hi) = (0.0f64, 10.0f64);
    for _ in 0..80 {
        let mid = (lo + hi) / 2.0;
        if normal_cdf(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Φ(x) through erfc (Numerical Recipes' Chebyshev fit, relative error below 1.2e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let erfc = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        1.0 - erfc / 2.0
    } else {
        erfc / 2.0
    }
}

/// The comparison as a plain-text table.
pub fn difference_table(differences: &[Difference]) -> String {
    let mut text = format!(
        "{:<28} {:<28} {:<6} {:>8} {:>8} {:>8}  status\n",
        "model", "benchmark", "metric", "old", "new", "change"
    );
    for d in differences {
        let change = match (d.old, d.new) {
            (Some(o), Some(n)) => format!("{:+.4}", n - o),
            _ => "–".into(),
        };
        let status = match d.status {
            Status::Ok => "ok",
            Status::WithinNoise => "within noise",
            Status::Dropped => "DROPPED",
            Status::Missing => "MISSING",
            Status::Added => "added",
        };
        text.push_str(&format!(
            "{:<28} {:<28} {:<6} {:>8} {:>8} {:>8}  {status}\n",
            d.model,
            d.benchmark,
            d.metric,
            d.old.map_or("–".into(), |v| format!("{v:.4}")),
            d.new.map_or("–".into(), |v| format!("{v:.4}")),
            change
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_scipy() {
        // scipy.stats.norm.ppf(0.975), norm.ppf(0.95), norm.ppf(0.995)
        for (confidence, z) in [(0.95, 1.959963985), (0.9, 1.644853627), (0.99, 2.575829304)] {
            assert!(
                (normal_quantile(confidence) - z).abs() < 1e-6,
                "{confidence}"
            );
        }
    }
}
