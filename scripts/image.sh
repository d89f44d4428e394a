#!/usr/bin/env bash
# `make image`: the project's image ($GUICHET_IMAGE, localhost/openguichet/guichet:dev by default) built
# with podman from deploy/containers/Containerfile, FROM the base made here (scripts/image_base.sh).
# The build context is made fresh in .data/image-context: the lock and the manifests (manifests/), and
# the code the roles run (app/) — the files git tracks or would track, plus the web client's fetched
# design-system assets; never tests, .venv or .data. podman's layer cache makes an unchanged rebuild cheap.
source "$(dirname "${BASH_SOURCE[0]}")/image_lib.sh"
cd "$ROOT"
UV_VERSION="${UV_VERSION:-$(sed -n 's/^UV_VERSION := //p' Makefile)}"
CONTEXT="$ROOT/.data/image-context"
VENDOR=gateway/src/guichet_gateway/web/static/vendor

ensure_container_tools
"$ROOT/scripts/image_base.sh"
[[ -f "$VENDOR/.stamp" ]] || die "the web client's assets are missing: run make web-deps (make image does)"

# The workspace's files the roles need: every member but the test kit and the journeys, no tests.
code_files() {
    git ls-files -co --exclude-standard -- pyproject.toml uv.lock libs/kit libs/contracts services gateway \
        | grep -Ev '^(services/[^/]+|gateway|libs/[^/]+)/tests/' \
        | while IFS= read -r f; do [[ -f "$f" ]] && printf '%s\n' "$f"; done
    find "$VENDOR" -type f
}
manifest_files() {
    printf '%s\n' pyproject.toml uv.lock
    git ls-files -co --exclude-standard -- '*/pyproject.toml' | while IFS= read -r f; do [[ -f "$f" ]] && printf '%s\n' "$f"; done
}

started=$(date +%s)
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT/manifests" "$CONTEXT/app"
manifest_files | tar -C "$ROOT" -cf - -T - | tar -C "$CONTEXT/manifests" -xf -
# The journeys' and the test kit's manifests too: uv needs every workspace member to read the lock.
code_files | tar -C "$ROOT" -cf - -T - | tar -C "$CONTEXT/app" -xf -
for member in libs/testkit tests/e2e; do
    mkdir -p "$CONTEXT/app/$member"
    cp "$member/pyproject.toml" "$CONTEXT/app/$member/pyproject.toml"
done

say "building $GUICHET_IMAGE"
# The build reaches PyPI trusting what this host trusts.
HOST_CA="${GUICHET_BUILD_CA_FILE:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
[[ -s "$HOST_CA" ]] || die "no certificate authorities at $HOST_CA (set GUICHET_BUILD_CA_FILE)"
podman build --layers --build-arg "UV_VERSION=$UV_VERSION" --secret "id=host-ca,src=$HOST_CA" \
    --label "org.opencontainers.image.revision=$(git rev-parse HEAD)" \
    -f deploy/containers/Containerfile -t "$GUICHET_IMAGE" "$CONTEXT"
say "$GUICHET_IMAGE built in $(( $(date +%s) - started ))s"
