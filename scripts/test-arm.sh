#!/usr/bin/env bash
# Cross-builds libstepca for ARM boards and runs the C example and the C tests under
# qemu-user against a step-ca on this machine (127.0.0.1):
#   scripts/test-arm.sh [TRIPLE...]   (default: aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
#
# Installs what it needs, quietly when it is there already: Debian's cross compiler and
# qemu-user (apt), the Rust target (rustup), and the target's runtime libraries. Those are
# Debian's own packages for the target (libc6, libgcc-s1, libstdc++6, libssl3, libssl-dev,
# libsofthsm2, softhsm2), fetched with `apt-get download` and unpacked into a directory of their own,
# $STEPCA_CROSS_ROOT/ARCH (default ~/.cache/stepca-cross/ARCH), which is both where the C
# tests find the target's libcrypto to link with (make CROSS_ROOT=...) and qemu's -L prefix.
# Not multiarch (apt-get install libssl-dev:arm64): a Multi-Arch: same library such as
# libssl3 must have the same version for every architecture installed, so adding the arm64
# or armhf one would upgrade (or fail against) this machine's own libssl3.
# The prefix also makes the tests' SoftHSM2 module path, /usr/lib/softhsm/libsofthsm2.so,
# open the target's module under qemu, and softhsm2-util, which the tests run to make
# tokens, is the target's too (under qemu: SoftHSM2's token files differ between 32- and
# 64-bit builds); the harness's other shell commands (openssl, step) are this machine's.
#
# Not run here: the ASan/UBSan and valgrind variants (neither works under qemu-user) and
# test_clock under faketime (libfaketime is preloaded into native processes only).
# Prints "N passed, N failed" per suite, the time of each step, and
# "all suites: passed N, failed N" at the end (worded so that scripts/test.sh, which adds up
# the per-suite "N passed, N failed" lines of this output, does not count them twice).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/go/bin:$HOME/.cargo/bin:/usr/local/go/bin:$PATH"

# A target directory of its own: the library is built alone here (LIB_PACKAGES=-p stepca:
# the C suites need no command), and cargo's lock on a shared directory would hold up the
# host's builds while scripts/test.sh runs this beside them.
export CARGO_TARGET_DIR="${STEPCA_ARM_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/cross}"

triples=("$@")
[ ${#triples[@]} -gt 0 ] || triples=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
cross_root_base=${STEPCA_CROSS_ROOT:-$HOME/.cache/stepca-cross}

passed=0 failed=0 broken=()
logdir=$(mktemp -d)
env_file=
trap '[ -z "$env_file" ] || scripts/ca-stop.sh "$env_file"; rm -rf "$logdir"' EXIT

# The same suite runner and counting as scripts/test.sh.
source scripts/suite.sh

# TRIPLE -> Debian architecture, GNU triplet (cross compiler prefix), qemu program.
deb_arch() {
  case $1 in
    aarch64-*) echo arm64 ;;
    armv7-*gnueabihf|arm-*gnueabihf) echo armhf ;;
    *) echo "test-arm: no Debian architecture known for $1" >&2; return 1 ;;
  esac
}
gnu_triplet() { case $1 in aarch64-*) echo aarch64-linux-gnu ;; *) echo arm-linux-gnueabihf ;; esac; }
qemu_for() { case $1 in aarch64-*) echo qemu-aarch64 ;; *) echo qemu-arm ;; esac; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

