#!/usr/bin/env bash
# The whole comparison, one command: libstepca (C ABI, and the stepca command) against what a
# user would pick instead, on the same machine, the same step-ca and in the same run: a Go
# client as a Go user writes it (net/http, crypto/x509, the chain verified), smallstep's own
# Go client (github.com/smallstep/certificates/ca), a post-only Go floor, the step CLI as
# whole processes, the Python plugin (swarmauri-certservice-stepca 0.3.3) and libstepca's
# Python drop-in for it. Enrollment, renewal (mutual TLS and token), a 2000-device batch,
# one-shot processes and a perf profile of libstepca's enrollment. Writes BENCHMARKS.md.
#   scripts/bench.sh     (BENCH_QUICK=1: a short smoke run; BENCH_OUT=FILE: write elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$HOME/.cargo/bin:$PATH"
scripts/install-deps.sh --quiet

quick=${BENCH_QUICK:-0}
csr_n=2000; csr_rsa_n=300; py_csr_n=400; py_rsa_n=40; enroll_n=1500; py_enroll_n=600; oneshots=5
renew_n=1000; step_renew_n=100; batch_n=2000; step_batch_n=100; step_batch_rsa_n=40; profile_n=2000
# Each measurement is repeated, clients interleaved, and the report takes the median and
# shows the spread: on 2 shared cores single runs drift by 10-20%.
rounds=3; batch_rounds=2
if [ "$quick" = 1 ]; then
  csr_n=200; csr_rsa_n=30; py_csr_n=50; py_rsa_n=5; enroll_n=150; py_enroll_n=60; oneshots=2; rounds=1
  renew_n=60; step_renew_n=8; batch_n=40; step_batch_n=4; step_batch_rsa_n=2; profile_n=300; batch_rounds=1
fi

venv=${BENCH_VENV:-$HOME/.cache/libstepca/pyvenv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import swarmauri_certservice_stepca' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q swarmauri-certservice-stepca==0.3.3
fi

# The Python package, built from this checkout, beside the plugin in the same venv.
scripts/build-python.sh "$venv.build" >/dev/null
"$venv/bin/pip" install -q --force-reinstall --no-deps "$venv.build"/wheels/stepca-*.whl
make -s example >/dev/null 2>&1 || make example
make -s cli >/dev/null 2>&1 || make cli
cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude bench/bench.c -Lbuild/lib -lstepca -Wl,-rpath,"$PWD/build/lib" -lpthread -o build/bench
(cd bench/go && go build -o ../../build/gobench .)
stepca_cli=${CARGO_TARGET_DIR:-target}/release/stepca

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
  for client in libstepca go go-caclient go-post python python-stepca; do
    n=$enroll_n; case $client in python*) n=$py_enroll_n ;; esac
    build/bench mint "$n" bench.example.com "$work/tokens"
    case $client in
      libstepca) build/bench enroll "$inflight" "$work/tokens" new "$n" ;;
      go) build/gobench enroll-user "$inflight" "$work/tokens" "$n" ;;
      go-caclient) build/gobench enroll-caclient "$inflight" "$work/tokens" "$n" ;;
      go-post) build/gobench enroll "$inflight" "$work/tokens" "$work/ec-p256.pem" "$n" ;;
      python) "$venv/bin/python" bench/plugin_bench.py enroll "$inflight" "$work/tokens" "$work/ec-p256.pem" "$n" ;;
      python-stepca) BENCH_IMPL=stepca "$venv/bin/python" bench/plugin_bench.py enroll "$inflight" "$work/tokens" "$work/ec-p256.pem" "$n" ;;
    esac | tee -a "$results"
  done
done
done

echo "== Renewal throughput (each device's renewals in a row, mutual TLS and token)"
ca_flags=(--ca-url "$STEPCA_URL" --root "$STEPCA_ROOT")
for _ in $(seq "$rounds"); do
for inflight in 1 8 32; do
  for auth in mtls token; do
    build/bench mint "$inflight" bench.example.com "$work/tokens"
    build/bench renew "$auth" "$inflight" "$work/tokens" "$renew_n" | tee -a "$results"
    build/bench mint "$inflight" bench.example.com "$work/tokens"
    build/gobench renew-caclient "$auth" "$inflight" "$work/tokens" "$renew_n" | tee -a "$results"
    # step ca renew as a process per renewal, one device per worker.
    build/bench mint "$inflight" bench.example.com "$work/tokens"
    mtls=(); [ "$auth" = token ] && mtls=(--mtls=false)
    python3 bench/procloop.py renew step "\"auth\":\"$auth\"," "$inflight" "$((step_renew_n * (inflight > 1 ? 4 : 1)))" \
      --setup "step ca certificate bench.example.com $work/s{w}.crt $work/s{w}.key --token \$(sed -n \$(({w} + 1))p $work/tokens) ${ca_flags[*]} -f" \
      -- step ca renew --force "${mtls[@]}" "${ca_flags[@]}" "$work/s{w}.crt" "$work/s{w}.key" | tee -a "$results"
  done
done
done

