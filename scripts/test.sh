#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian/Ubuntu machine, then runs the whole suite
# (unit tests, CLI tests, gradio_client tests and the real-browser tests).
#   bash scripts/test.sh            # all tests
#   bash scripts/test.sh -k models  # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. Debian's chromium for the browser tests (playwright drives it; it never downloads a browser).
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# 2. A virtual environment with the pinned requirements, then this project (explorer + training) installed into it
#    in editable mode, so tests and benchmarks import it without touching sys.path. --no-deps: the requirements
#    are already there (no second resolver pass); --no-build-isolation: builds with the venv's setuptools, offline.
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .

# 3. The tests.
exec .venv/bin/python -m pytest "$@"
