//! Export of vectorized networks (VNNs, [`crate::vectorized`]) to ONNX, every hidden layer a
//! named output of shape `(batch, K, units)` or `(batch, K, channels, height, width)`, so that
//! ONNX Runtime gives exactly [`VectorZooModel`]'s activations, and `logits` `(batch, K)`.
//!
//! Each layer: the first computes all K components at once (`Gemm` on the input flattened
//! channels-last, or `Conv` with K · out kernels, each component's block of weights one
//! group of output channels), then `Reshape` to `(batch, K, …)`; a later dense layer is a
//! `MatMul` of the component vectors by Wᵀ plus the per-component biases, a later convolution
//! a `Conv` of the batch's K · batch maps. The gate is `Mul` by the gating vectors,
//! `ReduceSum` over components, `GreaterOrEqual` 0, `Cast`, `Mul`; a convolution's output is
//! then `AveragePool`ed per component.

use std::path::Path;

use ndarray::{Array2, s};
use onnx_protobuf::{GraphProto, TensorProto, tensor_proto::DataType};

use super::export::{
    channels_last_columns_to_first, float_tensor, float_value, int, ints, kernels_channels_first,
    model_bytes, node,
};
use crate::checkpoint::write_atomically;
use crate::error::Result;
use crate::model::Model;
use crate::vectorized::{VectorLayerKind, VectorZooModel};

/// The VNN as ONNX protobuf bytes; `metadata` goes into the model's metadata properties.
pub fn export_vectorized(
    model: &mut VectorZooModel,
    metadata: &[(String, String)],
) -> Result<Vec<u8>> {
    let layers = model.layers()?;
    let [c, h, w] = model.input_shape();
    let net = model.network();
    let k = net.components;
    let mut graph = GraphProto {
        name: net.describe(),
        ..Default::default()
    };
    graph.input.push(float_value("input", &[c, h, w]));
    let mut current = "input".to_string();
    // (channels, height, width) of each component's maps while they are images.
    let mut image = Some([c, h, w]);
    let last = net.layers.len() - 1;
    for (l, layer) in net.layers.iter().enumerate() {
        let name = &layer.name;
        let out = layer.weight.nrows();
        let pre = format!("{name}/pre");
        let mut b = Graph(&mut graph);
        match (l, layer.kind) {
            (0, VectorLayerKind::Dense) => {
                // The engine flattens images channels-last.
                let [ic, ih, iw] = image.expect("the input is an image");
                let hwc = b.op(
                    "Transpose",
                    &[&current],
                    name,
                    "hwc",
                    vec![ints("perm", &[0, 2, 3, 1])],
                );
                let flat = b.op("Flatten", &[&hwc], name, "flat", vec![int("axis", 1)]);
                let inputs = ic * ih * iw;
                // Rows k · out + m: component k's block of unit m's weights.
                let mut stacked = Array2::<f32>::zeros((k * out, inputs));
                for c in 0..k {
                    stacked
                        .slice_mut(s![c * out..(c + 1) * out, ..])
                        .assign(&layer.weight.slice(s![.., c * inputs..(c + 1) * inputs]));
                }
                let weight = b.floats(
                    &format!("{name}.weight"),
                    &[k * out, inputs],
                    stacked.iter().copied().collect(),
                );
                let bias = b.floats(&format!("{name}.bias"), &[k * out], layer.bias.to_vec());
                let all = b.op(
                    "Gemm",
                    &[&flat, &weight, &bias],
                    name,
                    "gemm",
                    vec![int("transB", 1)],
                );
                b.reshape(&all, &[0, k as i64, out as i64], &pre);
            }
            (0, VectorLayerKind::Conv(g)) => {
                let kk = g.kernel;
                let taps = kk * kk * g.channels;
                let mut kernels = Vec::with_capacity(k * out * taps);
                for c in 0..k {
                    let block = layer.weight.slice(s![.., c * taps..(c + 1) * taps]);
                    kernels.extend(kernels_channels_first(block, kk, g.channels));
                }
                let weight = b.floats(
                    &format!("{name}.weight"),
                    &[k * out, g.channels, kk, kk],
                    kernels,
                );
                let bias = b.floats(&format!("{name}.bias"), &[k * out], layer.bias.to_vec());
                let conv = b.op(
                    "Conv",
                    &[&current, &weight, &bias],
                    name,
                    "conv",
                    vec![
                        ints("kernel_shape", &[kk, kk]),
                        ints("pads", &[g.padding; 4]),
                    ],
                );
                let (oh, ow) = g.conv_size();
                b.reshape(
                    &conv,
                    &[0, k as i64, out as i64, oh as i64, ow as i64],
                    &pre,
                );
            }
            (_, VectorLayerKind::Dense) => {
                let mut columns = layer.weight.clone();
                if let Some([ic, ih, iw]) = image {
                    let flat = format!("{name}/flat");
                    b.reshape(&current, &[0, k as i64, (ic * ih * iw) as i64], &flat);
                    current = flat;
                    columns = channels_last_columns_to_first(&layer.weight, ic, ih, iw);
                }
                let fan_in = columns.ncols();
                let transposed = columns.t().as_standard_layout().iter().copied().collect();
                let weight = b.floats(&format!("{name}.weight"), &[fan_in, out], transposed);
                let bias = b.floats(&format!("{name}.bias"), &[k, out], layer.bias.to_vec());
                let product = b.op("MatMul", &[&current, &weight], name, "matmul", vec![]);
                b.op_named("Add", &[&product, &bias], &pre, vec![]);
            }
            (_, VectorLayerKind::Conv(g)) => {
                let kk = g.kernel;
                let maps = format!("{name}/maps");
                b.reshape(
                    &current,
                    &[-1, g.channels as i64, g.height as i64, g.width as i64],
                    &maps,
                );
                let kernel = kernels_channels_first(layer.weight.view(), kk, g.channels);
                let weight = b.floats(
                    &format!("{name}.weight"),
                    &[out, g.channels, kk, kk],
                    kernel,
                );
                let conv = b.op(
                    "Conv",
                    &[&maps, &weight],
                    name,
                    "conv",
                    vec![
                        ints("kernel_shape", &[kk, kk]),
                        ints("pads", &[g.padding; 4]),
                    ],
                );
                let (oh, ow) = g.conv_size();
                let shaped = format!("{name}/shaped");
                b.reshape(
                    &conv,
                    &[-1, k as i64, out as i64, oh as i64, ow as i64],
                    &shaped,
                );
                let bias = b.floats(
                    &format!("{name}.bias"),
                    &[k, out, 1, 1],
                    layer.bias.to_vec(),
                );
                b.op_named("Add", &[&shaped, &bias], &pre, vec![]);
            }
        }
        if l == last {
            b.reshape(&pre, &[0, k as i64], "logits");
            graph.output.push(float_value("logits", &[k]));
            break;
        }
        let gates = layer.gates.as_ref().expect("hidden layers gate");
        let conv = match layer.kind {
            VectorLayerKind::Conv(g) => Some(g),
            VectorLayerKind::Dense => None,
        };
        let gate_dims: Vec<usize> = match conv {
            Some(_) => vec![k, out, 1, 1],
            None => vec![k, out],
        };
        let t = b.floats(
            &format!("{name}.gates"),
            &gate_dims,
            gates.iter().copied().collect(),
        );
        let drive = b.op("Mul", &[&pre, &t], name, "drive", vec![]);
        let axes = b.int64s(&format!("{name}/axes"), &[1]);
        let summed = b.op(
            "ReduceSum",
            &[&drive, &axes],
            name,
            "summed",
            vec![int("keepdims", 1)],
        );
        let zero = b.floats(&format!("{name}/zero"), &[], vec![0.0]);
        let open = b.op("GreaterOrEqual", &[&summed, &zero], name, "open", vec![]);
        let open = b.op(
            "Cast",
            &[&open],
            name,
            "open_f",
            vec![int("to", DataType::FLOAT as i64)],
        );
        match conv {
            None => {
                b.op_named("Mul", &[&pre, &open], name, vec![]);
                image = None;
            }
            Some(g) => {
                let act = b.op("Mul", &[&pre, &open], name, "act", vec![]);
                let (oh, ow) = g.conv_size();
                let maps = format!("{name}/act_maps");
                b.reshape(&act, &[-1, out as i64, oh as i64, ow as i64], &maps);
                let pooled = b.op(
                    "AveragePool",
                    &[&maps],
                    name,
                    "pooled",
                    vec![
                        ints("kernel_shape", &[g.pool, g.pool]),
                        ints("strides", &[g.pool, g.pool]),
                    ],
                );
                let (ph, pw) = g.pooled_size();
                b.reshape(
                    &pooled,
                    &[-1, k as i64, out as i64, ph as i64, pw as i64],
                    name,
                );
                image = Some([out, ph, pw]);
            }
        }
        graph.output.push(float_value(name, &layers[l].shape));
        current = name.clone();
    }
    model_bytes(graph, metadata)
}

