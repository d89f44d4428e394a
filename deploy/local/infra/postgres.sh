#!/usr/bin/env bash
# PostgreSQL (Debian package) for development: 127.0.0.1:55432 ($GUICHET_PG_PORT), superuser "guichet".
# Cluster: .data/pg when run by an ordinary user; as root, /var/lib/openguichet/pg-<checkout hash> (see below).
# Usage: postgres.sh start|stop|status|where
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_USER=guichet

# PostgreSQL refuses to run as root: as root, run it as the unprivileged "postgres" system user.
PG_OSUSER="$(id -un)"
if (( EUID == 0 )); then PG_OSUSER=postgres; fi

# Where the cluster lives. As an ordinary user PostgreSQL runs as that user: data in .data/pg, socket in
# .data/run/pg, log .data/log/postgres.log. As root it runs as "postgres", which cannot traverse a checkout
# under a 0700 directory (/root, a mktemp -d folder), so data, socket and log go to
# /var/lib/openguichet/pg-<first 12 hex of sha256(checkout path)>: a system place that user always
# reaches (not the tools cache: it sits in root's 0700 home and is shared by every clone), one per checkout
# so two clones never share a cluster. .data/pg and .data/log/postgres.log are symlinks to it, so
# `rm -rf .data` still means "from scratch": a cluster of this path without its .data/pg link is left over
# from an earlier .data and is removed at the next start. A cluster an earlier version made in .data/pg
# itself (a real directory) is kept there.
PG_KEY="$CHECKOUT_KEY"
PG_STATE=""
if (( EUID == 0 )) && ! [[ -s "$DATA/pg/PG_VERSION" && ! -L "$DATA/pg" ]]; then
    PG_STATE="/var/lib/openguichet/pg-$PG_KEY"
    PGDATA="$PG_STATE/data"
    PG_LOG="$PG_STATE/postgres.log"
else
    PGDATA="$DATA/pg"
    PG_LOG="$LOGS/postgres.log"
fi

pg_bindir() {
    local d
    if [[ -x /usr/lib/postgresql/15/bin/postgres ]]; then echo /usr/lib/postgresql/15/bin; return; fi
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
    [[ -n "$d" && -x "$d/postgres" ]] && echo "$d"
}

pg_install() {
    [[ -n "$(pg_bindir)" ]] && return 0
    say "postgres: not installed, installing the Debian package postgresql"
    local sudo=""
    (( EUID == 0 )) || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q postgresql
    [[ -n "$(pg_bindir)" ]] || die "postgres: installation failed"
}

as_pg() {
    if (( EUID == 0 )); then
        (cd / && setpriv --reuid="$PG_OSUSER" --regid="$(id -g "$PG_OSUSER")" --init-groups "$@")
    else
        "$@"
    fi
}

