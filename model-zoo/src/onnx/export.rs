//! Export of zoo networks to ONNX (opset 17), with every layer's output a named graph output,
//! so that any ONNX tool can read the same layers the engine exposes.
//!
//! The graph takes `input`, `(batch, channels, height, width)`, and computes each layer as the
//! engine does: `Conv` (+ bias) → nonlinearity → `MaxPool` for a convolution, `Flatten` (when
//! its input is an image) → `Gemm` → nonlinearity for a dense layer. The engine stores images
//! channels-last; ONNX tensors are channels-first, so convolution kernels are permuted from
//! `(out, ky, kx, c)` to `(out, c, ky, kx)` and a dense layer reading a feature map has its
//! columns permuted from `(y, x, c)` to `(c, y, x)` order. Layer outputs are then exactly
//! [`crate::ZooModel`]'s activations.

use std::path::Path;

use ndarray::Array2;
use onnx_protobuf::{
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
    attribute_proto::AttributeType,
    tensor_proto::DataType,
    tensor_shape_proto::{Dimension, dimension::Value as Dim},
    type_proto::{Tensor, Value as TypeValue},
};

use crate::activation::Activation;
use crate::checkpoint::write_atomically;
use crate::error::{Result, ZooError};
use crate::model::Model;
use crate::network::LayerKind;
use crate::zoo_model::ZooModel;

/// The ONNX opset the exporter writes.
pub const EXPORT_OPSET: i64 = 17;

/// The model as ONNX protobuf bytes; `metadata` goes into the model's metadata properties
/// (e.g. the rule and the checkpoint hash).
pub fn export(model: &mut ZooModel, metadata: &[(String, String)]) -> Result<Vec<u8>> {
    let layers = model.layers()?;
    let net = model.network();
    let mut graph = GraphProto {
        name: net.describe(),
        ..Default::default()
    };
    let [c, h, w] = model.input_shape();
    graph.input.push(float_value("input", &[c, h, w]));
    let mut current = "input".to_string();
    // (channels, height, width) of `current` while it is an image.
    let mut image = Some([c, h, w]);
    for (layer, info) in net.layers.iter().zip(&layers) {
        let name = &layer.name;
        let bias = format!("{name}.bias");
        graph.initializer.push(float_tensor(
            &bias,
            &[layer.bias.len()],
            layer.bias.to_vec(),
        ));
        let weight = format!("{name}.weight");
        let pre = format!("{name}/pre");
        match layer.kind {
            LayerKind::Conv(g) => {
                let (out, k) = (layer.weight.nrows(), g.kernel);
                let kernel = kernels_channels_first(layer.weight.view(), k, g.channels);
                graph
                    .initializer
                    .push(float_tensor(&weight, &[out, g.channels, k, k], kernel));
                graph.node.push(node(
                    "Conv",
                    &[&current, &weight, &bias],
                    &pre,
                    vec![ints("kernel_shape", &[k, k]), ints("pads", &[g.padding; 4])],
                ));
                let activated = if g.pool > 1 {
                    format!("{name}/act")
                } else {
                    name.clone()
                };
                push_activation(&mut graph, layer.activation, &pre, &activated);
                if g.pool > 1 {
                    graph.node.push(node(
                        "MaxPool",
                        &[&activated],
                        name,
                        vec![
                            ints("kernel_shape", &[g.pool, g.pool]),
                            ints("strides", &[g.pool, g.pool]),
                        ],
                    ));
                }
                let (ph, pw) = g.pooled_size();
                image = Some([out, ph, pw]);
            }
            LayerKind::Dense => {
                let mut columns = layer.weight.clone();
                if let Some([ic, ih, iw]) = image {
                    let flat = format!("{name}/flatten");
                    graph
                        .node
                        .push(node("Flatten", &[&current], &flat, vec![int("axis", 1)]));
                    current = flat;
                    columns = channels_last_columns_to_first(&layer.weight, ic, ih, iw);
                }
                let (out, fan_in) = columns.dim();
                graph.initializer.push(float_tensor(
                    &weight,
                    &[out, fan_in],
                    columns.iter().copied().collect(),
                ));
                let gemm_out = if layer.activation == Activation::Identity {
                    name.clone()
                } else {
                    pre.clone()
                };
                graph.node.push(node(
                    "Gemm",
                    &[&current, &weight, &bias],
                    &gemm_out,
                    vec![int("transB", 1)],
                ));
                if layer.activation != Activation::Identity {
                    push_activation(&mut graph, layer.activation, &pre, name);
                }
                image = None;
            }
        }
        graph.output.push(float_value(name, &info.shape));
        current = name.clone();
    }
    model_bytes(graph, metadata)
}

