#!/usr/bin/env bash
# The main job: build libstepca and the C example, start a local step-ca on 127.0.0.1,
# enroll a device through the C API (key file, subject, SANs, EKUs, token from a
# file-backed callback), print the certificate, verify the chain, stop the CA.
# With --go, the Go example (examples/go/enroll) enrolls instead of the C one.
# With --factory, a device enrolls with its factory identity instead (examples/factory_enroll.c):
# its IDevID key is generated in a SoftHSM2 token, the rig's factory CA signs its birth
# certificate, and the device trades a token signed in the token for an operational
# certificate at step-ca's X5C provisioner; the IDevID key never leaves the token.
set -euo pipefail
cd "$(dirname "$0")/.."
enroll=build/enroll
if [ "${1:-}" = "--go" ]; then
  enroll=build/enroll-go
fi
scripts/install-deps.sh --quiet
log=$(mktemp); make -s example >"$log" 2>&1 || { cat "$log"; exit 1; }; rm -f "$log"
if [ "$enroll" = build/enroll-go ]; then
  # The binding finds libstepca through pkg-config: this checkout's uninstalled stepca.pc,
  # given to go alone (exported, it would reach make and rebuild aws-lc-sys).
  (cd examples/go && PKG_CONFIG_PATH="$PWD/../../build/pkgconfig" go build -o ../../build/enroll-go ./enroll)
fi

work=$(mktemp -d)
env_file=$(scripts/ca-start.sh)
trap 'scripts/ca-stop.sh "$env_file"; rm -rf "$work"' EXIT
# shellcheck disable=SC1090
. "$env_file"
echo "step-ca is up at $STEPCA_URL"

device=device-001.example.com
if [ "${1:-}" = "--factory" ]; then
  checks=0
  pass() { checks=$((checks + 1)); echo "ok: $*"; }

  # The device's secure element: a SoftHSM2 token of its own (SOFTHSM2_CONF points at a
  # token directory in $work), initialised with its user PIN in a file.
  module=/usr/lib/softhsm/libsofthsm2.so
  export SOFTHSM2_CONF="$work/softhsm2.conf"
  mkdir -p "$work/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$work/tokens" > "$SOFTHSM2_CONF"
  (umask 077; printf '246810\n' > "$work/pin.txt")
  softhsm2-util --init-token --free --label device-001 --pin "$(head -n1 "$work/pin.txt")" \
    --so-pin 13572468 >/dev/null

  # At the factory: the IDevID key pair is generated in the token and its CSR signed there
  # (through the C API); the factory CA (the rig's, trusted by step-ca's X5C provisioner
  # "$STEPCA_X5C_PROVISIONER") signs the birth certificate.
  build/factory_enroll --csr --module "$module" --token device-001 --pin-file "$work/pin.txt" \
    --label idevid --serial SN-0001 --out "$work/idevid.csr"
  step certificate sign "$work/idevid.csr" "$STEPCA_FACTORY_ROOT" "$STEPCA_FACTORY_KEY" > "$work/idevid.crt"
  echo
  echo "Birth certificate (IDevID):"
  openssl x509 -in "$work/idevid.crt" -noout -subject -issuer -dates
  openssl verify -CAfile "$STEPCA_FACTORY_ROOT" "$work/idevid.crt" >/dev/null
  pass "the birth certificate verifies against the factory root"
  echo

  # On the device: the IDevID key is opened by PKCS#11 URI; the operational certificate is
  # enrolled with a token it signs in the token.
  uri="pkcs11:token=device-001;object=idevid?module-path=$module&pin-source=file:$work/pin.txt"
  build/factory_enroll --ca-url "$STEPCA_URL" --root "$STEPCA_ROOT" --provisioner "$STEPCA_X5C_PROVISIONER" \
    --key-uri "$uri" --birth "$work/idevid.crt" --cn "$device" --dns "$device" \
    --key-out "$work/device.key" --out "$work/device.pem" --factory-spki-out "$work/factory.spki.der"

  echo
  echo "Operational certificate:"
  openssl x509 -in "$work/device.pem" -noout -subject -issuer -dates
  openssl verify -CAfile "$STEPCA_ROOT" -untrusted "$work/device.pem" "$work/device.pem"
  pass "the operational certificate verifies against the step-ca root"
  # The key that signed the enrollment token, as opened from the token, is the one the
  # birth certificate was issued for.
  openssl x509 -in "$work/idevid.crt" -noout -pubkey | openssl pkey -pubin -outform DER > "$work/idevid.spki.der"
  cmp -s "$work/idevid.spki.der" "$work/factory.spki.der"
  pass "the IDevID key in the token is the birth certificate's key"
  # The operational certificate carries the new operational key, not the IDevID key.
  openssl x509 -in "$work/device.pem" -noout -pubkey | openssl pkey -pubin -outform DER > "$work/device.spki.der"
  openssl pkey -in "$work/device.key" -pubout -outform DER > "$work/device-key.spki.der"
  cmp -s "$work/device.spki.der" "$work/device-key.spki.der"
  if cmp -s "$work/device.spki.der" "$work/idevid.spki.der"; then # (set -e ignores `! cmd`)
    echo "demo: the operational certificate carries the IDevID key" >&2; exit 1
  fi
  pass "the operational certificate carries the operational key, not the IDevID key"
  # step-ca ends an X5C certificate no later than the birth certificate.
  op_end=$(date -d "$(openssl x509 -in "$work/device.pem" -noout -enddate | cut -d= -f2)" +%s)
  birth_end=$(date -d "$(openssl x509 -in "$work/idevid.crt" -noout -enddate | cut -d= -f2)" +%s)
  [ "$op_end" -le "$birth_end" ]
  pass "the operational certificate ends no later than the birth certificate"
  echo "demo --factory: $checks passed, 0 failed"
  exit 0
fi
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