echo "== Batch: $batch_n devices, a new key each, tokens minted in process"
pwfile=$STEPCA_PASSWORD_FILE
{ echo "name,sans"; for i in $(seq -w 1 "$batch_n"); do echo "dev-$i,dev-$i.example.com"; done; } >"$work/manifest.csv"
# Each run writes into a directory of its own, and none is removed until the end: on ext4
# without a journal (as here) a new inode skips every inode deleted in the last seconds, so a
# run started right after another's files were removed pays for them in kernel time.
for round in $(seq "$batch_rounds"); do
for kty in ec-p256 rsa-2048; do
  # The second P-256 row runs the same command with fsync made a no-op (eatmydata): not a
  # mode to use, a measure of what durability costs beside the Go batch, which never fsyncs.
  for client in stepca $([ "$kty" = ec-p256 ] && echo stepca-nosync); do
    out="$work/batch-$round-$kty-$client"; wrap=(); [ "$client" = stepca-nosync ] && wrap=(eatmydata)
    python3 bench/procloop.py batch "$client" "\"kty\":\"$kty\",\"devices\":$batch_n,\"parallel\":8," 1 1 -- \
      "${wrap[@]}" "$stepca_cli" batch "${ca_flags[@]}" --manifest "$work/manifest.csv" --out-dir "$out" --parallel 8 \
      --kty "$kty" --provisioner "$STEPCA_PROVISIONER" --provisioner-password-file "$pwfile" | tee -a "$results"
    [ "$(ls "$out"/*.crt | wc -l)" = "$batch_n" ] || { echo "bench: $client batch wrote $(ls "$out"/*.crt | wc -l) of $batch_n" >&2; exit 1; }
  done
  # Timed as a whole process, as `stepca batch` is (start and provisioner key decryption
  # included), not by its own clock.
  python3 bench/procloop.py batch go-caclient "\"kty\":\"$kty\",\"devices\":$batch_n,\"parallel\":8," 1 1 -- \
    build/gobench batch "$kty" 8 "$batch_n" "$work/gobatch-$round-$kty" | tee -a "$results"
  [ "$(ls "$work/gobatch-$round-$kty"/*.crt | wc -l)" = "$batch_n" ] || { echo "bench: Go batch wrote too few" >&2; exit 1; }
  sn=$step_batch_n; kflags=(--kty EC --curve P-256); [ "$kty" = rsa-2048 ] && { sn=$step_batch_rsa_n; kflags=(--kty RSA --size 2048); }
  python3 bench/procloop.py batch step "\"kty\":\"$kty\"," 1 "$sn" -- step ca certificate "dev-{i}.example.com" \
    "$work/step-{i}.crt" "$work/step-{i}.key" "${kflags[@]}" --provisioner "$STEPCA_PROVISIONER" \
    --provisioner-password-file "$pwfile" "${ca_flags[@]}" -f | tee -a "$results"
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
  oneshot "stepca certificate" "$stepca_cli" certificate bench.example.com "$work/st.crt" "$work/st.key" \
    --token "$(tok)" "${ca_flags[@]}" --force
  oneshot "step ca renew" step ca renew --force "${ca_flags[@]}" "$work/s.crt" "$work/s.key"
  oneshot "stepca renew" "$stepca_cli" renew --force "${ca_flags[@]}" "$work/st.crt" "$work/st.key"
  tok >/dev/null
  oneshot "Python plugin quickstart" "$venv/bin/python" bench/plugin_bench.py oneshot "$work/ec-p256.pem" "$work/one.tok" "$work/p.pem"
  tok >/dev/null
  oneshot "Python drop-in quickstart (libstepca)" env BENCH_IMPL=stepca "$venv/bin/python" bench/plugin_bench.py oneshot "$work/ec-p256.pem" "$work/one.tok" "$work/p.pem"
done

echo "== Profile: where a P-256 enrollment's client CPU goes (perf, libstepca at 8 in flight)"
# Some containers forbid perf_event_open even to root: then the report says the profile
# was not measured, and why.
if perf_err=$(perf record -q -o "$work/probe.data" -- true 2>&1); then
  build/bench mint "$profile_n" bench.example.com "$work/tokens"
  # The profiled run's own figures are not the table's (perf slows it): "op" is "profiled".
  perf record -q -F 499 --call-graph dwarf,32768 -o "$work/perf.data" -- \
    build/bench enroll 8 "$work/tokens" new "$profile_n" | sed 's/"op":"enroll"/"op":"profiled"/' | tee -a "$results"
  perf script -i "$work/perf.data" -F comm,pid,tid,ip,sym,dso 2>/dev/null | python3 bench/profile_split.py | tee -a "$results"
else
  python3 -c 'import json,sys; print(json.dumps({"op": "profile", "error": sys.argv[1][:200]}))' "$perf_err" | tee -a "$results"
fi

strip -o "$work/libstepca.so" "$(readlink -f build/lib/libstepca.so)"
so_size=$(stat -c %s "$work/libstepca.so")
echo "{\"op\":\"size\",\"stripped_so_bytes\":$so_size}" | tee -a "$results"
# One P-256 signature check on this machine (OpenSSL), for the profile's account of the floor.
verify_per_s=$(openssl speed -seconds 1 ecdsap256 2>/dev/null | awk '/nistp256/ {print $NF; exit}')
echo "{\"op\":\"speed\",\"p256_verify_per_s\":${verify_per_s:-0}}" | tee -a "$results"

out=${BENCH_OUT:-BENCHMARKS.md}
python3 scripts/bench_report.py "$results" "step v0.30.6 / step-ca v0.30.2" > "$out.new"
mv "$out.new" "$out"
echo "$out written"
