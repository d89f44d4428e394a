#!/usr/bin/env bash
# Jaeger (its v2 binary, cmd/jaeger: an OpenTelemetry collector with Jaeger's storage and query)
# built from its Go module pinned to a tag, binary in the tools cache. The module's go.mod has a
# `replace` directive, which `go install module@version` refuses: the pinned module is downloaded
# from the module proxy and built as the main module instead (same source, same checksums).
# OTLP/gRPC 127.0.0.1:54317 (the services' GUICHET_OTLP_ENDPOINT), OTLP/HTTP :54318, query API and
# UI http://127.0.0.1:56686 (/api/traces), health :53133. Traces are kept in memory (development:
# a restart forgets them). The UI's web assets are not part of the Go module (they are built with
# npm), so the UI page is Jaeger's placeholder; the query API is complete.
# Usage: jaeger.sh build|start|stop|status|installed
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

JAEGER_HOME="$TOOLS/jaeger/$JAEGER_VERSION"
JAEGER_BIN="$JAEGER_HOME/bin/jaeger"
JAEGER_LOG="$LOGS/jaeger.log"
JAEGER_BUILD_LOG="$LOGS/jaeger-build.log"
JAEGER_CONFIG="$DATA/jaeger/config.yaml"

jaeger_installed() { [[ -x "$JAEGER_BIN" ]]; }

jaeger_build() {
    jaeger_installed && return 0
    command -v go >/dev/null || die "jaeger: Go is required to build Jaeger; install Go >= 1.24"
    say "jaeger: building $JAEGER_MODULE/cmd/jaeger@$JAEGER_VERSION (first build is slow, several minutes; log: $JAEGER_BUILD_LOG)"
    mkdir -p "$JAEGER_HOME"
    rm -rf "$JAEGER_HOME/src" "$JAEGER_HOME/bin.tmp"
    # GOTOOLCHAIN=local: use the installed Go; GOFLAGS=-mod=mod: resolve from the module's go.mod.
    local dir
    if ! dir="$(cd "$JAEGER_HOME" && env GOFLAGS=-mod=mod GOTOOLCHAIN=local \
            go mod download -json "$JAEGER_MODULE@$JAEGER_VERSION" 2>>"$JAEGER_BUILD_LOG" \
            | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || [[ -z "$dir" ]]; then
        log_tail "$JAEGER_BUILD_LOG"
        die "jaeger: could not download $JAEGER_MODULE@$JAEGER_VERSION (log: $JAEGER_BUILD_LOG)"
    fi
    # The module cache is read-only: build in a writable copy, then drop it.
    cp -r "$dir" "$JAEGER_HOME/src" && chmod -R u+w "$JAEGER_HOME/src"
    # Into a temporary directory then rename, so an interrupted build never leaves a broken binary.
    if ! (cd "$JAEGER_HOME/src" && env GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 \
            go build -trimpath -o "$JAEGER_HOME/bin.tmp/jaeger" ./cmd/jaeger) >>"$JAEGER_BUILD_LOG" 2>&1; then
        log_tail "$JAEGER_BUILD_LOG"
        die "jaeger: go build failed (log: $JAEGER_BUILD_LOG)"
    fi
    rm -rf "$JAEGER_HOME/bin" "$JAEGER_HOME/src" && mv "$JAEGER_HOME/bin.tmp" "$JAEGER_HOME/bin"
    say "jaeger: built $JAEGER_BIN"
}

# Only what the platform uses: OTLP in, memory storage, the query API; every port on loopback
# (the defaults listen on all interfaces and on ports other tools take).
jaeger_config() {
    mkdir -p "$(dirname "$JAEGER_CONFIG")"
    cat >"$JAEGER_CONFIG" <<YAML
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: info
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:$JAEGER_HEALTH_PORT
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:$JAEGER_QUERY_PORT
    grpc:
      endpoint: 127.0.0.1:$JAEGER_QUERY_GRPC_PORT
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$JAEGER_OTLP_PORT
      http:
        endpoint: 127.0.0.1:$JAEGER_OTLP_HTTP_PORT
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
YAML
}

jaeger_healthy() { http_ok "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services"; }

jaeger_start() {
    with_lock jaeger jaeger_build
    if is_running jaeger; then
        say "jaeger: already running"
    else
        local port
        for port in "$JAEGER_OTLP_PORT" "$JAEGER_OTLP_HTTP_PORT" "$JAEGER_QUERY_PORT" "$JAEGER_QUERY_GRPC_PORT" "$JAEGER_HEALTH_PORT"; do
            port_busy "$port" && die "jaeger: port $port is already used by another process"
        done
        say "jaeger: starting"
        jaeger_config
        start_daemon jaeger "$JAEGER_BIN" --config "$JAEGER_CONFIG"
    fi
    wait_until jaeger 60 "$JAEGER_LOG" jaeger_healthy
}

case "${1:-start}" in
    build) with_lock jaeger jaeger_build ;;
    start) jaeger_start ;;
    stop) stop_pid jaeger 20 ;;
    status) is_running jaeger ;;
    installed) jaeger_installed ;;
    binary) with_lock jaeger jaeger_build >&2; echo "$JAEGER_BIN" ;;   # for the jaeger image
    *) die "usage: $0 build|start|stop|status|installed|binary" ;;
esac
