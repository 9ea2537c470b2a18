//! The results table in three forms: Parquet and CSV through polars (for analysis), and JSON
//! (exact, what `harness merge`, `reproduce` and the report read back).

use std::path::Path;

use polars::prelude::*;

use crate::atomic::write_atomically;
use crate::error::{ReportError, Result};
use crate::rows::ScoreRow;

/// The table as a polars data frame, one column per [`ScoreRow`] field.
pub fn data_frame(rows: &[ScoreRow]) -> Result<DataFrame> {
    let text = |f: fn(&ScoreRow) -> &str| rows.iter().map(|r| f(r).to_string()).collect::<Vec<_>>();
    let columns = vec![
        Column::new("model".into(), text(|r| &r.model)),
        Column::new("rule".into(), text(|r| &r.rule)),
        Column::new("architecture".into(), text(|r| &r.architecture)),
        Column::new("layer".into(), text(|r| &r.layer)),
        Column::new(
            "layer_index".into(),
            rows.iter()
                .map(|r| r.layer_index as u32)
                .collect::<Vec<_>>(),
        ),
        Column::new("benchmark".into(), text(|r| &r.benchmark)),
        Column::new("region".into(), text(|r| &r.region)),
        Column::new("metric".into(), text(|r| &r.metric)),
        Column::new("raw".into(), rows.iter().map(|r| r.raw).collect::<Vec<_>>()),
        Column::new("sem".into(), rows.iter().map(|r| r.sem).collect::<Vec<_>>()),
        Column::new(
            "ceiling".into(),
            rows.iter().map(|r| r.ceiling).collect::<Vec<_>>(),
        ),
        Column::new(
            "normalized".into(),
            rows.iter().map(|r| r.normalized).collect::<Vec<_>>(),
        ),
        Column::new(
            "normalization".into(),
            rows.iter()
                .map(|r| r.normalization.clone())
                .collect::<Vec<_>>(),
        ),
        Column::new("ceiling_method".into(), text(|r| &r.ceiling_method)),
        Column::new(
            "selection_score".into(),
            rows.iter().map(|r| r.selection_score).collect::<Vec<_>>(),
        ),
        Column::new(
            "selected".into(),
            rows.iter().map(|r| r.selected).collect::<Vec<_>>(),
        ),
        Column::new(
            "n_stimuli".into(),
            rows.iter().map(|r| r.n_stimuli as u32).collect::<Vec<_>>(),
        ),
        Column::new(
            "seed".into(),
            rows.iter().map(|r| r.seed).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(rows.len(), columns).map_err(|e| ReportError::Table(e.to_string()))
}

/// Writes `results.parquet`, `results.csv` and `results.json` into `dir`, each atomically.
pub fn write_results(dir: &Path, rows: &[ScoreRow]) -> Result<()> {
    write_table(dir, "results", data_frame(rows)?, rows)
}

/// Writes a table as `<stem>.parquet` and `<stem>.csv` (from the frame) and `<stem>.json`
/// (from the rows, exactly), each atomically.
pub(crate) fn write_table<T: serde::Serialize>(
    dir: &Path,
    stem: &str,
    df: DataFrame,
    rows: &[T],
) -> Result<()> {
    write_data_frame(dir, stem, df)?;
    let json = serde_json::to_string_pretty(rows).expect("serialisable");
    write_atomically(&dir.join(format!("{stem}.json")), json.as_bytes())
}

/// Reads `results.json` back.
pub fn read_results(path: &Path) -> Result<Vec<ScoreRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| ReportError::bad_file(path, format!("not a cortexbench results table: {e}")))
}

