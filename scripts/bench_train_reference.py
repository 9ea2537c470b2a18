#!/usr/bin/env python3
"""Times one BP training step of the zoo's networks in PyTorch on the CPU, for comparison with
`cargo bench -p model-zoo --bench training` (optional; needs torch).

Both steps: batch 128, cross-entropy, Adam(lr=1e-3); prints milliseconds per step and images
per second.
- mlp: 784-256-256-256-10 tanh (the DFC paper's Fashion-MNIST MLP).
- cifar_cnn: the CIFAR-10 convnet of the presets: 32x32x3 - three blocks of a 3x3 convolution
  with padding 1, tanh and 2x2 max pooling (32, 64, 128 channels) - fc256 - fc10.

    python3 scripts/bench_train_reference.py [mlp|cifar_cnn ...]
"""
import sys
import time

import torch


def mlp():
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.Tanh(),
        torch.nn.Linear(256, 256), torch.nn.Tanh(),
        torch.nn.Linear(256, 256), torch.nn.Tanh(),
        torch.nn.Linear(256, 10),
    )
    return net, torch.rand(128, 784), 500


def cifar_cnn():
    layers = []
    channels = 3
    for out in (32, 64, 128):
        layers += [torch.nn.Conv2d(channels, out, 3, padding=1), torch.nn.Tanh(),
                   torch.nn.MaxPool2d(2)]
        channels = out
    layers += [torch.nn.Flatten(), torch.nn.Linear(128 * 4 * 4, 256), torch.nn.Tanh(),
               torch.nn.Linear(256, 10)]
    return torch.nn.Sequential(*layers), torch.rand(128, 3, 32, 32) - 0.5, 60


def time_step(name, build):
    torch.manual_seed(0)
    net, x, steps = build()
    y = torch.arange(128) % 10
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss_fn(net(x), y).backward()
        optimizer.step()

    for _ in range(10):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    print(f"{name}: torch {torch.__version__}, {torch.get_num_threads()} threads: "
          f"{elapsed / steps * 1e3:.3f} ms/step, {steps * 128 / elapsed:,.0f} images/s")


if __name__ == "__main__":
    builders = {"mlp": mlp, "cifar_cnn": cifar_cnn}
    for name in sys.argv[1:] or list(builders):
        time_step(name, builders[name])
