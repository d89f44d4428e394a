# shellcheck shell=bash
# Shared by scripts/image*.sh: podman, runc and debootstrap from Debian's packages when missing, and
# podman run with the project's own containers.conf (no default ulimits, the runc runtime).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${GUICHET_TOOLS_DIR:-$HOME/.cache/openguichet}"
export CONTAINERS_CONF="$ROOT/deploy/containers/containers.conf"
# The project's image: one for every role (the command picks the service and the role).
GUICHET_IMAGE="${GUICHET_IMAGE:-localhost/openguichet/guichet:dev}"
# Where the image's recipe hash is kept (a label), so that an unchanged recipe is never rebuilt.
RECIPE_LABEL=org.openguichet.recipe

say() { printf '==> %s\n' "$*"; }
die() { printf '==> ERROR: %s\n' "$*" >&2; exit 1; }

ensure_container_tools() {
    local missing=() tool
    for tool in podman runc debootstrap; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    (( ${#missing[@]} == 0 )) && return 0
    say "installing Debian's ${missing[*]}"
    local sudo=""
    (( EUID == 0 )) || sudo=sudo
    $sudo apt-get install -y -q "${missing[@]}" || {
        $sudo apt-get update -q && $sudo apt-get install -y -q "${missing[@]}"
    }
}

# with_lock NAME CMD...: one build of NAME at a time on this machine (the tools cache is shared).
with_lock() {
    local name="$1"; shift
    mkdir -p "$TOOLS/locks"
    (
        flock 9
        "$@"
    ) 9>"$TOOLS/locks/$name.lock"
}

# image_label IMAGE LABEL: the label's value, or nothing when the image or the label is missing.
image_label() {
    podman image inspect --format "{{index .Labels \"$2\"}}" "$1" 2>/dev/null | sed 's/^<no value>$//' || true
}
