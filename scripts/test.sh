#!/usr/bin/env bash
# The test command: lint, then the whole pytest suite on CPU (extra pytest arguments pass through).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
.venv/bin/python -m pytest "$@"
