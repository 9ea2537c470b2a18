//! VNN checkpoints: safetensors with every layer's `<layer>.weight` `(out, fan_in)`,
//! `<layer>.bias` `(K·out)` and a hidden layer's `<layer>.gates` `(K, out)`; the layers' names
//! and kinds (a convolution's geometry), the number of components and the training config in
//! the metadata (`format`: `cortexbench-vnn-1`).
//! Written atomically, like the zoo's other checkpoints.

use std::path::Path;

use ndarray::{Array1, Array2};
use sha2::{Digest, Sha256};

use super::{VectorLayer, VectorLayerKind, VectorNetwork, VectorTrainConfig};
use crate::checkpoint::{TensorReader, TensorWriter, write_atomically};
use crate::error::{Result, ZooError};

/// The `format` metadata of a VNN checkpoint.
pub const FORMAT: &str = "cortexbench-vnn-1";

/// Writes `net` and the config that trained it to `path`; returns the file's sha256.
pub fn save_vectorized(
    path: &Path,
    net: &VectorNetwork,
    config: &VectorTrainConfig,
) -> Result<String> {
    let mut tensors = TensorWriter::default();
    let layers = put_network(&mut tensors, "", net);
    let bytes = tensors.serialize(
        path,
        [
            ("format", FORMAT.to_string()),
            ("components", net.components.to_string()),
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

/// Adds every layer's tensors under `prefix` (`<prefix><layer>.weight`, `.bias`, `.gates`);
/// returns the `layers` metadata (names and kinds) that [`read_network`] needs.
pub(super) fn put_network(tensors: &mut TensorWriter, prefix: &str, net: &VectorNetwork) -> String {
    let mut names = vec![];
    for layer in &net.layers {
        let name = format!("{prefix}{}", layer.name);
        let (w, b) = (&layer.weight, &layer.bias);
        tensors.f32(format!("{name}.weight"), w.shape(), w.iter().copied());
        tensors.f32(format!("{name}.bias"), b.shape(), b.iter().copied());
        if let Some(g) = &layer.gates {
            tensors.f32(format!("{name}.gates"), g.shape(), g.iter().copied());
        }
        names.push((layer.name.clone(), layer.kind));
    }
    serde_json::to_string(&names).expect("serialisable")
}

/// Reads a checkpoint written by [`save_vectorized`].
pub fn load_vectorized(path: &Path) -> Result<(VectorNetwork, VectorTrainConfig)> {
    let bytes = std::fs::read(path).map_err(|e| ZooError::io(path, e))?;
    let file = TensorReader::new(path, &bytes, FORMAT, "a cortexbench VNN checkpoint")?;
    let config: VectorTrainConfig = file.metadata_json("train_config")?;
    Ok((read_network(&file, path, "")?, config))
}

/// The network [`put_network`] wrote under `prefix` into the file at `path`, checked.
pub(super) fn read_network(
    file: &TensorReader,
    path: &Path,
    prefix: &str,
) -> Result<VectorNetwork> {
    let components: usize = file.metadata_json("components")?;
    let names: Vec<(String, VectorLayerKind)> = file.metadata_json("layers")?;
    let matrix = |name: &str| -> Result<Array2<f32>> {
        let (shape, values) = file.f32(name, 2)?;
        Ok(Array2::from_shape_vec((shape[0], shape[1]), values).expect("shape checked"))
    };
    let mut layers = Vec::with_capacity(names.len());
    for (i, (name, kind)) in names.iter().enumerate() {
        let stored = format!("{prefix}{name}");
        let (_, bias) = file.f32(&format!("{stored}.bias"), 1)?;
        let hidden = i + 1 < names.len();
        layers.push(VectorLayer {
            name: name.clone(),
            kind: *kind,
            weight: matrix(&format!("{stored}.weight"))?,
            bias: Array1::from(bias),
            gates: hidden
                .then(|| matrix(&format!("{stored}.gates")))
                .transpose()?,
        });
    }
    let net = VectorNetwork { components, layers };
    net.check()
        .map_err(|e| ZooError::bad_file(path, e.to_string()))?;
    Ok(net)
}
