//! Training a VNN with GEVB or backprop: the zoo's data, augmentation, optimizers and
//! schedules, plus the sign agreement of every update with the gradient.

use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::resume::{self, Streams};
use super::{VectorNetwork, VectorRule, sign_agreement};
use crate::alignment::cosine_per_layer;
use crate::architecture::ConvStage;
use crate::augment::Augmentation;
use crate::error::{Result, ZooError};
use crate::loss::cross_entropy;
use crate::optim::{LrSchedule, Optimizer, OptimizerConfig};
use crate::train::{
    ChannelNormalization, EpochRecord, LabelledData, TrainingData, evaluate_logits,
};

/// Everything that determines a VNN training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorTrainConfig {
    /// The training data.
    pub data: TrainingData,
    /// How the pixels were standardised (none: [0, 1] intensities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<ChannelNormalization>,
    /// Augmentation of training images (none by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augmentation: Option<Augmentation>,
    /// Convolutional stages before the dense layers (none: an MLP), each a convolution, its
    /// gate and 2×2 average pooling; channel counts even.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<ConvStage>,
    /// Hidden dense layer sizes, each even.
    pub hidden: Vec<usize>,
    /// GEVB or backprop.
    pub rule: VectorRule,
    /// Optimizer.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule over epochs.
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Examples per step.
    pub batch_size: usize,
    /// Passes over the training data.
    pub epochs: usize,
    /// Seed of initialisation, gates and shuffles.
    pub seed: u64,
    /// Measure alignment and sign agreement with the gradient every this many steps (0: never).
    pub alignment_every: usize,
    /// Stop each epoch after this many steps (quick runs and tests).
    #[serde(default)]
    pub max_steps_per_epoch: Option<usize>,
}

impl VectorTrainConfig {
    /// The paper's Fashion-MNIST-sized VNN MLP (784×10 – 1024 – 512 – 1) and its optimizer
    /// (Adam 3e-4), batch 128, with the zoo's cosine schedule.
    pub fn mlp_default(rule: VectorRule, epochs: usize, seed: u64) -> Self {
        VectorTrainConfig {
            data: TrainingData::FashionMnist,
            normalization: None,
            augmentation: None,
            stages: vec![],
            hidden: vec![1024, 512],
            rule,
            optimizer: OptimizerConfig::adam(3e-4),
            lr_schedule: LrSchedule::Cosine {
                final_fraction: 0.01,
            },
            batch_size: 128,
            epochs,
            seed,
            alignment_every: 50,
            max_steps_per_epoch: None,
        }
    }
}

impl VectorTrainConfig {
    /// The network this config trains on its data set's images and classes, with its seed's
    /// initial weights.
    pub fn network(&self) -> Result<VectorNetwork> {
        let (image, classes) = self.data.shape();
        if self.stages.is_empty() {
            return VectorNetwork::mlp(
                image.0 * image.1 * image.2,
                &self.hidden,
                classes,
                self.seed,
            );
        }
        let convs: Vec<(usize, usize, usize)> = self
            .stages
            .iter()
            .map(|s| (s.channels, s.kernel, s.padding))
            .collect();
        VectorNetwork::cnn(image, &convs, &self.hidden, classes, self.seed)
    }

    /// The network this config trains, for this data and number of classes.
    pub fn build(&self, data: &LabelledData, classes: usize) -> Result<VectorNetwork> {
        if self.stages.is_empty() {
            return VectorNetwork::mlp(data.x.ncols(), &self.hidden, classes, self.seed);
        }
        let convs: Vec<(usize, usize, usize)> = self
            .stages
            .iter()
            .map(|s| (s.channels, s.kernel, s.padding))
            .collect();
        VectorNetwork::cnn(data.image, &convs, &self.hidden, classes, self.seed)
    }
}

/// One epoch of VNN training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorEpoch {
    /// Loss, accuracy, and the mean cosine of the update with the gradient per layer.
    #[serde(flatten)]
    pub record: EpochRecord,
    /// Per layer, the mean fraction of the batch update's weights that have the gradient's
    /// sign (where both are nonzero).
    pub sign_agreement_batch: Vec<f32>,
    /// The same for the update of a single example (the first of each measured batch), where
    /// GEVB's theorem says 1 for every dense layer (a convolution's shared weights sum their
    /// uses at every pixel, each with its own positive factor).
    pub sign_agreement_example: Vec<f32>,
}

