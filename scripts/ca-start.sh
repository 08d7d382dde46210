#!/usr/bin/env bash
# Starts a throw-away step-ca on 127.0.0.1 and a free port, with JWK provisioners
# ("admin", "strict") and an X5C provisioner ("factory") that trusts a factory CA made
# here, whose key issues devices' birth certificates in tests.
# Prints the path of an env file (source it) that describes the CA:
#   STEPPATH STEPCA_URL STEPCA_ROOT STEPCA_FINGERPRINT STEPCA_PROVISIONER
#   STEPCA_PASSWORD_FILE STEPCA_PID STEPCA_CONFIG
#   STEPCA_X5C_PROVISIONER STEPCA_FACTORY_ROOT STEPCA_FACTORY_KEY (unencrypted)
# Stop it with scripts/ca-stop.sh ENVFILE. Nothing is left running or on disk after that.
set -euo pipefail
for tool in step step-ca; do
  command -v "$tool" >/dev/null || { echo "ca-start: $tool not found; run scripts/install-deps.sh" >&2; exit 1; }
done

STEPPATH=$(mktemp -d "${TMPDIR:-/tmp}/stepca-test.XXXXXX")
export STEPPATH
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'test-password\n' > "$STEPPATH/pw.txt"

step ca init --deployment-type standalone --name "libstepca Test CA" \
  --dns 127.0.0.1 --dns localhost --address "127.0.0.1:$port" \
  --provisioner admin --password-file "$STEPPATH/pw.txt" >"$STEPPATH/init.log" 2>&1 \
  || { cat "$STEPPATH/init.log" >&2; rm -rf "$STEPPATH"; exit 1; }

# Re-issue the root and intermediate with notBefore an hour back. step-ca verifies an
# expired certificate's renew token at (leaf notAfter - 1 minute); with a CA created
# seconds ago that instant precedes the CA's own notBefore and every such renewal fails
# (seen with step ca renew itself), which a real, older CA never hits.
pw="$STEPPATH/pw.txt"
step certificate create "libstepca Test CA Root CA" "$STEPPATH/certs/root_ca.crt" "$STEPPATH/secrets/root_ca_key" \
  --profile root-ca --not-before=-1h --not-after=87600h --password-file "$pw" -f >>"$STEPPATH/init.log" 2>&1
step certificate create "libstepca Test CA Intermediate CA" "$STEPPATH/certs/intermediate_ca.crt" \
  "$STEPPATH/secrets/intermediate_ca_key" --profile intermediate-ca --ca "$STEPPATH/certs/root_ca.crt" \
  --ca-key "$STEPPATH/secrets/root_ca_key" --ca-password-file "$pw" --password-file "$pw" \
  --not-before=-1h --not-after=87600h -f >>"$STEPPATH/init.log" 2>&1

# A second JWK provisioner, "strict", that may not renew expired certificates.
step ca provisioner add strict --type JWK --create --password-file "$STEPPATH/pw.txt" \
  --ca-config "$STEPPATH/config/ca.json" >>"$STEPPATH/init.log" 2>&1 \
  || { cat "$STEPPATH/init.log" >&2; rm -rf "$STEPPATH"; exit 1; }

# The factory CA (a device maker's), trusted by the X5C provisioner "factory".
mkdir -p "$STEPPATH/factory"
step certificate create "libstepca Factory Root CA" "$STEPPATH/factory/root_ca.crt" \
  "$STEPPATH/factory/root_ca_key" --profile root-ca --no-password --insecure \
  --not-before=-1h --not-after=87600h -f >>"$STEPPATH/init.log" 2>&1

# Test-friendly claims: certificates from 5 seconds (so tests can watch one expire) to
# 90 days; expired certificates may renew through the bearer-token flow, except those of
# the "strict" provisioner.
python3 - "$STEPPATH/config/ca.json" "${STEPCA_EXTRA_JSON:-}" "$STEPPATH/factory/root_ca.crt" <<'PY'
import base64, json, sys
path, extra, factory_root = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = json.load(open(path))
auth = cfg["authority"]
# ca.json holds an X5C provisioner's roots as base64 of a PEM bundle.
auth["provisioners"].append({"type": "X5C", "name": "factory",
                             "roots": base64.b64encode(open(factory_root, "rb").read()).decode()})
auth["claims"] = {"minTLSCertDuration": "5s", "maxTLSCertDuration": "2160h",
                  "defaultTLSCertDuration": "24h", "allowRenewalAfterExpiry": True}
for p in auth["provisioners"]:
    if p["name"] == "strict":
        p["claims"] = {"allowRenewalAfterExpiry": False}
if extra:
    for k, v in json.loads(extra).items():
        auth[k] = v
json.dump(cfg, open(path, "w"), indent=2)
PY

step-ca "$STEPPATH/config/ca.json" --password-file "$STEPPATH/pw.txt" >"$STEPPATH/ca.log" 2>&1 &
pid=$!

url="https://127.0.0.1:$port"
root="$STEPPATH/certs/root_ca.crt"
for _ in $(seq 1 150); do
  if curl -fsS --cacert "$root" "$url/health" 2>/dev/null | grep -q '"ok"'; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "ca-start: step-ca exited:" >&2; cat "$STEPPATH/ca.log" >&2; rm -rf "$STEPPATH"; exit 1
  fi
  sleep 0.1
done
curl -fsS --cacert "$root" "$url/health" >/dev/null \
  || { echo "ca-start: step-ca did not become healthy" >&2; kill "$pid"; cat "$STEPPATH/ca.log" >&2; exit 1; }

env_file="$STEPPATH/env"
cat > "$env_file" <<ENV
export STEPPATH='$STEPPATH'
export STEPCA_URL='$url'
export STEPCA_ROOT='$root'
export STEPCA_FINGERPRINT='$(step certificate fingerprint "$root")'
export STEPCA_PROVISIONER='admin'
export STEPCA_PASSWORD_FILE='$STEPPATH/pw.txt'
export STEPCA_CONFIG='$STEPPATH/config/ca.json'
export STEPCA_PID='$pid'
export STEPCA_X5C_PROVISIONER='factory'
export STEPCA_FACTORY_ROOT='$STEPPATH/factory/root_ca.crt'
export STEPCA_FACTORY_KEY='$STEPPATH/factory/root_ca_key'
ENV
echo "$env_file"
