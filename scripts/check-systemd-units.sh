#!/usr/bin/env bash
# Checks the systemd units as installed: `make install` into a temporary DESTDIR, then
# `systemd-analyze verify` on the installed units, with the path they name for the stepca
# command ($BINDIR/stepca, which does not exist on this machine) replaced by the staged
# binary's. Fails when make or verify fails, or when verify says anything about our units
# (warnings included: verify exits 0 on an unknown directive). Without systemd-analyze it
# prints "SKIPPED: no systemd-analyze" and exits 0 (1 with STEPCA_REQUIRE_TOOLS=1, as test.sh
# sets after install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIPPED: no systemd-analyze"
  [ "${STEPCA_REQUIRE_TOOLS:-}" != 1 ]
  exit
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

prefix=/usr/local
stage="$tmp/stage"
make -s install DESTDIR="$stage" PREFIX="$prefix" >"$tmp/make.log" 2>&1 \
  || { cat "$tmp/make.log"; fail "make install"; }
unitdir="$stage$prefix/lib/systemd/system"
bin="$stage$prefix/bin/stepca"
[ -x "$bin" ] || fail "make install did not install $prefix/bin/stepca"
"$bin" --version >/dev/null || fail "the installed stepca does not run"

mapfile -t units < <(cd "$unitdir" && ls -1 stepca-* 2>/dev/null)
[ ${#units[@]} -ge 3 ] || fail "expected the daemon service and the oneshot service and timer in $unitdir, found: ${units[*]:-none}"
mkdir "$tmp/verify"
for u in "${units[@]}"; do
  if grep -q '@[A-Z_]*@' "$unitdir/$u"; then
    fail "$u: a placeholder left unsubstituted: $(grep -o '@[A-Z_]*@' "$unitdir/$u" | head -1)"
  fi
  case "$u" in
    *.service) grep -q "^Exec[A-Za-z]*=$prefix/bin/stepca " "$unitdir/$u" || fail "$u does not run $prefix/bin/stepca" ;;
  esac
  sed "s|$prefix/bin/stepca|$bin|g" "$unitdir/$u" >"$tmp/verify/$u"
done

# Templates are verified as an instance ("i"); a timer is verified with its service.
status=0
out=$(cd "$tmp/verify" && systemd-analyze verify --man=no "${units[@]/#/./}" 2>&1) || status=$?
[ -z "$out" ] || printf '%s\n' "$out"
[ "$status" -eq 0 ] || fail "systemd-analyze verify exited $status"
if printf '%s\n' "$out" | grep -q 'stepca'; then
  fail "systemd-analyze verify warns about our units (above)"
fi
echo "ok: ${units[*]} verified (systemd-analyze $(systemd-analyze --version | awk 'NR==1{print $2}'))"
