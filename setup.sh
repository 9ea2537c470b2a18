#!/usr/bin/env bash
# Installs what cortexbench needs on a Debian or Ubuntu machine: OpenBLAS (linear algebra),
# Fashion-MNIST (training data, Debian package dataset-fashion-mnist),
# pkg-config, Python's pip (to fetch the ONNX Runtime wheel), and the ONNX Runtime library
# itself (into the cortexbench cache; see scripts/fetch_onnxruntime.sh). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

packages=(libopenblas-dev pkg-config python3 ca-certificates dataset-fashion-mnist)
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install a Rust toolchain (https://rustup.rs) and run again" >&2
  exit 1
fi

ort="$(scripts/fetch_onnxruntime.sh)"
echo "setup: ONNX Runtime at $ort (cortexbench finds it there; ORT_DYLIB_PATH overrides)" >&2
