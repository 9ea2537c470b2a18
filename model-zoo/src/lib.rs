//! Networks, credit-assignment rules and their training, on ndarray + OpenBLAS (f32).
//!
//! | concept | module |
//! |---|---|
//! | nonlinearities | [`activation`] |
//! | training-time augmentation (random crop, flip) | [`augment`] |
//! | architectures as configs name them | [`architecture`] |
//! | networks (MLP, CNN) and their forward pass | [`network`] |
//! | convolution as im2col + GEMM, pooling | [`conv`] |
//! | loss | [`loss`] |
//! | learning rules, one module each | [`rules`] |
//! | optimizers | [`optim`] |
//! | alignment with the true gradient | [`alignment`] |
//! | the training loop | [`train`] |
//! | training presets (`quick`, `standard`) as configs | [`preset`] |
//! | checkpoints (safetensors) and the zoo manifest | [`checkpoint`], [`manifest`] |
//! | resumable training: the state saved after each epoch | [`resume`] |
//! | the interface of scorable models, streaming extraction | [`model`] |
//! | zoo networks as models | [`zoo_model`] |
//! | ONNX files as models, export to ONNX | [`onnx`] |
//! | vectorized nonnegative networks and GEVB, their training | [`vectorized`] |
//! | OpenBLAS held to one thread where results must not depend on the count | [`blas_threads`] |

// Links OpenBLAS, which ndarray's `blas` feature calls for f32 matrix products.
extern crate blas_src;

pub mod activation;
pub mod alignment;
pub mod architecture;
pub mod augment;
pub mod blas_threads;
pub mod checkpoint;
pub mod conv;
mod error;
pub mod loss;
pub mod manifest;
pub mod model;
pub mod network;
pub mod onnx;
pub mod optim;
pub mod preset;
pub mod resume;
pub mod rules;
pub mod train;
pub mod vectorized;
pub mod zoo_model;

pub use activation::Activation;
pub use architecture::Architecture;
pub use augment::Augmentation;
pub use error::{Result, ZooError};
pub use model::{
    Activations, ExtractionOptions, LayerInfo, LayerRecord, Model, RandomProjection, extract,
};
pub use network::{Forward, Layer, LayerKind, Network};
pub use onnx::OnnxModel;
pub use optim::{LrSchedule, OptimizerConfig};
pub use preset::Preset;
pub use rules::{LearningRule, Rule, RuleConfig, RuleState, Updates};
pub use train::{
    ChannelNormalization, EpochRecord, LabelledData, TrainConfig, Trained, TrainingData, evaluate,
    train, train_resumable,
};
pub use zoo_model::ZooModel;
