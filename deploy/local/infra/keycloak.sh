#!/usr/bin/env bash
# Keycloak from the keycloak-quarkus-dist archive on Maven Central (pinned), unpacked in the tools cache,
# built once for PostgreSQL ("kc.sh build", cached by a stamp), started with "kc.sh start --optimized" on
# the "keycloak" database. HTTP 127.0.0.1:58080, HTTPS 127.0.0.1:58443 (dev PKI), management 127.0.0.1:59100.
# The issuer is https://localhost:58443/realms/guichet whichever port a request uses (--hostname; the HTTP
# port keeps serving the admin API and back-channel calls, hostname-backchannel-dynamic). HTTPS *requests*
# client certificates and trusts the national eID test CA (X.509 login at level of assurance "high").
# Realm "guichet": deploy/keycloak/apply_realm.py creates it after start, and re-creates it when
# deploy/keycloak/*.json changed (hash in .data/keycloak/); see deploy/keycloak/README.md.
# Usage: keycloak.sh start|stop|status
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KC_ROOT="$TOOLS/keycloak"
KC_HOME="$KC_ROOT/keycloak-$KEYCLOAK_VERSION"
KC_LOG="$LOGS/keycloak.log"
KC_REALM_FILE="$ROOT/deploy/keycloak/realm-guichet.json"
KC_PROFILE_FILE="$ROOT/deploy/keycloak/user-profile.json"
KC_STATE="$DATA/keycloak"
# build-time options (a change triggers a new "kc.sh build")
KC_BUILD_OPTS=(--db=postgres --health-enabled=true --metrics-enabled=true --https-client-auth=request)
KC_START_TIMEOUT="${KC_START_TIMEOUT:-300}"

kc_java() {
    command -v java >/dev/null && return 0
    say "keycloak: Java not found, installing openjdk-17-jre-headless"
    local sudo=""; (( EUID == 0 )) || sudo="sudo"
    $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q openjdk-17-jre-headless
}

kc_install() {
    [[ -x "$KC_HOME/bin/kc.sh" ]] && return 0
    local dl="$KC_ROOT/downloads" zip
    zip="$dl/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
    mkdir -p "$dl"
    if [[ ! -s "$zip" ]]; then
        say "keycloak: downloading org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip from Maven Central"
        if command -v mvn >/dev/null; then
            mvn -q -B dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
                -DoutputDirectory="$dl" -Dmdep.overWriteReleases=true >>"$LOGS/keycloak-build.log" 2>&1 \
                || { log_tail "$LOGS/keycloak-build.log"; die "keycloak: maven download failed"; }
        else
            curl -fSL --retry 3 -o "$zip.tmp" \
                "https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip" \
                && mv "$zip.tmp" "$zip" || die "keycloak: download failed"
        fi
    fi
    say "keycloak: unpacking into $KC_HOME"
    rm -rf "$KC_HOME.tmp"
    mkdir -p "$KC_HOME.tmp"
    (cd "$KC_HOME.tmp" && unzip -q "$zip") || die "keycloak: unzip failed"
    rm -rf "$KC_HOME"
    mv "$KC_HOME.tmp/keycloak-$KEYCLOAK_VERSION" "$KC_HOME"
    rm -rf "$KC_HOME.tmp"
}

