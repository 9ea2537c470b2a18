//! An ONNX file as a [`Model`]: any intermediate tensor can be read, by exposing it as a graph
//! output in a rewritten copy of the model that ONNX Runtime runs from memory.

use std::path::Path;

use ndarray::{Array2, ArrayD, ArrayView4, Axis};
use onnx_protobuf::{tensor_shape_proto::dimension::Value as Dim, type_proto::Value as TypeValue};
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use super::graph::OnnxGraph;
use super::runtime::environment;
use crate::error::{Result, ZooError};
use crate::model::{Activations, LayerInfo, Model, check_stimuli};

/// An ONNX model with one `(batch, channels, height, width)` float input.
pub struct OnnxModel {
    graph: OnnxGraph,
    input_name: String,
    input_shape: [usize; 3],
    /// The batch size, when the graph fixes it.
    fixed_batch: Option<usize>,
    threads: usize,
    /// The session for the last set of exposed tensors.
    session: Option<(Vec<String>, Session)>,
    layers: Option<Vec<LayerInfo>>,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("path", &self.graph.path())
            .field("input", &self.input_name)
            .field("input_shape", &self.input_shape)
            .finish()
    }
}

impl OnnxModel {
    /// Opens an ONNX file. `input_shape` (`[channels, height, width]`) is needed only when the
    /// graph leaves those dimensions open; when it fixes them, a different value is an error.
    pub fn open(path: &Path, input_shape: Option<[usize; 3]>) -> Result<OnnxModel> {
        Self::from_graph(OnnxGraph::open(path)?, input_shape)
    }

    /// Wraps a parsed graph (see [`OnnxModel::open`]).
    pub fn from_graph(graph: OnnxGraph, input_shape: Option<[usize; 3]>) -> Result<OnnxModel> {
        let bad = |m: String| ZooError::bad_file(graph.path(), m);
        let input = graph.input();
        let Some(TypeValue::TensorType(tensor)) =
            input.type_.as_ref().and_then(|t| t.value.clone())
        else {
            return Err(bad(format!("input '{}' is not a tensor", input.name)));
        };
        if tensor.elem_type != onnx_protobuf::tensor_proto::DataType::FLOAT as i32 {
            return Err(bad(format!(
                "input '{}' has element type {}; cortexbench feeds float32 images",
                input.name, tensor.elem_type
            )));
        }
        let dims: Vec<Option<usize>> = tensor
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(Dim::DimValue(v)) if v > 0 => Some(v as usize),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if dims.len() != 4 {
            return Err(bad(format!(
                "input '{}' has {} dimensions; cortexbench feeds (batch, channels, height, width) images",
                input.name,
                dims.len()
            )));
        }
        let declared = [dims[1], dims[2], dims[3]];
        let shape = match input_shape {
            Some(given) => {
                if let Some((i, d)) = declared
                    .iter()
                    .enumerate()
                    .find_map(|(i, d)| d.filter(|&d| d != given[i]).map(|d| (i, d)))
                {
                    return Err(bad(format!(
                        "input '{}' fixes {} to {d}, but {} was asked for",
                        input.name,
                        ["channels", "height", "width"][i],
                        given[i]
                    )));
                }
                given
            }
            None => match declared {
                [Some(c), Some(h), Some(w)] => [c, h, w],
                _ => {
                    return Err(bad(format!(
                        "input '{}' leaves its channels, height or width open; give the input shape \
                         (e.g. --input-shape 3,224,224)",
                        input.name
                    )));
                }
            },
        };
        Ok(OnnxModel {
            input_name: input.name.clone(),
            input_shape: shape,
            fixed_batch: dims[0],
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            session: None,
            layers: None,
            graph,
        })
    }

