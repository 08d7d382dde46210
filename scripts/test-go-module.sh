#!/usr/bin/env bash
# The Go binding as a user gets it: libstepca installed (make install PREFIX=a temporary
# prefix) and found through pkg-config only, and the package copied out of the checkout
# (read-only, as the module cache holds it) and required through a `replace` by a module in
# another temporary directory (tests/go-module/main.go). Builds it shared and static and
# runs both; with a CA in the environment (scripts/with-ca.sh) they enroll a device, else
# they build a CSR (which needs the library too). Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/go/bin:$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
root=$(pwd)
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
pass=0 fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

if [ -z "${STEPCA_URL:-}" ]; then
  if [ "${STEPCA_REQUIRE_TOOLS:-}" = 1 ]; then
    ko "STEPCA_URL is set (STEPCA_REQUIRE_TOOLS=1: run under scripts/with-ca.sh)"
  else
    echo "note: STEPCA_URL is not set: the consumers build a CSR but do not enroll"
  fi
fi

# PKG_CONFIG_PATH (and CGO_*) must not reach make: aws-lc-sys's build script reruns when
# they change. They are given to the go commands alone.
make -s install PREFIX="$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; ko "make install"; finish; }
ok "make install PREFIX=$prefix"

# The package as the module cache holds it: a copy, read-only, outside the checkout.
mod="$tmp/gopath/pkg/mod/github.com/libstepca/libstepca/bindings/go@v0.0.0"
mkdir -p "$mod" && cp -R bindings/go/. "$mod/" && chmod -R a-w "$mod"
app="$tmp/app"
mkdir -p "$app" && cp tests/go-module/main.go "$app/"
cat >"$app/go.mod" <<MOD
module example.com/consumer

go 1.24

require github.com/libstepca/libstepca/bindings/go v0.0.0

replace github.com/libstepca/libstepca/bindings/go => $mod
MOD

# gox CMD...: a go command that sees the installed stepca.pc and nothing of the checkout.
gox() {
  (cd "$app" && env -u CGO_CFLAGS -u CGO_LDFLAGS -u LD_LIBRARY_PATH GOWORK=off GOFLAGS= GOPROXY=off \
    PKG_CONFIG_PATH="$prefix/lib/pkgconfig" "$@")
}

# Without stepca.pc the build stops at pkg-config, naming the package.
if (cd "$app" && env PKG_CONFIG_LIBDIR="$tmp/empty" PKG_CONFIG_PATH= GOWORK=off GOPROXY=off \
      go build -o "$tmp/none" . >"$tmp/none.log" 2>&1); then
  ko "without stepca.pc the build fails"
elif grep -q "stepca" "$tmp/none.log" && grep -qi "pkg-config" "$tmp/none.log"; then
  ok "without stepca.pc the build fails at pkg-config, naming stepca"
else
  cat "$tmp/none.log"; ko "without stepca.pc the build fails at pkg-config, naming stepca"
fi

# Shared: the installed stepca.pc records no rpath, so it runs with LD_LIBRARY_PATH.
if gox go build -o "$tmp/consumer" . >"$tmp/build.log" 2>&1; then
  ok "go build against the installed library (pkg-config)"
  dir=$(gox go list -m -f '{{.Dir}}' github.com/libstepca/libstepca/bindings/go)
  [ "$dir" = "$mod" ] && ok "the package came from the copy ($dir)" || ko "the package came from $dir, not the copy"
  readelf -d "$tmp/consumer" | grep -q 'NEEDED.*libstepca.so.0' && ok "the program needs libstepca.so.0" \
    || ko "the program needs libstepca.so.0"
  if readelf -d "$tmp/consumer" | grep -E 'RPATH|RUNPATH' | grep -qF "$root"; then
    ko "the program records no path into the checkout"
  else
    ok "the program records no path into the checkout"
  fi
  ldd_out=$(LD_LIBRARY_PATH="$prefix/lib" ldd "$tmp/consumer" | grep libstepca)
  case $ldd_out in *"$prefix/lib/"*) ok "libstepca resolves to the installed one";; *) echo "$ldd_out"; ko "libstepca resolves to the installed one";; esac
  if (cd "$tmp" && LD_LIBRARY_PATH="$prefix/lib" ./consumer); then ok "the shared consumer runs"; else ko "the shared consumer runs"; fi
else
  cat "$tmp/build.log"; ko "go build against the installed library (pkg-config)"
fi

# Static: libstepca.a from the same prefix; the program needs no libstepca at run time.
if gox go build -tags stepca_static -o "$tmp/consumer-static" . >"$tmp/build-static.log" 2>&1; then
  ok "go build -tags stepca_static against the installed library"
  readelf -d "$tmp/consumer-static" | grep -q libstepca && ko "the static program does not need libstepca" \
    || ok "the static program does not need libstepca"
  if (cd "$tmp" && ./consumer-static); then ok "the static consumer runs"; else ko "the static consumer runs"; fi
else
  cat "$tmp/build-static.log"; ko "go build -tags stepca_static against the installed library"
fi
finish
