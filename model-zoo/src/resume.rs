//! Resumable training. After every epoch, [`crate::train_resumable`] writes everything the
//! loop needs to go on exactly as if it had not stopped: the weights, the optimizer's moments
//! and step count, the rule's accumulated state ([`crate::rules::RuleState`]), the three random
//! streams (shuffles, rule noise, augmentation), the shuffled order and the history so far. It
//! is one safetensors file (`format`: `cortexbench-training-state-1`, the training config in
//! its metadata), written to a temporary file and renamed, so a kill at any moment leaves the
//! previous epoch's state or the new one. A run continued from it ends with the same weights,
//! bit for bit, as one that never stopped.

use std::path::Path;

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{TensorReader, TensorWriter, write_atomically};
use crate::error::{Result, ZooError};
use crate::network::Network;
use crate::optim::{Moments, Optimizer};
use crate::rules::{LearningRule, RuleState};
use crate::train::{EpochRecord, TrainConfig};

const FORMAT: &str = "cortexbench-training-state-1";

/// The usual name of a training state file, kept in the model's folder until training ends.
pub const STATE_FILE: &str = "training-state.safetensors";

/// The training loop's random streams.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Streams {
    pub shuffle: ChaCha8Rng,
    pub rule: ChaCha8Rng,
    pub augment: ChaCha8Rng,
}

/// Small values kept in the file's metadata.
#[derive(Serialize, Deserialize)]
struct Values {
    epochs_done: usize,
    optimizer_step: i32,
    streams: Streams,
    history: Vec<EpochRecord>,
    rule: serde_json::Value,
    /// Seconds spent training over all the runs that led here.
    seconds: f64,
}

/// The loop's state after `epochs_done` epochs, borrowed for saving.
pub(crate) struct Snapshot<'a> {
    pub epochs_done: usize,
    pub net: &'a Network,
    pub optimizer: &'a Optimizer,
    pub rule: &'a dyn LearningRule,
    pub streams: &'a Streams,
    pub order: &'a [usize],
    pub history: &'a [EpochRecord],
    pub seconds: f64,
}

/// A saved state, loaded.
pub(crate) struct Restored {
    pub epochs_done: usize,
    pub net: Network,
    pub optimizer_step: i32,
    pub first: Moments,
    pub second: Moments,
    pub rule: RuleState,
    pub streams: Streams,
    pub order: Vec<usize>,
    pub history: Vec<EpochRecord>,
    pub seconds: f64,
}

/// Writes `state` of a run of `config` to `path`, atomically.
pub(crate) fn save(path: &Path, config: &TrainConfig, state: &Snapshot) -> Result<()> {
    let mut tensors = TensorWriter::default();
    let layers = tensors.network("net.", state.net);
    put_moments(&mut tensors, state.optimizer);
    let rule = state.rule.state();
    for (name, array) in &rule.arrays {
        tensors.f64(format!("rule.{name}"), array.shape(), array.iter().copied());
    }
    let order: Vec<u64> = state.order.iter().map(|&i| i as u64).collect();
    tensors.u64("order".into(), &order);
    let values = Values {
        epochs_done: state.epochs_done,
        optimizer_step: state.optimizer.step,
        streams: state.streams.clone(),
        history: state.history.to_vec(),
        rule: rule.values,
        seconds: state.seconds,
    };
    let bytes = tensors.serialize(
        path,
        [
            ("format", FORMAT.to_string()),
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

/// Writes an optimizer's moments as `<first|second>.<layer>.<weight|bias>`.
pub(crate) fn put_moments(tensors: &mut TensorWriter, optimizer: &Optimizer) {
    for (kind, moments) in [("first", &optimizer.first), ("second", &optimizer.second)] {
        for (l, (w, b)) in moments.0.iter().zip(&moments.1).enumerate() {
            tensors.f32(format!("{kind}.{l}.weight"), w.shape(), w.iter().copied());
            tensors.f32(format!("{kind}.{l}.bias"), b.shape(), b.iter().copied());
        }
    }
}

/// Reads the moments [`put_moments`] wrote, each shaped like its layer's `(weight, bias)` in
/// `parameters` (else an error naming `path`).
pub(crate) fn read_moments(
    file: &TensorReader,
    path: &Path,
    parameters: &[(&Array2<f32>, &Array1<f32>)],
) -> Result<(Moments, Moments)> {
    let moments = |kind: &str| -> Result<Moments> {
        let mut moments: Moments = (vec![], vec![]);
        for (l, (weight, bias)) in parameters.iter().enumerate() {
            let (w_shape, w) = file.f32(&format!("{kind}.{l}.weight"), 2)?;
            let (b_shape, b) = file.f32(&format!("{kind}.{l}.bias"), 1)?;
            if w_shape != weight.shape() || b_shape != bias.shape() {
                return Err(ZooError::bad_file(
                    path,
                    format!("optimizer moments of layer {l} do not match its weights"),
                ));
            }
            moments
                .0
                .push(Array2::from_shape_vec(weight.raw_dim(), w).expect("shape checked"));
            moments.1.push(Array1::from(b));
        }
        Ok(moments)
    };
    Ok((moments("first")?, moments("second")?))
}

/// The bytes of the state file at `path`, or `None` when there is none.
pub(crate) fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ZooError::io(path, e)),
    }
}

