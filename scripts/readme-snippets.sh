#!/usr/bin/env bash
# Docs that compile: every ```c and ```go block of README.md, each marked by a
# `<!-- snippet: NAME -->` line just before its fence, is extracted and built, and run
# against the step-ca described by the environment (run it under scripts/with-ca.sh).
#   C:  compiled with -std=c99 -Wall -Wextra -Wpedantic -Werror together with
#       tests/readme/driver_NAME.c, linked against build/lib, and run under valgrind
#       (definite, indirect and possible leaks are errors) on success and error paths;
#       what a successful run writes is checked with openssl.
#   Go: built and vetted in a temporary module that points at bindings/go with a replace
#       directive, linked through build/pkgconfig/stepca.pc (the checkout's), and run
#       against the CA.
# Ends with one line "N passed, M failed" and exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/go/bin:$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
root_dir=$(pwd)

passed=0 failed=0
work=$(mktemp -d "${TMPDIR:-/tmp}/readme-snippets.XXXXXX")
trap 'rm -rf "$work"' EXIT

# check NAME CMD...: one test; its output is shown only when it fails.
check() {
  local name=$1; shift
  if "$@" >"$work/check.log" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     | /' "$work/check.log"
  fi
}
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

for v in STEPCA_URL STEPCA_ROOT STEPCA_FINGERPRINT STEPCA_PROVISIONER STEPCA_PASSWORD_FILE; do
  if [ -z "${!v:-}" ]; then
    echo "readme-snippets: $v is not set: run under scripts/with-ca.sh"; failed=$((failed + 1)); finish
  fi
done
if [ ! -e build/lib/libstepca.so ] || [ ! -e build/pkgconfig/stepca.pc ]; then
  check "build the library (make -s lib)" make -s lib
  [ "$failed" -eq 0 ] || finish
fi

vg=(valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible
    --suppressions=tests/valgrind.supp -q)
cflags=(-std=c99 -Wall -Wextra -Wpedantic -Werror -O1 -g -Iinclude)
link=(-Lbuild/lib -lstepca "-Wl,-rpath,$root_dir/build/lib" -lcrypto)

