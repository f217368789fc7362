#!/usr/bin/env bash
# Run both benchmarks with the project's virtualenv: bench/run_all.sh [python -m bench flags]
#   bench/run_all.sh                      # startup (5 runs), then token endpoint vs oauth2-mock-server
#   bench/run_all.sh --skip-baseline --duration 5
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${SIMS_VENV:-.venv}/bin/python"
if [ ! -x "$PYTHON" ]; then
  echo "no virtualenv at ${SIMS_VENV:-.venv}: run ./dev up (or ./dev test) once to create it" >&2
  exit 2
fi
exec "$PYTHON" -m bench "$@"
