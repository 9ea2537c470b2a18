#!/usr/bin/env python3
"""Times feature extraction of EfficientNet-Lite0 with onnxruntime's Python API, for comparison
with `cargo bench -p model-zoo --bench onnx_extraction` (optional; needs onnxruntime==1.31.1 and
numpy). Same work: a batch of 32 random 3x224x224 stimuli, the same three intermediate layers
exposed as graph outputs plus the logits, default session options; prints stimuli per second.

Usage: python3 scripts/bench_onnx_reference.py [path/to/efficientnet_lite0.onnx]
"""
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort

LAYERS = [
    "/_blocks.1/_project_conv/Conv_output_0",
    "/_blocks.5/_project_conv/Conv_output_0",
    "/_swish_1/Clip_output_0",
    "logits",
]

path = sys.argv[1] if len(sys.argv) > 1 else "../shared/models/efficientnet_lite0.onnx"
model = onnx.load(path)
for name in LAYERS:
    if name not in [o.name for o in model.graph.output]:
        model.graph.output.append(onnx.ValueInfoProto(name=name))
with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
    onnx.save(model, f.name)
    session = ort.InferenceSession(f.name, providers=["CPUExecutionProvider"])

x = np.random.default_rng(0).uniform(-2, 2, (32, 3, 224, 224)).astype(np.float32)
for _ in range(3):
    session.run(LAYERS, {"input": x})
times = []
for _ in range(20):
    start = time.perf_counter()
    session.run(LAYERS, {"input": x})
    times.append(time.perf_counter() - start)
median = float(np.median(times))
print(f"onnxruntime {ort.__version__} (Python): {median * 1e3:.1f} ms per batch of 32, "
      f"{32 / median:.1f} stimuli/s")