/// Refuses a state whose `train_config` is not `config` (never silently restarted, so a
/// typo cannot throw hours of training away).
pub(crate) fn check_config<C: serde::de::DeserializeOwned + PartialEq>(
    file: &TensorReader,
    path: &Path,
    config: &C,
) -> Result<()> {
    let saved: C = file.metadata_json("train_config")?;
    if &saved != config {
        return Err(ZooError::bad_file(
            path,
            "this training state belongs to another training config; delete it to start over",
        ));
    }
    Ok(())
}

/// The saved example order, checked to be a permutation of the training examples.
pub(crate) fn read_order(file: &TensorReader, path: &Path) -> Result<Vec<usize>> {
    let order: Vec<usize> = file.u64("order")?.into_iter().map(|i| i as usize).collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    if !sorted.iter().enumerate().all(|(i, &v)| i == v) {
        return Err(ZooError::bad_file(
            path,
            "the saved example order is not a permutation",
        ));
    }
    Ok(order)
}

/// Refuses a state whose epochs done and history records do not fit `epochs`.
pub(crate) fn check_progress(
    path: &Path,
    done: usize,
    records: usize,
    epochs: usize,
) -> Result<()> {
    if done == 0 || done > epochs || records != done {
        return Err(ZooError::bad_file(
            path,
            format!("{done} epochs done with {records} history records, of {epochs}"),
        ));
    }
    Ok(())
}

/// The state saved at `path` for `config`, or `None` when there is no file. A file written for
/// another config, or one that cannot be read, is an error naming it (never silently
/// restarted, so a typo cannot throw hours of training away).
pub(crate) fn load(path: &Path, config: &TrainConfig) -> Result<Option<Restored>> {
    let Some(bytes) = read_if_present(path)? else {
        return Ok(None);
    };
    let file = TensorReader::new(path, &bytes, FORMAT, "a cortexbench training state")?;
    check_config(&file, path, config)?;
    let values: Values = file.metadata_json("values")?;
    let net = file.network("net.", file.metadata("layers")?)?;
    let parameters: Vec<_> = net.layers.iter().map(|l| (&l.weight, &l.bias)).collect();
    let (first, second) = read_moments(&file, path, &parameters)?;
    let mut arrays = vec![];
    for name in file.names_with("rule.") {
        let (shape, values) = file.f64(&name)?;
        let array = ArrayD::from_shape_vec(IxDyn(&shape), values)
            .map_err(|e| ZooError::bad_file(path, format!("{name}: {e}")))?;
        arrays.push((name["rule.".len()..].to_string(), array));
    }
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
        rule: RuleState {
            arrays,
            values: values.rule,
        },
        streams: values.streams,
        order,
        history: values.history,
        seconds: values.seconds,
    }))
}
