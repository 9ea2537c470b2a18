//! The training loop: seeded shuffles, mini-batches (augmented and assembled on a thread of
//! their own, ahead of the step that needs them), a rule's updates, an optimizer step, and
//! per-epoch loss, accuracy and gradient alignment. Same seed, same machine: same weights.

use std::path::Path;

use ndarray::{Array2, ArrayView2, ArrayView4, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::alignment::cosine_per_layer;
use crate::architecture::Architecture;
use crate::augment::Augmentation;
use crate::error::{Result, ZooError};
use crate::loss::cross_entropy;
use crate::network::Network;
use crate::optim::{LrSchedule, Optimizer, OptimizerConfig};
use crate::resume::{self, Streams};
use crate::rules::backprop::Backprop;
use crate::rules::{LearningRule, RuleConfig};

/// Images as `(n, features)` in [0, 1] with integer labels.
#[derive(Debug, Clone)]
pub struct LabelledData {
    /// Inputs, one flattened channels-last image per row.
    pub x: Array2<f32>,
    /// Image shape `(height, width, channels)`.
    pub image: (usize, usize, usize),
    /// Labels.
    pub y: Vec<u8>,
}

impl LabelledData {
    /// Flattens `(n, h, w)` 8-bit images to `(n, h*w)` intensities in [0, 1].
    pub fn from_u8_images(images: &ndarray::Array3<u8>, labels: Vec<u8>) -> Result<LabelledData> {
        let (n, h, w) = images.dim();
        if labels.len() != n {
            return Err(ZooError::Shape(format!(
                "{} labels for {n} images",
                labels.len()
            )));
        }
        let x = images
            .to_shape((n, h * w))
            .map_err(|e| ZooError::Shape(e.to_string()))?
            .mapv(|p| f32::from(p) / 255.0);
        Ok(LabelledData {
            x,
            image: (h, w, 1),
            y: labels,
        })
    }

    /// Flattens `(n, h, w, c)` 8-bit colour images to channels-last rows, each channel scaled
    /// to [0, 1] and then standardised by `normalization` when given.
    pub fn from_rgb_images(
        images: ArrayView4<u8>,
        labels: Vec<u8>,
        normalization: Option<&ChannelNormalization>,
    ) -> Result<LabelledData> {
        let (n, h, w, c) = images.dim();
        if labels.len() != n {
            return Err(ZooError::Shape(format!(
                "{} labels for {n} images",
                labels.len()
            )));
        }
        if let Some(norm) = normalization
            && (norm.mean.len() != c || norm.std.len() != c)
        {
            return Err(ZooError::Shape(format!(
                "a normalisation of {} channels for images of {c}",
                norm.mean.len()
            )));
        }
        let images = images.as_standard_layout();
        let pixels = images.as_slice().expect("standard layout");
        let mut x = Vec::with_capacity(pixels.len());
        for pixel in pixels.chunks_exact(c) {
            for (ch, &v) in pixel.iter().enumerate() {
                let v = f32::from(v) / 255.0;
                x.push(match normalization {
                    Some(norm) => (v - norm.mean[ch]) / norm.std[ch],
                    None => v,
                });
            }
        }
        Ok(LabelledData {
            x: Array2::from_shape_vec((n, h * w * c), x).expect("n·h·w·c values"),
            image: (h, w, c),
            y: labels,
        })
    }

    /// The first `n` examples.
    pub fn head(&self, n: usize) -> LabelledData {
        let n = n.min(self.y.len());
        LabelledData {
            x: self.x.slice(ndarray::s![..n, ..]).to_owned(),
            image: self.image,
            y: self.y[..n].to_vec(),
        }
    }
}

/// The data set a network is trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TrainingData {
    /// Fashion-MNIST, 28×28 grayscale in [0, 1].
    #[default]
    #[serde(rename = "fashion-mnist")]
    FashionMnist,
    /// CIFAR-10, 32×32 RGB standardised per channel by the training set's statistics.
    #[serde(rename = "cifar10")]
    Cifar10,
}

