//! The one error type of the crate.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a table, leaderboard or report could not be read or written.
#[derive(Debug, Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file that is not what cortexbench writes.
    #[error("{path}: {message}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The table library failed.
    #[error("results table: {0}")]
    Table(String),
    /// A plot could not be drawn.
    #[error("plot {plot}: {message}")]
    Plot {
        /// Which plot.
        plot: String,
        /// Why.
        message: String,
    },
}

impl ReportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn bad_file(path: &Path, message: impl Into<String>) -> Self {
        ReportError::BadFile {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, ReportError>;
