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
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, ZooError>;
