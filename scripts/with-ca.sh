#!/usr/bin/env bash
# Runs a command with a fresh step-ca: with-ca.sh CMD [ARGS...]
# The CA's description is exported (see ca-start.sh) and the CA is stopped afterwards,
# whatever the command's outcome.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
env_file=$("$here/ca-start.sh")
trap '"$here/ca-stop.sh" "$env_file"' EXIT
# shellcheck disable=SC1090
. "$env_file"
"$@"
