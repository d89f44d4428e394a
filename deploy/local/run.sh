#!/usr/bin/env bash
# `make up`: every process of the platform in the foreground (honcho); Ctrl-C stops them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=deploy/local/env.sh
. "$ROOT/deploy/local/env.sh"
GRPCURL=$("$ROOT/deploy/local/grpcurl.sh")
cat <<MSG

  OpenGuichet is starting.
    web client:             $GATEWAY_URL/   (open it in a browser: register, sign in, my space; fr/de/en)
    gateway (public API):   $GATEWAY_URL        (OpenAPI: $GATEWAY_URL/docs, health: $GATEWAY_URL/healthz)
    etracking gRPC:         $ETRACKING_GRPC_ADDRESS   (administrations, mutual TLS: $ETRACKING_ADMIN_GRPC_ADDRESS)
    identity gRPC:          $IDENTITY_GRPC_ADDRESS
    wallet gRPC:            $WALLET_GRPC_ADDRESS   (platform services, mutual TLS: $WALLET_SERVICES_GRPC_ADDRESS)
    procedures gRPC:        $PROCEDURES_GRPC_ADDRESS  (administrations, mutual TLS: $PROCEDURES_ADMIN_GRPC_ADDRESS)
    messaging gRPC:         $MESSAGING_GRPC_ADDRESS  (administrations, mutual TLS: $MESSAGING_ADMIN_GRPC_ADDRESS)
    authentic data gRPC:    $AUTHENTIC_DATA_GRPC_ADDRESS   (mutual TLS: $AUTHENTIC_DATA_MTLS_GRPC_ADDRESS; registers: make seed-registers)
    Keycloak (sign-in):     $GUICHET_KEYCLOAK_HTTPS_URL/realms/guichet/account   (CA: $GUICHET_CA_FILE)
    mail sink:              $GUICHET_MAIL_DIR
    SMS sink:               $GUICHET_SMS_URL/messages   (files: $GUICHET_SMS_DIR)
    grpcurl:                $GRPCURL   (reflection: $GRPCURL -plaintext $ETRACKING_GRPC_ADDRESS list)
  Ctrl-C stops the services; 'make down' stops the infrastructure too.

MSG
# Procedures as code: the catalogue's new versions are published before the services start.
"$ROOT/.venv/bin/python" -m guichet_procedures publish
exec "$ROOT/.venv/bin/honcho" -d "$ROOT" -f "$ROOT/deploy/local/Procfile" start
