#!/usr/bin/env bash
# Starts a throw-away step-ca on 127.0.0.1 and a free port, with a JWK provisioner.
# Prints the path of an env file (source it) that describes the CA:
#   STEPPATH STEPCA_URL STEPCA_ROOT STEPCA_FINGERPRINT STEPCA_PROVISIONER
#   STEPCA_PASSWORD_FILE STEPCA_PID STEPCA_CONFIG
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

# Test-friendly claims: certificates from 1 minute to 90 days; expired certificates may
# renew through the bearer-token flow (the lifecycle tests need it).
python3 - "$STEPPATH/config/ca.json" "${STEPCA_EXTRA_JSON:-}" <<'PY'
import json, sys
path, extra = sys.argv[1], sys.argv[2]
cfg = json.load(open(path))
auth = cfg["authority"]
auth["claims"] = {"minTLSCertDuration": "1m", "maxTLSCertDuration": "2160h",
                  "defaultTLSCertDuration": "24h", "allowRenewalAfterExpiry": True}
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
ENV
echo "$env_file"
