#!/usr/bin/env bash
# Puts ONNX Runtime 1.31.1's shared library into the cortexbench cache and prints its path.
#
# The library comes from the `onnxruntime==1.31.1` wheel on PyPI (ort's own binary download
# host is not reachable everywhere). The wheel's sha256 is pinned; the library is extracted to a
# temporary file and renamed into place, so an interrupted run leaves nothing half-written.
#
# Usage: export ORT_DYLIB_PATH="$(scripts/fetch_onnxruntime.sh)"
set -euo pipefail

version=1.31.1
case "$(uname -m)" in
  x86_64) platform=manylinux_2_28_x86_64
          sha256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f ;;
  aarch64) platform=manylinux_2_28_aarch64
           sha256=da05378364c44d4407e463982d2bf8d5e4cfea873283757e48beeb41df97b7f3 ;;
  *) echo "fetch_onnxruntime: no ONNX Runtime wheel is pinned for $(uname -m)" >&2; exit 1 ;;
esac

cache="${CORTEXBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cortexbench}/onnxruntime/$version"
lib="$cache/libonnxruntime.so.$version"
if [ -f "$lib" ]; then
  echo "$lib"
  exit 0
fi

mkdir -p "$cache"
work="$(mktemp -d "$cache/.download.XXXXXX")"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --platform "$platform" \
  --python-version 3.11 --implementation cp -d "$work" "onnxruntime==$version" >&2
wheel="$(ls "$work"/onnxruntime-"$version"-*.whl)"
actual="$(sha256sum "$wheel" | cut -d' ' -f1)"
if [ "$actual" != "$sha256" ]; then
  echo "fetch_onnxruntime: $wheel has sha256 $actual, expected $sha256; not using it" >&2
  exit 1
fi
python3 - "$wheel" "$work/lib.tmp" "$version" <<'PY'
import shutil, sys, zipfile
wheel, out, version = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(f"onnxruntime/capi/libonnxruntime.so.{version}") as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
mv "$work/lib.tmp" "$lib"
echo "$lib"
