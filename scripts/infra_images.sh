#!/usr/bin/env bash
# `make infra-images`: the development infrastructure as images (deploy/containers/infra.Containerfile),
# one per server, FROM the base made here — localhost/openguichet/infra-<server>:dev. The binaries come
# from the tools cache the local launcher fills (installed or built when missing), staged with hard
# links into a build context of their own. An image whose inputs did not change is not rebuilt (their
# hash is kept beside the tools cache's images). Usage: scripts/infra_images.sh [server...] (default: all of them).
source "$(dirname "${BASH_SOURCE[0]}")/image_lib.sh"

# shellcheck source=deploy/containers/base.recipe
source "$ROOT/deploy/containers/base.recipe"    # BASE_IMAGE
INFRA="$ROOT/deploy/local/infra"
SERVERS=(postgres nats minio keycloak clamav sinks jaeger)
(( $# )) && SERVERS=("$@")
CONTEXT="$TOOLS/images/infra-context"

ensure_container_tools
bash "$ROOT/scripts/image_base.sh"

stage() {
    say "staging the infrastructure's build context in $CONTEXT"
    rm -rf "$CONTEXT" && mkdir -p "$CONTEXT/bin"
    # hard links: the same file system as the tools cache, nothing copied
    cp -l "$(bash "$INFRA/nats.sh" binary)" "$CONTEXT/bin/nats-server"
    cp -l "$(bash "$INFRA/minio.sh" binary)" "$CONTEXT/bin/minio"
    cp -l "$(bash "$INFRA/jaeger.sh" binary)" "$CONTEXT/bin/jaeger"
    local kc; kc="$(bash "$INFRA/keycloak.sh" dist)"
    cp -al "$kc" "$CONTEXT/keycloak"
    rm -rf "$CONTEXT/keycloak/data"          # the local launcher's runtime state, not the dist
    cp -r "$(bash "$INFRA/clamav.sh" database)" "$CONTEXT/clamav-db"
    mkdir -p "$CONTEXT/sinks" && cp "$ROOT"/deploy/local/sinks/*.py "$CONTEXT/sinks/"
    cp -r "$ROOT/deploy/containers/infra" "$CONTEXT/infra"
    cp "$INFRA/postgres-settings.conf" "$CONTEXT/infra/"   # shared with the local launcher
}

# recipe SERVER: the hash of what goes into the server's image (its stage of the Containerfile is one
# part of a file shared by all, so a change of any stage rebuilds all: podman's layer cache keeps that cheap)
recipe() {
    {
        sha256sum "$ROOT/deploy/containers/infra.Containerfile"
        podman image inspect --format '{{.Id}}' "$BASE_IMAGE"
        case "$1" in
            nats) sha256sum "$CONTEXT/bin/nats-server" "$CONTEXT/infra/nats.conf" ;;
            minio) sha256sum "$CONTEXT/bin/minio" ;;
            jaeger) sha256sum "$CONTEXT/bin/jaeger" "$CONTEXT/infra/jaeger.yaml" ;;
            keycloak) (cd "$CONTEXT/keycloak" && find . -type f -print0 | sort -z | xargs -0 stat -c '%n %s %Y') ;;
            clamav) sha256sum "$CONTEXT/clamav-db"/* "$CONTEXT/infra/clamd.conf" ;;
            sinks) sha256sum "$CONTEXT/sinks"/*.py ;;
            postgres) sha256sum "$CONTEXT/infra/postgres-entrypoint.sh" "$CONTEXT/infra/postgres-settings.conf" ;;
        esac
    } | sha256sum | cut -c1-16
}

build() {
    local server="$1" image="localhost/openguichet/infra-$1:dev" hash started
    # (a stamp, not a label: a build served from podman's layer cache keeps the cached image's labels)
    local stamp="$TOOLS/images/infra-$server.recipe"
    hash="$(recipe "$server")"
    if [[ "$(cat "$stamp" 2>/dev/null)" == "$hash $(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null)" ]]; then
        say "$image is up to date ($hash)"
        return 0
    fi
    started=$(date +%s)
    say "building $image"
    podman build --quiet --target "$server" --build-arg BASE_IMAGE="$BASE_IMAGE" \
        -f "$ROOT/deploy/containers/infra.Containerfile" -t "$image" "$CONTEXT" >/dev/null \
        || die "building $image failed"
    printf '%s %s\n' "$hash" "$(podman image inspect --format '{{.Id}}' "$image")" >"$stamp"
    say "$image built in $(( $(date +%s) - started ))s"
}

t0=$(date +%s)
with_lock infra-images stage
for server in "${SERVERS[@]}"; do
    with_lock infra-images build "$server"
done
say "infrastructure images ready in $(( $(date +%s) - t0 ))s"
