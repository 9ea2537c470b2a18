//! The one error type of the crate.

use std::path::PathBuf;

use thiserror::Error;

/// Why data could not be found, fetched, verified or loaded. Every variant names the dataset,
/// file or URL involved.
#[derive(Debug, Error)]
pub enum DataError {
    /// The id is not in the catalog.
    #[error("unknown dataset '{id}'; known datasets: {known}")]
    UnknownDataset {
        /// The id asked for.
        id: String,
        /// Comma-separated known ids.
        known: String,
    },
    /// The path is not a file of the dataset.
    #[error("dataset '{dataset}' has no file '{path}'")]
    UnknownFile {
        /// Dataset id.
        dataset: String,
        /// Path asked for.
        path: String,
    },
    /// The catalog itself is malformed (a bug in the shipped catalog or a user catalog).
    #[error("catalog {what}: {message}")]
    Catalog {
        /// Which catalog part.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A file's content is not the pinned content.
    #[error("{path}: sha256 is {actual}, expected {expected}{moved}")]
    ChecksumMismatch {
        /// The offending file.
        path: PathBuf,
        /// Pinned hash.
        expected: String,
        /// Hash of the file.
        actual: String,
        /// Where the bad file was moved, as a sentence fragment (empty when not moved).
        moved: String,
    },
    /// The file is not available locally and downloading is off.
    #[error(
        "{dataset}/{path} is not in the cache ({cache}) or a mirror, and downloads are disabled (offline){passed_over}"
    )]
    Offline {
        /// Dataset id.
        dataset: String,
        /// File path in the dataset.
        path: String,
        /// Cache directory searched.
        cache: PathBuf,
        /// Local copies that failed verification, as a sentence fragment (empty when none).
        passed_over: String,
    },
    /// An HTTP download failed for good.
    #[error("downloading {url}: {message}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong (status, connection error, attempts).
        message: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An environment variable has a value cortexbench cannot read.
    #[error("{name}={value}: {message}")]
    Environment {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
        /// What is expected.
        message: String,
    },
    /// A file has the wrong format or content.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
