#!/bin/bash
# First start of the primary: a role and a database per service (their passwords from
# postgresql-roles), the replication role, and the replica's access.
set -euo pipefail
for db in identity etracking authentic_data wallet procedures messaging gateway keycloak; do
  var="ROLE_PASSWORD_$db"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
    -v role="$db" -v password="${!var}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
SQL
done
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