    /// Uses `threads` threads inside each operator (default: all cores).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self.session = None;
        self
    }

    /// The parsed graph.
    pub fn graph(&self) -> &OnnxGraph {
        &self.graph
    }

    /// Runs the model on `stimuli` and returns the named tensors (graph outputs or
    /// intermediate ones) whole, in the order asked.
    pub fn run(&mut self, stimuli: ArrayView4<f32>, tensors: &[&str]) -> Result<Vec<ArrayD<f32>>> {
        check_stimuli(
            &stimuli,
            self.input_shape,
            &self.graph.path().display().to_string(),
        )?;
        let n = stimuli.len_of(Axis(0));
        if let Some(fixed) = self.fixed_batch
            && n != fixed
        {
            // A graph with a fixed batch size is fed that many stimuli at a time.
            let mut parts: Vec<Vec<ArrayD<f32>>> = vec![];
            for start in (0..n).step_by(fixed) {
                let chunk = stimuli.slice_axis(Axis(0), (start..(start + fixed).min(n)).into());
                if chunk.len_of(Axis(0)) != fixed {
                    return Err(ZooError::Shape(format!(
                        "{} takes batches of exactly {fixed} stimuli; {n} is not a multiple",
                        self.graph.path().display()
                    )));
                }
                parts.push(self.run(chunk, tensors)?);
            }
            return (0..tensors.len())
                .map(|t| {
                    let views: Vec<_> = parts.iter().map(|p| p[t].view()).collect();
                    ndarray::concatenate(Axis(0), &views)
                        .map_err(|e| ZooError::Shape(format!("{}: {e}", tensors[t])))
                })
                .collect();
        }
        let path = self.graph.path().to_path_buf();
        let session = self.session_exposing(tensors)?;
        let input = stimuli.as_standard_layout();
        let value = TensorRef::from_array_view(input.view())
            .map_err(|e| ZooError::Runtime(format!("cannot pass the stimuli: {e}")))?;
        let input_name = session.inputs()[0].name().to_string();
        let outputs = session
            .run(ort::inputs![input_name => value])
            .map_err(|e| {
                ZooError::bad_file(&path, format!("ONNX Runtime failed to run the model: {e}"))
            })?;
        tensors
            .iter()
            .map(|&name| {
                let value = &outputs[name];
                match value.dtype() {
                    ValueType::Tensor {
                        ty: TensorElementType::Float32,
                        ..
                    } => {}
                    other => {
                        return Err(ZooError::bad_file(
                            &path,
                            format!("tensor '{name}' is {other}, not float32; pick a float layer"),
                        ));
                    }
                }
                let array = value
                    .try_extract_array::<f32>()
                    .map_err(|e| ZooError::Runtime(format!("cannot read tensor '{name}': {e}")))?;
                Ok(array.to_owned())
            })
            .collect()
    }

    /// The session whose graph outputs include `tensors`, built once per set.
    fn session_exposing(&mut self, tensors: &[&str]) -> Result<&mut Session> {
        let mut wanted: Vec<String> = tensors.iter().map(|t| t.to_string()).collect();
        wanted.sort();
        wanted.dedup();
        // Exactly these outputs: a session exposing more (the probe's, which exposes every
        // tensor) keeps ONNX Runtime from fusing operators and copies out what nobody reads,
        // which made EfficientNet-Lite0 a third slower.
        let cached = self
            .session
            .as_ref()
            .is_some_and(|(exposed, _)| *exposed == wanted);
        if !cached {
            let names: Vec<&str> = wanted.iter().map(String::as_str).collect();
            let bytes = self.graph.exposing(&names)?;
            let path = self.graph.path();
            let session = Session::builder(environment()?)
                .and_then(|b| Ok(b.with_intra_threads(self.threads)?))
                // Idle workers sleep instead of spinning: between runs the caller projects
                // and copies the outputs on the same cores.
                .and_then(|b| Ok(b.with_intra_op_spinning(false)?))
                .map_err(|e| ZooError::Runtime(format!("cannot configure a session: {e}")))?
                .commit_from_memory(&bytes)
                .map_err(|e| {
                    ZooError::bad_file(path, format!("ONNX Runtime cannot load the model: {e}"))
                })?;
            self.session = Some((wanted, session));
        }
        Ok(&mut self.session.as_mut().expect("just built").1)
    }

    /// Shapes and types of every per-stimulus tensor, from one pass over a zero batch.
    fn probe_layers(&mut self) -> Result<Vec<LayerInfo>> {
        let batch = self.fixed_batch.unwrap_or(2);
        let [c, h, w] = self.input_shape;
        let zeros = ndarray::Array4::<f32>::zeros((batch, c, h, w));
        let sources = self.graph.tensors();
        let names: Vec<&str> = sources.iter().map(|t| t.tensor.as_str()).collect();
        let path = self.graph.path().to_path_buf();
        let session = self.session_exposing(&names)?;
        let input_name = session.inputs()[0].name().to_string();
        let value = TensorRef::from_array_view(zeros.view())
            .map_err(|e| ZooError::Runtime(format!("cannot pass the stimuli: {e}")))?;
        let outputs = session
            .run(ort::inputs![input_name => value])
            .map_err(|e| {
                ZooError::bad_file(&path, format!("ONNX Runtime failed to run the model: {e}"))
            })?;
        let mut layers = vec![];
        for source in &sources {
            let Some(value) = outputs.get(&source.tensor) else {
                continue;
            };
            let ValueType::Tensor { ty, shape, .. } = value.dtype() else {
                continue;
            };
            let dims: Vec<i64> = shape.iter().copied().collect();
            // Per-stimulus tensors only: a batch axis first, and something per stimulus.
            if dims.len() < 2 || dims[0] != batch as i64 {
                continue;
            }
            layers.push(LayerInfo {
                name: source.tensor.clone(),
                op: source.op.clone(),
                shape: dims[1..].iter().map(|&d| d as usize).collect(),
                dtype: match ty {
                    TensorElementType::Float32 => "f32".to_string(),
                    other => other.to_string(),
                },
            });
        }
        Ok(layers)
    }
}

