#!/usr/bin/env bash
# Installs libstepca into a temporary prefix (make install PREFIX=...), then builds and
# runs consumers from the installed tree only: one with pkg-config, and a CMake project
# (find_package(stepca)) with shared, static and C++ consumers. Also checks a DESTDIR
# staging install lays out the same files, without rebuilding anything. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
pass=0 fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }

make -s install PREFIX="$prefix" >/dev/null 2>&1 || { make install PREFIX="$prefix"; exit 1; }
built="${CARGO_TARGET_DIR:-target}/release/libstepca.so"
built_at=$(stat -c %Y.%s "$built")
[ "$(readlink "$prefix/lib/libstepca.so")" = libstepca.so.0 ] && ok "symlinks" || ko "symlinks"
readelf -d "$prefix/lib/libstepca.so.0" | grep -q 'SONAME.*libstepca.so.0' && ok "SONAME" || ko "SONAME"

# PKG_CONFIG_PATH is given to pkg-config alone: exported, it would reach the `make install`
# below, and aws-lc-sys's build script reruns when it changes (3 minutes, and as long again
# for the next make without it).
pc() { PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config "$@"; }
# shellcheck disable=SC2046
if cc -std=c99 -Wall -Werror tests/install/consumer.c $(pc --cflags --libs stepca) \
    -Wl,-rpath,"$(pc --variable=libdir stepca)" -o "$tmp/pc-consumer" && "$tmp/pc-consumer"; then
  ok "pkg-config consumer"
else
  ko "pkg-config consumer"
fi
readelf -d "$tmp/pc-consumer" 2>/dev/null | grep -q 'NEEDED.*libstepca.so.0' && ok "pkg-config consumer needs libstepca.so.0" \
  || ko "pkg-config consumer needs libstepca.so.0"

if cmake -S tests/install/cmake -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_RPATH="$prefix/lib" >"$tmp/cmake.log" 2>&1 \
    && cmake --build "$tmp/cmake" >>"$tmp/cmake.log" 2>&1; then
  ok "CMake configure and build"
  for c in consumer_shared consumer_static consumer_cpp; do
    "$tmp/cmake/$c" && ok "CMake $c runs" || ko "CMake $c runs"
  done
  readelf -d "$tmp/cmake/consumer_static" | grep -q 'libstepca' && ko "static consumer has no libstepca dependency" \
    || ok "static consumer has no libstepca dependency"
else
  cat "$tmp/cmake.log"; ko "CMake configure and build"
fi

make -s install PREFIX=/usr DESTDIR="$tmp/stage" >/dev/null 2>&1
for f in usr/lib/libstepca.so.0 usr/lib/libstepca.a usr/include/stepca.h usr/include/stepca.hpp \
         usr/lib/pkgconfig/stepca.pc usr/lib/cmake/stepca/stepcaConfig.cmake; do
  [ -e "$tmp/stage/$f" ] || { ko "DESTDIR staging: $f"; continue; }
done
grep -q '^prefix=/usr$' "$tmp/stage/usr/lib/pkgconfig/stepca.pc" && ok "DESTDIR staging keeps the final prefix" \
  || ko "DESTDIR staging keeps the final prefix"
# A second make install with nothing changed must not rebuild (an environment variable a
# build script watches, leaking into make, once cost minutes per install).
[ "$(stat -c %Y.%s "$built")" = "$built_at" ] && ok "a second make install rebuilt nothing" \
  || ko "a second make install rebuilt the library"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
