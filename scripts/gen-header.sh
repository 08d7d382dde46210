#!/usr/bin/env bash
# Regenerates include/stepca.h with the pinned cbindgen. With --check, fails when the
# committed header differs from what the sources generate.
set -euo pipefail
cd "$(dirname "$0")/.."
want=0.29.4
have=$(cbindgen --version 2>/dev/null | awk '{print $2}')
[ "$have" = "$want" ] || { echo "gen-header: need cbindgen $want (have '${have:-none}'); run scripts/install-deps.sh" >&2; exit 1; }
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT
  cbindgen --quiet --config cbindgen.toml --crate stepca --output "$tmp"
  if ! diff -u include/stepca.h "$tmp"; then
    echo "gen-header: include/stepca.h is stale; run scripts/gen-header.sh and commit it" >&2
    exit 1
  fi
  echo "include/stepca.h is up to date"
else
  cbindgen --quiet --config cbindgen.toml --crate stepca --output include/stepca.h
fi
