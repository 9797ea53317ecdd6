#!/usr/bin/env bash
# One command for the side-by-side benchmark: builds bench/compare/.venv (this checkout, editable, plus
# apything from PyPI; never a dependency of the package), then runs compare.py, which prints the table
# and writes it to bench/README.md. Arguments go to compare.py (--help).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
stamp="$venv/.installed"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ] || [ "$here/requirements.txt" -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "$root[cli]" -r "$here/requirements.txt"
    touch "$stamp"
fi
cd "$root"
exec "$venv/bin/python" "$here/compare.py" "$@"
