//! Checkpoints: a network's weights as safetensors (`fc1.weight` `(out, in)`, `fc1.bias`,
//! little-endian f32; a convolution's `conv1.weight` is `(out, kh·kw·c)` with its taps in
//! (ky, kx, c) order), with the layer order, kinds, input geometry, nonlinearities and the
//! training config that produced them in the file's metadata (`format`:
//! `cortexbench-network-1`). Written to a temporary file and renamed, so a checkpoint is either
//! complete or absent. The tensor reader and writer here also serve the training state of
//! [`crate::resume`].

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
    let mut tensors = TensorWriter::default();
    let layers = tensors.network("", net);
    let bytes = tensors.serialize(
        path,
        [
            ("format", FORMAT.to_string()),
            ("layers", layers),
            (
                "train_config",
                serde_json::to_string(config).expect("serialisable"),
            ),
        ],
    )?;
    write_atomically(path, &bytes)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Reads a checkpoint written by [`save`]: the network and the config that trained it.
pub fn load(path: &Path) -> Result<(Network, TrainConfig)> {
    let bytes = std::fs::read(path).map_err(|e| ZooError::io(path, e))?;
    let file = TensorReader::new(path, &bytes, FORMAT, "a cortexbench network checkpoint")?;
    let config: TrainConfig = file.metadata_json("train_config")?;
    let net = file.network("", file.metadata("layers")?)?;
    Ok((net, config))
}

/// The `format` a safetensors file declares in its metadata (`cortexbench-network-1` for
/// [`save`]'s checkpoints, `cortexbench-vnn-1` for vectorized networks'), without reading its
/// tensors; `None` when it declares none.
pub fn format_of(path: &Path) -> Result<Option<String>> {
    let bytes = std::fs::read(path).map_err(|e| ZooError::io(path, e))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| ZooError::bad_file(path, format!("not a readable safetensors file: {e}")))?;
    Ok(header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("format").cloned()))
}

/// Named little-endian tensors on their way into a safetensors file.
#[derive(Default)]
pub(crate) struct TensorWriter {
    buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
}

impl TensorWriter {
    /// Adds an f32 tensor.
    pub(crate) fn f32(&mut self, name: String, shape: &[usize], values: impl Iterator<Item = f32>) {
        let bytes = values.flat_map(f32::to_le_bytes).collect();
        self.buffers.push((name, Dtype::F32, shape.to_vec(), bytes));
    }

    /// Adds an f64 tensor.
    pub(crate) fn f64(&mut self, name: String, shape: &[usize], values: impl Iterator<Item = f64>) {
        let bytes = values.flat_map(f64::to_le_bytes).collect();
        self.buffers.push((name, Dtype::F64, shape.to_vec(), bytes));
    }

    /// Adds a u64 vector.
    pub(crate) fn u64(&mut self, name: String, values: &[u64]) {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.buffers
            .push((name, Dtype::U64, vec![values.len()], bytes));
    }

    /// Adds every layer's `<prefix><layer>.weight` and `.bias`; returns the layer list for
    /// the metadata (what [`TensorReader::network`] needs back).
    pub(crate) fn network(&mut self, prefix: &str, net: &Network) -> String {
        for layer in &net.layers {
            let (w, b) = (&layer.weight, &layer.bias);
            self.f32(
                format!("{prefix}{}.weight", layer.name),
                w.shape(),
                w.iter().copied(),
            );
            self.f32(
                format!("{prefix}{}.bias", layer.name),
                b.shape(),
                b.iter().copied(),
            );
        }
        let layers: Vec<LayerInfo> = net
            .layers
            .iter()
            .map(|l| LayerInfo {
                name: l.name.clone(),
                kind: l.kind,
                activation: l.activation,
            })
            .collect();
        serde_json::to_string(&layers).expect("serialisable")
    }

