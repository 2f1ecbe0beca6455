#!/usr/bin/env bash
# Create (once) the private virtualenv for checkov and print the path of its `checkov` binary.
#
# checkov pins an old `packaging` (<24) that conflicts with pulumi (>=26), so it never goes into
# the project's .venv. Usage (from anywhere):  tests/charts/checkov_venv.sh  -> prints the binary.
# Override the location with CHECKOV_VENV, the Python with PYTHON, the version with CHECKOV_SPEC.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CHECKOV_VENV:-$root/.venv-checkov}"
python="${PYTHON:-python3}"
spec="${CHECKOV_SPEC:-checkov}"

if [ ! -x "$venv/bin/checkov" ]; then
    "$python" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet "$spec" >&2
fi
echo "$venv/bin/checkov"
