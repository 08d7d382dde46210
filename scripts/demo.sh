#!/usr/bin/env bash
# The main job: build libstepca and the C example, start a local step-ca on 127.0.0.1,
# enroll a device through the C API (key file, subject, SANs, EKUs, token from a
# file-backed callback), print the certificate, verify the chain, stop the CA.
# With --go, the Go example (examples/go/enroll) enrolls instead of the C one.
set -euo pipefail
cd "$(dirname "$0")/.."
enroll=build/enroll
if [ "${1:-}" = "--go" ]; then
  enroll=build/enroll-go
fi
scripts/install-deps.sh --quiet
log=$(mktemp); make -s example >"$log" 2>&1 || { cat "$log"; exit 1; }; rm -f "$log"
if [ "$enroll" = build/enroll-go ]; then
  (cd examples/go && go build -o ../../build/enroll-go ./enroll)
fi

work=$(mktemp -d)
env_file=$(scripts/ca-start.sh)
trap 'scripts/ca-stop.sh "$env_file"; rm -rf "$work"' EXIT
# shellcheck disable=SC1090
. "$env_file"
echo "step-ca is up at $STEPCA_URL"

device=device-001.example.com
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/device.key" 2>/dev/null
mkdir -p "$work/otts"
# The provisioning system's job: a one-time token per device, kept where the callback looks.
scripts/mint-token.sh "$device" "$device" device-001 > "$work/otts/$device.txt"

"$enroll" --ca-url "$STEPCA_URL" --root "$STEPCA_ROOT" --key "$work/device.key" \
  --subject C=US --subject "O=Example Corp" --cn "$device" \
  --dns "$device" --dns device-001 --eku serverAuth --eku clientAuth \
  --token-dir "$work/otts" --out "$work/device.pem"

echo
openssl x509 -in "$work/device.pem" -noout -subject -issuer -dates -ext subjectAltName
openssl verify -CAfile "$STEPCA_ROOT" -untrusted "$work/device.pem" "$work/device.pem"