    /// The file's bytes, with `metadata`.
    pub(crate) fn serialize<const N: usize>(
        &self,
        path: &Path,
        metadata: [(&str, String); N],
    ) -> Result<Vec<u8>> {
        let views = self
            .buffers
            .iter()
            .map(|(name, dtype, shape, data)| {
                TensorView::new(*dtype, shape.clone(), data)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| ZooError::bad_file(path, e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata = metadata
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<HashMap<_, _>>();
        let bytes = safetensors::serialize(views, Some(metadata))
            .map_err(|e| ZooError::bad_file(path, e.to_string()))?;
        canonical_header(bytes).map_err(|e| ZooError::bad_file(path, e))
    }
}

/// The same safetensors file with its JSON header's keys in sorted order. safetensors writes
/// the metadata map in hash order, which differs from process to process, so without this two
/// trainings with identical weights would give files (and checksums) that differ.
fn canonical_header(bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    const LEN: usize = std::mem::size_of::<u64>();
    let declared = bytes
        .get(..LEN)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .ok_or("safetensors output shorter than its header length")?;
    let header = bytes
        .get(LEN..LEN + declared)
        .ok_or("safetensors header longer than the output")?;
    // serde_json's map is a BTreeMap (no `preserve_order`): keys come out sorted.
    let parsed: serde_json::Value = serde_json::from_slice(header).map_err(|e| e.to_string())?;
    let mut canonical = serde_json::to_vec(&parsed).map_err(|e| e.to_string())?;
    // The data must start 8-byte aligned, as safetensors pads it.
    canonical.resize(canonical.len().next_multiple_of(LEN), b' ');
    let mut out = Vec::with_capacity(LEN + canonical.len() + bytes.len() - LEN - declared);
    out.extend_from_slice(&(canonical.len() as u64).to_le_bytes());
    out.extend_from_slice(&canonical);
    out.extend_from_slice(&bytes[LEN + declared..]);
    Ok(out)
}

/// A safetensors file of a known `format`, read with errors that name the file.
pub(crate) struct TensorReader<'a> {
    path: &'a Path,
    file: SafeTensors<'a>,
    metadata: HashMap<String, String>,
}

impl<'a> TensorReader<'a> {
    /// Parses `bytes` (read from `path`), which must declare `format`; `what` names the kind
    /// of file in the error otherwise.
    pub(crate) fn new(path: &'a Path, bytes: &'a [u8], format: &str, what: &str) -> Result<Self> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| {
            ZooError::bad_file(path, format!("not a readable safetensors file: {e}"))
        })?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| ZooError::bad_file(path, e.to_string()))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        if metadata.get("format").map(String::as_str) != Some(format) {
            return Err(ZooError::bad_file(
                path,
                format!("not {what} (format {format} expected)"),
            ));
        }
        Ok(TensorReader {
            path,
            file,
            metadata,
        })
    }

    /// A metadata field.
    pub(crate) fn metadata(&self, key: &str) -> Result<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| ZooError::bad_file(self.path, format!("metadata lacks '{key}'")))
    }

    /// A metadata field holding JSON.
    pub(crate) fn metadata_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        serde_json::from_str(self.metadata(key)?)
            .map_err(|e| ZooError::bad_file(self.path, format!("{key}: {e}")))
    }

    /// The names of the tensors that start with `prefix`.
    pub(crate) fn names_with(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .file
            .names()
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    fn raw(&self, name: &str, dtype: Dtype) -> Result<(Vec<usize>, &'a [u8])> {
        let view = self
            .file
            .tensor(name)
            .map_err(|e| ZooError::bad_file(self.path, format!("{name}: {e}")))?;
        if view.dtype() != dtype {
            return Err(ZooError::bad_file(
                self.path,
                format!("{name} must be {dtype:?}, not {:?}", view.dtype()),
            ));
        }
        Ok((view.shape().to_vec(), view.data()))
    }

    /// An f32 tensor of `ndim` dimensions: its shape and values.
    pub(crate) fn f32(&self, name: &str, ndim: usize) -> Result<(Vec<usize>, Vec<f32>)> {
        let (shape, data) = self.raw(name, Dtype::F32)?;
        if shape.len() != ndim {
            return Err(ZooError::bad_file(
                self.path,
                format!("{name} must be a {ndim}-D tensor"),
            ));
        }
        let values = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        Ok((shape, values))
    }

    /// An f64 tensor: its shape and values.
    pub(crate) fn f64(&self, name: &str) -> Result<(Vec<usize>, Vec<f64>)> {
        let (shape, data) = self.raw(name, Dtype::F64)?;
        let values = data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        Ok((shape, values))
    }

    /// A u64 vector.
    pub(crate) fn u64(&self, name: &str) -> Result<Vec<u64>> {
        let (_, data) = self.raw(name, Dtype::U64)?;
        Ok(data
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }

    /// The network written by [`TensorWriter::network`] with `prefix` and `layers`.
    pub(crate) fn network(&self, prefix: &str, layers: &str) -> Result<Network> {
        let layers: Vec<LayerInfo> = serde_json::from_str(layers)
            .map_err(|e| ZooError::bad_file(self.path, format!("layers: {e}")))?;
        let mut net_layers = Vec::with_capacity(layers.len());
        for info in layers {
            let (w_shape, w) = self.f32(&format!("{prefix}{}.weight", info.name), 2)?;
            let (b_shape, b) = self.f32(&format!("{prefix}{}.bias", info.name), 1)?;
            if b_shape[0] != w_shape[0] {
                return Err(ZooError::bad_file(
                    self.path,
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
            .map_err(|e| ZooError::bad_file(self.path, e.to_string()))?;
        Ok(net)
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place. The temporary
/// name is this process's and call's own, so processes writing one zoo never share it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| ZooError::io(parent, e))?;
    }
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(name);
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(ZooError::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ZooError::io(path, e)
    })
}
