#!/usr/bin/env python3
"""Times the Python reference tools on the arrays the Rust criterion benches use.

Run `cargo bench -p evaluators --bench metrics` first (it writes target/bench-data/*.npy), then
    python3 scripts/bench_reference.py
Needs numpy, scipy, scikit-learn and rsatoolbox (optional; not used by tests or CI).
Prints the median wall time of each operation over a few repeats, matching the bench names.
"""
import pathlib
import statistics
import time

import numpy as np
import rsatoolbox
from scipy.stats import pearsonr
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import ShuffleSplit

DATA = pathlib.Path(__file__).resolve().parent.parent / "target" / "bench-data"


def timed(name, fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    print(f"{name:48s} {statistics.median(times) * 1000:10.1f} ms (median of {repeats})")


def rsa(x, y_rdm):
    rdm = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x), method="correlation")
    return rsatoolbox.rdm.compare(rdm, y_rdm, method="spearman")


def cka_debiased(x, y):
    """Kornblith et al. 2019's feature-space debiased linear CKA (their reference code)."""
    x = x - x.mean(0, keepdims=True)
    y = y - y.mean(0, keepdims=True)
    n = x.shape[0]
    sx, sy = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
    nx, ny = sx.sum(), sy.sum()

    def debias(xty, a, b, na, nb):
        return xty - n / (n - 2.0) * a.dot(b) + na * nb / ((n - 1) * (n - 2))

    xy = debias(np.linalg.norm(x.T @ y) ** 2, sx, sy, nx, ny)
    xx = np.sqrt(debias(np.linalg.norm(x.T @ x) ** 2, sx, sx, nx, nx))
    yy = np.sqrt(debias(np.linalg.norm(y.T @ y) ** 2, sy, sy, ny, ny))
    return xy / (xx * yy)


def cka_debiased_gram(x, y):
    """Kornblith et al. 2019's Gram-matrix form: cka(gram_linear(x), gram_linear(y), debiased=True)."""
    def centred(x):
        gram = x @ x.T
        n = gram.shape[0]
        np.fill_diagonal(gram, 0)
        means = gram.sum(0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        gram -= means[:, None]
        gram -= means[None, :]
        np.fill_diagonal(gram, 0)
        return gram

    gx, gy = centred(x), centred(y)
    return gx.ravel() @ gy.ravel() / (np.linalg.norm(gx) * np.linalg.norm(gy))


def cross_validated(x, y, make_model):
    medians = []
    for train, test in ShuffleSplit(n_splits=10, test_size=0.1, random_state=1).split(x):
        pred = make_model().fit(x[train], y[train]).predict(x[test])
        medians.append(np.median([pearsonr(pred[:, j], y[test, j])[0] for j in range(y.shape[1])]))
    return np.mean(medians)


def main():
    rsa_x, rsa_y = np.load(DATA / "rsa_x_2000x4096.npy"), np.load(DATA / "rsa_y_2000x200.npy")
    reg_x, reg_y = np.load(DATA / "reg_x_640x16384.npy"), np.load(DATA / "reg_y_640x50.npy")
    y_rdm = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(rsa_y), method="correlation")
    alphas = 10.0 ** (-3 + 0.5 * np.arange(23))
    timed("rdm_correlation_spearman_2000x4096", lambda: rsa(rsa_x, y_rdm), 3)
    timed("cka_linear_debiased_2000x4096_vs_2000x200", lambda: cka_debiased(rsa_x, rsa_y), 3)
    timed("cka_linear_debiased (Gram form)", lambda: cka_debiased_gram(rsa_x, rsa_y), 3)
    timed("pls25_10splits_640x16384_to_50",
          lambda: cross_validated(reg_x, reg_y, lambda: PLSRegression(n_components=25, scale=False)), 1)
    timed("ridge_cv_10splits_640x16384_to_50",
          lambda: cross_validated(reg_x, reg_y, lambda: RidgeCV(alphas=alphas)), 1)


if __name__ == "__main__":
    main()
