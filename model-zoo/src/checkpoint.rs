//! Checkpoints: a network's weights as safetensors (`fc1.weight` `(out, in)`, `fc1.bias`,
//! little-endian f32; a convolution's `conv1.weight` is `(out, kh·kw·c)` with its taps in
//! (ky, kx, c) order), with the layer order, kinds, input geometry, nonlinearities and the
//! training config that produced them in the file's metadata (`format`: `cortexbench-network-1`). Written to a temporary file and renamed, so a
//! checkpoint is either complete or absent.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::activation::Activation;
use crate::error::{Result, ZooError};
use crate::network::{Layer, LayerKind, Network};
use crate::train::TrainConfig;

const FORMAT: &str = "cortexbench-network-1";

#[derive(Serialize, Deserialize)]
struct LayerInfo {
    name: String,
    kind: LayerKind,
    activation: Activation,
}

/// Writes `net` (and the config that trained it) to `path`; returns the file's sha256.
pub fn save(path: &Path, net: &Network, config: &TrainConfig) -> Result<String> {
    let bytes_of = |values: &[f32]| {
        values
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let mut buffers = vec![];
    for layer in &net.layers {
        let w = layer.weight.as_standard_layout();
        buffers.push((
            format!("{}.weight", layer.name),
            vec![w.nrows(), w.ncols()],
            bytes_of(w.as_slice().expect("standard")),
        ));
        buffers.push((
            format!("{}.bias", layer.name),
            vec![layer.bias.len()],
            bytes_of(layer.bias.as_slice().expect("contiguous")),
        ));
    }
    let views = buffers
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| ZooError::bad_file(path, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let layers: Vec<LayerInfo> = net
        .layers
        .iter()
        .map(|l| LayerInfo {
            name: l.name.clone(),
            kind: l.kind,
            activation: l.activation,
        })
        .collect();
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        (
            "layers".to_string(),
            serde_json::to_string(&layers).expect("serialisable"),
        ),
        (
            "train_config".to_string(),
            serde_json::to_string(config).expect("serialisable"),
        ),
    ]);
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| ZooError::bad_file(path, e.to_string()))?;
    write_atomically(path, &bytes)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Reads a checkpoint written by [`save`]: the network and the config that trained it.
pub fn load(path: &Path) -> Result<(Network, TrainConfig)> {
    let bytes = std::fs::read(path).map_err(|e| ZooError::io(path, e))?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| ZooError::bad_file(path, format!("not a readable safetensors file: {e}")))?;
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| ZooError::bad_file(path, e.to_string()))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    if metadata.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(ZooError::bad_file(
            path,
            format!("not a cortexbench network checkpoint (format {FORMAT} expected)"),
        ));
    }
    let field = |key: &str| {
        metadata
            .get(key)
            .ok_or_else(|| ZooError::bad_file(path, format!("metadata lacks '{key}'")))
    };
    let layers: Vec<LayerInfo> = serde_json::from_str(field("layers")?)
        .map_err(|e| ZooError::bad_file(path, format!("layers: {e}")))?;
    let config: TrainConfig = serde_json::from_str(field("train_config")?)
        .map_err(|e| ZooError::bad_file(path, format!("train_config: {e}")))?;
    let tensor = |name: &str, ndim: usize| -> Result<(Vec<usize>, Vec<f32>)> {
        let view = file
            .tensor(name)
            .map_err(|e| ZooError::bad_file(path, format!("{name}: {e}")))?;
        if view.dtype() != Dtype::F32 || view.shape().len() != ndim {
            return Err(ZooError::bad_file(
                path,
                format!("{name} must be a {ndim}-D f32 tensor"),
            ));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        Ok((view.shape().to_vec(), values))
    };
    let mut net_layers = Vec::with_capacity(layers.len());
    for info in layers {
        let (w_shape, w) = tensor(&format!("{}.weight", info.name), 2)?;
        let (b_shape, b) = tensor(&format!("{}.bias", info.name), 1)?;
        if b_shape[0] != w_shape[0] {
            return Err(ZooError::bad_file(
                path,
                format!("{}: bias length does not match the weights", info.name),
            ));
        }
        net_layers.push(Layer {
            name: info.name,
            kind: info.kind,
            weight: Array2::from_shape_vec((w_shape[0], w_shape[1]), w).expect("shape checked"),
            bias: Array1::from(b),
            activation: info.activation,
        });
    }
    let net = Network { layers: net_layers };
    net.check()
        .map_err(|e| ZooError::bad_file(path, e.to_string()))?;
    Ok((net, config))
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ZooError::io(parent, e))?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(|e| ZooError::io(&tmp, e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| ZooError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ZooError::io(path, e))
}