impl TrainingData {
    /// `fashion-mnist` or `cifar10`, as configs and the command line name it.
    pub fn name(self) -> &'static str {
        match self {
            TrainingData::FashionMnist => "fashion-mnist",
            TrainingData::Cifar10 => "cifar10",
        }
    }

    /// The short tag in model names: `fmnist` or `cifar` (`bp-cifar-cnn`).
    pub fn tag(self) -> &'static str {
        match self {
            TrainingData::FashionMnist => "fmnist",
            TrainingData::Cifar10 => "cifar",
        }
    }

    /// Image shape `(height, width, channels)` and classes.
    pub fn shape(self) -> ((usize, usize, usize), usize) {
        match self {
            TrainingData::FashionMnist => ((28, 28, 1), 10),
            TrainingData::Cifar10 => ((32, 32, 3), 10),
        }
    }
}

impl std::str::FromStr for TrainingData {
    type Err = ZooError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fashion-mnist" => Ok(TrainingData::FashionMnist),
            "cifar10" => Ok(TrainingData::Cifar10),
            other => Err(ZooError::Config(format!(
                "unknown data set '{other}' (data sets: fashion-mnist, cifar10)"
            ))),
        }
    }
}

/// Per-channel standardisation of [0, 1] pixels, (v - mean) / std, as measured on a training
/// set; models see every image, stimuli included, this way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelNormalization {
    /// Mean per channel.
    pub mean: Vec<f32>,
    /// Standard deviation per channel.
    pub std: Vec<f32>,
}

impl ChannelNormalization {
    /// The mean and standard deviation of each channel of `(n, h, w, c)` 8-bit images scaled to
    /// [0, 1], accumulated in f64.
    pub fn measure(images: ArrayView4<u8>) -> ChannelNormalization {
        let c = images.dim().3;
        let (mut sum, mut squares, mut count) = (vec![0u64; c], vec![0u64; c], 0u64);
        for pixel in images
            .as_standard_layout()
            .as_slice()
            .expect("standard layout")
            .chunks_exact(c)
        {
            for (ch, &v) in pixel.iter().enumerate() {
                sum[ch] += u64::from(v);
                squares[ch] += u64::from(v) * u64::from(v);
            }
            count += 1;
        }
        let n = count.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|&s| s as f64 / n / 255.0).collect();
        let std = squares
            .iter()
            .zip(&mean)
            .map(|(&q, m)| ((q as f64 / n / 65025.0 - m * m).max(0.0).sqrt()) as f32)
            .collect();
        ChannelNormalization {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        }
    }
}

/// Everything that determines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The training data.
    #[serde(default)]
    pub data: TrainingData,
    /// How the pixels were standardised (none: [0, 1] intensities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<ChannelNormalization>,
    /// Augmentation of training images (none by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augmentation: Option<Augmentation>,
    /// Network family (an MLP when absent).
    #[serde(default)]
    pub architecture: Architecture,
    /// Hidden dense layer sizes (input and output sizes come from the data).
    pub hidden: Vec<usize>,
    /// Hidden nonlinearity.
    pub activation: Activation,
    /// Credit-assignment rule.
    pub rule: RuleConfig,
    /// Optimizer.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule over epochs.
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Examples per step.
    pub batch_size: usize,
    /// Passes over the training data.
    pub epochs: usize,
    /// Seed of initialisation, feedback weights, shuffles and rule noise.
    pub seed: u64,
    /// Measure alignment with the true gradient every this many steps (0: never).
    pub alignment_every: usize,
    /// Stop each epoch after this many steps (quick runs and tests).
    #[serde(default)]
    pub max_steps_per_epoch: Option<usize>,
}

impl TrainConfig {
    /// The DFC paper's Fashion-MNIST MLP (784-256-256-256-10, tanh), Adam 1e-3 decayed by a
    /// cosine to 1e-5 over the epochs, batch 128.
    pub fn mlp_default(rule: RuleConfig, epochs: usize, seed: u64) -> Self {
        TrainConfig {
            data: TrainingData::FashionMnist,
            normalization: None,
            augmentation: None,
            architecture: Architecture::Mlp,
            hidden: vec![256, 256, 256],
            activation: Activation::Tanh,
            rule,
            optimizer: OptimizerConfig::adam(1e-3),
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

    /// The zoo's small CNN (conv 5×5×32 – pool – conv 5×5×64 – pool – fc 256 – fc 10, tanh),
    /// with the MLP's optimizer and schedule. tanh rather than ReLU: with ReLU, the misaligned
    /// early updates of feedback alignment blow the activations up (loss 5.2 after 150 steps,
    /// against 1.2 with tanh).
    pub fn cnn_default(rule: RuleConfig, epochs: usize, seed: u64) -> Self {
        TrainConfig {
            architecture: Architecture::small_cnn(),
            hidden: vec![256],
            activation: Activation::Tanh,
            ..TrainConfig::mlp_default(rule, epochs, seed)
        }
    }
}

/// Results of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f32,
    /// Training accuracy over the epoch's batches.
    pub train_accuracy: f32,
    /// Test loss after the epoch.
    pub test_loss: f32,
    /// Test accuracy after the epoch.
    pub test_accuracy: f32,
    /// Mean cosine of the rule's weight update with the true gradient, per layer.
    pub alignment: Vec<f32>,
    /// The rule's noise subspace dimension per layer at the epoch's end (NMNC; empty for
    /// the other rules and in training states written before it was recorded).
    #[serde(default)]
    pub noise_subspace: Vec<usize>,
}

/// A trained network and its history.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The network.
    pub net: Network,
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
    /// Epochs restored from a saved training state (0: trained from the start).
    pub resumed_after: usize,
    /// Seconds of training, over every run that led here when resumed.
    pub seconds: f64,
}

