#!/usr/bin/env bash
# The service tuned for this machine: one server process per core, each with one single-threaded
# inference worker (the best measured on 2 shared cores), stale frames dropped.
# Any setting can be overridden from the environment, e.g. MAX_FRAME_AGE_MS=150 ./scripts/run_optimized.sh
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory setup
cores=$(.venv/bin/python -c "from gazeserve.config import recommended_workers; print(recommended_workers())")
export MAX_WORKERS="${MAX_WORKERS:-1}"
export DROP_OLD_FRAMES="${DROP_OLD_FRAMES:-true}"
export MAX_FRAME_AGE_MS="${MAX_FRAME_AGE_MS:-200}"
exec .venv/bin/gazeserve serve --workers "${WORKERS:-$cores}" "$@"
