#!/usr/bin/env bash
# The containers backend of `make infra` / `make down` (GUICHET_INFRA=containers): the servers of the
# local launcher started from the images of `make infra-images` through testcontainers (containers.py),
# publishing the same ports on 127.0.0.1, so up.sh writes the same .data/infra.env.
# testcontainers talks to DOCKER_HOST when it is set (Docker, or a podman socket of your own); otherwise
# to a podman API socket started here (.data/run/podman.sock, configured by deploy/containers/containers.conf).
# Usage: containers.sh start|stop
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PODMAN_SOCKET="$RUN/podman.sock"
export CONTAINERS_CONF="$ROOT/deploy/containers/containers.conf"

podman_service_up() { [[ -S "$PODMAN_SOCKET" ]] && curl -fsS -o /dev/null --max-time 3 --unix-socket "$PODMAN_SOCKET" http://d/_ping; }

# the engine testcontainers talks to: DOCKER_HOST as given, else podman's socket (started if not running)
engine() {
    if [[ -n "${DOCKER_HOST:-}" ]]; then
        say "containers: using DOCKER_HOST=$DOCKER_HOST"
        return 0
    fi
    command -v podman >/dev/null || die "containers: neither DOCKER_HOST nor podman (make infra-images installs podman)"
    if ! is_running podman-service || ! podman_service_up; then
        say "containers: starting podman's API socket $PODMAN_SOCKET"
        rm -f "$PODMAN_SOCKET"
        start_daemon podman-service podman system service --time=0 "unix://$PODMAN_SOCKET"
        wait_until podman-service 30 "$LOGS/podman-service.log" podman_service_up
    fi
    export DOCKER_HOST="unix://$PODMAN_SOCKET"
}

containers_start() {
    local component
    for component in "${INFRA_COMPONENTS[@]}"; do
        [[ "$component" != podman-service ]] && is_running "$component" \
            && die "containers: the local launcher's $component runs on the same ports: make down first"
    done
    [[ -n "${DOCKER_HOST:-}" ]] || bash "$ROOT/scripts/infra_images.sh"
    engine
    # Ryuk's image cannot be pulled here (and the containers must outlive containers.py: make down
    # removes them); docker_host: these machines carry /.dockerenv, which testcontainers would otherwise
    # take for "inside a container" and look for a gateway.
    export TESTCONTAINERS_RYUK_DISABLED=true
    export TESTCONTAINERS_CONNECTION_MODE="${TESTCONTAINERS_CONNECTION_MODE:-docker_host}"
    export PG_PORT NATS_PORT NATS_MONITOR_PORT MINIO_PORT CLAMAV_PORT SMTP_PORT SMS_PORT \
        KC_HTTP_PORT KC_HTTPS_PORT KC_MGMT_PORT JAEGER_OTLP_PORT JAEGER_QUERY_PORT
    GUICHET_DATABASES="${PG_DATABASES[*]}" MINIO_KMS_SECRET_KEY="$(bash "$INFRA_DIR/minio.sh" kms-key)" \
        "$PY" "$INFRA_DIR/containers.py" start || die "containers: a server did not start"
    # Keycloak sends its mail to the sink's container (its own 127.0.0.1 is not the host's)
    GUICHET_KEYCLOAK_SMTP_HOST="$(cat "$RUN/smtp-sink.address")" GUICHET_KEYCLOAK_SMTP_PORT=1025 \
        KC_REALM_STATE="$DATA/keycloak/realm-guichet.containers.sha256" \
        bash "$INFRA_DIR/keycloak.sh" realm
    bash "$INFRA_DIR/clamav.sh" check || die "clamav: the development signature database is not loaded"
}

# Returns 1 when nothing of the containers backend was running.
containers_stop() {
    local any=1 ids
    if [[ -n "${DOCKER_HOST:-}" ]]; then
        local out
        out="$("$PY" "$INFRA_DIR/containers.py" stop)"
        printf '%s\n' "$out"
        [[ "$out" == *removed* ]] && any=0
    elif command -v podman >/dev/null; then
        ids="$(podman ps -aq --filter "label=org.openguichet.checkout=$CHECKOUT_KEY")"
        if [[ -n "$ids" ]]; then
            say "containers: removing $(wc -w <<<"$ids") containers"
            # shellcheck disable=SC2086
            podman rm -f -t 10 $ids >/dev/null
            any=0
        fi
    fi
    stop_pid podman-service 10 && any=0
    rm -f "$PODMAN_SOCKET"
    return $any
}

case "${1:-start}" in
    start) containers_start ;;
    stop) containers_stop ;;
    *) die "usage: $0 start|stop" ;;
esac