/// Writes the leaderboard's entries (`leaderboard.{parquet,csv}`), pairwise tests
/// (`pairwise.{parquet,csv}`) and tied groups (`groups.{parquet,csv}`, one row per member);
/// the JSON form of all three is `leaderboard.json`.
pub fn write_leaderboard_tables(dir: &Path, board: &crate::Leaderboard) -> Result<()> {
    let e = &board.entries;
    let text =
        |f: fn(&crate::Entry) -> &str| e.iter().map(|x| f(x).to_string()).collect::<Vec<_>>();
    let bound = |i: usize| e.iter().map(|x| x.ci95.map(|c| c[i])).collect::<Vec<_>>();
    let flag = |f: fn(&crate::Entry) -> Option<bool>| e.iter().map(f).collect::<Vec<_>>();
    let entries = vec![
        Column::new("benchmark".into(), text(|x| &x.row.benchmark)),
        Column::new("region".into(), text(|x| &x.row.region)),
        Column::new("metric".into(), text(|x| &x.row.metric)),
        Column::new("model".into(), text(|x| &x.row.model)),
        Column::new("rule".into(), text(|x| &x.row.rule)),
        Column::new("architecture".into(), text(|x| &x.row.architecture)),
        Column::new("layer".into(), text(|x| &x.row.layer)),
        Column::new(
            "score".into(),
            e.iter().map(|x| x.headline()).collect::<Vec<_>>(),
        ),
        Column::new("ci95_low".into(), bound(0)),
        Column::new("ci95_high".into(), bound(1)),
        Column::new(
            "raw".into(),
            e.iter().map(|x| x.row.raw).collect::<Vec<_>>(),
        ),
        Column::new(
            "normalized".into(),
            e.iter().map(|x| x.row.normalized).collect::<Vec<_>>(),
        ),
        Column::new(
            "normalization".into(),
            e.iter()
                .map(|x| x.row.normalization.clone())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "n_seeds".into(),
            e.iter().map(|x| x.n_seeds as u32).collect::<Vec<_>>(),
        ),
        Column::new(
            "seeds".into(),
            e.iter()
                .map(|x| {
                    x.seeds
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>(),
        ),
        Column::new("tied_with_best".into(), flag(|x| x.tied_with_best)),
        Column::new("above_untrained".into(), flag(|x| x.above_untrained)),
    ];
    write_frame(dir, "leaderboard", e.len(), entries)?;
    let p = &board.pairwise;
    let text =
        |f: fn(&crate::PairwiseRow) -> &str| p.iter().map(|x| f(x).to_string()).collect::<Vec<_>>();
    let float = |f: fn(&crate::PairwiseRow) -> f64| p.iter().map(f).collect::<Vec<_>>();
    let pairs = vec![
        Column::new("benchmark".into(), text(|x| &x.benchmark)),
        Column::new("a".into(), text(|x| &x.a)),
        Column::new("b".into(), text(|x| &x.b)),
        Column::new("difference".into(), float(|x| x.difference)),
        Column::new("ci95_low".into(), float(|x| x.ci95[0])),
        Column::new("ci95_high".into(), float(|x| x.ci95[1])),
        Column::new("p".into(), float(|x| x.p)),
        Column::new("p_adjusted".into(), float(|x| x.p_adjusted)),
        Column::new(
            "significant".into(),
            p.iter().map(|x| x.significant).collect::<Vec<_>>(),
        ),
    ];
    write_frame(dir, "pairwise", p.len(), pairs)?;
    let members: Vec<(&str, &str, &str)> = board
        .groups
        .iter()
        .flat_map(|g| {
            g.models
                .iter()
                .map(move |m| (g.benchmark.as_str(), g.best.as_str(), m.as_str()))
        })
        .collect();
    let groups = vec![
        Column::new(
            "benchmark".into(),
            members.iter().map(|m| m.0.to_string()).collect::<Vec<_>>(),
        ),
        Column::new(
            "best".into(),
            members.iter().map(|m| m.1.to_string()).collect::<Vec<_>>(),
        ),
        Column::new(
            "model".into(),
            members.iter().map(|m| m.2.to_string()).collect::<Vec<_>>(),
        ),
    ];
    write_frame(dir, "groups", members.len(), groups)
}

/// Writes `<stem>.parquet` and `<stem>.csv` of these columns, each atomically.
fn write_frame(dir: &Path, stem: &str, height: usize, columns: Vec<Column>) -> Result<()> {
    let df = DataFrame::new(height, columns).map_err(|e| ReportError::Table(e.to_string()))?;
    write_data_frame(dir, stem, df)
}

/// Writes `<stem>.parquet` and `<stem>.csv` of a frame, each atomically.
fn write_data_frame(dir: &Path, stem: &str, mut df: DataFrame) -> Result<()> {
    let mut parquet = vec![];
    ParquetWriter::new(&mut parquet)
        .finish(&mut df)
        .map_err(|e| ReportError::Table(e.to_string()))?;
    write_atomically(&dir.join(format!("{stem}.parquet")), &parquet)?;
    let mut csv = vec![];
    CsvWriter::new(&mut csv)
        .finish(&mut df)
        .map_err(|e| ReportError::Table(e.to_string()))?;
    write_atomically(&dir.join(format!("{stem}.csv")), &csv)
}