impl Model for OnnxModel {
    fn describe(&self) -> String {
        self.graph.path().display().to_string()
    }

    fn input_shape(&self) -> [usize; 3] {
        self.input_shape
    }

    fn layers(&mut self) -> Result<Vec<LayerInfo>> {
        if self.layers.is_none() {
            self.layers = Some(self.probe_layers()?);
        }
        Ok(self.layers.clone().expect("just probed"))
    }

    fn activations(&mut self, stimuli: ArrayView4<f32>, layers: &[&str]) -> Result<Activations> {
        let tensors: Vec<String> = layers
            .iter()
            .map(|l| self.graph.resolve(l).map(|t| t.tensor))
            .collect::<Result<_>>()?;
        let names: Vec<&str> = tensors.iter().map(String::as_str).collect();
        let n = stimuli.len_of(Axis(0));
        let arrays = self.run(stimuli, &names)?;
        let mut named = Vec::with_capacity(layers.len());
        for ((layer, tensor), array) in layers.iter().zip(&tensors).zip(arrays) {
            if array.ndim() < 2 || array.len_of(Axis(0)) != n {
                return Err(ZooError::bad_file(
                    self.graph.path(),
                    format!(
                        "tensor '{tensor}' has shape {:?}, which has no axis of {n} stimuli",
                        array.shape()
                    ),
                ));
            }
            let features = array.len() / n;
            let flat: Array2<f32> = array
                .as_standard_layout()
                .into_owned()
                .into_shape_with_order((n, features))
                .expect("n·features values");
            named.push((layer.to_string(), flat));
        }
        Ok(Activations::new(named))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_runs_a_session_exposing_only_the_requested_layers() {
        let dir = std::env::var_os("CORTEXBENCH_MODELS")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("CORTEXBENCH_MIRROR")
                    .map(|m| std::path::PathBuf::from(m).join("../models"))
            })
            .unwrap_or_else(|| {
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models")
            });
        let mut model = OnnxModel::open(&dir.join("efficientnet_lite0.onnx"), None).unwrap();
        let probed = model.layers().unwrap();
        assert!(probed.len() > 100, "the probe sees every tensor");
        let wanted = ["logits", "/_blocks.1/_project_conv/Conv_output_0"];
        let stimuli = ndarray::Array4::<f32>::zeros((2, 3, 224, 224));
        model.activations(stimuli.view(), &wanted).unwrap();
        let exposed = &model.session.as_ref().expect("a session ran").0;
        let mut expected: Vec<String> = wanted.iter().map(|w| w.to_string()).collect();
        expected.sort();
        assert_eq!(*exposed, expected);
    }
}
