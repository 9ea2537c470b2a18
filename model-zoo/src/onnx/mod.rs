//! ONNX models: running any ONNX file through ONNX Runtime (`ort`, loaded dynamically) and
//! reading any of its intermediate tensors, and exporting zoo networks to ONNX.
//!
//! | concept | module |
//! |---|---|
//! | finding and loading the ONNX Runtime library | [`runtime`] |
//! | the model's protobuf: tensor list, exposing tensors as outputs | [`graph`] |
//! | an ONNX file as a [`crate::Model`] | [`model`] |
//! | zoo networks to ONNX | [`export`] |
//! | vectorized networks to ONNX | [`export_vectorized`] |

pub mod export;
pub mod export_vectorized;
pub mod graph;
pub mod model;
pub mod runtime;

pub use export::{export, save_onnx};
pub use export_vectorized::{export_vectorized, save_vectorized_onnx};
pub use graph::{OnnxGraph, TensorSource};
pub use model::OnnxModel;
pub use runtime::{ONNX_RUNTIME_VERSION, library_path, loaded_library};