kc_build() {
    local stamp="$KC_HOME/.openguichet-build" want
    want="${KC_BUILD_OPTS[*]}"
    [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return 0
    say "keycloak: kc.sh build $want (once per options; ~1 minute)"
    rm -f "$stamp"
    if ! "$KC_HOME/bin/kc.sh" build "${KC_BUILD_OPTS[@]}" >>"$LOGS/keycloak-build.log" 2>&1; then
        log_tail "$LOGS/keycloak-build.log"; die "keycloak: kc.sh build failed (log: $LOGS/keycloak-build.log)"
    fi
    printf '%s' "$want" >"$stamp"
}

kc_ready() { http_ok "http://127.0.0.1:$KC_MGMT_PORT/health/ready"; }
kc_realm_ok() { http_ok "http://127.0.0.1:$KC_HTTP_PORT/realms/guichet/.well-known/openid-configuration"; }

kc_start() {
    kc_java
    with_lock keycloak kc_install
    with_lock keycloak kc_build
    if is_running keycloak; then
        say "keycloak: already running"
    else
        port_busy "$KC_HTTP_PORT" && die "keycloak: port $KC_HTTP_PORT is already used by another process"
        say "keycloak: starting (first start creates its schema: 1-2 minutes)"
        [[ -s "$DATA/pki/services/keycloak.crt" && -s "$DATA/pki/services/keycloak.key" && -s "$DATA/pki/national/ca.crt" ]] \
            || die "keycloak: the dev PKI is missing (run deploy/pki/dev-pki.sh)"
        rm -f "$KC_HOME/data/import/realm-guichet.json"   # the realm is applied through the admin API now
        # configuration through the environment keeps the passwords out of the process list
        (
            export KC_DB_URL="jdbc:postgresql://127.0.0.1:$PG_PORT/keycloak"
            export KC_DB_USERNAME=guichet KC_DB_PASSWORD="$(secret pg_password)"
            export KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$(secret keycloak_admin_password)"
            export KC_HTTP_ENABLED=true KC_HTTP_HOST=127.0.0.1 KC_HTTP_PORT="$KC_HTTP_PORT"
            export KC_HTTP_MANAGEMENT_PORT="$KC_MGMT_PORT" KC_HTTP_MANAGEMENT_SCHEME=http
            export KC_CACHE=local KC_LOG_CONSOLE_COLOR=false JAVA_OPTS_KC_HEAP="-Xms256m -Xmx768m"
            # one issuer for every port: tokens always say https://localhost:58443/realms/guichet
            export KC_HOSTNAME="https://localhost:$KC_HTTPS_PORT" KC_HOSTNAME_BACKCHANNEL_DYNAMIC=true
            export KC_HTTPS_HOST=127.0.0.1 KC_HTTPS_PORT="$KC_HTTPS_PORT"
            export KC_HTTPS_CERTIFICATE_FILE="$DATA/pki/services/keycloak.crt"
            export KC_HTTPS_CERTIFICATE_KEY_FILE="$DATA/pki/services/keycloak.key"
            # client certificates are requested on HTTPS (build option https-client-auth=request), verified against
            # the national eID test CA
            export KC_TRUSTSTORE_PATHS="$DATA/pki/national/ca.crt"
            start_daemon keycloak "$KC_HOME/bin/kc.sh" start --optimized
        )
    fi
    wait_until keycloak "$KC_START_TIMEOUT" "$KC_LOG" kc_ready
    kc_realm
}

# The realm "guichet" through the admin API, on whichever backend runs Keycloak. Its mail goes to the
# SMTP sink where Keycloak reaches it (GUICHET_KEYCLOAK_SMTP_HOST/PORT: the containers backend gives the
# sink container's address).
kc_realm() {
    GUICHET_KEYCLOAK_SMTP_HOST="${GUICHET_KEYCLOAK_SMTP_HOST:-127.0.0.1}" \
    GUICHET_KEYCLOAK_SMTP_PORT="${GUICHET_KEYCLOAK_SMTP_PORT:-$SMTP_PORT}" \
    KC_ADMIN_USERNAME=admin KC_ADMIN_PASSWORD="$(secret keycloak_admin_password)" \
        GUICHET_KEYCLOAK_IDENTITY_CLIENT_SECRET="$(secret keycloak_identity_client_secret)" \
        GUICHET_KEYCLOAK_GATEWAY_CLIENT_SECRET="$(secret keycloak_gateway_client_secret)" \
        "$PY" "$ROOT/deploy/keycloak/apply_realm.py" --url "http://127.0.0.1:$KC_HTTP_PORT" \
        --realm-file "$KC_REALM_FILE" --profile-file "$KC_PROFILE_FILE" --state "${KC_REALM_STATE:-$KC_STATE/realm-guichet.sha256}" \
        || die "keycloak: applying the realm failed"
    wait_until keycloak 60 "$KC_LOG" kc_realm_ok
}

case "${1:-start}" in
    start) kc_start ;;
    stop) stop_pid keycloak 30 ;;
    status) is_running keycloak ;;
    realm) kc_realm ;;
    dist) { kc_java; with_lock keycloak kc_install; with_lock keycloak kc_build; } >&2; echo "$KC_HOME" ;;   # for the keycloak image
    *) die "usage: $0 start|stop|status|realm|dist" ;;
esac
