# Sourced by the other scripts: a project-local virtual environment with the Python tools,
# created on first use. Needs only python3 (3.11+) and network access to PyPI.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# Installs are skipped when everything is already present.
if ! "$VENV/bin/python" -c "import maturin, numpy, scipy, matplotlib, pytest, arviz, dask, distributed, hypothesis, petab, libsbml" 2>/dev/null; then
    echo "==> installing Python tools into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "maturin>=1.5,<2" "numpy>=1.24" scipy matplotlib pytest arviz dask distributed hypothesis petab python-libsbml
fi
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