# --- Extraction -----------------------------------------------------------------------
# src/NAME.c or src/NAME.go per block; src/index lists "NAME LANG" in README order.
mkdir -p "$work/src" "$work/bin" "$work/go"
extract() {
  awk -v dir="$work/src" '
    BEGIN { marked = -1 }
    function fail(msg) { print "README.md:" NR ": " msg > "/dev/stderr"; bad = 1 }
    fence != "" { if ($0 ~ /^```[ \t]*$/) { if (file != "") close(file); fence = ""; file = "" }
                  else if (file != "") print > file
                  next }
    /^<!-- snippet: [A-Za-z0-9_-]+ -->$/ { name = $3; marked = NR; next }
    /^```/ {
      lang = substr($0, 4); sub(/[ \t]+$/, "", lang); fence = lang == "" ? "plain" : lang
      if (lang == "c" || lang == "go") {
        if (marked != NR - 1) { fail("```" lang " block without a <!-- snippet: NAME --> line before it"); name = "unnamed" NR }
        if (seen[name]++) fail("snippet name " name " used twice")
        file = dir "/" name "." lang
        print name, lang > (dir "/index")
      } else if (marked == NR - 1) {
        fail("snippet marker before a ```" lang " block (only c and go blocks are built)")
      }
      next
    }
    marked == NR - 1 { fail("snippet marker not directly before a fence") }
    END { if (fence != "") fail("unterminated code block"); exit bad }
  ' README.md && [ -s "$work/src/index" ]
}
check "extract the README's c and go blocks (each marked <!-- snippet: NAME -->)" extract
[ -s "$work/src/index" ] || finish

# --- Helpers for the runs -------------------------------------------------------------
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
token() { scripts/mint-token.sh "$1" "$1" >"$2" && [ -s "$2" ]; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# chain_ok CHAIN KEY NAME [ATTIME]: CHAIN is a PEM chain (leaf first, no NUL) that
# verifies up to the CA's root (now, or at UNIX time ATTIME), whose leaf carries KEY's
# public key and NAME as a DNS SAN.
chain_ok() {
  [ "$(tr -d '\000' <"$1" | wc -c)" -eq "$(wc -c <"$1")" ] || { echo "$1 contains NUL bytes"; return 1; }
  openssl verify ${4:+-attime "$4"} -CAfile "$STEPCA_ROOT" -untrusted "$1" "$1" || return 1
  [ "$(openssl x509 -in "$1" -noout -pubkey)" = "$(openssl pkey -in "$2" -pubout)" ] \
    || { echo "the leaf does not carry the key's public key"; return 1; }
  openssl x509 -in "$1" -noout -ext subjectAltName | grep -q "DNS:$3\$" \
    || { echo "the leaf has no DNS SAN $3"; return 1; }
}
# runv CMD...: runs CMD under valgrind, keeping its stderr in $work/stderr too.
runv() {
  local rc=0
  "${vg[@]}" "$@" 2>"$work/stderr" || rc=$?
  cat "$work/stderr" >&2
  return "$rc"
}
# expect_message TEXT: the last run's stderr mentions TEXT.
expect_message() { grep -qF -- "$1" "$work/stderr" || { echo "expected the message to mention: $1"; return 1; }; }

other_root() {
  [ -s "$work/other_root.crt" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=Some Other Root" -days 2 -keyout "$work/other_root.key" -out "$work/other_root.crt" 2>/dev/null
}

# --- enroll: token provider, CSR, client, sign ------------------------------------------
run_enroll() {
  local bin=$1 d=$work/enroll n=device-001.example.com
  mkdir -p "$d"
  new_key "$d/key.pem"
  enroll_ok() {
    token "$n" "$d/token" \
      && runv "$bin" 0 "$STEPCA_URL" "$STEPCA_ROOT" "$d/key.pem" "$d/token" "$n" "$d/chain.pem" \
      && chain_ok "$d/chain.pem" "$d/key.pem" "$n"
  }
  enroll_closed_port() {
    token "$n" "$d/token" && runv "$bin" 40 "https://127.0.0.1:$(free_port)" "$STEPCA_ROOT" "$d/key.pem" "$d/token" "$n" "$d/x.pem" \
      && [ ! -e "$d/x.pem" ]
  }
  enroll_wrong_root() {
    other_root && token "$n" "$d/token" \
      && runv "$bin" 41 "$STEPCA_URL" "$work/other_root.crt" "$d/key.pem" "$d/token" "$n" "$d/x.pem"
  }
  enroll_no_token() {
    runv "$bin" 30 "$STEPCA_URL" "$STEPCA_ROOT" "$d/key.pem" "$d/missing-token" "$n" "$d/x.pem" \
      && expect_message "cannot read the token file"
  }
  enroll_long_cn() {
    local long
    long=$(printf 'a%.0s' $(seq 53)).example.com # 65 characters
    token "$n" "$d/token" && runv "$bin" 1 "$STEPCA_URL" "$STEPCA_ROOT" "$d/key.pem" "$d/token" "$long" "$d/x.pem" \
      && expect_message "subject.CN" && expect_message "RFC 5280 allows at most 64"
  }
  enroll_no_key() {
    token "$n" "$d/token" && runv "$bin" -1 "$STEPCA_URL" "$STEPCA_ROOT" "$d/missing-key.pem" "$d/token" "$n" "$d/x.pem"
  }
  check "enroll: enrolls, chain verifies with openssl (valgrind)" enroll_ok
  check "enroll: closed port is STEPCA_ERR_TRANSPORT, error freed (valgrind)" enroll_closed_port
  check "enroll: wrong root is STEPCA_ERR_TLS, error freed (valgrind)" enroll_wrong_root
  check "enroll: unreadable token is STEPCA_ERR_TOKEN_PROVIDER (valgrind)" enroll_no_token
  check "enroll: 65-character CN is refused naming the field (valgrind)" enroll_long_cn
  check "enroll: missing key file returns -1 (valgrind)" enroll_no_key
}

# --- lifecycle: fingerprint bootstrap, JWK provisioner, sign, renew, rekey, revoke -----
run_lifecycle() {
  local bin=$1 d=$work/lifecycle
  mkdir -p "$d"
  lifecycle_ok() {
    runv "$bin" 0 "$STEPCA_URL" "$STEPCA_FINGERPRINT" "$d/root.pem" "$STEPCA_PROVISIONER" \
      "$STEPCA_PASSWORD_FILE" lifecycle.example.com || return 1
    [ "$(openssl x509 -in "$d/root.pem" -noout -fingerprint -sha256)" = \
      "$(openssl x509 -in "$STEPCA_ROOT" -noout -fingerprint -sha256)" ] || { echo "saved root differs"; return 1; }
  }
  lifecycle_wrong_fingerprint() {
    other_root || return 1
    local fp
    fp=$(openssl x509 -in "$work/other_root.crt" -noout -fingerprint -sha256 | cut -d= -f2)
    runv "$bin" 60 "$STEPCA_URL" "$fp" "$d/x.pem" "$STEPCA_PROVISIONER" "$STEPCA_PASSWORD_FILE" x.example.com \
      && [ ! -e "$d/x.pem" ]
  }
  lifecycle_wrong_password() {
    printf 'not-the-password\n' >"$d/wrong.pw"
    runv "$bin" 11 "$STEPCA_URL" "$STEPCA_FINGERPRINT" "$d/root2.pem" "$STEPCA_PROVISIONER" "$d/wrong.pw" x.example.com
  }
  check "lifecycle: bootstrap, JWK tokens, sign, renew, rekey, revoke (valgrind)" lifecycle_ok
  check "lifecycle: wrong fingerprint is STEPCA_ERR_FINGERPRINT (valgrind)" lifecycle_wrong_fingerprint
  check "lifecycle: wrong provisioner password is STEPCA_ERR_KEY_PASSPHRASE (valgrind)" lifecycle_wrong_password
}

# --- signer: external key (OpenSSL EVP_PKEY), sign with a token, renew ------------------
run_signer() {
  local bin=$1 d=$work/signer n=external.example.com
  mkdir -p "$d"
  new_key "$d/key.pem"
  signer_ok() {
    token "$n" "$d/token" \
      && runv "$bin" 0 "$STEPCA_URL" "$STEPCA_ROOT" "$d/token" "$d/key.pem" "$n" "$d/chain.pem" \
      && chain_ok "$d/chain.pem" "$d/key.pem" "$n"
  }
  signer_bad_token() {
    printf 'not-a-token\n' >"$d/bad-token"
    runv "$bin" 50 "$STEPCA_URL" "$STEPCA_ROOT" "$d/bad-token" "$d/key.pem" "$n" "$d/x.pem" && [ ! -e "$d/x.pem" ]
  }
  check "signer: CSR and renewal signed by the callback, chain verifies (valgrind)" signer_ok
  check "signer: a token step-ca refuses is STEPCA_ERR_CA_REJECTED (valgrind)" signer_bad_token
}

# --- renew: the background renewer keeps a certificate of seconds fresh ----------------
run_renew() {
  local bin=$1 d=$work/renew n=renewed.example.com
  mkdir -p "$d"
  new_key "$d/key.pem"
  renew_ok() {
    token "$n" "$d/token" || return 1
    # A 10 s certificate kept fresh for 20 s: renewed at least twice, the last chain on disk.
    runv "$bin" 2 "$STEPCA_URL" "$STEPCA_ROOT" "$d/key.pem" "$d/token" "$n" "$d/chain.pem" \
      "$d/new.key" 20 10 || return 1
    local lines
    lines=$(grep '^renewed' "$work/stderr")
    [ "$(grep -c . <<<"$lines")" -ge 2 ] || { echo "expected 2+ 'renewed' lines"; return 1; }
    # The certificate keeps the lifetime the first one had left when step-ca signed it, so
    # a slow start (valgrind on a loaded machine) can make it renew 10+ times in 20 s; the
    # 10th renewal (and only every 10th) then rekeys. A renewal that ends while the renewer
    # stops is written but not reported, so the files may be one renewal ahead of the lines.
    if grep -vn '^renewed$' <<<"$lines" | grep -vqE '^[0-9]*0:renewed with a new key$'; then
      echo "a rekey that was not the 10th, 20th... renewal"; return 1
    fi
    # The last chain may have expired since the renewer stopped: verified at its last second.
    local last
    last=$(( $(date -d "$(openssl x509 -in "$d/chain.pem" -noout -enddate | cut -d= -f2)" +%s) - 1 )) || return 1
    if [ -e "$d/new.key" ]; then
      [ "$(grep -c . <<<"$lines")" -ge 9 ] || { echo "a key was written before the 10th renewal"; return 1; }
      chain_ok "$d/chain.pem" "$d/new.key" "$n" "$last"
    else
      grep -q 'with a new key' <<<"$lines" && { echo "a rekey was reported, yet no key was written"; return 1; }
      [ "$(grep -c . <<<"$lines")" -lt 10 ] || { echo "10+ renewals and no new key"; return 1; }
      chain_ok "$d/chain.pem" "$d/key.pem" "$n" "$last"
    fi
  }
  check "renew: a 10 s certificate renewed 2+ times in 20 s, every 10th with a new key, last chain verifies (valgrind)" renew_ok
}

# --- go-enroll: the Go command ----------------------------------------------------------
run_go_enroll() {
  local bin=$1 d=$work/go-enroll n=go-device.example.com
  mkdir -p "$d"
  new_key "$d/key.pem"
  go_enroll_ok() {
    token "$n" "$d/token" \
      && "$bin" "$STEPCA_URL" "$STEPCA_ROOT" "$d/key.pem" "$d/token" "$n" "$d/chain.pem" \
      && chain_ok "$d/chain.pem" "$d/key.pem" "$n"
  }
  go_enroll_closed_port() {
    local rc=0
    token "$n" "$d/token" || return 1
    "$bin" "https://127.0.0.1:$(free_port)" "$STEPCA_ROOT" "$d/key.pem" "$d/token" "$n" "$d/x.pem" \
      2>"$work/stderr" || rc=$?
    cat "$work/stderr"
    [ "$rc" -eq 1 ] && expect_message "enroll: " && [ ! -e "$d/x.pem" ]
  }
  check "go-enroll: enrolls, chain verifies with openssl" go_enroll_ok
  check "go-enroll: closed port fails with a message and exit 1" go_enroll_closed_port
}

# --- Build and run every snippet --------------------------------------------------------
go_mod() {
  cat >"$work/go/go.mod" <<EOF
module readme.example/snippets

go 1.24

require github.com/libstepca/libstepca/bindings/go v0.0.0

replace github.com/libstepca/libstepca/bindings/go => $root_dir/bindings/go
EOF
}
go_mod
while read -r name lang; do
  case $lang in
    c)
      driver=tests/readme/driver_$name.c
      check "$name: compiles as C99 with $driver (-Wall -Wextra -Wpedantic -Werror)" \
        cc "${cflags[@]}" "$work/src/$name.c" "$driver" "${link[@]}" -o "$work/bin/$name"
      ;;
    go)
      mkdir -p "$work/go/$name" && cp "$work/src/$name.go" "$work/go/$name/main.go"
      check "$name: go build" sh -c 'cd "$1" && PKG_CONFIG_PATH="$4" go build -o "$2" "./$3"' _ "$work/go" "$work/bin/$name" "$name" "$root_dir/build/pkgconfig"
      check "$name: go vet" sh -c 'cd "$1" && PKG_CONFIG_PATH="$3" go vet "./$2"' _ "$work/go" "$name" "$root_dir/build/pkgconfig"
      check "$name: gofmt" sh -c 'test -z "$(gofmt -l "$1")" || { gofmt -d "$1"; exit 1; }' _ "$work/go/$name/main.go"
      ;;
  esac
  fn=run_${name//-/_}
  if [ ! -x "$work/bin/$name" ]; then
    continue # its build failed (counted above)
  elif declare -F "$fn" >/dev/null; then
    "$fn" "$work/bin/$name"
  else
    check "$name: has runs in scripts/readme-snippets.sh ($fn)" false
  fi
done <"$work/src/index"

finish
