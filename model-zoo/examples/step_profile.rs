//! Where one BP step of the CIFAR convnet spends its time, phase by phase (a diagnostic for
//! engine work: `cargo run --release -p model-zoo --example step_profile`).

/// The allocator the harness runs with (large per-batch buffers stay in its pools).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use model_zoo::rules::Updates;
use model_zoo::{Preset, TrainingData};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() {
    let config = Preset::builtin(TrainingData::Cifar10, "standard")
        .unwrap()
        .config("bp", "cnn")
        .unwrap();
    let net = config
        .architecture
        .build((32, 32, 3), &config.hidden, 10, config.activation, 1)
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Array2::from_shape_fn((128, 3072), |_| rng.random::<f32>() - 0.5);
    let labels: Vec<u8> = (0..128).map(|i| (i % 10) as u8).collect();
    let n = net.layers.len();
    let mut totals = vec![0.0f64; 4 * n + 2];
    let steps = 10;
    for _ in 0..steps {
        // Forward, per layer: drive (im2col + GEMM), activation, pooling.
        let mut h = x.clone();
        let mut forward_parts = vec![];
        for l in 0..n {
            let t = Instant::now();
            let (_, a) = net.drive(l, h.view());
            totals[4 * l] += t.elapsed().as_secs_f64();
            if let model_zoo::LayerKind::Conv(g) = net.layers[l].kind {
                let t = Instant::now();
                let cols = model_zoo::conv::im2col(h.view(), &g);
                totals[4 * l + 2] += t.elapsed().as_secs_f64();
                let t = Instant::now();
                let _ = cols.dot(&net.layers[l].weight.t());
                totals[4 * l + 3] += t.elapsed().as_secs_f64();
            }
            let t = Instant::now();
            let act = net.layers[l].activation.apply(&a);
            let (out, _) = net.layer_output(l, &act, 128);
            totals[4 * l + 1] += t.elapsed().as_secs_f64();
            forward_parts.push(out.clone());
            h = out;
        }
        let t = Instant::now();
        let forward = net.forward(x.view()).unwrap();
        totals[4 * n] += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let g = model_zoo::rules::backprop::Backprop::gradient(&net, &forward, &labels);
        totals[4 * n + 1] += t.elapsed().as_secs_f64();
        let _: &Updates = &g;
    }
    for l in 0..n {
        println!(
            "{:6} drive {:6.1} ms (im2col {:5.1}, GEMM {:5.1})  activation+pool {:6.1} ms",
            net.layers[l].name,
            1e3 * totals[4 * l] / steps as f64,
            1e3 * totals[4 * l + 2] / steps as f64,
            1e3 * totals[4 * l + 3] / steps as f64,
            1e3 * totals[4 * l + 1] / steps as f64
        );
    }
    println!(
        "whole forward {:.1} ms, whole backward (deltas + weight gradients) {:.1} ms",
        1e3 * totals[4 * n] / steps as f64,
        1e3 * totals[4 * n + 1] / steps as f64
    );
}
