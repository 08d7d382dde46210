#!/usr/bin/env bash
# Runs every test: lints, the header check, Rust unit and integration tests, the C tests
# (plain, under ASan+UBSan, and under valgrind) against a real step-ca, and the demo.
# Ends with one line "total: N passed, N failed" summing every suite.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/go/bin:$HOME/.cargo/bin:$PATH"

scripts/install-deps.sh --quiet || exit 1
# install-deps.sh put every tool in place, so a check that would skip for a missing tool
# (zsh, fish, groff, systemd-analyze) fails instead.
export STEPCA_REQUIRE_TOOLS=1

passed=0 failed=0 broken=()
logdir=$(mktemp -d)
env_file=
trap '[ -z "$env_file" ] || scripts/ca-stop.sh "$env_file"; rm -rf "$logdir"' EXIT

source scripts/suite.sh

# valgrind counts every leak kind (definite, indirect, possible); tests/valgrind.supp holds
# only a dependency's never-freed tables, with the reason. Add --track-origins=yes to find
# where an uninitialised value came from: it finds no more errors and doubles the time.
vg=(valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible
    --suppressions=tests/valgrind.supp -q)

check() { # a check that is one test: passes or fails as a whole
  local name=$1; shift
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); broken+=("$name"); fi
}

check "cargo fmt" cargo fmt --all -- --check
check "cargo clippy" cargo clippy --quiet --workspace --all-targets -- -D warnings
# Licenses, duplicate crates and sources against deny.toml (advisories need the RustSec
# database, which this machine cannot fetch).
check "cargo deny (licenses, bans, sources)" cargo deny --workspace --locked check licenses bans sources
check "header up to date" scripts/gen-header.sh --check
check "rustdoc builds without warnings" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
# Every function in include/stepca.h is wrapped by C++ and Go, or listed there with a reason.
check "bindings cover the C API (C++ and Go)" python3 scripts/check-bindings.py
suite "bindings coverage checker self-test" python3 scripts/check-bindings.py --self-test
suite "suite runner self-test (counting, the background lane)" scripts/suite-selftest.sh
check "build library, example, C and C++ tests" make -s all c-tests cpp-tests
# The exported symbols are the committed list and the header's functions, nothing else.
check "exported symbols = abi/libstepca.symbols = stepca.h" scripts/check-symbols.sh --lib build/lib/libstepca.so
suite "symbol check self-test" scripts/check-symbols.sh --lib build/lib/libstepca.so --self-test
check "systemd units (make install to a DESTDIR, systemd-analyze verify)" scripts/check-systemd-units.sh
suite "stepca completions and man page (make install to a DESTDIR, shells' -n, groff)" scripts/check-install-docs.sh
check "gofmt" sh -c 'test -z "$(gofmt -l bindings/go examples/go bench/go)" || { gofmt -l bindings/go examples/go bench/go; exit 1; }'
# The Go binding links through pkg-config: the go commands get this checkout's uninstalled
# stepca.pc (build/pkgconfig, written by make) in their own environment only. Exported, it
# would reach cargo, and aws-lc-sys's build script reruns whenever it changes.
gopc="$PWD/build/pkgconfig"
check "go vet" env PKG_CONFIG_PATH="$gopc" sh -c 'cd bindings/go && go vet ./... && cd ../../examples/go && go vet ./... && cd ../../bench/go && go vet ./...'
if cargo +nightly miri --version >/dev/null 2>&1; then
  suite "Miri on the FFI plumbing" cargo +nightly miri test --quiet --lib ffi::tests
else
  echo "=== Miri: SKIPPED (the nightly miri component could not be installed here)"
fi
check "ASan really linked" sh -c 'nm build/tests/asan-test_api | grep -q __asan_init && ! nm build/tests/test_api | grep -q __asan_init'
suite "rust unit tests" cargo test --quiet --lib
suite "fuzz regressions" cargo test --quiet --features fuzzing --test fuzz_regressions
suite "every export behind the panic boundary" cargo test --quiet --test ffi_boundaries
suite "rust key, CSR and fault-server tests" cargo test --quiet --test keys --test csr --test faults

