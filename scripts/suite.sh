# Shared by scripts/test.sh and scripts/test-arm.sh (sourced): the suite runner. The caller
# sets passed=0 failed=0 broken=() and logdir (a scratch directory).

# suite NAME CMD...: runs CMD, shows its output, adds up the counts it reports.
suite() {
  local name=$1; shift
  local started=$SECONDS
  echo "=== $name"
  local log="$logdir/$(echo "$name" | tr -c 'a-zA-Z0-9' _).log"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local p f
  # cargo: "test result: ok. 5 passed; 0 failed"; C harness: "5 passed, 0 failed";
  # go test -v: "--- PASS: TestX" / "--- FAIL: TestX".
  p=$(grep -Eo '([0-9]+) passed' "$log" | awk '{s+=$1} END {print s+0}')
  f=$(grep -Eo '([0-9]+) failed' "$log" | awk '{s+=$1} END {print s+0}')
  p=$((p + $(grep -Ec '^ *--- PASS' "$log"))); f=$((f + $(grep -Ec '^ *--- FAIL' "$log")))
  # GoogleTest: "[       OK ] Suite.Test (1 ms)" / "[  FAILED  ] Suite.Test (1 ms)".
  p=$((p + $(grep -Ec '^\[       OK \]' "$log"))); f=$((f + $(grep -Ec '^\[  FAILED  \] .*\([0-9]+ ms\)$' "$log")))
  passed=$((passed + p)); failed=$((failed + f))
  echo "--- $name: $((SECONDS - started)) s"
  if [ "$rc" -ne 0 ]; then
    broken+=("$name")
    [ "$f" -gt 0 ] || failed=$((failed + 1))
  fi
}
