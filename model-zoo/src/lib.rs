//! Networks, credit-assignment rules, training and ONNX models.
//!
//! Not implemented yet: see the model-zoo and ONNX issues. The crate exists so the workspace
//! has the shape of the design card.
