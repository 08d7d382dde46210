#!/usr/bin/env bash
# Builds the Python package's abi3 wheel (CPython >= 3.9) and installs it into a fresh venv:
#   scripts/build-python.sh [WORKDIR]
# WORKDIR (default: a new temporary directory) receives:
#   build-venv/  maturin (pinned), used only to build
#   wheels/      the wheel
#   venv/        a fresh venv with the wheel, pytest and the drop-in's swarmauri deps
# Prints "wheel: PATH", "venv: DIR" and the build time. Uses CARGO_TARGET_DIR when set.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/stepca-py.XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)
python=${PYTHON:-python3}

MATURIN_VERSION=1.16.0
# What swarmauri-certservice-stepca 0.3.3 resolves to (its deps are unpinned).
SWARMAURI_DEPS=(swarmauri_base==0.10.0 swarmauri_core==0.10.0)
PYTEST_VERSION=9.2.0

if [ ! -x "$work/build-venv/bin/maturin" ]; then
  "$python" -m venv "$work/build-venv"
  "$work/build-venv/bin/pip" install -q --disable-pip-version-check "maturin==$MATURIN_VERSION"
fi

rm -rf "$work/wheels"
start=$(date +%s)
"$work/build-venv/bin/maturin" build --release --quiet -m "$here/bindings/python/Cargo.toml" \
  --interpreter "$python" --out "$work/wheels" >&2
end=$(date +%s)
wheel=$(ls "$work"/wheels/stepca-*.whl)

rm -rf "$work/venv"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$wheel" "pytest==$PYTEST_VERSION" \
  "${SWARMAURI_DEPS[@]}"
echo "wheel: $wheel ($(du -k "$wheel" | cut -f1) KiB)"
echo "venv: $work/venv"
echo "build: $((end - start)) s"
