#!/usr/bin/env bash
# The whole comparison, one command: libstepca (C ABI) against the Python plugin
# (swarmauri-certservice-stepca 0.3.3) and libstepca's Python drop-in for it (stepca.swarmauri,
# the same bench code with one import changed), Go's crypto/x509 and net/http, and the step CLI,
# on the same machine, the same step-ca and in the same run. Writes BENCHMARKS.md.
#   scripts/bench.sh     (BENCH_QUICK=1: a short smoke run; BENCH_OUT=FILE: write elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$HOME/.cargo/bin:$PATH"
scripts/install-deps.sh --quiet

quick=${BENCH_QUICK:-0}
csr_n=2000; csr_rsa_n=300; py_csr_n=400; py_rsa_n=40; enroll_n=1500; py_enroll_n=600; oneshots=5
# Each measurement is repeated, clients interleaved, and the report takes the median:
# on 2 shared cores single runs drift by 10-20%.
rounds=3
if [ "$quick" = 1 ]; then csr_n=200; csr_rsa_n=30; py_csr_n=50; py_rsa_n=5; enroll_n=150; py_enroll_n=60; oneshots=2; rounds=1; fi

venv=${BENCH_VENV:-$HOME/.cache/libstepca/pyvenv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import swarmauri_certservice_stepca' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q swarmauri-certservice-stepca==0.3.3
fi

# The Python package, built from this checkout, beside the plugin in the same venv.
scripts/build-python.sh "$venv.build" >/dev/null
"$venv/bin/pip" install -q --force-reinstall --no-deps "$venv.build"/wheels/stepca-*.whl
make -s example >/dev/null 2>&1 || make example
cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude bench/bench.c -Lbuild/lib -lstepca -Wl,-rpath,"$PWD/build/lib" -lpthread -o build/bench
(cd bench/go && go build -o ../../build/gobench .)

work=$(mktemp -d)
env_file=$(scripts/ca-start.sh)
trap 'scripts/ca-stop.sh "$env_file"; rm -rf "$work"' EXIT
# shellcheck disable=SC1090
. "$env_file"
results="$work/results.jsonl"

for k in ec-p256:"-algorithm EC -pkeyopt ec_paramgen_curve:P-256" ec-p384:"-algorithm EC -pkeyopt ec_paramgen_curve:P-384" \
         ed25519:"-algorithm ED25519" rsa-2048:"-algorithm RSA -pkeyopt rsa_keygen_bits:2048"; do
  name=${k%%:*}; args=${k#*:}
  # shellcheck disable=SC2086
  openssl genpkey $args -out "$work/$name.pem" 2>/dev/null
done

echo "== CSR creation"
for _ in $(seq "$rounds"); do
for name in ec-p256 ec-p384 ed25519 rsa-2048; do
  n=$csr_n; pn=$py_csr_n
  [ "$name" = rsa-2048 ] && { n=$csr_rsa_n; pn=$py_rsa_n; }
  build/bench csr "$work/$name.pem" "$n" | sed "s|$work/||" | tee -a "$results"
  build/gobench csr "$work/$name.pem" "$n" | sed "s|$work/||" | tee -a "$results"
  if [ "$name" != ec-p384 ]; then   # the plugin's KeyRef path: the key types it advertises
    "$venv/bin/python" bench/plugin_bench.py csr "$work/$name.pem" "$pn" | sed "s|$work/||" | tee -a "$results"
  fi
  BENCH_IMPL=stepca "$venv/bin/python" bench/plugin_bench.py csr "$work/$name.pem" "$pn" | sed "s|$work/||" | tee -a "$results"
done
done

echo "== Enrollment throughput (tokens minted beforehand)"
for _ in $(seq "$rounds"); do
for inflight in 1 8 32; do
  for client in libstepca go python python-stepca; do
    n=$enroll_n; case $client in python*) n=$py_enroll_n ;; esac
    build/bench mint "$n" bench.example.com "$work/tokens"
    case $client in
      libstepca) build/bench enroll "$inflight" "$work/tokens" "$work/ec-p256.pem" "$n" ;;
      go) build/gobench enroll "$inflight" "$work/tokens" "$work/ec-p256.pem" "$n" ;;
      python) "$venv/bin/python" bench/plugin_bench.py enroll "$inflight" "$work/tokens" "$work/ec-p256.pem" "$n" ;;
      python-stepca) BENCH_IMPL=stepca "$venv/bin/python" bench/plugin_bench.py enroll "$inflight" "$work/tokens" "$work/ec-p256.pem" "$n" ;;
    esac | tee -a "$results"
  done
done
done

echo "== One enrollment as a whole process"
oneshot() { # NAME CMD...: wall time and peak RSS of one run, appended as JSON
  python3 bench/oneshot.py "$@" | tee -a "$results"
}
tok() { build/bench mint 1 bench.example.com "$work/one.tok"; cat "$work/one.tok"; }
for _ in $(seq "$oneshots"); do
  tok >/dev/null
  oneshot "C example (libstepca)" build/enroll --ca-url "$STEPCA_URL" --root "$STEPCA_ROOT" \
    --key "$work/ec-p256.pem" --cn bench.example.com --dns bench.example.com --token-file "$work/one.tok" --out "$work/c.pem"
  oneshot "step ca certificate" step ca certificate bench.example.com "$work/s.crt" "$work/s.key" \
    --token "$(tok)" --ca-url "$STEPCA_URL" --root "$STEPCA_ROOT" -f
  tok >/dev/null
  oneshot "Python plugin quickstart" "$venv/bin/python" bench/plugin_bench.py oneshot "$work/ec-p256.pem" "$work/one.tok" "$work/p.pem"
  tok >/dev/null
  oneshot "Python drop-in quickstart (libstepca)" env BENCH_IMPL=stepca "$venv/bin/python" bench/plugin_bench.py oneshot "$work/ec-p256.pem" "$work/one.tok" "$work/p.pem"
done

strip -o "$work/libstepca.so" "$(readlink -f build/lib/libstepca.so)"
so_size=$(stat -c %s "$work/libstepca.so")
echo "{\"op\":\"size\",\"stripped_so_bytes\":$so_size}" | tee -a "$results"

out=${BENCH_OUT:-BENCHMARKS.md}
python3 scripts/bench_report.py "$results" "step v0.30.6 / step-ca v0.30.2" > "$out.new"
mv "$out.new" "$out"
echo "$out written"
