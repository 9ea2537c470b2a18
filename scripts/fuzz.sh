#!/usr/bin/env bash
# Coverage-guided fuzzing of cortexbench's readers with libFuzzer (cargo-fuzz, nightly Rust):
#   scripts/fuzz.sh [seconds per target, default 600] [target ...]
# Targets: npy, matv5, run_config, catalog_yaml, onnx_graph (fuzz/fuzz_targets). The seed
# corpus is what the CI's fixed cases start from (harness/tests/fuzz_cases.rs writes it), so
# the mirror and the golden files must be where the tests find them (CORTEXBENCH_MIRROR,
# CORTEXBENCH_GOLDEN). A crash is saved under fuzz/artifacts/<target>/; the log of each run
# goes to fuzz/logs/<target>.log. An allocation over 2 GiB counts as a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy matv5 run_config catalog_yaml onnx_graph)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
CORTEXBENCH_FUZZ_SEEDS="$PWD/fuzz/corpus" cargo test -q -p harness --test fuzz_cases >/dev/null
mkdir -p fuzz/logs
for target in "${targets[@]}"; do
  echo "fuzzing $target for $seconds s"
  status=0
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -malloc_limit_mb=2048 -max_len=1048576 \
    -print_final_stats=1 > "fuzz/logs/$target.log" 2>&1 || status=$?
  grep -E "^#[0-9]+ +DONE|^stat::number_of_executed_units|^stat::peak_rss_mb" "fuzz/logs/$target.log" || true
  if [ "$status" -ne 0 ]; then
    echo "$target: failed (status $status); see fuzz/logs/$target.log and fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
