#!/bin/bash
# PostgreSQL in the postgres image (deploy/containers/infra.Containerfile), with the interface of the
# usual postgres image: at the first start, initdb with POSTGRES_USER / POSTGRES_PASSWORD and create
# POSTGRES_DB (and every database named in GUICHET_DATABASES, space-separated); then run postgres in
# the foreground with the settings of deploy/local/infra/postgres-settings.conf, listening on the container's
# interfaces with password authentication.
set -euo pipefail
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${GUICHET_DATABASES:=}"
[[ -n "${POSTGRES_PASSWORD:-}" ]] || { echo "POSTGRES_PASSWORD is required" >&2; exit 1; }

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    {
        cat <<CONF
listen_addresses = '*'
port = 5432
unix_socket_directories = '/var/run/postgresql'
CONF
        cat /etc/guichet/postgres-settings.conf
    } >>"$PGDATA/postgresql.conf"
    cat >"$PGDATA/pg_hba.conf" <<HBA
local   all   all                  trust
host    all   all   0.0.0.0/0      scram-sha-256
host    all   all   ::/0           scram-sha-256
HBA
    # the databases, created by a server reachable only through its socket until they exist
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -s start
    for db in $POSTGRES_DB $GUICHET_DATABASES; do
        [[ "$db" == postgres ]] && continue
        psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
            -c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\""
    done
    pg_ctl -D "$PGDATA" -m fast -w -s stop
fi
exec postgres -D "$PGDATA"
