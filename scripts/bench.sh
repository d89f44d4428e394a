#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, each printing ratios against a baseline of the same run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
for bench in bench/etracking_lookup.py; do
  echo "==> $bench"
  "$ROOT/.venv/bin/python" "$bench" "$@"
done
