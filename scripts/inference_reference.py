#!/usr/bin/env python3
"""Reference values for cortexbench's bootstrap statistics, computed with numpy alone.

Writes evaluators/tests/data/inference_reference.json: small random inputs, the resample
indices (drawn here, so that Rust uses the very same ones), and what numpy computes from them:

- RSA replicates (pattern bootstrap, pairs of distinct drawn stimuli, Spearman with average
  ranks; subjects drawn too, the mean over the drawn subjects' RDMs),
- debiased linear CKA replicates (each resample's distinct stimuli, the deviation from the
  full-sample score scaled by sqrt(m / (n - m))),
- predictivity replicates (per split the resampled held-out rows, Pearson r per neuroid,
  median, mean over splits),
- seed pooling, percentile intervals, paired tests (p = (1 + #|d* - d| >= |d|) / (1 + B)) and
  Holm's adjustment.

Usage: python3 scripts/inference_reference.py  (numpy >= 1.22; run from the repository root)
"""
import json
import pathlib

import numpy as np

np.seterr(invalid="ignore")

rng = np.random.default_rng(20261130)
N, B, CONF = 12, 60, 0.95


def ranks(v):
    order = np.argsort(v, kind="mergesort")
    r = np.empty(len(v))
    sv = v[order]
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sv[j + 1] == sv[i]:
            j += 1
        r[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(a, b):
    return np.corrcoef(ranks(a), ranks(b))[0, 1]


def condensed(square):
    i, j = np.triu_indices(square.shape[0], 1)
    return square[i, j]


def random_rdm():
    x = rng.normal(size=(N, 6))
    return condensed(1 - np.corrcoef(x))


def rsa_replicates(model, targets, subjects, stim, subj):
    out = []
    msq = np.zeros((N, N))
    msq[np.triu_indices(N, 1)] = model
    msq += msq.T
    tsq = []
    for t in targets:
        s = np.zeros((N, N))
        s[np.triu_indices(N, 1)] = t
        tsq.append(s + s.T)
    for r in range(B):
        sample = stim[r]
        pairs = [(i, j) for p, i in enumerate(sample) for j in sample[p + 1 :] if i != j]
        mv = np.array([msq[i, j] for i, j in pairs])
        values = []
        for s in subj[r]:
            for t in subjects[s]:
                tv = np.array([tsq[t][i, j] for i, j in pairs])
                values.append(spearman(mv, tv))
        out.append(np.mean(values))
    return out


def debiased_cka(kx, ky):
    n = kx.shape[0]

    def center(k):
        k = k.copy()
        np.fill_diagonal(k, 0)
        means = k.sum(0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        k -= means[None, :]
        k -= means[:, None]
        np.fill_diagonal(k, 0)
        return k

    a, b = center(kx), center(ky)
    return (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())


def pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    return (a @ b) / np.sqrt((a @ a) * (b @ b))


def percentile_interval(v):
    v = np.asarray(v)
    v = v[np.isfinite(v)]
    tail = 50 * (1 - CONF)
    return [float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))]


def paired(a_est, a, b_est, b):
    d = np.asarray(a) - np.asarray(b)
    diff = a_est - b_est
    return {
        "difference": diff,
        "ci95": percentile_interval(d),
        "p": float((1 + np.sum(np.abs(d - diff) >= abs(diff))) / (1 + len(d))),
    }


def holm(p):
    p = np.asarray(p)
    m = len(p)
    order = np.argsort(p, kind="mergesort")
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj.tolist()


# RSA: two models against 3 RDMs of 2 subjects (subject 0 has two sessions).
models = [random_rdm(), random_rdm()]
targets = [random_rdm() for _ in range(3)]
subjects = [[0, 1], [2]]
stim = rng.integers(0, N, size=(B, N))
subj = rng.integers(0, 2, size=(B, 2))
rsa = [rsa_replicates(m, targets, subjects, stim.tolist(), subj.tolist()) for m in models]

# CKA: debiased linear, x (N, 5) against y (N, 4).
x, y = rng.normal(size=(N, 5)), rng.normal(size=(N, 4))
# Each resample keeps its distinct stimuli; the deviation from the full-sample score is
# scaled by sqrt(m / (n - m)) (delete-d jackknife).
kx_full, ky_full = x @ x.T, y @ y.T
cka_full = debiased_cka(kx_full, ky_full)
cka = []
for s in stim:
    u = np.unique(s)
    m = len(u)
    if m == N:
        cka.append(float(cka_full))
        continue
    sub = debiased_cka(kx_full[np.ix_(u, u)], ky_full[np.ix_(u, u)])
    cka.append(float(cka_full + np.sqrt(m / (N - m)) * (sub - cka_full)))

# Predictivity: 3 splits of 4 held-out stimuli, 3 neuroids.
responses = rng.normal(size=(N, 3))
tests = [[0, 3, 5, 9], [1, 2, 7, 11], [4, 6, 8, 10]]
predictions = [responses[t] + rng.normal(scale=0.8, size=(4, 3)) for t in tests]
draws = rng.integers(0, 4, size=(B, 3, 4))
pred = []
for r in range(B):
    medians = []
    for s, t in enumerate(tests):
        pos = draws[r][s]
        rs = [pearson(predictions[s][pos, k], responses[t][pos, k]) for k in range(3)]
        # An r of constant resampled values is undefined and left out, as in the score.
        rs = [v for v in rs if np.isfinite(v)]
        medians.append(np.median(rs) if rs else np.nan)
    pred.append(float(np.mean(medians)))

# Seeds: model 0's RSA replicates as seed 1, CKA's as seed 2; seeds drawn per replicate.
seed_draws = rng.integers(0, 2, size=(B, 2))
estimates = [0.3, 0.5]
per_seed = [rsa[0], cka]
pooled = [float(np.mean([per_seed[s][r] for s in seed_draws[r]])) for r in range(B)]

tests_out = [
    paired(0.2, rsa[0], 0.1, rsa[1]),
    paired(float(np.mean(estimates)), pooled, 0.2, rsa[1]),
]
out = {
    "n_stimuli": N,
    "confidence": CONF,
    "rsa": {
        "models": [m.tolist() for m in models],
        "targets": [t.tolist() for t in targets],
        "subjects": subjects,
        "stimuli": stim.tolist(),
        "subject_draws": subj.tolist(),
        "replicates": rsa,
        "ci95": [percentile_interval(r) for r in rsa],
    },
    "cka": {"x": x.tolist(), "y": y.tolist(), "replicates": cka},
    "predictivity": {
        "responses": responses.tolist(),
        "tests": tests,
        "predictions": [p.tolist() for p in predictions],
        "draws": draws.tolist(),
        "replicates": pred,
    },
    "seeds": {
        "estimates": estimates,
        "draws": seed_draws.tolist(),
        "pooled": [float(v) for v in pooled],
        "pooled_estimate": float(np.mean(estimates)),
    },
    "paired": tests_out,
    "holm": {"p": [0.04, 0.001, 0.03, 0.2, 0.01], "adjusted": holm([0.04, 0.001, 0.03, 0.2, 0.01])},
    "numpy": np.__version__,
}
path = pathlib.Path("evaluators/tests/data/inference_reference.json")
path.parent.mkdir(parents=True, exist_ok=True)


def nan_to_null(v):
    """JSON has no NaN: an undefined replicate is written as null."""
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, list):
        return [nan_to_null(x) for x in v]
    if isinstance(v, dict):
        return {k: nan_to_null(x) for k, x in v.items()}
    return v


path.write_text(json.dumps(nan_to_null(out), indent=1, allow_nan=False))
print(f"wrote {path}")
