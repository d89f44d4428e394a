#!/usr/bin/env bash
# `make base-image`: localhost/guichet-base, a Debian root filesystem made here by debootstrap from the
# recipe deploy/containers/base.recipe (pinned suite), imported into podman. No image is ever pulled.
# The recipe's hash is the image's label and the name of the root filesystem's tarball in the tools
# cache: an unchanged recipe costs nothing, a podman storage wiped re-imports the cached tarball.
source "$(dirname "${BASH_SOURCE[0]}")/image_lib.sh"
RECIPE="$ROOT/deploy/containers/base.recipe"
# shellcheck source=deploy/containers/base.recipe
source "$RECIPE"

build_base() {
    local hash tarball rootfs started
    hash="$(sha256sum "$RECIPE" | cut -c1-16)"
    if [[ "$(image_label "$BASE_IMAGE" "$RECIPE_LABEL")" == "$hash" ]]; then
        say "$BASE_IMAGE is up to date (recipe $hash)"
        return 0
    fi
    tarball="$TOOLS/images/guichet-base-$BASE_SUITE-$hash.tar"
    started=$(date +%s)
    if [[ ! -s "$tarball" ]]; then
        say "debootstrap --variant=$BASE_VARIANT $BASE_SUITE (recipe $hash)"
        mkdir -p "$TOOLS/images"
        rootfs="$(mktemp -d "$TOOLS/images/rootfs.XXXXXX")"
        trap 'rm -rf "$rootfs" "$tarball.tmp"' EXIT
        debootstrap --variant="$BASE_VARIANT" --include="$BASE_INCLUDE" "$BASE_SUITE" "$rootfs" "$BASE_MIRROR" \
            >"$TOOLS/images/debootstrap.log" 2>&1 \
            || { tail -n 30 "$TOOLS/images/debootstrap.log" >&2; die "debootstrap failed (log: $TOOLS/images/debootstrap.log)"; }
        base_customise "$rootfs"
        # Sorted names and fixed owners: the same root filesystem gives the same tarball.
        tar -C "$rootfs" --sort=name --numeric-owner -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
        trap - EXIT
        # Earlier recipes' tarballs are of no use any more.
        find "$TOOLS/images" -maxdepth 1 -name "guichet-base-*.tar" ! -name "$(basename "$tarball")" -delete
    fi
    say "importing $BASE_IMAGE"
    podman import \
        --change "LABEL $RECIPE_LABEL=$hash" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        "$tarball" "$BASE_IMAGE" >/dev/null
    say "$BASE_IMAGE built in $(( $(date +%s) - started ))s (recipe $hash)"
}

ensure_container_tools
with_lock image-base build_base
