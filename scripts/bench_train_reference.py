#!/usr/bin/env python3
"""Times one BP training step of the same MLP in PyTorch on the CPU, for comparison with
`cargo bench -p model-zoo --bench training` (optional; needs torch).

784-256-256-256-10 tanh, batch 128, cross-entropy, Adam(lr=1e-3); prints images per second.
"""
import time

import torch

torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Linear(784, 256), torch.nn.Tanh(),
    torch.nn.Linear(256, 256), torch.nn.Tanh(),
    torch.nn.Linear(256, 256), torch.nn.Tanh(),
    torch.nn.Linear(256, 10),
)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
x = torch.rand(128, 784)
y = torch.arange(128) % 10
loss_fn = torch.nn.CrossEntropyLoss()


def step():
    optimizer.zero_grad()
    loss_fn(net(x), y).backward()
    optimizer.step()


for _ in range(50):
    step()
steps = 500
start = time.perf_counter()
for _ in range(steps):
    step()
elapsed = time.perf_counter() - start
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: "
      f"{elapsed / steps * 1e3:.3f} ms/step, {steps * 128 / elapsed:,.0f} images/s")
