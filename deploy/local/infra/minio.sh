#!/usr/bin/env bash
# MinIO built from its Go module with `go install`, pinned to a commit, binary in the tools cache.
# API 127.0.0.1:59000, console 127.0.0.1:59001, data .data/minio. Started with a development KMS key
# (MINIO_KMS_SECRET_KEY, generated once into .data/secrets/minio_kms_key) so that server-side encryption
# (SSE-S3, SSE-KMS) works; .data/run/minio.kms records the fingerprint of the key the running server got.
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

MINIO_KMS_STAMP="$RUN/minio.kms"

# MinIO's single-key KMS: "<name>:<base64 of 32 bytes>". DEVELOPMENT ONLY: production uses a real KMS.
minio_kms_key() { printf '%s:%s' "$MINIO_KMS_KEY_NAME" "$(secret_key32 minio_kms_key)"; }
minio_kms_fingerprint() { minio_kms_key | sha256sum | cut -c1-16; }

minio_healthy() { http_ok "http://127.0.0.1:$MINIO_PORT/minio/health/live"; }

minio_start() {
    with_lock minio minio_build
    local fingerprint i
    fingerprint="$(minio_kms_fingerprint)"
    # a server started before the KMS key existed (or with another key) is restarted once with it
    if is_running minio && [[ "$(cat "$MINIO_KMS_STAMP" 2>/dev/null)" != "$fingerprint" ]]; then
        say "minio: running without the development KMS key; restarting it with the key"
        minio_stop
        for (( i = 0; i < 50; i++ )); do port_busy "$MINIO_PORT" || break; sleep 0.2; done
    fi
    if is_running minio; then
        say "minio: already running"
    else
        port_busy "$MINIO_PORT" && die "minio: port $MINIO_PORT is already used by another process"
        say "minio: starting"
        mkdir -p "$DATA/minio"
        MINIO_ROOT_USER="$(secret minio_access_key devminio)" \
        MINIO_ROOT_PASSWORD="$(secret minio_secret_key)" \
        MINIO_KMS_SECRET_KEY="$(minio_kms_key)" \
        MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off MINIO_BROWSER_REDIRECT=off \
            start_daemon minio "$MINIO_BIN" server "$DATA/minio" \
                --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" --quiet
        printf '%s\n' "$fingerprint" >"$MINIO_KMS_STAMP"
    fi
    wait_until minio 60 "$MINIO_LOG" minio_healthy
}

minio_stop() {
    rm -f "$MINIO_KMS_STAMP"
    stop_pid minio 20
}

case "${1:-start}" in
    build) with_lock minio minio_build ;;
    start) minio_start ;;
    stop) minio_stop ;;
    status) is_running minio ;;
    installed) minio_installed ;;
    kms-key) minio_kms_key ;;
    binary) with_lock minio minio_build >&2; echo "$MINIO_BIN" ;;   # for the minio image
    *) die "usage: $0 build|start|stop|status|installed|kms-key|binary" ;;
esac
