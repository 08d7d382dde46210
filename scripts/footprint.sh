#!/usr/bin/env bash
# Footprint of libstepca per target, as a Markdown table on stdout:
#   scripts/footprint.sh [--write] [TRIPLE...]
# (default: this machine, aarch64-unknown-linux-gnu, armv7-unknown-linux-gnueabihf; "host"
# names this machine). --write also puts the table into BENCHMARKS.md's section
# "Footprint on ARM boards".
#
# Per target: the stripped libstepca.so; the C example (examples/enroll.c) linked
# statically against libstepca.a and glibc (make example-static), stripped; and the memory
# of one enrollment by that program at a local step-ca, from bench/memstats.c (median of 3
# runs). ARM programs run under qemu-user (scripts/test-arm.sh installs it and the cross
# compilers; run it first); there the peak resident set of the process is qemu's, emulator
# and translated code included, so only the program's own anonymous memory (heap, stacks,
# data; resident at exit) compares across targets. Natively both are the program's.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/go/bin:$HOME/.cargo/bin:/usr/local/go/bin:$PATH"

write=0
[ "${1:-}" = "--write" ] && { write=1; shift; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(host aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
cross_root_base=${STEPCA_CROSS_ROOT:-$HOME/.cache/stepca-cross}

work=$(mktemp -d)
env_file=
trap '[ -z "$env_file" ] || scripts/ca-stop.sh "$env_file"; rm -rf "$work"' EXIT
env_file=$(scripts/ca-start.sh)
# shellcheck disable=SC1090
. "$env_file"

mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1e6 }'; }
kbmb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

rows=()
for t in "${targets[@]}"; do
  if [ "$t" = host ]; then
    make -s lib example-static >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; exit 1; }
    build=build strip=strip run=() name="$(uname -m) (native)"
  else
    case $t in
      aarch64-*) prefix=aarch64-linux-gnu run=(qemu-aarch64) arch=arm64 ;;
      armv7-*) prefix=arm-linux-gnueabihf run=(qemu-arm) arch=armhf ;;
      *) echo "footprint: unknown target $t" >&2; exit 1 ;;
    esac
    make -s TARGET="$t" lib example-static >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; exit 1; }
    # The static program needs no libraries; -L only keeps its file lookups like test-arm.sh's.
    [ -d "$cross_root_base/$arch" ] && run+=(-L "$cross_root_base/$arch")
    build=build/$t strip=$prefix-strip name="$t (qemu-user)"
  fi
  "$strip" -o "$work/lib.so" "$build"/lib/libstepca.so.0.*
  "$strip" -o "$work/enroll" "$build/enroll-static"
  so=$(stat -c %s "$work/lib.so") ex=$(stat -c %s "$work/enroll")
  : > "$work/mem"
  for i in 1 2 3; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/key" 2>/dev/null
    mkdir -p "$work/otts"
    scripts/mint-token.sh fp.example.com fp.example.com > "$work/otts/fp.example.com.txt"
    STEPCA_MEMSTATS=1 "${run[@]}" "$build/enroll-static" --ca-url "$STEPCA_URL" --root "$STEPCA_ROOT" \
      --key "$work/key" --cn fp.example.com --dns fp.example.com --token-dir "$work/otts" \
      --out "$work/chain.pem" 2>>"$work/mem" >/dev/null
    openssl verify -CAfile "$STEPCA_ROOT" -untrusted "$work/chain.pem" "$work/chain.pem" >/dev/null
  done
  hwm=$(sed -n 's/.*VmHWM_kB=\([0-9]*\).*/\1/p' "$work/mem" | median)
  anon=$(sed -n 's/.*anon_resident_kB=\([0-9]*\).*/\1/p' "$work/mem" | median)
  if [ "$t" = host ]; then
    peak="$(kbmb "$hwm")"
  else
    peak="($(kbmb "$hwm") qemu's, emulator included)"
  fi
  rows+=("| $name | $(mb "$so") | $(mb "$ex") | $peak | $(kbmb "$anon") |")
done

table=$(
  echo "| target | libstepca.so, stripped | static C example, stripped | peak RSS, one enrollment | own anonymous memory at exit |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${rows[@]}"
)
echo "$table"

if [ $write = 1 ]; then
  {
    # Everything before the section, then the section, then what followed it.
    sed '/^## Footprint on ARM boards/,$d' BENCHMARKS.md
    echo "## Footprint on ARM boards"
    echo
    echo "Measured by \`scripts/footprint.sh --write\` (after \`scripts/test-arm.sh\`, which installs the"
    echo "cross compilers and qemu-user; together: \`scripts/test-arm.sh && scripts/footprint.sh --write\`) on $(nproc) cores, $(date -u +%Y-%m-%d); libstepca $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1), $(rustc --version | cut -d' ' -f1-2)."
    echo
    echo "$table"
    echo
    echo "- The static example is examples/enroll.c linked against libstepca.a and glibc's libc.a"
    echo "  (\`make TARGET=... example-static\`, \`-static -Wl,--gc-sections\`); glibc allows it, with its"
    echo "  warning that dlopen (PKCS#11 modules) and host-name lookups then need the same glibc's"
    echo "  shared libraries at run time. Enrolling at a CA given by IP address needs neither."
    echo "- Memory: one enrollment (key file, CSR, token from a file, TLS to step-ca on 127.0.0.1),"
    echo "  median of 3 runs, from bench/memstats.c. Natively, peak RSS is the process's VmHWM. Under"
    echo "  qemu-user /proc/self/status is qemu's, so the figure in parentheses includes the emulator"
    echo "  and its translated code: an upper bound, not the board's figure. The last column is the"
    echo "  program's own anonymous memory (heap, stacks, data) resident at exit, counted with"
    echo "  mincore(2) over the mappings without a file in /proc/self/maps (qemu lists the guest's"
    echo "  own): it compares across targets, but at exit the heap is freed and mostly trimmed, so"
    echo "  it is a floor. Natively the peak is mostly the program's text pages, and the ARM programs"
    echo "  are smaller (third column): a board's peak should be no higher than x86-64's. That is an"
    echo "  estimate from these figures, not a measurement on a board."
    echo
    sed -n '/^## Footprint on ARM boards/,$p' BENCHMARKS.md | sed '1d' | sed -n '/^## /,$p'
  } > BENCHMARKS.md.new
  mv BENCHMARKS.md.new BENCHMARKS.md
  echo "BENCHMARKS.md written" >&2
fi
