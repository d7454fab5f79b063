#!/usr/bin/env bash
# Set up a virtual environment (CPU build of torch, dev extras, versions from constraints.txt)
# and run the test suite.
# This is the README's test command; .ci/run calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -c constraints.txt -e '.[dev]'  # tested versions, CPU torch
# tests judge structure, not speed: never wait for a slow host before re-timing (bench/retime.py)
export RESNET_DEPLOY_HOST_WAIT_S="${RESNET_DEPLOY_HOST_WAIT_S:-0}"
set +e
"$VENV/bin/python" -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "no tests were collected"
  exit 0
fi
exit "$rc"
