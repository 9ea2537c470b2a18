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
        Column::new("normalization".into(), text(|r| &r.normalization)),
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
    mut df: DataFrame,
    rows: &[T],
) -> Result<()> {
    let mut parquet = vec![];
    ParquetWriter::new(&mut parquet)
        .finish(&mut df)
        .map_err(|e| ReportError::Table(e.to_string()))?;
    write_atomically(&dir.join(format!("{stem}.parquet")), &parquet)?;
    let mut csv = vec![];
    CsvWriter::new(&mut csv)
        .finish(&mut df)
        .map_err(|e| ReportError::Table(e.to_string()))?;
    write_atomically(&dir.join(format!("{stem}.csv")), &csv)?;
    let json = serde_json::to_string_pretty(rows).expect("serialisable");
    write_atomically(&dir.join(format!("{stem}.json")), json.as_bytes())
}

/// Reads `results.json` back.
pub fn read_results(path: &Path) -> Result<Vec<ScoreRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| ReportError::bad_file(path, format!("not a cortexbench results table: {e}")))
}
