#!/usr/bin/env bash
# The main job: build the diffid Python package (release) into ./.venv and run the seed
# tutorial on its bundled Lotka–Volterra example. Figures go to docs/output/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup-venv.sh"
cd "$ROOT"
echo "==> building the diffid package (release; the first build takes ~6 minutes)"
maturin develop --release --manifest-path bindings/python/Cargo.toml
echo "==> running docs/tutorials/parallel_optimisation.py"
python docs/tutorials/parallel_optimisation.py
