#!/usr/bin/env bash
# `make lint`: ruff (lint + format), mypy strict, import-linter, buf lint, and a check that
# generated stubs are fresh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUF_VERSION=v1.75.0
TOOLS=${GUICHET_TOOLS_DIR:-$HOME/.cache/openguichet}
BUF="$TOOLS/bin/buf-$BUF_VERSION"
if [ ! -x "$BUF" ]; then
  echo "==> lint: installing buf $BUF_VERSION with go install (once)"
  GOBIN="$TOOLS/buf-build" go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
  mkdir -p "$TOOLS/bin" && mv "$TOOLS/buf-build/buf" "$BUF"
fi

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy -p guichet_kit -p guichet_testkit -p guichet_etracking -p guichet_identity -p guichet_gateway -p guichet_wallet -p guichet_authentic_data -p guichet_procedures -p guichet_messaging
echo "==> import-linter (architecture rules in .importlinter)"
.venv/bin/lint-imports --no-cache
echo "==> buf lint"
(cd proto && "$BUF" lint)
echo "==> generated stubs are fresh"
before=$(mktemp -d)
cp -r libs/contracts/src "$before/"
scripts/proto.sh >/dev/null 2>&1
if ! diff -r "$before/src" libs/contracts/src >/dev/null; then
  diff -r "$before/src" libs/contracts/src | head -20
  echo "libs/contracts is stale: run 'make proto' and commit the result" >&2
  rm -rf "$before"; exit 1
fi
rm -rf "$before"
echo "lint clean"
