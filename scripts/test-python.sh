#!/usr/bin/env bash
# Builds the Python wheel from this checkout, installs it into a fresh venv and runs the
# Python tests against the step-ca described by the environment. Run it under with-ca.sh:
#   scripts/with-ca.sh scripts/test-python.sh [PYTEST ARGS...]
# Prints pytest's summary line ("N passed ..."). WORK=DIR keeps the build venv there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
: "${STEPCA_URL:?run under scripts/with-ca.sh}"
work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/stepca-pytest.XXXXXX")}
"$here/scripts/build-python.sh" "$work"
# The tests import the installed wheel, never the source tree.
cd "$work"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$here/bindings/python/tests" "$@"
