//! Results tables, leaderboards, their comparison, and the HTML run report.
//!
//! | concept | module |
//! |---|---|
//! | a row of the results table | [`rows`] |
//! | Parquet / CSV / JSON tables (polars) | [`table`] |
//! | leaderboards and the CI comparison | [`leaderboard`] |
//! | figures (plotters, SVG) | [`plots`] |
//! | population-geometry tables and figures | [`geometry`] |
//! | the self-contained HTML report | [`html`] |

mod atomic;
mod error;
pub mod geometry;
pub mod html;
pub mod leaderboard;
pub mod plots;
pub mod rows;
pub mod table;

pub use atomic::write_atomically;
pub use error::{ReportError, Result};
pub use geometry::{GeometryRow, JacobianRow, write_geometry};
pub use html::{ReportInputs, render, write_report};
pub use leaderboard::{Difference, Leaderboard, Status, compare, difference_table};
pub use plots::RdmPanel;
pub use rows::ScoreRow;
pub use table::{data_frame, read_results, write_results};
