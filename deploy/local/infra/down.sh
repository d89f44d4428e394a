#!/usr/bin/env bash
# `make down`: stop the services started by `make up` (any other .data/run/*.pid), then the
# infrastructure in reverse order. SIGTERM, wait, SIGKILL after a timeout; PostgreSQL with pg_ctl -m fast.
# Idempotent: with nothing running it says so and exits 0.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stopped=0
is_infra() { local c; for c in "${INFRA_COMPONENTS[@]}"; do [[ "$1" == "$c" ]] && return 0; done; return 1; }

# 1. services started by `make up` (everything with a pid file that is not infrastructure)
shopt -s nullglob
for f in "$RUN"/*.pid; do
    name="$(basename "$f" .pid)"
    is_infra "$name" && continue
    stop_pid "$name" 20 && stopped=$((stopped + 1))
done

# 2. infrastructure, reverse order of start (the containers backend's first, when it ran)
bash "$INFRA_DIR/containers.sh" stop && stopped=$((stopped + 1))
bash "$INFRA_DIR/jaeger.sh" stop && stopped=$((stopped + 1))
bash "$INFRA_DIR/minio.sh" stop && stopped=$((stopped + 1))
bash "$INFRA_DIR/keycloak.sh" stop && stopped=$((stopped + 1))
bash "$INFRA_DIR/sinks.sh" stop && stopped=$((stopped + 1))
bash "$INFRA_DIR/clamav.sh" stop && stopped=$((stopped + 1))
bash "$INFRA_DIR/nats.sh" stop && stopped=$((stopped + 1))
bash "$INFRA_DIR/postgres.sh" stop && stopped=$((stopped + 1))

# remaining stale pid files
for f in "$RUN"/*.pid; do
    name="$(basename "$f" .pid)"
    [[ -n "$(pid_of "$name")" ]] || rm -f "$f"
done

if (( stopped == 0 )); then
    say "nothing was running"
else
    say "stopped"
fi
exit 0
