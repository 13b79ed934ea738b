#!/usr/bin/env bash
# Creates .venv-peers/ (at the repository's top) with Prefect 3 and Dagster from requirements.txt beside
# this script, for benchmarks/peers.py. Does nothing when the venv is already up to date with the file.
#
#     bash benchmarks/peers/install.sh            # PYTHON=python3.11 to choose the interpreter (3.11+)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${PEERS_VENV:-$ROOT/.venv-peers}"
PYTHON="${PYTHON:-python3}"
REQUIREMENTS="$HERE/requirements.txt"
STAMP="$VENV/.installed"

if [[ -f "$STAMP" && "$STAMP" -nt "$REQUIREMENTS" ]]; then
    echo "peers venv is up to date: $VENV"
    exit 0
fi

"$PYTHON" -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$REQUIREMENTS"
touch "$STAMP"
"$VENV/bin/python" -m pip list --format=freeze 2>/dev/null | grep -iE '^(prefect|dagster)==' || true
echo "peers venv ready: $VENV"
