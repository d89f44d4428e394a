#!/usr/bin/env bash
# MinIO built from its Go module with `go install`, pinned to a commit, binary in the tools cache.
# API 127.0.0.1:59000, console 127.0.0.1:59001, data .data/minio.
# Usage: minio.sh build|start|stop|status
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MINIO_HOME="$TOOLS/minio/$MINIO_VERSION"
MINIO_BIN="$MINIO_HOME/bin/minio"
MINIO_LOG="$LOGS/minio.log"
MINIO_BUILD_LOG="$LOGS/minio-build.log"

minio_installed() { [[ -x "$MINIO_BIN" ]]; }

minio_build() {
    minio_installed && return 0
    command -v go >/dev/null || die "minio: Go is required to build MinIO (go install); install Go >= 1.24"
    say "minio: building $MINIO_MODULE@$MINIO_VERSION with go install (first build is slow, several minutes; log: $MINIO_BUILD_LOG)"
    mkdir -p "$MINIO_HOME"
    rm -rf "$MINIO_HOME/bin.tmp"
    # GOBIN into a temporary directory then rename, so an interrupted build never leaves a broken binary.
    # GOFLAGS=-mod=mod: build outside any module; GOTOOLCHAIN=local: use the installed Go.
    if ! (cd "$MINIO_HOME" && env GOBIN="$MINIO_HOME/bin.tmp" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 \
            go install "$MINIO_MODULE@$MINIO_VERSION") >>"$MINIO_BUILD_LOG" 2>&1; then
        log_tail "$MINIO_BUILD_LOG"
        die "minio: go install failed (log: $MINIO_BUILD_LOG)"
    fi
    rm -rf "$MINIO_HOME/bin" && mv "$MINIO_HOME/bin.tmp" "$MINIO_HOME/bin"
    say "minio: built $MINIO_BIN"
}

minio_healthy() { http_ok "http://127.0.0.1:$MINIO_PORT/minio/health/live"; }

minio_start() {
    with_lock minio minio_build
    if is_running minio; then
        say "minio: already running"
    else
        port_busy "$MINIO_PORT" && die "minio: port $MINIO_PORT is already used by another process"
        say "minio: starting"
        mkdir -p "$DATA/minio"
        MINIO_ROOT_USER="$(secret minio_access_key devminio)" \
        MINIO_ROOT_PASSWORD="$(secret minio_secret_key)" \
        MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off MINIO_BROWSER_REDIRECT=off \
            start_daemon minio "$MINIO_BIN" server "$DATA/minio" \
                --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" --quiet
    fi
    wait_until minio 60 "$MINIO_LOG" minio_healthy
}

case "${1:-start}" in
    build) with_lock minio minio_build ;;
    start) minio_start ;;
    stop) stop_pid minio 20 ;;
    status) is_running minio ;;
    installed) minio_installed ;;
    *) die "usage: $0 build|start|stop|status|installed" ;;
esac
