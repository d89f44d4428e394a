#!/usr/bin/env bash
# `make web-deps`: what the web client and its browser tests need, installed when missing.
# - Debian's Chromium for the browser tests (never a browser downloaded by a test tool);
# - the design system's compiled assets from the pinned npm tarballs of gateway/web-assets.lock,
#   checked against their sha512, cached in $GUICHET_TOOLS_DIR/npm and unpacked into the
#   git-ignored folder the gateway serves. A stamp holding the lock's hash makes a rerun free.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TOOLS=${GUICHET_TOOLS_DIR:-$HOME/.cache/openguichet}
# The overrides exist for the script's own test (another lock, folder or registry).
LOCK=${WEB_ASSETS_LOCK:-gateway/web-assets.lock}
VENDOR=${WEB_ASSETS_DIR:-gateway/src/guichet_gateway/web/static/vendor}
REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}
STAMP="$VENDOR/.stamp"

if ! command -v chromium >/dev/null; then
    echo "==> installing Debian's chromium"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get install -y -q chromium || {
        $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium
    }
fi

wanted=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [[ -f "$STAMP" && $(cat "$STAMP") == "$wanted" ]]; then
    exit 0
fi

mkdir -p "$TOOLS/npm" "$(dirname "$VENDOR")"
# Unpacked beside the served folder and swapped in only when every package checked out:
# a refused tarball leaves the assets as they were.
NEXT=$(mktemp -d "$VENDOR.next.XXXXXX")
trap 'rm -rf "$NEXT"' EXIT
while read -r name version integrity; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    base=${name##*/}
    tarball="$TOOLS/npm/$base-$version.tgz"
    expected=${integrity#sha512-}
    if [[ ! -f "$tarball" ]] || [[ $(openssl dgst -sha512 -binary "$tarball" | base64 -w0) != "$expected" ]]; then
        echo "==> fetching $name $version"
        curl -fsSL --retry 3 -o "$tarball.part" "$REGISTRY/$name/-/$base-$version.tgz"
        actual=$(openssl dgst -sha512 -binary "$tarball.part" | base64 -w0)
        if [[ "$actual" != "$expected" ]]; then
            rm -f "$tarball.part"
            echo "web-deps: $name $version does not match its sha512 in $LOCK" >&2
            exit 1
        fi
        mv "$tarball.part" "$tarball"
    fi
    case "$name" in
    @uswds/uswds)
        # Only what pages use: the compiled CSS and JS, the fonts the CSS names, and the icons
        # without the large icon sprite set or any national branding (banner, flag, .gov).
        target="$NEXT/uswds"
        mkdir -p "$target"
        tar -xzf "$tarball" -C "$target" --strip-components=2 \
            --wildcards 'package/dist/css/uswds.min.css' 'package/dist/js/uswds.min.js' \
            'package/dist/js/uswds-init.min.js' 'package/dist/fonts/merriweather/*.woff2' \
            'package/dist/fonts/roboto-mono/*.woff2' 'package/dist/fonts/source-sans-pro/*.woff2' \
            'package/dist/img/*' --exclude='package/dist/img/favicons' \
            --exclude='package/dist/img/material-icons*' --exclude='package/dist/img/usa-banner*' \
            --exclude='package/dist/img/us_flag*' --exclude='package/dist/img/icon-dot-gov*'
        ;;
    altcha)
        # The anti-robot widget's build for a strict CSP (its styles a file, no inline worker),
        # the one proof-of-work worker the gateway's challenges need, French and German texts.
        target="$NEXT/altcha"
        mkdir -p "$target"
        tar -xzf "$tarball" -C "$target" --strip-components=2 \
            'package/dist/external/altcha.min.js' 'package/dist/external/altcha.css' \
            'package/dist/workers/pbkdf2.js' 'package/dist/i18n/fr-fr.js' 'package/dist/i18n/de.js'
        tar -xzf "$tarball" -C "$target" --strip-components=1 'package/LICENSE.txt'
        ;;
    *)
        echo "web-deps: no unpacking rule for $name" >&2
        exit 1
        ;;
    esac
done <"$LOCK"
echo "$wanted" >"$NEXT/.stamp"
chmod 755 "$NEXT"
rm -rf "$VENDOR"
mv "$NEXT" "$VENDOR"
echo "==> web assets ready in $VENDOR"
