//! BP training throughput of the DFC paper's MLP (784-256-256-256-10, tanh), batch 128, Adam:
//! one step is forward, backward and the optimizer update. Images/s = 128 / time per step.
//! `scripts/bench_train_reference.py` times the same step in PyTorch on the CPU.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use model_zoo::optim::Optimizer;
use model_zoo::rules::backprop::Backprop;
use model_zoo::{Activation, Network, OptimizerConfig};
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
    group.finish();
}

criterion_group!(training, bench);
criterion_main!(training);
