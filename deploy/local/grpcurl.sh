#!/usr/bin/env bash
# Installs grpcurl (pinned, with go install) into the tools cache for trying the gRPC APIs by hand;
# prints its path. Run by `make up`; tests use Python clients and do not need it.
set -euo pipefail
VERSION=v1.9.3
TOOLS=${GUICHET_TOOLS_DIR:-$HOME/.cache/openguichet}
BIN="$TOOLS/bin/grpcurl-$VERSION"
if [ ! -x "$BIN" ]; then
  echo "==> grpcurl: installing $VERSION with go install (once)" >&2
  GOBIN="$TOOLS/grpcurl-build" go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$VERSION" >&2
  mkdir -p "$TOOLS/bin"
  mv "$TOOLS/grpcurl-build/grpcurl" "$BIN"
fi
ln -sf "$BIN" "$TOOLS/bin/grpcurl"
echo "$TOOLS/bin/grpcurl"
