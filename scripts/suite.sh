# Shared by scripts/test.sh and scripts/test-arm.sh (sourced): the suite runner. The caller
# sets passed=0 failed=0 broken=() and logdir (a scratch directory).

# suite NAME CMD...: runs CMD, shows its output, adds up the counts it reports.
suite() {
  local name=$1; shift
  local started=$SECONDS
  echo "=== $name"
  local log
  log=$(suite_log "$name")
  "$@" 2>&1 | tee "$log"
  suite_tally "$name" "$log" "${PIPESTATUS[0]}" $((SECONDS - started))
}

suite_log() { echo "$logdir/$(echo "$1" | tr -c 'a-zA-Z0-9' _).log"; }

# suite_tally NAME LOG RC SECONDS: adds the counts LOG reports; a suite that exits non-zero
# is broken, and counts as one failure if its log names none.
suite_tally() {
  local name=$1 log=$2 rc=$3 secs=$4
  local p f
  # cargo: "test result: ok. 5 passed; 0 failed"; C harness: "5 passed, 0 failed";
  # go test -v: "--- PASS: TestX" / "--- FAIL: TestX".
  p=$(grep -Eo '([0-9]+) passed' "$log" | awk '{s+=$1} END {print s+0}')
  f=$(grep -Eo '([0-9]+) failed' "$log" | awk '{s+=$1} END {print s+0}')
  p=$((p + $(grep -Ec '^ *--- PASS' "$log"))); f=$((f + $(grep -Ec '^ *--- FAIL' "$log")))
  # GoogleTest: "[       OK ] Suite.Test (1 ms)" / "[  FAILED  ] Suite.Test (1 ms)".
  p=$((p + $(grep -Ec '^\[       OK \]' "$log"))); f=$((f + $(grep -Ec '^\[  FAILED  \] .*\([0-9]+ ms\)$' "$log")))
  passed=$((passed + p)); failed=$((failed + f))
  echo "--- $name: $secs s"
  if [ "$rc" -ne 0 ]; then
    broken+=("$name")
    [ "$f" -gt 0 ] || failed=$((failed + 1))
  fi
}

# A background lane for long single-threaded suites (valgrind): lane_suite NAME CMD...
# queues one; the lane runs its suites one after another while the caller goes on with
# others, so the two cores both work. lane_suite_on LANE NAME CMD... queues on another
# lane (its own lock), which runs beside the first. lane_wait waits for every lane and
# reports each of their suites, in queue order, as suite does. Suites in a lane must not
# depend on what the foreground does meanwhile (each has its own names, files and ports).
lane_queue=()
lane_suite() { lane_suite_on main "$@"; }
lane_suite_on() {
  local lane=$1 name=$2; shift 2
  local log
  log=$(suite_log "$name")
  lane_queue+=("$name")
  # One at a time per lane: each waits for its lane's lock.
  (
    flock 9
    started=$SECONDS
    "$@" >"$log" 2>&1
    echo "$? $((SECONDS - started))" >"$log.rc"
  ) 9>"$logdir/lane-$lane.lock" &
}
lane_wait() {
  wait
  local name log rc secs
  for name in "${lane_queue[@]}"; do
    log=$(suite_log "$name")
    echo "=== $name (background lane)"
    cat "$log"
    read -r rc secs <"$log.rc" 2>/dev/null || { rc=1 secs=?; }
    suite_tally "$name" "$log" "$rc" "$secs"
  done
  lane_queue=()
}
