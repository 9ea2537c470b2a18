//! Feature extraction throughput of EfficientNet-Lite0 through ONNX Runtime: one batch of 32
//! stimuli (3x224x224), reading three intermediate layers and the logits, on all cores.
//! Stimuli/s = 32 / time per batch. `scripts/bench_onnx_reference.py` times the same run with
//! onnxruntime's Python API. The model is found as in the tests: `CORTEXBENCH_MODELS`, else
//! `models/` beside `CORTEXBENCH_MIRROR`, else `../shared/models`.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use model_zoo::{Model, OnnxModel};
use ndarray::Array4;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The layers read, as in the Python reference.
pub const LAYERS: [&str; 4] = [
    "/_blocks.1/_project_conv/Conv_output_0",
    "/_blocks.5/_project_conv/Conv_output_0",
    "/_swish_1/Clip_output_0",
    "logits",
];

fn model_path() -> PathBuf {
    std::env::var_os("CORTEXBENCH_MODELS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CORTEXBENCH_MIRROR").map(|m| PathBuf::from(m).join("../models"))
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"))
        .join("efficientnet_lite0.onnx")
}

fn bench(c: &mut Criterion) {
    let path = model_path();
    let mut model = OnnxModel::open(&path, None).unwrap_or_else(|e| {
        panic!("{e} (set CORTEXBENCH_MODELS to the folder of efficientnet_lite0.onnx)")
    });
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let stimuli = Array4::from_shape_fn((32, 3, 224, 224), |_| rng.random_range(-2.0f32..2.0));
    let mut group = c.benchmark_group("onnx_extraction");
    group.throughput(Throughput::Elements(32));
    group.sample_size(20);
    group.bench_function("efficientnet_lite0_batch32_4_layers", |b| {
        b.iter(|| model.activations(stimuli.view(), &LAYERS).unwrap())
    });
    group.bench_function("efficientnet_lite0_batch32_logits", |b| {
        b.iter(|| model.activations(stimuli.view(), &["logits"]).unwrap())
    });
    group.finish();
}

criterion_group!(onnx_extraction, bench);
criterion_main!(onnx_extraction);
