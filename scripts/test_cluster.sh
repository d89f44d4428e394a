#!/usr/bin/env bash
# `make test-cluster`: the clustered data plane test (issue 13 item 5). A 3-node NATS cluster
# (JetStream R3) and an erasure-coded MinIO over 4 drives, on ports of their own with their data in
# .data/cluster, using the binaries `make infra` installed; PostgreSQL, Keycloak and ClamAV are
# `make infra`'s. 10,000 operations through etracking, the wallet and messaging, one NATS node
# killed and one MinIO drive pulled in the middle; prints the figures (.data/cluster/figures.json).
# Not part of `make test` (several minutes on 2 cores). GUICHET_CLUSTER_OPERATIONS=N: a shorter run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/local/infra/lib.sh"

[[ -f "$DATA/infra.env" ]] || die "test-cluster: run \`make infra\` first (PostgreSQL, Keycloak, ClamAV)"
export GUICHET_CLUSTER_NATS_BIN="$TOOLS/nats-server/$NATS_VERSION/venv/bin/nats-server"
export GUICHET_CLUSTER_MINIO_BIN="$TOOLS/minio/$MINIO_VERSION/bin/minio"
[[ -x "$GUICHET_CLUSTER_NATS_BIN" ]] || die "test-cluster: no $GUICHET_CLUSTER_NATS_BIN: run \`make infra\` first"
[[ -x "$GUICHET_CLUSTER_MINIO_BIN" ]] || "$INFRA_DIR/minio.sh" build

started=$(now)
cd "$ROOT"
status=0
PYTEST_XDIST_WORKER="${PYTEST_XDIST_WORKER:-cluster}" "$PY" -m pytest -p no:cacheprovider \
    tests/cluster/test_cluster.py -x -q -s "$@" || status=$?
say "test-cluster: $( (( status == 0 )) && echo passed || echo FAILED ) in $(( $(now) - started ))s (figures: .data/cluster/figures.json)"
exit "$status"