/// A trained VNN and its history.
#[derive(Debug, Clone)]
pub struct VectorTrained {
    /// The network.
    pub net: VectorNetwork,
    /// One record per epoch.
    pub history: Vec<VectorEpoch>,
    /// Epochs restored from a saved training state (0: trained from the start).
    pub resumed_after: usize,
    /// Seconds of training, over every run that led here when resumed.
    pub seconds: f64,
}

/// Trains a VNN on `train`, evaluating on `test` after every epoch; `on_epoch` sees each
/// record as it is made.
pub fn train_vectorized(
    config: &VectorTrainConfig,
    train: &LabelledData,
    test: &LabelledData,
    on_epoch: impl FnMut(&VectorEpoch),
) -> Result<VectorTrained> {
    run(config, train, test, None, on_epoch)
}

/// [`train_vectorized`] that saves its state to `state` after every epoch and, when `state`
/// holds an earlier run of the same config, continues from it (`on_epoch` is then called for
/// the new epochs only). The result is the same, bit for bit, as training without a stop; the
/// caller removes `state` once it has saved what it needs.
pub fn train_vectorized_resumable(
    config: &VectorTrainConfig,
    train: &LabelledData,
    test: &LabelledData,
    state: &std::path::Path,
    on_epoch: impl FnMut(&VectorEpoch),
) -> Result<VectorTrained> {
    run(config, train, test, Some(state), on_epoch)
}

fn run(
    config: &VectorTrainConfig,
    train: &LabelledData,
    test: &LabelledData,
    state_path: Option<&std::path::Path>,
    mut on_epoch: impl FnMut(&VectorEpoch),
) -> Result<VectorTrained> {
    if config.batch_size == 0 || config.epochs == 0 {
        return Err(ZooError::Config(
            "batch size and epochs must be at least 1".into(),
        ));
    }
    let started = std::time::Instant::now();
    let classes = usize::from(*train.y.iter().max().unwrap_or(&0)) + 1;
    let mut net = config.build(train, classes.max(2))?;
    let weights: Vec<_> = net.layers.iter().map(|l| &l.weight).collect();
    let biases: Vec<_> = net.layers.iter().map(|l| &l.bias).collect();
    let mut optimizer = Optimizer::for_parameters(config.optimizer, &weights, &biases);
    let mut streams = Streams {
        shuffle: ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(2)),
        augment: ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(4)),
    };
    let mut order: Vec<usize> = (0..train.y.len()).collect();
    let mut history = vec![];
    let (mut resumed_after, mut earlier_seconds) = (0, 0.0);
    if let Some(path) = state_path
        && let Some(restored) = resume::load(path, config)?
    {
        let fits = restored.order.len() == order.len()
            && restored.net.components == net.components
            && restored.net.layers.len() == net.layers.len()
            && restored
                .net
                .layers
                .iter()
                .zip(&net.layers)
                .all(|(a, b)| a.weight.dim() == b.weight.dim() && a.kind == b.kind);
        if !fits {
            return Err(ZooError::bad_file(
                path,
                "the saved state does not fit this training data or network",
            ));
        }
        net = restored.net;
        optimizer.step = restored.optimizer_step;
        optimizer.first = restored.first;
        optimizer.second = restored.second;
        streams = restored.streams;
        order = restored.order;
        history = restored.history;
        resumed_after = restored.epochs_done;
        earlier_seconds = restored.seconds;
    }
    for epoch in resumed_after + 1..=config.epochs {
        let Streams { shuffle, augment } = &mut streams;
        optimizer.set_lr_factor(config.lr_schedule.factor(epoch - 1, config.epochs));
        order.shuffle(shuffle);
        let mut sums = Sums::new(net.layers.len());
        let steps = order
            .len()
            .div_ceil(config.batch_size)
            .min(config.max_steps_per_epoch.unwrap_or(usize::MAX));
        for (step, batch) in order.chunks(config.batch_size).take(steps).enumerate() {
            let mut x = train.x.select(Axis(0), batch);
            if let Some(augmentation) = &config.augmentation {
                augmentation.apply(&mut x, train.image, augment);
            }
            let y: Vec<u8> = batch.iter().map(|&i| train.y[i]).collect();
            let forward = net.forward(x.view())?;
            let (loss, right) = cross_entropy(&forward.logits, &y);
            if !loss.is_finite() {
                return Err(ZooError::Diverged(format!(
                    "loss is {loss} at epoch {epoch}, step {step}"
                )));
            }
            let updates = match config.rule {
                VectorRule::Gevb => net.gevb(&forward, &y),
                VectorRule::Bp => net.gradient(&forward, &y),
            };
            if config.alignment_every > 0 && step % config.alignment_every == 0 {
                sums.measure(&net, config.rule, &x, &y, &forward, &updates)?;
            }
            optimizer.step_parameters(
                net.layers
                    .iter_mut()
                    .map(|layer| (&mut layer.weight, &mut layer.bias)),
                &updates,
            );
            net.keep_nonnegative();
            sums.loss += f64::from(loss) * y.len() as f64;
            sums.correct += right;
            sums.seen += y.len();
        }
        let (test_loss, test_accuracy) = evaluate_vectorized(&net, test.x.view(), &test.y)?;
        let record = sums.finish(epoch, test_loss, test_accuracy);
        on_epoch(&record);
        history.push(record);
        if let Some(path) = state_path {
            resume::save(
                path,
                config,
                &resume::Snapshot {
                    epochs_done: epoch,
                    net: &net,
                    optimizer: &optimizer,
                    streams: &streams,
                    order: &order,
                    history: &history,
                    seconds: earlier_seconds + started.elapsed().as_secs_f64(),
                },
            )?;
        }
    }
    Ok(VectorTrained {
        net,
        history,
        resumed_after,
        seconds: earlier_seconds + started.elapsed().as_secs_f64(),
    })
}

