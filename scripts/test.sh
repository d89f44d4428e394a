#!/usr/bin/env bash
# `make test` (after `make infra`): unit, integration and end-to-end tests on the real servers.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider "$@"
