#!/usr/bin/env bash
# `make test-containers`: a representative part of the suite on the containers backend
# (GUICHET_INFRA=containers: the infrastructure images run by testcontainers, docs/OPERATIONS.md) —
# the kit's integration tests and one journey per service through the gateway. The two backends
# publish the same ports, so the local launcher's servers of this checkout are stopped first and the
# containers removed at the end (`make infra` brings the local ones back). `make test` ends with it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
INFRA="$ROOT/deploy/local/infra"

started=$(date +%s)
bash "$INFRA/down.sh"
trap 'bash "$INFRA/down.sh"' EXIT
GUICHET_INFRA=containers bash "$INFRA/up.sh"
ready=$(date +%s)
code=0
"$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider "$@" \
    tests/containers/test_backend.py \
    libs/kit/tests/integration \
    tests/e2e/test_etracking_journey.py \
    tests/e2e/test_identity_journeys.py \
    tests/e2e/test_wallet_journeys.py \
    tests/e2e/test_my_data.py \
    tests/e2e/test_procedures_api.py \
    tests/e2e/test_message_notifications.py \
    tests/e2e/test_traces.py || code=$?
echo "==> containers backend: infrastructure ready in $(( ready - started ))s, tests $(( $(date +%s) - ready ))s"
exit "$code"
