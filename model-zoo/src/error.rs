//! The one error type of the crate.

use thiserror::Error;

/// Why a model could not be built, trained or run.
#[derive(Debug, Error)]
pub enum ZooError {
    /// A configuration value out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Inputs whose shape does not fit the network.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Training diverged (a non-finite loss or weight).
    #[error("training diverged: {0}")]
    Diverged(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The ONNX Runtime library could not be found or loaded, or a session failed.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// A checkpoint, manifest or model file that cannot be used.
    #[error("{path}: {message}")]
    BadFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl ZooError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ZooError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn bad_file(path: &std::path::Path, message: impl Into<String>) -> Self {
        ZooError::BadFile {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, ZooError>;
