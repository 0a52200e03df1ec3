#!/usr/bin/env bash
# The test command: lint, then the whole pytest suite on CPU (extra pytest arguments pass through).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/python -m pytest "$@"