# The cross compilers and qemu-user, for every triple at once (one apt-get).
setup_host() {
  local pkgs=() t a g
  installed qemu-user || pkgs+=(qemu-user)
  for t in "${triples[@]}"; do
    a=$(deb_arch "$t") || return 1; g=$(gnu_triplet "$t")
    installed "gcc-$g" || pkgs+=("gcc-$g")
    installed "libc6-dev-$a-cross" || pkgs+=("libc6-dev-$a-cross")
  done
  if [ ${#pkgs[@]} -gt 0 ]; then
    echo "test-arm: apt-get install ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # An index of another architecture failing to download must not stop the host's.
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${pkgs[@]}" >/dev/null \
      || { echo "test-arm: apt-get install failed"; return 1; }
  fi
  local missing=()
  for t in "${triples[@]}"; do
    rustup target list --installed 2>/dev/null | grep -qx "$t" || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "test-arm: rustup target add ${missing[*]}"
    rustup target add "${missing[@]}" >/dev/null 2>&1 || { echo "test-arm: rustup target add failed"; return 1; }
  fi
  for tool in step step-ca openssl softhsm2-util; do
    command -v $tool >/dev/null || { scripts/install-deps.sh --quiet || return 1; break; }
  done
}

# The target's runtime libraries, unpacked from Debian's packages into cross_root_base/ARCH,
# for every architecture missing at once (each apt-get call costs ~20 s of cache loading).
# SoftHSM2 (libsofthsm2, and softhsm2 for its softhsm2-util) is optional: without it the
# SoftHSM2 tests are skipped. A ".complete" stamp names the packages unpacked.
setup_cross_roots() {
  local arches=() a p
  for a in "$@"; do grep -qs softhsm2-util "$cross_root_base/$a/.complete" || arches+=("$a"); done
  [ ${#arches[@]} -gt 0 ] || return 0
  local pkgs=(libc6 libgcc-s1 libstdc++6 libssl3 libssl-dev) want=()
  for a in "${arches[@]}"; do for p in "${pkgs[@]}" libsofthsm2 softhsm2; do want+=("$p:$a"); done; done
  echo "test-arm: unpacking Debian's ${pkgs[*]} libsofthsm2 softhsm2 (${arches[*]}) into $cross_root_base"
  local dl; dl=$(mktemp -d)
  # apt-get download as root cannot hand the directory to the _apt user: say it is root.
  get() { (cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "$@" >/dev/null 2>&1); }
  if ! get "${want[@]}"; then
    # The index may be missing or stale: fetch it once; then without the optional module.
    apt-get update -qq >/dev/null 2>&1 || true
    if ! get "${want[@]}"; then
      want=(); for a in "${arches[@]}"; do for p in "${pkgs[@]}"; do want+=("$p:$a"); done; done
      get "${want[@]}" || { echo "test-arm: apt-get download ${want[*]} failed"; rm -rf "$dl"; return 1; }
      echo "test-arm: libsofthsm2, softhsm2 (${arches[*]}) not available: the SoftHSM2 tests will be skipped"
    fi
  fi
  for a in "${arches[@]}"; do
    local root="$cross_root_base/$a"
    rm -rf "$root.tmp" && mkdir -p "$root.tmp"
    for deb in "$dl"/*_"$a".deb; do dpkg-deb -x "$deb" "$root.tmp" || { rm -rf "$dl"; return 1; }; done
    rm -rf "$root" && mv "$root.tmp" "$root"
    # Absolute symlinks would point at this machine's files; make them relative to the root.
    find "$root" -type l -lname '/*' | while read -r l; do
      ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$root$(readlink "$l")")" "$l"
    done
    echo "libc6 libgcc-s1 libstdc++6 libssl3 libssl-dev libsofthsm2 softhsm2-util" > "$root/.complete"
  done
  rm -rf "$dl"
}

# The C example: a key made here, a token minted here, the enrollment under qemu.
run_example() {
  local qemu=$1 root=$2 build=$3 work
  work=$(mktemp -d)
  local ok=0 ko=0 device=arm-device.example.com
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/device.key" 2>/dev/null
  mkdir -p "$work/otts"
  scripts/mint-token.sh "$device" "$device" > "$work/otts/$device.txt"
  if "$qemu" -L "$root" "$build/enroll" --ca-url "$STEPCA_URL" --root "$STEPCA_ROOT" --key "$work/device.key" \
      --subject "O=Example Corp" --cn "$device" --dns "$device" --eku clientAuth \
      --token-dir "$work/otts" --out "$work/device.pem"; then
    ok=$((ok + 1))
  else
    echo "FAIL: enroll under $qemu"; ko=$((ko + 1))
  fi
  if openssl verify -CAfile "$STEPCA_ROOT" -untrusted "$work/device.pem" "$work/device.pem" >/dev/null 2>&1 \
      && openssl x509 -in "$work/device.pem" -noout -ext subjectAltName | grep -q "DNS:$device"; then
    ok=$((ok + 1))
  else
    echo "FAIL: the chain written does not verify or lacks the SAN"; ko=$((ko + 1))
  fi
  rm -rf "$work"
  echo "$ok passed, $ko failed"
  [ "$ko" -eq 0 ]
}

started=$SECONDS
suite_setup() {
  setup_host || return 1
  local arches=() t
  for t in "${triples[@]}"; do arches+=("$(deb_arch "$t")"); done
  setup_cross_roots "${arches[@]}"
}
check_setup_ok=1
suite_setup || check_setup_ok=0
echo "--- setup (apt, rustup, target libraries): $((SECONDS - started)) s"
[ $check_setup_ok = 1 ] || { echo "test-arm: setup failed"; echo "all suites: passed 0, failed 1"; exit 1; }

c_tests=(test_api test_enroll test_lifecycle test_signer test_pkcs11 test_credential test_x5c test_renewer test_clock test_log)
softhsm_tests=" test_pkcs11 test_credential test_x5c test_renewer "

for t in "${triples[@]}"; do
  arch=$(deb_arch "$t"); root="$cross_root_base/$arch"; qemu=$(qemu_for "$t"); build="build/$t"
  started=$SECONDS
  echo "=== $t: build (make TARGET=$t)"
  # Niced: beside scripts/test.sh's foreground, the compilers take only the idle CPU.
  if ! nice -n 10 make -s TARGET="$t" CROSS_ROOT="$root" LIB_PACKAGES="-p stepca" lib example c-tests; then
    echo "--- $t: build failed after $((SECONDS - started)) s"
    failed=$((failed + 1)); broken+=("$t build"); continue
  fi
  echo "--- $t: build: $((SECONDS - started)) s"
  # The ELF header's machine (file(1) would name a missing file's path in its error, which
  # holds the triple).
  lib="$build/lib/libstepca.so"
  machine=$(readelf -h "$lib" 2>/dev/null | sed -n 's/^ *Machine: *//p')
  [ "$machine" = "$( [ "$arch" = arm64 ] && echo AArch64 || echo ARM)" ] \
    || { echo "FAIL: $lib is not a $t library (machine: ${machine:-none})"; failed=$((failed + 1)); broken+=("$t arch"); continue; }

  if [ -z "$env_file" ]; then
    env_file=$(scripts/ca-start.sh) || { echo "could not start step-ca"; exit 1; }
    # shellcheck disable=SC1090
    . "$env_file"
  fi
  # The tests make their SoftHSM2 tokens with softhsm2-util: the target's own, under qemu,
  # since a token written by this machine's 64-bit SoftHSM2 is not read by a 32-bit one.
  wrap="$logdir/bin-$arch"
  mkdir -p "$wrap"
  printf '#!/bin/sh\nexec %s -L %s %s/usr/bin/softhsm2-util "$@"\n' "$qemu" "$root" "$root" > "$wrap/softhsm2-util"
  chmod +x "$wrap/softhsm2-util"
  tstart=$SECONDS
  suite "$t: C example enroll ($qemu)" run_example "$qemu" "$root" "$build"
  for c in "${c_tests[@]}"; do
    no_hsm=
    if [[ $softhsm_tests == *" $c "* ]]; then
      if [ ! -e "$root/usr/lib/softhsm/libsofthsm2.so" ]; then
        no_hsm="no SoftHSM2 for $arch: libsofthsm2:$arch and softhsm2:$arch could not be fetched"
      elif [ "$arch" = armhf ]; then
        # 32-bit SoftHSM2 cannot be given a token here: the armhf module does not read
        # token files this machine's 64-bit softhsm2-util writes ("no token labelled"), and
        # the armhf softhsm2-util under qemu-arm fails --init-token ("Could not find a
        # slot/token").
        no_hsm="SoftHSM2 tokens cannot be initialised for armhf under qemu-arm"
      fi
    fi
    if [ -z "$no_hsm" ]; then
      suite "$t: C $c ($qemu)" env PATH="$wrap:$PATH" "$qemu" -L "$root" "$build/tests/$c"
    elif [ "$c" = test_pkcs11 ]; then
      echo "=== $t: C $c: SKIPPED ($no_hsm)"
    else
      # The rest of the suite runs; its PKCS#11 parts say they are skipped.
      suite "$t: C $c without its SoftHSM2 parts ($no_hsm) ($qemu)" env STEPCA_TEST_NO_SOFTHSM=1 \
        "$qemu" -L "$root" "$build/tests/$c"
    fi
  done
  suite "$t: C 4 threads x 10 enrollments ($qemu)" env STEPCA_THREADS=4 STEPCA_PER_THREAD=10 \
    "$qemu" -L "$root" "$build/tests/test_threads"
  echo "--- $t: tests under qemu: $((SECONDS - tstart)) s; build and tests: $((SECONDS - started)) s"
done

echo
[ ${#broken[@]} -eq 0 ] || echo "failed suites: ${broken[*]}"
echo "all suites: passed $passed, failed $failed"
[ ${#broken[@]} -eq 0 ]
