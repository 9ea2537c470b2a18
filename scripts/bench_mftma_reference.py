#!/usr/bin/env python3
"""Runs the reference MFTMA implementation on the point clouds cortexbench's timing example uses.

The reference is Chung et al.'s `neural_manifolds_replicaMFT` (github.com/schung039/
neural_manifolds_replicaMFT); fetch it yourself (it is not vendored here) and install what it
imports (numpy, scipy, cvxopt, autograd, pymanopt 0.2.5). Then, from the repository root:

    cargo run --release -p evaluators --example capacity_timing -- 100 50 5000 200 3
    OPENBLAS_NUM_THREADS=1 python3 scripts/bench_mftma_reference.py /path/to/neural_manifolds_replicaMFT

The example writes target/bench-data/mftma_x_P100_M50_N5000.npy; this script runs the
reference's `manifold_analysis_corr` on the same manifolds at κ = 0 and n_t = 200 once per seed
(numpy's global seed drives its samples and restarts) and prints, per seed and as a mean, the
wall time and the four numbers cortexbench reports: capacity (1 / mean of 1 / α_M), mean
radius, mean dimension and centre correlation. The reference runs single-threaded in effect
and gives the same numbers with OPENBLAS_NUM_THREADS=1.
"""
import argparse
import pathlib
import sys
import time

import numpy as np

DATA = pathlib.Path(__file__).resolve().parent.parent / "target" / "bench-data"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=pathlib.Path, help="checkout of neural_manifolds_replicaMFT")
    parser.add_argument("--size", default="100,50,5000", help="P,M,N of the example's data")
    parser.add_argument("--n-t", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(args.reference))
    from mftma.manifold_analysis_correlation import manifold_analysis_corr

    p, m, n = (int(v) for v in args.size.split(","))
    x = np.load(DATA / f"mftma_x_P{p}_M{m}_N{n}.npy")
    # The reference takes one (features, points) array per manifold.
    manifolds = [x[i * m:(i + 1) * m].T.copy() for i in range(p)]
    rows = []
    for seed in range(1, args.seeds + 1):
        np.random.seed(seed)
        start = time.perf_counter()
        capacities, radii, dimensions, correlation, _ = manifold_analysis_corr(manifolds, 0, args.n_t)
        seconds = time.perf_counter() - start
        row = [seconds, 1 / np.mean(1 / capacities), np.mean(radii), np.mean(dimensions), correlation]
        rows.append(row)
        print(f"P {p} M {m} N {n} n_t {args.n_t} seed {seed}: {seconds:.2f} s; capacity {row[1]:.5f} "
              f"radius {row[2]:.4f} dimension {row[3]:.2f} centre correlation {row[4]:.6f}")
    mean = np.mean(rows, axis=0)
    print(f"mean over {args.seeds} seeds: {mean[0]:.2f} s; capacity {mean[1]:.5f} radius {mean[2]:.4f} "
          f"dimension {mean[3]:.2f} centre correlation {mean[4]:.6f}")


if __name__ == "__main__":
    main()