/// Exports to `path`, written atomically.
pub fn save_vectorized_onnx(
    path: &Path,
    model: &mut VectorZooModel,
    metadata: &[(String, String)],
) -> Result<()> {
    write_atomically(path, &export_vectorized(model, metadata)?)
}

/// Node and initializer building on a graph.
struct Graph<'a>(&'a mut GraphProto);

impl Graph<'_> {
    /// A node `op` whose output is `<layer>/<what>`; returns that name.
    fn op(
        &mut self,
        op: &str,
        inputs: &[&str],
        layer: &str,
        what: &str,
        attributes: Vec<onnx_protobuf::AttributeProto>,
    ) -> String {
        let output = format!("{layer}/{what}");
        self.op_named(op, inputs, &output, attributes);
        output
    }

    /// A node `op` with the output `output`.
    fn op_named(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attributes: Vec<onnx_protobuf::AttributeProto>,
    ) {
        self.0.node.push(node(op, inputs, output, attributes));
    }

    /// `Reshape` of `input` to `shape` (0 copies a dimension, -1 infers one) as `output`.
    fn reshape(&mut self, input: &str, shape: &[i64], output: &str) {
        let shape_name = self.int64s(&format!("{output}/shape"), shape);
        self.op_named("Reshape", &[input, &shape_name], output, vec![]);
    }

    /// A float initializer; returns its name.
    fn floats(&mut self, name: &str, dims: &[usize], values: Vec<f32>) -> String {
        self.0.initializer.push(float_tensor(name, dims, values));
        name.to_string()
    }

    /// A 1-D int64 initializer; returns its name.
    fn int64s(&mut self, name: &str, values: &[i64]) -> String {
        self.0.initializer.push(TensorProto {
            name: name.into(),
            dims: vec![values.len() as i64],
            data_type: DataType::INT64 as i32,
            int64_data: values.to_vec(),
            ..Default::default()
        });
        name.to_string()
    }
}
