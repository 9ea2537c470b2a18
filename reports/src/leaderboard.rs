//! Leaderboards: the chosen layer of every model on every benchmark, as JSON (for CI gates)
//! and Markdown, and the comparison of two leaderboards.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomically;
use crate::error::{ReportError, Result};
use crate::rows::ScoreRow;

/// The selected rows of a run, ranked within each benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    /// Format marker.
    pub format: String,
    /// One entry per model and benchmark: its chosen layer.
    pub entries: Vec<ScoreRow>,
}

/// The leaderboard format this version writes.
pub const LEADERBOARD_FORMAT: &str = "cortexbench-leaderboard-1";

impl Leaderboard {
    /// The selected rows of `rows`, sorted by benchmark, then best score first.
    pub fn from_rows(rows: &[ScoreRow]) -> Leaderboard {
        let mut entries: Vec<ScoreRow> = rows.iter().filter(|r| r.selected).cloned().collect();
        entries.sort_by(|a, b| {
            a.benchmark
                .cmp(&b.benchmark)
                .then(b.headline().total_cmp(&a.headline()))
                .then(a.model.cmp(&b.model))
        });
        Leaderboard {
            format: LEADERBOARD_FORMAT.into(),
            entries,
        }
    }

    /// Reads a leaderboard JSON file.
    pub fn load(path: &Path) -> Result<Leaderboard> {
        let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
        let board: Leaderboard = serde_json::from_str(&text).map_err(|e| {
            ReportError::bad_file(path, format!("not a cortexbench leaderboard: {e}"))
        })?;
        if board.format != LEADERBOARD_FORMAT {
            return Err(ReportError::bad_file(
                path,
                format!("format '{}', expected '{LEADERBOARD_FORMAT}'", board.format),
            ));
        }
        Ok(board)
    }

    /// Writes the JSON form atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("serialisable");
        write_atomically(path, text.as_bytes())
    }

    /// A Markdown table per benchmark.
    pub fn markdown(&self) -> String {
        let mut text = String::new();
        let mut current = None;
        for r in &self.entries {
            if current != Some(&r.benchmark) {
                if current.is_some() {
                    text.push('\n');
                }
                text.push_str(&format!(
                    "### {} ({}, {})\n\n| rank | model | rule | layer | raw | ± SEM | ceiling | normalised |\n|---|---|---|---|---|---|---|---|\n",
                    r.benchmark, r.region, r.metric
                ));
                current = Some(&r.benchmark);
            }
            let rank = self
                .entries
                .iter()
                .filter(|o| o.benchmark == r.benchmark && o.headline() > r.headline())
                .count()
                + 1;
            text.push_str(&format!(
                "| {rank} | {} | {} | {} | {:.4} | {} | {} | {} |\n",
                r.model,
                r.rule,
                r.layer,
                r.raw,
                fmt_opt(r.sem),
                fmt_opt(r.ceiling),
                fmt_opt(r.normalized)
            ));
        }
        let normalizations: Vec<&str> = {
            let mut n: Vec<&str> = self
                .entries
                .iter()
                .filter(|r| r.normalized.is_some())
                .map(|r| r.normalization.as_str())
                .collect();
            n.sort_unstable();
            n.dedup();
            n
        };
        if !normalizations.is_empty() {
            text.push_str(&format!("\nNormalised = {}.\n", normalizations.join(", ")));
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
    /// What the comparison found.
    pub status: Status,
}

/// How an entry changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within tolerance, or better.
    Ok,
    /// Dropped by more than the tolerance.
    Dropped,
    /// In the old leaderboard only.
    Missing,
    /// In the new leaderboard only.
    Added,
}

/// Compares two leaderboards entry by entry (model, benchmark, metric): an entry whose score
/// dropped by more than `tolerance`, or that disappeared, fails the gate.
pub fn compare(old: &Leaderboard, new: &Leaderboard, tolerance: f64) -> Vec<Difference> {
    let index = |b: &Leaderboard| -> BTreeMap<(String, String, String), f64> {
        b.entries.iter().map(|r| (r.key(), r.headline())).collect()
    };
    let (before, after) = (index(old), index(new));
    let mut keys: Vec<_> = before.keys().chain(after.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let (o, n) = (before.get(&key).copied(), after.get(&key).copied());
            let status = match (o, n) {
                (Some(o), Some(n)) if n < o - tolerance || n.is_nan() => Status::Dropped,
                (Some(_), Some(_)) => Status::Ok,
                (Some(_), None) => Status::Missing,
                (None, _) => Status::Added,
            };
            Difference {
                model: key.0,
                benchmark: key.1,
                metric: key.2,
                old: o,
                new: n,
                status,
            }
        })
        .collect()
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
