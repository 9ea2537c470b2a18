#!/usr/bin/env python3
"""Reference values for cortexbench's spectral theory of neural prediction, with numpy and scipy.

Reads the golden arrays X.npy (60 stimuli x 40 features) and Y.npy (60 x 30 responses) from
CORTEXBENCH_GOLDEN/metrics (default ../shared/golden/metrics) and writes
evaluators/tests/data/spectral_reference.json with, for each ridge penalty and with and
without centring:

- the spectrum: eigenvalues of K = X X^T / P above rounding level (descending), then one 0 for
  the null space, and the responses' variance share along each (the null space's together);
- the ridge: alpha (relative) times the sum of the eigenvalues, the penalty per training
  stimulus;
- the theory at each training-set size p: kappa solving kappa = p a + kappa sum l/(p l + kappa)
  (scipy's brentq), gamma, the error modes, E_g, the error-mode radius and dimension;
- the empirical error of ridge (penalty p a on X X^T) trained on given index sets (drawn here,
  so that Rust uses the very same ones), measured on all stimuli and normalised by the
  sum of the squared responses as analysed (their total variance when centred), as the theory
  is normalised.

Usage: python3 scripts/spectral_reference.py  (numpy, scipy; run from the repository root)
"""
import json
import os
import pathlib

import numpy as np
from scipy.optimize import brentq

golden = pathlib.Path(os.environ.get("CORTEXBENCH_GOLDEN", "../shared/golden")) / "metrics"
X = np.load(golden / "X.npy").astype(np.float64)
Y = np.load(golden / "Y.npy").astype(np.float64)
P = X.shape[0]
ALPHAS = [1e-3, 1e-1]
SIZES = [5, 10, 20, 30, 40, 50]
rng = np.random.default_rng(20261201)
TRAIN = {p: [sorted(rng.choice(P, size=p, replace=False).tolist()) for _ in range(2)] for p in SIZES}


def spectrum(x, y):
    k = x @ x.T / P
    values, vectors = np.linalg.eigh(k)
    power = ((vectors.T @ y) ** 2).sum(axis=1) / P
    power = power / power.sum()
    cutoff = values.max() * P * np.finfo(float).eps
    keep = values > cutoff
    order = np.argsort(-values[keep], kind="stable")
    eigenvalues = list(values[keep][order])
    alignment = list(power[keep][order])
    null = power[~keep].sum()
    if null > 0:
        eigenvalues.append(0.0)
        alignment.append(null)
    return np.array(eigenvalues), np.array(alignment)


def theory(lam, a, alpha, p):
    ridge = p * alpha
    f = lambda k: k - ridge - k * np.sum(lam / (p * lam + k))
    kappa = brentq(f, 1e-300, ridge + lam.sum(), xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=1000)
    gamma = np.sum(p * lam**2 / (p * lam + kappa) ** 2)
    modes = kappa**2 / ((1 - gamma) * (p * lam + kappa) ** 2) * a
    error = modes.sum()
    squares = (modes**2).sum()
    return {
        "p": p,
        "kappa": kappa,
        "gamma": gamma,
        "error": error,
        "radius": np.sqrt(squares),
        "dimension": error**2 / squares,
        "modes": modes.tolist(),
    }


def ridge_error(x, y, train, alpha):
    k = x @ x.T
    kt = k[np.ix_(train, train)] + len(train) * alpha * np.eye(len(train))
    dual = np.linalg.solve(kt, y[train])
    residual = k[:, train] @ dual - y
    return (residual**2).sum() / (y**2).sum()


cases = []
for centre in [True, False]:
    x = X - X.mean(0) if centre else X
    y = Y - Y.mean(0) if centre else Y
    lam, a = spectrum(x, y)
    for relative in ALPHAS:
        alpha = relative * lam.sum()
        cases.append(
            {
                "centre": centre,
                "alpha": relative,
                "ridge": alpha,
                "eigenvalues": lam.tolist(),
                "alignment": a.tolist(),
                "theory": [theory(lam, a, alpha, p) for p in SIZES],
                "empirical": [
                    {"p": p, "train": TRAIN[p], "errors": [ridge_error(x, y, t, alpha) for t in TRAIN[p]]}
                    for p in SIZES
                ],
            }
        )

out = pathlib.Path("evaluators/tests/data/spectral_reference.json")
out.write_text(json.dumps({"inputs": ["X.npy", "Y.npy"], "cases": cases}, indent=1) + "\n")
print(f"wrote {out}: {len(cases)} cases")