/// Trains a network on `train`, evaluating on `test` after every epoch; `on_epoch` sees each record
/// and the network as they are after that epoch (for progress display, or measurements over
/// training).
pub fn train(
    config: &TrainConfig,
    train: &LabelledData,
    test: &LabelledData,
    on_epoch: impl FnMut(&EpochRecord, &Network),
) -> Result<Trained> {
    run(config, train, test, None, on_epoch)
}

/// [`train`] that saves its state to `state` after every epoch and, when `state` holds an
/// earlier run of the same config, continues from it (`on_epoch` is then called for the new
/// epochs only). The result is the same, bit for bit, as training without a stop; the caller
/// removes `state` once it has saved what it needs. See [`crate::resume`].
pub fn train_resumable(
    config: &TrainConfig,
    train: &LabelledData,
    test: &LabelledData,
    state: &Path,
    on_epoch: impl FnMut(&EpochRecord, &Network),
) -> Result<Trained> {
    run(config, train, test, Some(state), on_epoch)
}

fn run(
    config: &TrainConfig,
    train: &LabelledData,
    test: &LabelledData,
    state_path: Option<&Path>,
    mut on_epoch: impl FnMut(&EpochRecord, &Network),
) -> Result<Trained> {
    if config.batch_size == 0 || config.epochs == 0 {
        return Err(ZooError::Config(
            "batch size and epochs must be at least 1".into(),
        ));
    }
    let started = std::time::Instant::now();
    let classes = usize::from(*train.y.iter().max().unwrap_or(&0)) + 1;
    let mut net = config.architecture.build(
        train.image,
        &config.hidden,
        classes.max(2),
        config.activation,
        config.seed,
    )?;
    let mut rule = config.rule.build(&net, config.seed.wrapping_add(1))?;
    let mut optimizer = Optimizer::new(config.optimizer, &net);
    let mut streams = Streams {
        shuffle: ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(2)),
        rule: ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(3)),
        augment: ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(4)),
    };
    let mut order: Vec<usize> = (0..train.y.len()).collect();
    let mut history = vec![];
    let (mut resumed_after, mut earlier_seconds) = (0, 0.0);
    if let Some(restored) = state_path
        .map(|path| resume::load(path, config))
        .transpose()?
        .flatten()
    {
        let path = state_path.expect("loaded from it");
        if restored.order.len() != order.len() || restored.net.layers.len() != net.layers.len() {
            return Err(ZooError::bad_file(
                path,
                "the saved state does not fit this training data or network",
            ));
        }
        rule.restore(restored.rule)
            .map_err(|e| ZooError::bad_file(path, e.to_string()))?;
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
        let record = run_epoch(
            config,
            epoch,
            train,
            test,
            &mut net,
            rule.as_mut(),
            &mut optimizer,
            &mut streams,
            &mut order,
        )?;
        on_epoch(&record, &net);
        history.push(record);
        if let Some(path) = state_path {
            resume::save(
                path,
                config,
                &resume::Snapshot {
                    epochs_done: epoch,
                    net: &net,
                    optimizer: &optimizer,
                    rule: rule.as_ref(),
                    streams: &streams,
                    order: &order,
                    history: &history,
                    seconds: earlier_seconds + started.elapsed().as_secs_f64(),
                },
            )?;
        }
    }
    Ok(Trained {
        net,
        history,
        resumed_after,
        seconds: earlier_seconds + started.elapsed().as_secs_f64(),
    })
}

