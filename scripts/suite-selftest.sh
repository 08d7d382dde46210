#!/usr/bin/env bash
# Self-test of scripts/suite.sh, the suite runner scripts/test.sh counts with: the counts
# of each test format, a failing and a silent failing suite, and the background lane (one
# suite at a time, reported in queue order, its failures counted).
# Prints "N passed, N failed" for its own checks.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ok=0 bad=0
expect() { # WHAT GOT WANT
  if [ "$2" = "$3" ]; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "suite-selftest: $1: got '$2', want '$3'"; fi
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
out=$(
  passed=0 failed=0 broken=() logdir=$scratch
  # shellcheck source=scripts/suite.sh
  source "$here/suite.sh"
  suite "cargo" sh -c 'echo "test result: ok. 5 passed; 0 failed; 0 ignored"'
  suite "harness" sh -c 'echo "3 passed, 1 failed"; exit 1'
  suite "go" sh -c 'printf -- "--- PASS: TestA (0.1s)\n    --- PASS: TestA/sub (0.0s)\n--- FAIL: TestB (0.2s)\n"; exit 1'
  suite "gtest" sh -c 'printf "[       OK ] A.B (1 ms)\n[  FAILED  ] A.C (2 ms)\n"; exit 1'
  suite "silent" sh -c 'exit 3'
  # The lane: each suite records when it starts and ends; they must not overlap.
  for i in 1 2 3; do
    lane_suite "lane $i" sh -c 'echo "start $(date +%s%N)" >>"$0"; sleep 0.3; echo "end $(date +%s%N)" >>"$0"; echo "2 passed, 0 failed"' "$scratch/lane.times"
  done
  lane_suite "lane fails" sh -c 'echo "1 passed, 1 failed"; exit 1'
  # Another lane runs beside the first: it starts and ends while lane 1 sleeps.
  lane_suite_on other "other lane" sh -c 'echo "ostart $(date +%s%N)" >>"$0"; sleep 0.1; echo "oend $(date +%s%N)" >>"$0"; echo "1 passed, 0 failed"' "$scratch/lane.times"
  suite "foreground meanwhile" sh -c 'echo "1 passed, 0 failed"'
  lane_wait
  echo "TOTALS $passed $failed ${#broken[@]}"
  printf 'BROKEN %s\n' "${broken[@]}"
)
expect "totals (passed failed broken)" "$(echo "$out" | sed -n 's/^TOTALS //p')" "20 5 5"
expect "broken suites" "$(echo "$out" | sed -n 's/^BROKEN //p' | tr '\n' ,)" "harness,go,gtest,silent,lane fails,"
expect "lane reported in queue order" "$(echo "$out" | grep -o '^=== lane [^(]*' | tr '\n' ,)" \
  "=== lane 1 ,=== lane 2 ,=== lane 3 ,=== lane fails ,"
# One at a time: sorted by time, the records alternate start, end, start, end...
expect "lane runs one suite at a time" \
  "$(sort -k2 -n "$scratch/lane.times" | awk '$1 ~ /^(start|end)$/ {print $1}' | tr '\n' ,)" "start,end,start,end,start,end,"
# ... while the other lane's suite overlaps the first lane's first suite (a shared lock
# would keep the two apart).
expect "another lane runs beside it" \
  "$(sort -k2 -n "$scratch/lane.times" | awk '$1 == "start" && !s {s = $2} $1 == "end" && !e {e = $2}
     $1 == "ostart" {os = $2} $1 == "oend" {oe = $2} END {print (os < e && s < oe) ? "overlap" : "apart"}')" overlap
echo "$ok passed, $bad failed"
[ "$bad" -eq 0 ]