/// A graph as ONNX model bytes (opset [`EXPORT_OPSET`]) with `metadata` as its properties.
pub(super) fn model_bytes(graph: GraphProto, metadata: &[(String, String)]) -> Result<Vec<u8>> {
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: EXPORT_OPSET,
            ..Default::default()
        }],
        producer_name: "cortexbench".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph).into(),
        metadata_props: metadata
            .iter()
            .map(|(key, value)| StringStringEntryProto {
                key: key.clone(),
                value: value.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    model
        .write_to_bytes()
        .map_err(|e| ZooError::Config(format!("cannot serialise the ONNX model: {e}")))
}

/// Exports to `path`, written atomically.
pub fn save_onnx(path: &Path, model: &mut ZooModel, metadata: &[(String, String)]) -> Result<()> {
    write_atomically(path, &export(model, metadata)?)
}

/// Convolution kernels `(out, k·k·c)` with (ky, kx, c) taps as ONNX's `(out, c, ky, kx)`
/// values, flattened.
pub(super) fn kernels_channels_first(
    weight: ndarray::ArrayView2<f32>,
    k: usize,
    channels: usize,
) -> Vec<f32> {
    weight
        .to_shape((weight.nrows(), k, k, channels))
        .expect("(ky, kx, c) taps")
        .permuted_axes([0, 3, 1, 2])
        .as_standard_layout()
        .iter()
        .copied()
        .collect()
}

/// Reorders a dense layer's columns from `(y, x, c)` to `(c, y, x)` inputs.
pub(super) fn channels_last_columns_to_first(
    weight: &Array2<f32>,
    c: usize,
    h: usize,
    w: usize,
) -> Array2<f32> {
    let out = weight.nrows();
    weight
        .to_shape((out, h, w, c))
        .expect("h·w·c columns")
        .permuted_axes([0, 3, 1, 2])
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((out, c * h * w))
        .expect("c·h·w columns")
}

fn push_activation(graph: &mut GraphProto, activation: Activation, input: &str, output: &str) {
    let op = match activation {
        Activation::Tanh => "Tanh",
        Activation::Relu => "Relu",
        Activation::Identity => "Identity",
    };
    graph.node.push(node(op, &[input], output, vec![]));
}

pub(super) fn node(
    op: &str,
    inputs: &[&str],
    output: &str,
    attribute: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: format!("{output}/{op}"),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.to_string()],
        attribute,
        ..Default::default()
    }
}

pub(super) fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INT.into(),
        i: value,
        ..Default::default()
    }
}

pub(super) fn ints(name: &str, values: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INTS.into(),
        ints: values.iter().map(|&v| v as i64).collect(),
        ..Default::default()
    }
}

pub(super) fn float_tensor(name: &str, dims: &[usize], values: Vec<f32>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::FLOAT as i32,
        float_data: values,
        ..Default::default()
    }
}

/// A float tensor value `(batch, dims…)` with a symbolic batch axis.
pub(super) fn float_value(name: &str, dims: &[usize]) -> ValueInfoProto {
    let batch = Dimension {
        value: Some(Dim::DimParam("batch".into())),
        ..Default::default()
    };
    let shape = TensorShapeProto {
        dim: std::iter::once(batch)
            .chain(dims.iter().map(|&d| Dimension {
                value: Some(Dim::DimValue(d as i64)),
                ..Default::default()
            }))
            .collect(),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.into(),
        type_: Some(TypeProto {
            value: Some(TypeValue::TensorType(Tensor {
                elem_type: DataType::FLOAT as i32,
                shape: Some(shape).into(),
                ..Default::default()
            })),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}
