#!/usr/bin/env bash
# `make test-image` (after `make image` and `make infra`): every role of the image as its own container
# against the make infra servers (tests/containers). Not part of `make test`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CONTAINERS_CONF="$ROOT/deploy/containers/containers.conf"
exec "$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider tests/containers "$@"
