# Sourced by deploy/local/run.sh, migrate.sh and scripts/bench.sh: every process's settings for
# a local run, derived from what `make infra` wrote into .data/infra.env.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
if [ ! -f "$ROOT/.data/infra.env" ]; then
  echo "no .data/infra.env: run 'make infra' first" >&2
  return 1 2>/dev/null || exit 1
fi
set -a
# shellcheck disable=SC1091
. "$ROOT/.data/infra.env"
set +a

pg_url() { echo "postgresql+asyncpg://$GUICHET_PG_USER:$GUICHET_PG_PASSWORD@$GUICHET_PG_HOST:$GUICHET_PG_PORT/$1"; }

export GATEWAY_PORT=${GATEWAY_PORT:-8000}
export GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT"

export ETRACKING_ENVIRONMENT=development
ETRACKING_DATABASE_URL=$(pg_url etracking); export ETRACKING_DATABASE_URL
export ETRACKING_NATS_URL=$GUICHET_NATS_URL
export ETRACKING_GRPC_ADDRESS=127.0.0.1:50061
export ETRACKING_ADMIN_GRPC_ADDRESS=127.0.0.1:50062
export ETRACKING_TLS_CERTIFICATE=$GUICHET_PKI_DIR/services/etracking.crt
export ETRACKING_TLS_PRIVATE_KEY=$GUICHET_PKI_DIR/services/etracking.key
export ETRACKING_ADMINISTRATIONS_CA=$GUICHET_PKI_DIR/ca.crt
export ETRACKING_PUBLIC_BASE_URL=$GATEWAY_URL
export ETRACKING_METRICS_PORT=59461

export GATEWAY_ENVIRONMENT=development
export GATEWAY_ETRACKING_ADDRESS=$ETRACKING_GRPC_ADDRESS
export GATEWAY_HEALTH_URLS="{\"keycloak\":\"$GUICHET_KEYCLOAK_MANAGEMENT_URL/health/ready\",\"nats\":\"$GUICHET_NATS_MONITOR_URL/healthz?js-enabled-only=true\",\"minio\":\"http://$GUICHET_MINIO_ENDPOINT/minio/health/live\"}"