/// One pass over the (shuffled) training data and the evaluation after it.
#[allow(clippy::too_many_arguments)]
fn run_epoch(
    config: &TrainConfig,
    epoch: usize,
    train: &LabelledData,
    test: &LabelledData,
    net: &mut Network,
    rule: &mut dyn LearningRule,
    optimizer: &mut Optimizer,
    streams: &mut Streams,
    order: &mut [usize],
) -> Result<EpochRecord> {
    optimizer.set_lr_factor(config.lr_schedule.factor(epoch - 1, config.epochs));
    order.shuffle(&mut streams.shuffle);
    let steps_this_epoch = order
        .len()
        .div_ceil(config.batch_size)
        .min(config.max_steps_per_epoch.unwrap_or(usize::MAX));
    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
    let mut alignment_sum = vec![0.0f64; net.layers.len()];
    let mut alignment_count = 0usize;
    // Batches are gathered and augmented on their own thread, two ahead of the step.
    let (sender, batches) = std::sync::mpsc::sync_channel::<(Array2<f32>, Vec<u8>)>(2);
    let augment_rng = &mut streams.augment;
    let rule_rng = &mut streams.rule;
    let order = &*order;
    std::thread::scope(|scope| -> Result<()> {
        scope.spawn(move || {
            for batch in order.chunks(config.batch_size).take(steps_this_epoch) {
                let mut x = train.x.select(Axis(0), batch);
                if let Some(augmentation) = &config.augmentation {
                    augmentation.apply(&mut x, train.image, augment_rng);
                }
                let y: Vec<u8> = batch.iter().map(|&i| train.y[i]).collect();
                if sender.send((x, y)).is_err() {
                    break;
                }
            }
        });
        for (steps, (x, y)) in batches.into_iter().enumerate() {
            let forward = net.forward(x.view())?;
            let (loss, right) = cross_entropy(forward.output(), &y);
            if !loss.is_finite() {
                return Err(ZooError::Diverged(format!(
                    "loss is {loss} at epoch {epoch}, step {steps}"
                )));
            }
            let updates = rule.updates(net, &forward, &y, rule_rng)?;
            if config.alignment_every > 0 && steps % config.alignment_every == 0 {
                let gradient = Backprop::gradient(net, &forward, &y);
                for (sum, c) in alignment_sum
                    .iter_mut()
                    .zip(cosine_per_layer(&updates, &gradient))
                {
                    *sum += f64::from(c);
                }
                alignment_count += 1;
            }
            optimizer.step(net, &updates);
            loss_sum += f64::from(loss) * y.len() as f64;
            correct += right;
            seen += y.len();
        }
        Ok(())
    })?;
    let (test_loss, test_accuracy) = evaluate(net, test.x.view(), &test.y)?;
    Ok(EpochRecord {
        epoch,
        train_loss: (loss_sum / seen as f64) as f32,
        train_accuracy: correct as f32 / seen as f32,
        test_loss,
        test_accuracy,
        alignment: alignment_sum
            .iter()
            .map(|s| (s / alignment_count.max(1) as f64) as f32)
            .collect(),
        noise_subspace: rule.noise_subspace(),
    })
}

/// Examples per forward pass when evaluating (bounds a CNN's im2col buffers to ~50 MB).
const EVALUATION_BATCH: usize = 250;

/// Mean loss and accuracy of `net` on a labelled set, in batches of 250.
pub fn evaluate(net: &Network, x: ArrayView2<f32>, y: &[u8]) -> Result<(f32, f32)> {
    evaluate_logits(x, y, |chunk| Ok(net.forward(chunk)?.output().clone()))
}

/// Mean loss and accuracy of the logits `logits` gives each batch of 250 inputs.
pub(crate) fn evaluate_logits(
    x: ArrayView2<f32>,
    y: &[u8],
    mut logits: impl FnMut(ArrayView2<f32>) -> Result<Array2<f32>>,
) -> Result<(f32, f32)> {
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (start, chunk) in y
        .chunks(EVALUATION_BATCH)
        .enumerate()
        .map(|(i, c)| (i * EVALUATION_BATCH, c))
    {
        let out = logits(x.slice(ndarray::s![start..start + chunk.len(), ..]))?;
        let (l, c) = cross_entropy(&out, chunk);
        loss += f64::from(l) * chunk.len() as f64;
        correct += c;
    }
    Ok((
        (loss / y.len() as f64) as f32,
        correct as f32 / y.len() as f32,
    ))
}
