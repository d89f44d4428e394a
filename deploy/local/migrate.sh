#!/usr/bin/env bash
# `make migrate`: every service's Alembic migrations, an explicit step before start-up.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/local/env.sh
. "$ROOT/deploy/local/env.sh"
for ini in "$ROOT"/services/*/alembic.ini "$ROOT"/gateway/alembic.ini; do
  service=$(basename "$(dirname "$ini")")
  var="$(echo "$service" | tr '[:lower:]-' '[:upper:]_')_DATABASE_URL"
  echo "==> migrate: $service"
  "$ROOT/.venv/bin/alembic" -c "$ini" -x "url=${!var}" upgrade head
done
