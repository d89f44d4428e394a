#!/usr/bin/env bash
# `make messages`: extract every translatable text (`_()`, `N_()`, and in the web templates
# `{{ _() }}` and `{% trans %}`, as babel.cfg says) of each package into its
# catalogue and update the French and German .po files (English is the message ids themselves).
# New texts arrive untranslated: fill their msgstr; a test fails while one is missing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PYBABEL=.venv/bin/pybabel
packages=("$@")
[[ ${#packages[@]} -gt 0 ]] || packages=(libs/kit/src/guichet_kit services/*/src/guichet_* gateway/src/guichet_gateway)
for package in "${packages[@]}"; do
    [[ -d "$package" ]] || continue
    locale="$package/locale"
    pot=$(mktemp --suffix=.pot)
    "$PYBABEL" -q extract --no-location --omit-header --sort-output -F babel.cfg \
        -k _ -k N_ -o "$pot" "$package"
    for language in fr de; do
        po="$locale/$language/LC_MESSAGES/messages.po"
        if [[ -f "$po" ]]; then
            "$PYBABEL" -q update --no-fuzzy-matching --ignore-obsolete --width 100 \
                -i "$pot" -o "$po" -l "$language"
        else
            "$PYBABEL" -q init --width 100 -i "$pot" -o "$po" -l "$language"
        fi
    done
    rm -f "$pot"
done
