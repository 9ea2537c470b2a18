//! Resumable VNN training, as [`crate::resume`] is for the scalar zoo: after every epoch
//! [`super::train_vectorized_resumable`] writes the weights (gates included), the optimizer's
//! moments and step count, the shuffle and augmentation streams, the example order and the
//! history so far to one safetensors file (`format`: `cortexbench-vnn-training-state-1`, the
//! training config in its metadata), atomically. A run continued from it ends with the same
//! weights, bit for bit, as one that never stopped.

use std::path::Path;

use ndarray::{Array1, Array2};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::checkpoint::{put_network, read_network};
use super::{VectorEpoch, VectorNetwork, VectorTrainConfig};
use crate::checkpoint::{TensorReader, TensorWriter, write_atomically};
use crate::error::Result;
use crate::optim::{Moments, Optimizer};
use crate::resume::{
    check_config, check_progress, put_moments, read_if_present, read_moments, read_order,
};

const FORMAT: &str = "cortexbench-vnn-training-state-1";

/// The VNN training loop's random streams.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Streams {
    pub shuffle: ChaCha8Rng,
    pub augment: ChaCha8Rng,
}

/// Small values kept in the file's metadata.
#[derive(Serialize, Deserialize)]
struct Values {
    epochs_done: usize,
    optimizer_step: i32,
    streams: Streams,
    history: Vec<VectorEpoch>,
    /// Seconds spent training over all the runs that led here.
    seconds: f64,
}

/// The loop's state after `epochs_done` epochs, borrowed for saving.
pub(super) struct Snapshot<'a> {
    pub epochs_done: usize,
    pub net: &'a VectorNetwork,
    pub optimizer: &'a Optimizer,
    pub streams: &'a Streams,
    pub order: &'a [usize],
    pub history: &'a [VectorEpoch],
    pub seconds: f64,
}

/// A saved state, loaded.
pub(super) struct Restored {
    pub epochs_done: usize,
    pub net: VectorNetwork,
    pub optimizer_step: i32,
    pub first: Moments,
    pub second: Moments,
    pub streams: Streams,
    pub order: Vec<usize>,
    pub history: Vec<VectorEpoch>,
    pub seconds: f64,
}

/// Writes `state` of a run of `config` to `path`, atomically.
pub(super) fn save(path: &Path, config: &VectorTrainConfig, state: &Snapshot) -> Result<()> {
    let mut tensors = TensorWriter::default();
    let layers = put_network(&mut tensors, "net.", state.net);
    put_moments(&mut tensors, state.optimizer);
    let order: Vec<u64> = state.order.iter().map(|&i| i as u64).collect();
    tensors.u64("order".into(), &order);
    let values = Values {
        epochs_done: state.epochs_done,
        optimizer_step: state.optimizer.step,
        streams: state.streams.clone(),
        history: state.history.to_vec(),
        seconds: state.seconds,
    };
    let bytes = tensors.serialize(
        path,
        [
            ("format", FORMAT.to_string()),
            ("components", state.net.components.to_string()),
            ("layers", layers),
            (
                "train_config",
                serde_json::to_string(config).expect("serialisable"),
            ),
            (
                "values",
                serde_json::to_string(&values).expect("serialisable"),
            ),
        ],
    )?;
    write_atomically(path, &bytes)
}

/// The state saved at `path` for `config`, or `None` when there is no file. A file written for
/// another config, or one that cannot be read, is an error naming it.
pub(super) fn load(path: &Path, config: &VectorTrainConfig) -> Result<Option<Restored>> {
    let Some(bytes) = read_if_present(path)? else {
        return Ok(None);
    };
    let file = TensorReader::new(path, &bytes, FORMAT, "a cortexbench VNN training state")?;
    check_config(&file, path, config)?;
    let values: Values = file.metadata_json("values")?;
    let net = read_network(&file, path, "net.")?;
    let parameters: Vec<(&Array2<f32>, &Array1<f32>)> =
        net.layers.iter().map(|l| (&l.weight, &l.bias)).collect();
    let (first, second) = read_moments(&file, path, &parameters)?;
    let order = read_order(&file, path)?;
    check_progress(
        path,
        values.epochs_done,
        values.history.len(),
        config.epochs,
    )?;
    Ok(Some(Restored {
        epochs_done: values.epochs_done,
        net,
        optimizer_step: values.optimizer_step,
        first,
        second,
        streams: values.streams,
        order,
        history: values.history,
        seconds: values.seconds,
    }))
}