# The unix socket goes beside the data ($PG_STATE/run as root), else into .data/run/pg (private to the
# PostgreSQL user), or a short /tmp directory if that path is too long for a unix socket (108 bytes).
pg_socket_dir() {
    local d="$RUN/pg"
    if [[ -n "$PG_STATE" ]]; then d="$PG_STATE/run"
    elif (( ${#d} > 80 )); then d="/tmp/openguichet-pg-$(printf '%s' "$ROOT" | sha1sum | cut -c1-10)"; fi
    echo "$d"
}

# pg_claim_state: as root, create $PG_STATE for this checkout and link .data/pg and the log to it; remove a
# cluster of this path left over from an earlier .data (stopped first if it still runs).
pg_claim_state() {
    [[ -n "$PG_STATE" ]] || return 0
    if [[ -e "$PG_STATE" && "$(readlink "$DATA/pg" 2>/dev/null)" != "$PGDATA" ]]; then
        say "postgres: $PG_STATE is left over from an earlier .data of this checkout; removing it"
        if [[ -s "$PGDATA/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
            as_pg "$BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 -s stop || die "postgres: cannot stop the cluster in $PGDATA"
        fi
        rm -rf "$PG_STATE"
    fi
    # an empty .data/pg (left by a run that could not reach it) gives way to the link
    if [[ -d "$DATA/pg" && ! -L "$DATA/pg" ]]; then
        rmdir "$DATA/pg" 2>/dev/null || die "postgres: $DATA/pg is in the way of the link to $PGDATA (not empty, no cluster)"
    fi
    install -d -m 755 /var/lib/openguichet
    install -d -m 700 -o "$PG_OSUSER" -g "$(id -g "$PG_OSUSER")" "$PG_STATE"
    printf '%s\n' "$ROOT" >"$PG_STATE/checkout"      # whose cluster this is, for whoever finds it
    ln -sfn "$PGDATA" "$DATA/pg"
    ln -sfn "$PG_LOG" "$LOGS/postgres.log"
}

pg_prepare_dirs() {
    local sock; sock="$(pg_socket_dir)"
    if (( EUID == 0 )); then
        id "$PG_OSUSER" >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin "$PG_OSUSER"
    fi
    pg_claim_state
    mkdir -p "$PGDATA" "$sock"
    touch "$PG_LOG"
    if (( EUID == 0 )); then
        chown "$PG_OSUSER:" "$PGDATA" "$sock" "$PG_LOG"
        if [[ -z "$PG_STATE" ]]; then chmod o+x "$DATA" "$RUN"; fi
        # the PostgreSQL user must be able to reach the data directory
        if ! as_pg test -x "$PGDATA" ; then
            die "postgres: user $PG_OSUSER cannot reach $PGDATA (a parent directory is not searchable by others; e.g. chmod o+x on it)"
        fi
    fi
    chmod 700 "$PGDATA" "$sock"
}

pg_write_conf() {
    local sock; sock="$(pg_socket_dir)"
    {
        cat <<EOF
# Written by deploy/local/infra/postgres.sh at each start (development settings).
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sock'
EOF
        cat "$INFRA_DIR/postgres-settings.conf"
    } >"$PGDATA/openguichet.conf.tmp"
    mv "$PGDATA/openguichet.conf.tmp" "$PGDATA/openguichet.conf"
    (( EUID == 0 )) && chown "$PG_OSUSER:" "$PGDATA/openguichet.conf"
    grep -q "^include_if_exists = 'openguichet.conf'" "$PGDATA/postgresql.conf" \
        || echo "include_if_exists = 'openguichet.conf'" >>"$PGDATA/postgresql.conf"
    # local socket: trust (the directory is private to the PostgreSQL user); TCP: password (SCRAM).
    cat >"$PGDATA/pg_hba.conf" <<EOF
# Written by deploy/local/infra/postgres.sh
local   all   all                  trust
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
EOF
    (( EUID == 0 )) && chown "$PG_OSUSER:" "$PGDATA/pg_hba.conf"
    return 0
}

pg_initdb() {
    [[ -s "$PGDATA/PG_VERSION" ]] && return 0
    say "postgres: initdb in $PGDATA"
    local pwfile; pwfile="$(mktemp)"
    secret pg_password >"$pwfile"
    (( EUID == 0 )) && chown "$PG_OSUSER:" "$pwfile"
    if ! as_pg "$BIN/initdb" -D "$PGDATA" -U "$PG_USER" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1; then
        rm -f "$pwfile"; log_tail "$PG_LOG"; die "postgres: initdb failed"
    fi
    rm -f "$pwfile"
}

pg_psql() { as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pg_socket_dir)" -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"; }

pg_ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres; }

pg_running() { [[ -s "$PGDATA/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

# pg_port_owner: name the checkout whose cluster holds $PG_PORT, when it is one of ours.
pg_port_owner() {
    local f
    for f in /var/lib/openguichet/pg-*/data/postmaster.pid; do
        [[ -s "$f" && "$(sed -n 4p "$f" 2>/dev/null)" == "$PG_PORT" ]] || continue
        printf ' (the cluster in %s of the checkout %s: "make down" there stops it; or set GUICHET_PG_PORT)' \
            "$(dirname "$f")" "$(cat "$(dirname "$(dirname "$f")")/checkout" 2>/dev/null || echo "?")"
        return 0
    done
    return 0
}

pg_start() {
    pg_install
    BIN="$(pg_bindir)"
    # two starts of one checkout must not both claim its cluster; the lock is not held while the server
    # starts (the server would inherit it and keep it for its whole life)
    ( flock 9; pg_prepare_dirs; pg_initdb ) 9>"$RUN/postgres.lock"
    if pg_running; then
        say "postgres: already running"
    else
        port_busy "$PG_PORT" && die "postgres: port $PG_PORT is already used by another process$(pg_port_owner)"
        say "postgres: starting"
        rm -f "$(pidfile postgres)"
        pg_write_conf
        if ! as_pg "$BIN/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 -s start; then
            log_tail "$PG_LOG"; die "postgres: failed to start (log: $PG_LOG)"
        fi
    fi
    wait_until postgres 60 "$PG_LOG" pg_ready
    head -n1 "$PGDATA/postmaster.pid" >"$(pidfile postgres)"
    # idempotent provisioning: password (kept in sync with .data/secrets), CREATEDB, databases
    local pw db existing
    pw="$(secret pg_password)"
    pg_psql -c "ALTER ROLE $PG_USER WITH SUPERUSER CREATEDB LOGIN PASSWORD '$pw'" >/dev/null
    existing="$(pg_psql -Atc "SELECT datname FROM pg_database")"
    for db in "${PG_DATABASES[@]}"; do
        if ! grep -qx "$db" <<<"$existing"; then
            pg_psql -c "CREATE DATABASE $db OWNER $PG_USER" >/dev/null
            say "postgres: created database $db"
        fi
    done
    # the real check: a password login over TCP, as the services do
    PGPASSWORD="$pw" "$BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d keycloak -Atc 'SELECT 1' >/dev/null \
        || die "postgres: password login over TCP failed"
}

pg_stop() {
    BIN="$(pg_bindir)"
    if [[ -n "$BIN" ]] && pg_running; then
        say "postgres: stopping"
        as_pg "$BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 -s stop || {
            warn "postgres: fast stop failed, trying immediate"
            as_pg "$BIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 30 -s stop || true
        }
        rm -f "$(pidfile postgres)"
        return 0
    fi
    rm -f "$(pidfile postgres)"
    return 1
}

case "${1:-start}" in
    start) pg_start ;;
    stop) pg_stop ;;
    status) BIN="$(pg_bindir)"; pg_running ;;
    where) echo "$PGDATA" ;;
    *) die "usage: $0 start|stop|status|where" ;;
esac
