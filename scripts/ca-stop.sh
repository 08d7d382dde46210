#!/usr/bin/env bash
# Stops a CA started by ca-start.sh and removes its directory.
set -uo pipefail
env_file=${1:?usage: ca-stop.sh ENVFILE}
[ -f "$env_file" ] || exit 0
# shellcheck disable=SC1090
. "$env_file"
if kill -0 "$STEPCA_PID" 2>/dev/null; then
  kill "$STEPCA_PID"
  for _ in $(seq 1 50); do kill -0 "$STEPCA_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$STEPCA_PID" 2>/dev/null || true
fi
case "$STEPPATH" in
  */stepca-test.*) rm -rf "$STEPPATH" ;;
esac