env_file=$(scripts/ca-start.sh) || { echo "could not start step-ca"; exit 1; }
# shellcheck disable=SC1090
. "$env_file"
# The valgrind suites (single-threaded, two thirds of the time against step-ca) run in a
# background lane, longest first, while the others go on; reported at lane_wait below.
lane_suite "C++ wrapper (GoogleTest, valgrind)" "${vg[@]}" build/tests/test_cpp
for t in test_credential test_api test_lifecycle test_signer test_renewer test_clock test_enroll test_x5c \
         test_pkcs11 test_log; do
  lane_suite "C $t (valgrind)" "${vg[@]}" "build/tests/$t"
done
lane_suite "C 4 threads x 10 enrollments (valgrind)" env STEPCA_THREADS=4 STEPCA_PER_THREAD=10 \
  "${vg[@]}" build/tests/test_threads
lane_suite "README C and Go examples (C under valgrind, against step-ca)" scripts/readme-snippets.sh
# ARM (scripts/test-arm.sh): aarch64 and armv7 cross builds of the library (about 3.5
# minutes each, cold, on 2 cores; niced), the C example and the C suites under qemu-user
# against a step-ca of its own, in a lane of its own beside the valgrind one.
# STEPCA_TEST_ARM=0 leaves it out (a quicker local run).
if [ "${STEPCA_TEST_ARM:-1}" != 0 ]; then
  lane_suite_on arm "ARM: aarch64 and armv7 cross builds, example and C suites under qemu-user" scripts/test-arm.sh
fi
suite "rust enrollment, lifecycle and clock tests (step-ca, faketime)" cargo test --quiet --test enroll --test lifecycle --test credential --test x5c --test secrets --test logging --test pkcs11 --test clock
suite "rust renewer (renewals in a row, rekey, expiry, a CA outage on a CA of its own, stop)" cargo test --quiet --test renewer
suite "C 16 threads x 500 enrollments" build/tests/test_threads
suite "C 16 threads x 500 enrollments (ASan+UBSan)" build/tests/asan-test_threads
suite "install: pkg-config and CMake consumers from the installed tree" scripts/test-install.sh
suite "Go module outside the repository: installed libstepca through pkg-config only, enrolls" scripts/test-go-module.sh
suite "stepca command-line tool (incl. a batch killed and resumed, renew --daemon through a CA outage)" cargo test --quiet -p stepca-cli
suite "Python package (abi3 wheel from this checkout in a fresh venv, pytest against step-ca)" scripts/test-python.sh
suite "C++ wrapper (GoogleTest)" build/tests/test_cpp
suite "C++ wrapper (GoogleTest, ASan+UBSan)" build/tests/asan-test_cpp
for t in test_api test_enroll test_lifecycle test_signer test_pkcs11 test_clock test_credential test_x5c test_renewer test_log; do
  suite "C $t" "build/tests/$t"
  suite "C $t (ASan+UBSan)" "build/tests/asan-$t"
done
# The same clock tests with the whole process 10 minutes ahead (libfaketime).
suite "C test_clock under faketime +10m" env STEPCA_EXPECT_AHEAD=600 FAKETIME_DONT_FAKE_MONOTONIC=1 \
  faketime -f +10m build/tests/test_clock
suite "Go tests, shared library (-race)" env PKG_CONFIG_PATH="$gopc" sh -c 'cd bindings/go && go test -race -count=1 -v ./...'
suite "Go tests, static library (-race)" env PKG_CONFIG_PATH="$gopc" sh -c 'cd bindings/go && go test -race -count=1 -v -tags stepca_static ./...'
check "static Go test binary needs no libstepca.so" env PKG_CONFIG_PATH="$gopc" sh -c 'cd bindings/go && go test -c -tags stepca_static -o "$0/static.test" . && ! ldd "$0/static.test" | grep -q libstepca' "$logdir"
lane_wait
scripts/ca-stop.sh "$env_file"; env_file=
check "demo (scripts/demo.sh)" scripts/demo.sh
suite "demo --factory (an IDevID key in SoftHSM2 trades its birth certificate, C API)" scripts/demo.sh --factory
check "benchmark harness (quick smoke run; figures in BENCHMARKS.md come from a full run)" \
  env BENCH_QUICK=1 BENCH_OUT="$logdir/BENCHMARKS.quick.md" scripts/bench.sh
suite "fuzzing, ${FUZZ_SECONDS:-30} s per target" scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
check "Go example (scripts/demo.sh --go)" scripts/demo.sh --go

echo
if [ ${#broken[@]} -gt 0 ]; then
  echo "failed suites: ${broken[*]}"
fi
echo "total: $passed passed, $failed failed"
[ ${#broken[@]} -eq 0 ]
