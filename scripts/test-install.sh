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
# The SONAME policy (README, "Releases and ABI"): libstepca.so.MAJOR.MINOR before 1.0,
# libstepca.so.MAJOR from 1.0 on; patch releases keep it.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
IFS=. read -r major minor patch <<<"$version"
if [ "$major" = 0 ]; then so="libstepca.so.0.$minor"; else so="libstepca.so.$major"; fi
[ "$(readlink "$prefix/lib/libstepca.so")" = "$so" ] && [ "$(readlink "$prefix/lib/$so")" = "libstepca.so.$version" ] \
  && ok "symlinks: libstepca.so -> $so -> libstepca.so.$version" || ko "symlinks (want libstepca.so -> $so -> libstepca.so.$version)"
[ "$(readelf -d "$prefix/lib/$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" = "$so" ] && ok "SONAME is $so" || ko "SONAME is $so"
grep -q "IMPORTED_SONAME \"$so\"" "$prefix/lib/cmake/stepca/stepcaConfig.cmake" && ok "CMake IMPORTED_SONAME is $so" \
  || ko "CMake IMPORTED_SONAME is $so"

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
readelf -d "$tmp/pc-consumer" 2>/dev/null | grep -q "NEEDED.*\[$so\]" && ok "pkg-config consumer needs $so" \
  || ko "pkg-config consumer needs $so"

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

# find_package's version check follows the SONAME rule: a consumer asking for a version is
# given this install only when it has that ABI (same SONAME) and is not older.
# findver ASKED: prints "found" or "not found".
findver() {
  local dir="$tmp/findver-${1:-none}"
  mkdir -p "$dir"
  printf 'cmake_minimum_required(VERSION 3.16)\nproject(v NONE)\nfind_package(stepca %s CONFIG QUIET)\nif(stepca_FOUND)\n  message(STATUS "stepca: found")\nelse()\n  message(STATUS "stepca: not found")\nendif()\n' "$1" >"$dir/CMakeLists.txt"
  cmake -S "$dir" -B "$dir/b" -DCMAKE_PREFIX_PATH="$prefix" 2>&1 | sed -n 's/^-- stepca: //p'
}
expect_find() { # ASKED found|"not found" WHY
  local got; got=$(findver "$1")
  [ "$got" = "$2" ] && ok "find_package(stepca${1:+ $1}) $2 ($3)" || ko "find_package(stepca${1:+ $1}): $got, want $2 ($3)"
}
expect_find "" found "no version asked"
expect_find "$major.$minor" found "same SONAME"
expect_find "$version" found "this very version"
expect_find "$major.$minor.$((patch + 1))" "not found" "a newer patch than installed"
expect_find "$((major + 1))" "not found" "another major"
if [ "$major" = 0 ]; then
  expect_find "0.$((minor + 1))" "not found" "another 0.x minor: another SONAME"
  [ "$minor" -gt 0 ] && expect_find "0.$((minor - 1))" "not found" "an older 0.x minor: another SONAME"
else
  [ "$minor" -gt 0 ] && expect_find "$major.$((minor - 1))" found "an older minor of the same major"
  expect_find "$major.$((minor + 1))" "not found" "a newer minor than installed"
fi

make -s install PREFIX=/usr DESTDIR="$tmp/stage" >/dev/null 2>&1
for f in "usr/lib/$so" usr/lib/libstepca.a usr/include/stepca.h usr/include/stepca.hpp \
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
