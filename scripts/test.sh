#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, clippy (warnings denied), the Rust tests,
# the dependency-rule check, a build without default features, packaging, the wheel build, pytest, and the seed tutorial as a smoke run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup-venv.sh"
cd "$ROOT"
# One set of flags for every cargo step, so clippy, the tests and the wheel share artifacts.
export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy (warnings denied)"
cargo clippy --release --workspace --all-targets
echo "==> cargo test (release: the ODE solves are too slow unoptimised)"
cargo test --release --workspace --exclude diffid-python
echo "==> cargo xtask tidy"
cargo xtask tidy
echo "==> the facade without default features (Cranelift stays the JIT)"
cargo build --release -p diffid --no-default-features
echo "==> cargo package, the library crates in dependency order"
cargo package --workspace --exclude diffid-python --exclude diffid-benches --exclude xtask \
    --no-verify --allow-dirty --quiet
echo "==> building the wheel"
rm -rf target/wheels
maturin build --release --manifest-path bindings/python/Cargo.toml --out target/wheels
python -m pip install --quiet --force-reinstall --no-deps target/wheels/diffid-*.whl
echo "==> pytest"
python -m pytest bindings/python/tests -q
echo "==> tutorial smoke run"
DIFFID_TUTORIAL_OUT="$ROOT/target/tutorial-output" python docs/tutorials/parallel_optimisation.py > target/tutorial.log
grep -q "Final SSE" target/tutorial.log
echo "==> sampling tutorials smoke run"
DIFFID_TUTORIAL_OUT="$ROOT/target/tutorial-output" python docs/tutorials/sampling.py > target/sampling.log
grep -q "Posterior summary" target/sampling.log
DIFFID_TUTORIAL_OUT="$ROOT/target/tutorial-output" python docs/tutorials/model_comparison.py > target/model_comparison.log
grep -q "Bayes factor" target/model_comparison.log
echo "==> all checks passed"
