#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, each printing ratios against a baseline of the same run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# The benchmarks start the services with the journeys' launcher and citizens (tests/e2e).
export PYTHONPATH="$ROOT/tests/e2e:$ROOT/bench${PYTHONPATH:+:$PYTHONPATH}"
for bench in bench/etracking_lookup.py bench/auth.py; do
  echo "==> $bench"
  "$ROOT/.venv/bin/python" "$bench"
done
