#!/usr/bin/env bash
# Measures cortexbench and the Python reference tools side by side, in one run, on the same
# arrays, and prints the speed-up ratios of the README's performance table.
#
#   scripts/bench_ratios.sh PYTHON [MFTMA_REFERENCE_CHECKOUT]
#
# PYTHON has numpy, scipy, scikit-learn and rsatoolbox (and, for MFTMA, what the reference
# imports: cvxopt, autograd, pymanopt 0.2.5). MFTMA_REFERENCE_CHECKOUT is a checkout of
# github.com/schung039/neural_manifolds_replicaMFT (not vendored here); without it the MFTMA
# row is skipped. The machine should be otherwise idle. numpy runs with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset, so that its bundled OpenBLAS picks its best kernels for this CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:?usage: scripts/bench_ratios.sh PYTHON [MFTMA_REFERENCE_CHECKOUT]}
out=target/bench-data
mkdir -p "$out"
rm -f "$out/mftma.txt" "$out/mftma_reference.txt"  # only this run's numbers are compared

cargo bench -q -p evaluators --bench metrics -- --noplot | tee "$out/criterion.txt"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" scripts/bench_reference.py | tee "$out/reference.txt"
if [ -n "${2:-}" ]; then
  cargo run -q --release -p evaluators --example capacity_timing -- 100 50 5000 200 3 | tee "$out/mftma.txt"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
    "$python" scripts/bench_mftma_reference.py "$2" | tee "$out/mftma_reference.txt"
fi

"$python" - "$out" <<'PY'
import json, pathlib, re, sys
out = pathlib.Path(sys.argv[1])
criterion = pathlib.Path("target/criterion/metrics")
def ours(name):
    estimates = json.loads((criterion / name / "new" / "estimates.json").read_text())
    return estimates["median"]["point_estimate"] / 1e6  # ns -> ms
reference = {}
for line in (out / "reference.txt").read_text().splitlines():
    match = re.match(r"(.+?)\s+([\d.]+) ms", line)
    if match:
        reference[match.group(1).strip()] = float(match.group(2))
rows = [
    ("correlation RDM + Spearman, 2000 x 4096", "rdm_correlation_spearman_2000x4096",
     "rdm_correlation_spearman_2000x4096", "rsatoolbox", 15),
    ("debiased linear CKA, 2000 x 4096 vs 2000 x 200", "cka_linear_debiased_2000x4096_vs_2000x200",
     "cka_linear_debiased (Gram form)", "numpy, Kornblith's Gram form", 2),
    ("debiased linear CKA (feature form reference)", "cka_linear_debiased_2000x4096_vs_2000x200",
     "cka_linear_debiased_2000x4096_vs_2000x200", "numpy, Kornblith's feature form", None),
    ("PLS-25, 10 splits, 640 x 16384 -> 50", "pls25_10splits_640x16384_to_50",
     "pls25_10splits_640x16384_to_50", "scikit-learn PLSRegression", 100),
    ("ridge-CV, 10 splits, 640 x 16384 -> 50", "ridge_cv_10splits_640x16384_to_50",
     "ridge_cv_10splits_640x16384_to_50", "scikit-learn RidgeCV", 10),
]
def mean_seconds(path):
    match = re.search(r"mean over \d+ seeds: ([\d.]+) s", (out / path).read_text())
    return float(match.group(1)) * 1000 if match else None
if (out / "mftma_reference.txt").exists():
    rows.append(("MFTMA, P 100 M 50 N 5000 n_t 200 (mean of 3 seeds)", "mftma.txt",
                 "mftma_reference.txt", "neural_manifolds_replicaMFT", 10))
print(f"\n{'operation':52s} {'cortexbench':>12s} {'reference':>12s} {'ratio':>8s}  goal")
for label, mine, theirs, tool, goal in rows:
    a = mean_seconds(mine) if mine.endswith(".txt") else ours(mine)
    b = mean_seconds(theirs) if theirs.endswith(".txt") else reference[theirs]
    ratio = b / a
    verdict = "" if goal is None else f">= {goal}x {'met' if ratio >= goal else 'MISSED'}"
    print(f"{label:52s} {a:10.1f} ms {b:10.1f} ms {ratio:7.1f}x  {verdict} ({tool})")
PY
