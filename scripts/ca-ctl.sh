#!/usr/bin/env bash
# Takes a CA started by ca-start.sh down, or brings it back up with the same config, port
# and database, for tests of CA outages:  ca-ctl.sh down|up ENVFILE
# "up" waits until the CA answers and records its new pid in ENVFILE (ca-stop.sh reads it).
set -euo pipefail
cmd=${1:?usage: ca-ctl.sh down|up ENVFILE}
env_file=${2:?usage: ca-ctl.sh down|up ENVFILE}
# shellcheck disable=SC1090
. "$env_file"
case "$cmd" in
  down)
    if kill -0 "$STEPCA_PID" 2>/dev/null; then
      kill "$STEPCA_PID"
      for _ in $(seq 1 50); do kill -0 "$STEPCA_PID" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$STEPCA_PID" 2>/dev/null || true
    fi
    ;;
  up)
    step-ca "$STEPCA_CONFIG" --password-file "$STEPCA_PASSWORD_FILE" >>"$STEPPATH/ca.log" 2>&1 &
    pid=$!
    sed -i "s/^export STEPCA_PID=.*/export STEPCA_PID='$pid'/" "$env_file"
    for _ in $(seq 1 150); do
      if curl -fsS --cacert "$STEPCA_ROOT" "$STEPCA_URL/health" 2>/dev/null | grep -q '"ok"'; then
        exit 0
      fi
      kill -0 "$pid" 2>/dev/null || { echo "ca-ctl: step-ca exited:" >&2; tail -5 "$STEPPATH/ca.log" >&2; exit 1; }
      sleep 0.1
    done
    echo "ca-ctl: step-ca did not become healthy" >&2
    exit 1
    ;;
  *) echo "usage: ca-ctl.sh down|up ENVFILE" >&2; exit 2 ;;
esac
