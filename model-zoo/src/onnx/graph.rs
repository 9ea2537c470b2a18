//! The ONNX protobuf of a model: parsing with clear errors, the list of its intermediate
//! tensors, and a rewritten copy that exposes chosen tensors as graph outputs. The file on disk
//! is never modified; rewriting works on the parsed message and serialises a new one.

use std::path::{Path, PathBuf};

use onnx_protobuf::{Message, ModelProto, ValueInfoProto, tensor_proto::DataLocation};

use crate::error::{Result, ZooError};

/// One tensor a node computes: what `harness layers` lists and `activations` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSource {
    /// The tensor's name (what to request).
    pub tensor: String,
    /// The name of the node that computes it (also accepted when the node has one output).
    pub node: String,
    /// The node's operator, e.g. `Conv`.
    pub op: String,
}

/// A parsed ONNX model.
#[derive(Debug, Clone)]
pub struct OnnxGraph {
    path: PathBuf,
    model: ModelProto,
}

impl OnnxGraph {
    /// Parses `bytes` read from `path` (which is named in errors) and checks that it is a model
    /// cortexbench can run: a graph with one input, weights inside the file.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<OnnxGraph> {
        let bad = |m: String| ZooError::bad_file(path, m);
        if bytes.is_empty() {
            return Err(bad("the file is empty, not an ONNX model".into()));
        }
        let model = ModelProto::parse_from_bytes(bytes).map_err(|e| {
            bad(format!(
                "not a valid ONNX model (protobuf: {e}); the file may be truncated"
            ))
        })?;
        let Some(graph) = model.graph.as_ref() else {
            return Err(bad("the ONNX model has no graph".into()));
        };
        if graph.node.is_empty() {
            return Err(bad(
                "the ONNX graph has no nodes; the file may be truncated or not a model".into(),
            ));
        }
        if model.ir_version == 0 || model.opset_import.is_empty() {
            return Err(bad(
                "the ONNX model has no IR version or opset; the file may be truncated".into(),
            ));
        }
        let graph_inputs = runtime_inputs(&model);
        if graph_inputs.len() != 1 {
            return Err(bad(format!(
                "the graph has {} inputs ({}); cortexbench feeds one image tensor",
                graph_inputs.len(),
                graph_inputs
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if graph
            .initializer
            .iter()
            .any(|t| t.data_location.enum_value_or_default() == DataLocation::EXTERNAL)
        {
            return Err(bad(
                "the model keeps its weights in external data files, which cortexbench does not \
                 load; save it with the weights inside the .onnx file"
                    .into(),
            ));
        }
        Ok(OnnxGraph {
            path: path.to_path_buf(),
            model,
        })
    }

    /// Reads and parses an ONNX file.
    pub fn open(path: &Path) -> Result<OnnxGraph> {
        let bytes = std::fs::read(path).map_err(|e| ZooError::io(path, e))?;
        Self::parse(&bytes, path)
    }

    /// The file the model came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The graph's image input.
    pub fn input(&self) -> &ValueInfoProto {
        runtime_inputs(&self.model)[0]
    }

    /// The graph's declared outputs, in order.
    pub fn output_names(&self) -> Vec<&str> {
        self.graph()
            .output
            .iter()
            .map(|o| o.name.as_str())
            .collect()
    }

    /// Every tensor a node computes, in graph order, except the outputs of `Constant` nodes.
    pub fn tensors(&self) -> Vec<TensorSource> {
        self.graph()
            .node
            .iter()
            .filter(|node| node.op_type != "Constant")
            .flat_map(|node| {
                node.output
                    .iter()
                    .filter(|name| !name.is_empty())
                    .map(|name| TensorSource {
                        tensor: name.clone(),
                        node: node.name.clone(),
                        op: node.op_type.clone(),
                    })
            })
            .collect()
    }

    /// The tensor a layer name means: a tensor name, or the name of a node with one output.
    pub fn resolve(&self, layer: &str) -> Result<TensorSource> {
        let tensors = self.tensors();
        if let Some(t) = tensors.iter().find(|t| t.tensor == layer) {
            return Ok(t.clone());
        }
        let by_node: Vec<&TensorSource> = tensors.iter().filter(|t| t.node == layer).collect();
        match by_node.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ZooError::bad_file(
                &self.path,
                format!(
                    "no tensor or node named '{layer}' in the graph; `harness layers {}` lists them",
                    self.path.display()
                ),
            )),
            many => Err(ZooError::bad_file(
                &self.path,
                format!(
                    "node '{layer}' has {} outputs ({}); ask for one of them by tensor name",
                    many.len(),
                    many.iter()
                        .map(|t| t.tensor.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The model serialised with `tensors` added to the graph outputs (those already outputs
    /// are left as they are). ONNX Runtime infers the added outputs' types and shapes.
    pub fn exposing(&self, tensors: &[&str]) -> Result<Vec<u8>> {
        let mut model = self.model.clone();
        let graph = model.graph.as_mut().expect("checked when parsed");
        for &name in tensors {
            if !graph.output.iter().any(|o| o.name == name) {
                graph.output.push(ValueInfoProto {
                    name: name.to_string(),
                    ..Default::default()
                });
            }
        }
        model.write_to_bytes().map_err(|e| {
            ZooError::bad_file(
                &self.path,
                format!("cannot serialise the rewritten model: {e}"),
            )
        })
    }

    fn graph(&self) -> &onnx_protobuf::GraphProto {
        self.model.graph.as_ref().expect("checked when parsed")
    }
}

/// Graph inputs that are fed at run time: older exporters also list initializers as inputs.
fn runtime_inputs(model: &ModelProto) -> Vec<&ValueInfoProto> {
    let graph = model.graph.as_ref().expect("caller checked the graph");
    graph
        .input
        .iter()
        .filter(|i| !graph.initializer.iter().any(|t| t.name == i.name))
        .collect()
}
