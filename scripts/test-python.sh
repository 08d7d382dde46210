#!/usr/bin/env bash
# Builds the Python wheel from this checkout, installs it into a fresh venv and runs the
# Python tests against the step-ca described by the environment. Run it under with-ca.sh:
#   scripts/with-ca.sh scripts/test-python.sh [PYTEST ARGS...]
# Prints pytest's summary line ("N passed ..."). WORK=DIR keeps the build venv there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
: "${STEPCA_URL:?run under scripts/with-ca.sh}"
if [ -n "${WORK:-}" ]; then
  work=$WORK
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/stepca-pytest.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
"$here/scripts/build-python.sh" "$work"
# The tests import the installed wheel, never the source tree.
cd "$work"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$here/bindings/python/tests" "$@"
