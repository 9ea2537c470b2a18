//! Networks, credit-assignment rules and their training, on ndarray + OpenBLAS (f32).
//!
//! | concept | module |
//! |---|---|
//! | nonlinearities | [`activation`] |
//! | the network and its forward pass | [`mlp`] |
//! | loss | [`loss`] |
//! | learning rules, one module each | [`rules`] |
//! | optimizers | [`optim`] |
//! | alignment with the true gradient | [`alignment`] |
//! | the training loop | [`train`] |
//! | checkpoints (safetensors) and the zoo manifest | [`checkpoint`], [`manifest`] |

// Links OpenBLAS, which ndarray's `blas` feature calls for f32 matrix products.
extern crate blas_src;

pub mod activation;
pub mod alignment;
pub mod checkpoint;
mod error;
pub mod loss;
pub mod manifest;
pub mod mlp;
pub mod optim;
pub mod rules;
pub mod train;

pub use activation::Activation;
pub use error::{Result, ZooError};
pub use mlp::{DenseLayer, Forward, Mlp};
pub use optim::{LrSchedule, OptimizerConfig};
pub use rules::{LearningRule, RuleConfig, Updates};
pub use train::{EpochRecord, LabelledData, TrainConfig, Trained, evaluate, train};
