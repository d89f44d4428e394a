#!/bin/bash
# Init container of every pod: the replica (ordinal > 0) starts as a copy of the primary the
# first time, then streams from it (standby.signal and primary_conninfo written by -R).
set -euo pipefail
ordinal=${POD_NAME##*-}
if [ "$ordinal" = 0 ] || [ -s "$PGDATA/PG_VERSION" ]; then
  exit 0
fi
export PGPASSWORD=$REPLICATION_PASSWORD
until pg_isready -h postgresql-0.postgresql-hl -U replicator; do sleep 2; done
pg_basebackup -h postgresql-0.postgresql-hl -U replicator -D "$PGDATA" -R -X stream -c fast -P
