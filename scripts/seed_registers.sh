#!/usr/bin/env bash
# `make seed-registers [SEED=1] [PERSONS=10000]`: replace authentic-data's synthetic registers by
# the ones generated for SEED (households, companies, licences, tax credits, VAT), loaded by COPY.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deploy/local/env.sh
. "$ROOT/deploy/local/env.sh"
echo "==> seed-registers: seed $1, $2 persons"
exec "$ROOT/.venv/bin/python" -m guichet_authentic_data seed --seed "$1" --persons "$2"
