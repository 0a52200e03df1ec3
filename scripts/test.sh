#!/usr/bin/env bash
# The test command: lint, then the pytest suite on CPU; extra arguments pass through to pytest.
#   bash scripts/test.sh          every tier: tests/unit, tests/integration, tests/e2e (what CI runs)
#   bash scripts/test.sh --fast   tests/unit and tests/integration: no Ray, no vLLM engine
#   bash scripts/test.sh PATH...  only those tests (any pytest arguments after them)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tiers=(tests/unit tests/integration tests/e2e)
if [[ "${1:-}" == "--fast" ]]; then
    shift
    tiers=(tests/unit tests/integration)
elif [[ -n "${1:-}" && "${1}" != -* ]]; then
    tiers=()
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/python -m pytest ${tiers[@]+"${tiers[@]}"} "$@"