/// Mean loss and accuracy of a VNN on a labelled set, in batches of 250.
pub fn evaluate_vectorized(
    net: &VectorNetwork,
    x: ndarray::ArrayView2<f32>,
    y: &[u8],
) -> Result<(f32, f32)> {
    evaluate_logits(x, y, |chunk| Ok(net.forward(chunk)?.logits))
}

/// Running sums of an epoch.
struct Sums {
    loss: f64,
    correct: usize,
    seen: usize,
    measured: usize,
    alignment: Vec<f64>,
    batch_signs: Vec<f64>,
    example_signs: Vec<f64>,
}

impl Sums {
    fn new(layers: usize) -> Self {
        Sums {
            loss: 0.0,
            correct: 0,
            seen: 0,
            measured: 0,
            alignment: vec![0.0; layers],
            batch_signs: vec![0.0; layers],
            example_signs: vec![0.0; layers],
        }
    }

    /// Compares the batch's update, and the first example's, with backprop's gradient.
    fn measure(
        &mut self,
        net: &VectorNetwork,
        rule: VectorRule,
        x: &Array2<f32>,
        y: &[u8],
        forward: &super::VectorForward,
        updates: &crate::rules::Updates,
    ) -> Result<()> {
        // Backprop's update is the gradient: it agrees with itself by construction.
        if rule == VectorRule::Bp {
            let ones = vec![1.0; updates.weight.len()];
            for sums in [
                &mut self.alignment,
                &mut self.batch_signs,
                &mut self.example_signs,
            ] {
                add(sums, &ones);
            }
            self.measured += 1;
            return Ok(());
        }
        let gradient = net.gradient(forward, y);
        let one = net.forward(x.slice(ndarray::s![0..1, ..]))?;
        add(&mut self.alignment, &cosine_per_layer(updates, &gradient));
        add(&mut self.batch_signs, &sign_agreement(updates, &gradient));
        add(
            &mut self.example_signs,
            &sign_agreement(&net.gevb(&one, &y[..1]), &net.gradient(&one, &y[..1])),
        );
        self.measured += 1;
        Ok(())
    }

    fn finish(self, epoch: usize, test_loss: f32, test_accuracy: f32) -> VectorEpoch {
        let mean = |v: &[f64]| -> Vec<f32> {
            v.iter()
                .map(|s| (s / self.measured.max(1) as f64) as f32)
                .collect()
        };
        VectorEpoch {
            record: EpochRecord {
                epoch,
                train_loss: (self.loss / self.seen as f64) as f32,
                train_accuracy: self.correct as f32 / self.seen as f32,
                test_loss,
                test_accuracy,
                alignment: mean(&self.alignment),
                noise_subspace: vec![],
            },
            sign_agreement_batch: mean(&self.batch_signs),
            sign_agreement_example: mean(&self.example_signs),
        }
    }
}

fn add(sums: &mut [f64], values: &[f32]) {
    for (s, v) in sums.iter_mut().zip(values) {
        *s += f64::from(*v);
    }
}
