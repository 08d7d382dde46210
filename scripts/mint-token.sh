#!/usr/bin/env bash
# Mints a sign token with the step CLI for the CA described by the environment:
#   mint-token.sh SUBJECT [SAN...]
# Extra `step ca token` flags can be passed in STEP_TOKEN_FLAGS.
set -euo pipefail
sub=${1:?usage: mint-token.sh SUBJECT [SAN...]}
shift
args=()
for san in "$@"; do args+=(--san "$san"); done
# shellcheck disable=SC2086
exec step ca token "$sub" "${args[@]}" --provisioner "$STEPCA_PROVISIONER" \
  --password-file "$STEPCA_PASSWORD_FILE" --ca-url "$STEPCA_URL" --root "$STEPCA_ROOT" \
  ${STEP_TOKEN_FLAGS:-} 2>/dev/null
