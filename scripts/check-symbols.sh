#!/usr/bin/env bash
# The ABI's names, held still: compares the dynamic symbols libstepca.so exports with the
# committed list (abi/libstepca.symbols) and with the functions include/stepca.h declares.
# Fails, printing what was added and what removed, when
#   - the exported stepca_* symbols differ from the list (an ABI change must be a deliberate
#     edit of the list, with a CHANGELOG entry: --update rewrites it);
#   - the library exports anything that is not a stepca_* symbol (Rust or dependency
#     symbols leaking out of the cdylib);
#   - a function the header declares is not exported, or an exported one is not declared.
# Usage: scripts/check-symbols.sh [--lib PATH] [--list FILE] [--header FILE]
#        scripts/check-symbols.sh --update     rewrite the list from the library
#        scripts/check-symbols.sh --self-test  a changed list, header or library must fail
# The library defaults to $CARGO_TARGET_DIR/release/libstepca.so (built by make or cargo).
set -uo pipefail
cd "$(dirname "$0")/.."

lib="${CARGO_TARGET_DIR:-target}/release/libstepca.so"
list=abi/libstepca.symbols
header=include/stepca.h
mode=check
while [ $# -gt 0 ]; do
  case $1 in
    --lib) lib=$2; shift 2 ;;
    --list) list=$2; shift 2 ;;
    --header) header=$2; shift 2 ;;
    --update) mode=update; shift ;;
    --self-test) mode=self-test; shift ;;
    *) echo "check-symbols: unknown argument $1" >&2; exit 2 ;;
  esac
done

# Every dynamic symbol the library defines (name only, version suffix dropped).
exported() { nm -D --defined-only "$1" | awk '{print $NF}' | sed 's/@.*//' | LC_ALL=C sort -u; }
# Every function the header declares: preprocessed (no comments), the names followed by "(".
declared() {
  cc -E -P -x c "$1" | grep -Eo '\bstepca_[A-Za-z0-9_]*[[:space:]]*\(' | tr -d ' \t(' | LC_ALL=C sort -u
}
# differ WHAT A B: prints the lines only in B (added) and only in A (removed); fails if any.
differ() {
  local what=$1 added removed
  added=$(LC_ALL=C comm -13 "$2" "$3"); removed=$(LC_ALL=C comm -23 "$2" "$3")
  [ -z "$added$removed" ] && return 0
  echo "check-symbols: $what"
  [ -z "$added" ] || sed 's/^/  + /' <<<"$added"
  [ -z "$removed" ] || sed 's/^/  - /' <<<"$removed"
  return 1
}

check() { # LIB LIST HEADER
  local lib=$1 list=$2 header=$3 tmp rc=0
  [ -f "$lib" ] || { echo "check-symbols: no library at $lib (make lib, or --lib)" >&2; return 1; }
  tmp=$(mktemp -d)
  exported "$lib" >"$tmp/all" || { rm -rf "$tmp"; return 1; }
  grep '^stepca_' "$tmp/all" >"$tmp/stepca"
  grep -v '^stepca_' "$tmp/all" >"$tmp/other"
  grep -Ev '^[[:space:]]*(#|$)' "$list" | LC_ALL=C sort -u >"$tmp/list"
  declared "$header" >"$tmp/declared" || { rm -rf "$tmp"; return 1; }
  differ "exported stepca_ symbols differ from $list (+ exported, not listed; - listed, not exported)" \
    "$tmp/list" "$tmp/stepca" || rc=1
  if [ -s "$tmp/other" ]; then
    echo "check-symbols: $lib exports symbols that are not stepca_*:"
    sed 's/^/  + /' "$tmp/other"
    rc=1
  fi
  differ "exported stepca_ symbols differ from what $header declares (+ exported, not declared; - declared, not exported)" \
    "$tmp/declared" "$tmp/stepca" || rc=1
  [ $rc -eq 0 ] && echo "check-symbols: $(wc -l <"$tmp/stepca") stepca_ symbols exported, as listed and declared; nothing else"
  rm -rf "$tmp"
  return $rc
}

case $mode in
  check) check "$lib" "$list" "$header" ;;
  update)
    mkdir -p "$(dirname "$list")"
    { echo "# The dynamic symbols libstepca.so exports: its ABI's names. scripts/check-symbols.sh"
      echo "# fails when the library or include/stepca.h differ from this list. Change it"
      echo "# deliberately (scripts/check-symbols.sh --update) and record the change in CHANGELOG.md."
      exported "$lib" | grep '^stepca_'; } >"$list"
    echo "check-symbols: wrote $list ($(grep -c '^stepca_' "$list") symbols)" ;;
  self-test)
    # Each altered input must fail, naming the symbol; the real inputs must pass.
    pass=0 fail=0
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    expect() { # NAME WANT-RC NEEDLE CHECK-ARGS...
      local name=$1 want=$2 needle=$3 out rc; shift 3
      out=$(check "$@" 2>&1); rc=$?
      if [ "$rc" -eq "$want" ] && grep -qF -- "$needle" <<<"$out"; then
        echo "ok: $name"; pass=$((pass + 1))
      else
        echo "FAIL: $name (exit $rc, want $want; output must contain '$needle'):"; echo "$out"
        fail=$((fail + 1))
      fi
    }
    first=$(grep -m1 '^stepca_' "$list")
    expect "the committed list passes" 0 "as listed and declared" "$lib" "$list" "$header"
    grep -vx "$first" "$list" >"$tmp/removed.list"
    expect "a symbol missing from the list fails" 1 "  + $first" "$lib" "$tmp/removed.list" "$header"
    { cat "$list"; echo stepca_not_a_function; } >"$tmp/added.list"
    expect "a listed symbol the library lacks fails" 1 "  - stepca_not_a_function" "$lib" "$tmp/added.list" "$header"
    { cat "$header"; echo 'void stepca_declared_only(void);'; } >"$tmp/added.h"
    expect "a declared function the library lacks fails" 1 "  - stepca_declared_only" "$lib" "$list" "$tmp/added.h"
    grep -Ev "\b$first\(" "$header" >"$tmp/removed.h"
    expect "an exported function the header lacks fails" 1 "  + $first" "$lib" "$list" "$tmp/removed.h"
    # A library that leaks a non-stepca_ symbol (and exports one the list lacks).
    printf 'int stepca_self_test_extra(void) { return 1; }\nint leaked_helper(void) { return 2; }\n' >"$tmp/leak.c"
    if cc -shared -fPIC -o "$tmp/libleak.so" "$tmp/leak.c"; then
      expect "a leaked non-stepca_ symbol fails" 1 "  + leaked_helper" "$tmp/libleak.so" "$list" "$header"
    else
      echo "FAIL: could not build the leaking library"; fail=$((fail + 1))
    fi
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ] ;;
esac
