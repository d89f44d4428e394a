#!/usr/bin/env bash
# `make infra`: install what is missing into the tools cache ($GUICHET_TOOLS_DIR, default ~/.cache/openguichet)
# and start the development infrastructure of OpenGuichet with its data under .data/:
# dev PKI, PostgreSQL, NATS JetStream, ClamAV, MinIO (with a development KMS key), Keycloak, SMTP and SMS
# sinks, Jaeger (traces). Idempotent: a second run only starts what is down. Writes .data/infra.env for
# the services and tests. As root, PostgreSQL's data is in /var/lib/openguichet/pg-<checkout hash>, linked from .data/pg
# (see postgres.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0=$(now)
BACKEND="${GUICHET_INFRA:-local}"
[[ "$BACKEND" == local || "$BACKEND" == containers ]] || die "GUICHET_INFRA is local (the default) or containers, not \"$BACKEND\""
declare -A SECS=()
MINIO_BUILD_PID=""
JAEGER_BUILD_PID=""
trap '[[ -n "$MINIO_BUILD_PID" ]] && kill "$MINIO_BUILD_PID" 2>/dev/null; [[ -n "$JAEGER_BUILD_PID" ]] && kill "$JAEGER_BUILD_PID" 2>/dev/null; true' EXIT

for tool in openssl curl setsid flock unzip python3; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
[[ -x "$PY" ]] || die "$PY is missing: run 'make venv' first"

# step NAME CMD...: run one component, record its duration
step() {
    local name="$1" t; shift
    t=$(now)
    "$@" || die "$name: failed"
    SECS[$name]=$(( $(now) - t ))
}

step pki bash "$ROOT/deploy/pki/dev-pki.sh" "$DATA/pki"

# generate the development secrets once, before anything runs in parallel
secret pg_password >/dev/null
secret minio_access_key devminio >/dev/null
secret minio_secret_key >/dev/null
secret keycloak_admin_password >/dev/null
secret keycloak_identity_client_secret >/dev/null
secret keycloak_gateway_client_secret >/dev/null
secret gateway_altcha_hmac_key >/dev/null
secret gateway_session_key >/dev/null
secret_key32 minio_kms_key >/dev/null

# The local launcher: each server as a process of its own, from the tools cache.
start_local() {
    # MinIO's first build takes minutes: run it in the background while the rest starts.
    MINIO_BUILD_T=""
    if ! bash "$INFRA_DIR/minio.sh" installed; then
        MINIO_BUILD_T=$(now)
        bash "$INFRA_DIR/minio.sh" build &
        MINIO_BUILD_PID=$!
    fi
    # Jaeger's too (traces); it starts last, after MinIO's build has finished.
    if ! bash "$INFRA_DIR/jaeger.sh" installed; then
        bash "$INFRA_DIR/jaeger.sh" build &
        JAEGER_BUILD_PID=$!
    fi

    step postgres bash "$INFRA_DIR/postgres.sh" start
    step nats bash "$INFRA_DIR/nats.sh" start
    step clamav bash "$INFRA_DIR/clamav.sh" start
    step sinks bash "$INFRA_DIR/sinks.sh" start
    step keycloak bash "$INFRA_DIR/keycloak.sh" start

    if [[ -n "$MINIO_BUILD_PID" ]]; then
        is_done() { ! kill -0 "$MINIO_BUILD_PID" 2>/dev/null; }
        is_done || say "minio: waiting for the build to finish (log: $LOGS/minio-build.log)"
        wait "$MINIO_BUILD_PID" || die "minio: build failed (log: $LOGS/minio-build.log)"
        MINIO_BUILD_PID=""
    fi
    step minio bash "$INFRA_DIR/minio.sh" start
    [[ -z "$MINIO_BUILD_T" ]] || SECS[minio]=$(( $(now) - MINIO_BUILD_T ))   # includes the build
    if [[ -n "$JAEGER_BUILD_PID" ]]; then
        kill -0 "$JAEGER_BUILD_PID" 2>/dev/null && say "jaeger: waiting for the build to finish (log: $LOGS/jaeger-build.log)"
        wait "$JAEGER_BUILD_PID" || die "jaeger: build failed (log: $LOGS/jaeger-build.log)"
        JAEGER_BUILD_PID=""
    fi
    step jaeger bash "$INFRA_DIR/jaeger.sh" start
}

if [[ "$BACKEND" == containers ]]; then
    # the same servers as images run by testcontainers (containers.sh): same ports, same settings below
    step containers bash "$INFRA_DIR/containers.sh" start
else
    [[ -z "$(podman ps -q --filter "label=org.openguichet.checkout=$CHECKOUT_KEY" 2>/dev/null)" ]] \
        || die "this checkout's containers (GUICHET_INFRA=containers) run on the same ports: make down first"
    start_local
fi

