//! BP training throughput, batch 128, Adam: one step is forward, backward and the optimizer
//! update; images/s = 128 / time per step. Two networks: the DFC paper's MLP
//! (784-256-256-256-10, tanh) and the CIFAR-10 convnet of the presets (32x32x3 - three blocks
//! of a 3x3 same convolution, tanh and 2x2 max pooling with 32, 64, 128 channels - fc256 -
//! fc10). `scripts/bench_train_reference.py` times the same steps in PyTorch on the CPU.

/// The allocator the harness runs with (large per-batch buffers stay in its pools).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use model_zoo::optim::Optimizer;
use model_zoo::rules::backprop::Backprop;
use model_zoo::{Activation, LearningRule, Network, OptimizerConfig, Preset, TrainingData};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Array2::from_shape_fn((128, 784), |_| rng.random::<f32>());
    let y: Vec<u8> = (0..128).map(|i| (i % 10) as u8).collect();
    let mut net = Network::mlp(&[784, 256, 256, 256, 10], Activation::Tanh, 1).unwrap();
    let mut optimizer = Optimizer::new(OptimizerConfig::adam(1e-3), &net);
    let mut group = c.benchmark_group("training");
    group.throughput(Throughput::Elements(128));
    group.bench_function("bp_step_mlp_784_256x3_10_batch128", |b| {
        b.iter(|| {
            let forward = net.forward(x.view()).unwrap();
            let gradient = Backprop::gradient(&net, &forward, &y);
            optimizer.step(&mut net, &gradient);
        })
    });
    let config = Preset::builtin(TrainingData::Cifar10, "standard")
        .unwrap()
        .config(model_zoo::Rule::Bp, "cnn")
        .unwrap();
    let mut cnn = config
        .architecture
        .build((32, 32, 3), &config.hidden, 10, config.activation, 1)
        .unwrap();
    let images = Array2::from_shape_fn((128, 3072), |_| rng.random::<f32>() - 0.5);
    let mut cnn_optimizer = Optimizer::new(config.optimizer, &cnn);
    group.sample_size(20);
    group.bench_function("bp_step_cifar_cnn_32_64_128_fc256_batch128", |b| {
        b.iter(|| {
            let forward = cnn.forward(images.view()).unwrap();
            let gradient = Backprop::gradient(&cnn, &forward, &y);
            cnn_optimizer.step(&mut cnn, &gradient);
        })
    });
    // Noise correlation's step on the same network: the standard preset's 8 antithetic
    // pairs, i.e. 16 perturbed forward passes of the batch, stacked, and the estimate.
    let nc_options = model_zoo::rules::perturbation::PerturbationOptions::default();
    let mut nc = model_zoo::rules::noise_correlation::NoiseCorrelation::new(nc_options);
    let mut noise_rng = ChaCha8Rng::seed_from_u64(1);
    group.sample_size(10);
    group.bench_function("nc_step_cifar_cnn_8_pairs_batch128", |b| {
        b.iter(|| {
            let forward = cnn.forward(images.view()).unwrap();
            let updates = nc.updates(&cnn, &forward, &y, &mut noise_rng).unwrap();
            cnn_optimizer.step(&mut cnn, &updates);
        })
    });
    group.finish();
}

criterion_group!(training, bench);
criterion_main!(training);
