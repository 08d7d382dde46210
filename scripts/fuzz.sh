#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 30 s each) on its committed corpus.
#   scripts/fuzz.sh [SECONDS]
# Needs the nightly toolchain and cargo-fuzz (installed here if missing). New inputs found
# go to a scratch copy of the corpus; crashes land in fuzz/artifacts/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
export PATH="$HOME/.cargo/bin:$PATH"
cargo +nightly --version >/dev/null 2>&1 || { echo "fuzz.sh: the nightly toolchain is missing" >&2; exit 1; }
cargo fuzz --version >/dev/null 2>&1 || cargo install --quiet cargo-fuzz@0.13.2 --locked
cargo +nightly fuzz build -O >/dev/null 2>&1 || cargo +nightly fuzz build -O
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for t in key_decode csr_build ca_response cert_parse jose; do
  mkdir -p "$scratch/$t"
  if cargo +nightly fuzz run -O "$t" "$scratch/$t" fuzz/corpus/$t -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 >"$scratch/$t.log" 2>&1; then
    runs=$(grep -Eo '^Done [0-9]+ runs' "$scratch/$t.log" | awk '{print $2}')
    echo "fuzz $t: ${runs:-?} executions in ${secs}s, no crash"
  else
    status=1
    echo "fuzz $t: FAILED"; grep -E "panicked|ERROR|SUMMARY|artifact" "$scratch/$t.log" | head -20
  fi
done
exit $status