# .data/infra.env: KEY=VALUE, no quotes, sourceable by bash and readable by simple parsers
cat >"$DATA/infra.env.tmp" <<ENV
GUICHET_ENV=development
GUICHET_INFRA=$BACKEND
GUICHET_ROOT=$ROOT
GUICHET_DATA_DIR=$DATA
GUICHET_TOOLS_DIR=$TOOLS
GUICHET_PG_HOST=127.0.0.1
GUICHET_PG_PORT=$PG_PORT
GUICHET_PG_USER=guichet
GUICHET_PG_PASSWORD=$(secret pg_password)
GUICHET_NATS_URL=nats://127.0.0.1:$NATS_PORT
GUICHET_NATS_MONITOR_URL=http://127.0.0.1:$NATS_MONITOR_PORT
GUICHET_MINIO_ENDPOINT=127.0.0.1:$MINIO_PORT
GUICHET_MINIO_ACCESS_KEY=$(secret minio_access_key devminio)
GUICHET_MINIO_SECRET_KEY=$(secret minio_secret_key)
GUICHET_MINIO_KMS_KEY_NAME=$MINIO_KMS_KEY_NAME
GUICHET_CLAMAV_ADDRESS=127.0.0.1:$CLAMAV_PORT
GUICHET_KEYCLOAK_URL=http://127.0.0.1:$KC_HTTP_PORT
GUICHET_KEYCLOAK_MANAGEMENT_URL=http://127.0.0.1:$KC_MGMT_PORT
GUICHET_KEYCLOAK_ADMIN=admin
GUICHET_KEYCLOAK_ADMIN_PASSWORD=$(secret keycloak_admin_password)
GUICHET_KEYCLOAK_HTTPS_URL=https://localhost:$KC_HTTPS_PORT
GUICHET_KEYCLOAK_ISSUER=https://localhost:$KC_HTTPS_PORT/realms/guichet
GUICHET_KEYCLOAK_IDENTITY_CLIENT_ID=guichet-identity
GUICHET_KEYCLOAK_IDENTITY_CLIENT_SECRET=$(secret keycloak_identity_client_secret)
GUICHET_KEYCLOAK_GATEWAY_CLIENT_ID=guichet-gateway
GUICHET_KEYCLOAK_GATEWAY_CLIENT_SECRET=$(secret keycloak_gateway_client_secret)
GUICHET_GATEWAY_ALTCHA_HMAC_KEY=$(secret gateway_altcha_hmac_key)
GUICHET_GATEWAY_SESSION_KEY=$(secret gateway_session_key)
GUICHET_CA_FILE=$DATA/pki/ca.crt
GUICHET_NATIONAL_CA_DIR=$DATA/pki/national
GUICHET_SMTP_HOST=127.0.0.1
GUICHET_SMTP_PORT=$SMTP_PORT
GUICHET_MAIL_DIR=$DATA/mail
GUICHET_SMS_URL=http://127.0.0.1:$SMS_PORT
GUICHET_SMS_DIR=$DATA/sms
GUICHET_PKI_DIR=$DATA/pki
GUICHET_SEAL_CERTIFICATE=$DATA/pki/seal/platform-seal.crt
GUICHET_SEAL_PRIVATE_KEY=$DATA/pki/seal/platform-seal.key
GUICHET_OTLP_ENDPOINT=http://127.0.0.1:$JAEGER_OTLP_PORT
GUICHET_JAEGER_URL=http://127.0.0.1:$JAEGER_QUERY_PORT
ENV
chmod 600 "$DATA/infra.env.tmp"
mv "$DATA/infra.env.tmp" "$DATA/infra.env"

if [[ "$BACKEND" == containers ]]; then
    echo
    echo "OpenGuichet development infrastructure in containers (testcontainers; data in named volumes)"
    echo "  settings: $DATA/infra.env   containers: label org.openguichet.checkout   stop: make down"
    echo "==> infrastructure ready in $(( $(now) - T0 ))s"
    exit 0
fi
row() { printf '  %-10s %-52s %-7s %s\n' "$@"; }
echo
echo "OpenGuichet development infrastructure (data: $DATA, tools: $TOOLS)"
row component address pid seconds
row pki "$DATA/pki" - "${SECS[pki]}"
row postgres "127.0.0.1:$PG_PORT (dbs: etracking identity ...)" "$(pid_of postgres)" "${SECS[postgres]}"
row nats "nats://127.0.0.1:$NATS_PORT, monitor :$NATS_MONITOR_PORT" "$(pid_of nats)" "${SECS[nats]}"
row clamav "127.0.0.1:$CLAMAV_PORT (clamd, EICAR-only dev database)" "$(pid_of clamav)" "${SECS[clamav]}"
row minio "http://127.0.0.1:$MINIO_PORT, console :$MINIO_CONSOLE_PORT, KMS" "$(pid_of minio)" "${SECS[minio]}"
row keycloak "http://127.0.0.1:$KC_HTTP_PORT, https :$KC_HTTPS_PORT, mgmt :$KC_MGMT_PORT" "$(pid_of keycloak)" "${SECS[keycloak]}"
row smtp-sink "127.0.0.1:$SMTP_PORT -> .data/mail" "$(pid_of smtp-sink)" "${SECS[sinks]}"
row sms-sink "http://127.0.0.1:$SMS_PORT -> .data/sms" "$(pid_of sms-sink)" "${SECS[sinks]}"
row jaeger "otlp 127.0.0.1:$JAEGER_OTLP_PORT, query http://127.0.0.1:$JAEGER_QUERY_PORT" "$(pid_of jaeger)" "${SECS[jaeger]}"
echo "  settings: $DATA/infra.env   logs: $LOGS   stop: make down"
echo "  postgres data: $(bash "$INFRA_DIR/postgres.sh" where)"
echo "==> infrastructure ready in $(( $(now) - T0 ))s"
