//! The one error type of the crate.

use thiserror::Error;

/// Why a metric could not be computed. Every variant names the offending input, so that a
/// caller can add the file it came from and show the message as is.
#[derive(Debug, Error)]
pub enum MetricError {
    /// An input holds NaN or ±Inf.
    #[error("{what} contains a non-finite value ({value}) at index {index:?}")]
    NonFinite {
        /// Which input, e.g. `x`.
        what: String,
        /// Position of the first offending value.
        index: Vec<usize>,
        /// The value itself.
        value: f64,
    },
    /// A computed quantity left the f64 range (an error, never a score).
    #[error(
        "{what} is not finite: the computation left the range of f64 numbers; rescale the data"
    )]
    NotFinite {
        /// The quantity, e.g. `CKA of x and y`.
        what: String,
    },
    /// Too few stimuli (rows) for the metric to be defined.
    #[error("{what} has {got} stimuli, but at least {min} are needed")]
    TooFewStimuli {
        /// Which input.
        what: String,
        /// Number of stimuli given.
        got: usize,
        /// Smallest number that works.
        min: usize,
    },
    /// Inputs whose shapes do not fit together.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// A quantity that must vary does not (e.g. a constant pattern in a correlation RDM).
    #[error("{what} has zero variance, so {consequence}")]
    ZeroVariance {
        /// Which input and which part of it.
        what: String,
        /// What cannot be computed because of it.
        consequence: String,
    },
    /// An option out of its valid range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// LAPACK reported a failure.
    #[error("linear algebra failed in {what}: {message}")]
    Linalg {
        /// Which computation.
        what: String,
        /// LAPACK's message.
        message: String,
    },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, MetricError>;

impl MetricError {
    pub(crate) fn linalg(what: &str, err: impl std::fmt::Display) -> Self {
        MetricError::Linalg {
            what: what.to_string(),
            message: err.to_string(),
        }
    }
}
