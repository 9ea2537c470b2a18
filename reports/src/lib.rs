//! Results tables, leaderboards, their comparison, and the HTML run report.
//!
//! | concept | module |
//! |---|---|
//! | a row of the results table | [`rows`] |
//! | Parquet / CSV / JSON tables (polars) | [`table`] |
//! | leaderboards and the CI comparison | [`leaderboard`] |
//! | the comparison's matrix, dot plots, significance matrices, layer panels | [`comparison_figures`] |
//! | figures (plotters, SVG) | [`plots`] |
//! | population-geometry tables and figures | [`geometry`] |
//! | the self-contained HTML report | [`html`] |

mod atomic;
pub mod comparison_figures;
mod error;
pub mod geometry;
pub mod html;
pub mod leaderboard;
pub mod plots;
pub mod rows;
pub mod spectral;
pub mod table;

pub use atomic::write_atomically;
pub use error::{ReportError, Result};
pub use geometry::{GeometryRow, JacobianRow, write_geometry};
pub use html::{ReportInputs, render, write_report};
pub use leaderboard::{
    Difference, Entry, Leaderboard, PairwiseRow, StatisticsNote, Status, TiedGroup, compare,
    difference_table,
};
pub use plots::RdmPanel;
pub use rows::{BootstrapReplicates, ScoreRow};
pub use spectral::{SpectralRow, write_spectral};
pub use table::{data_frame, read_results, write_leaderboard_tables, write_results};
