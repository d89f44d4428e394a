#!/usr/bin/env bash
# Development PKI of OpenGuichet: CAs, server and client certificates under .data/pki/ (never in the repo).
# Idempotent: existing keys and certificates are kept; a certificate is re-issued only when it is missing,
# no longer verifies against its CA, or expires within 30 days.
#
#   .data/pki/ca.crt|key                          platform CA (signs the services' certificates)
#   .data/pki/administrations/ca.crt|key          administrations CA (signs only back offices' client
#                                                 certs, so a service cert is no administration)
#   .data/pki/services/<name>.crt|key             server certs, SAN localhost, 127.0.0.1, <name>
#   .data/pki/administrations/<code>.crt|key      client certs of test administrations (CN = code)
#   .data/pki/rogue/ca.crt|key, rogue/acd.crt|key another CA's client cert for "acd" (must be refused)
#   .data/pki/national/ca.crt|key                 national test CA for citizens' eID certificates
#   .data/pki/seal/platform-seal.crt|key          the platform's seal (PAdES signatures of issued
#                                                 documents), signed by the platform CA, RSA 3072
#
# Usage: deploy/pki/dev-pki.sh [PKI_DIR]   (default: <checkout>/.data/pki)
#        deploy/pki/dev-pki.sh citizen NATIONAL_ID "NAME" [OUT_DIR]
#            a citizen's eID-style client certificate (subject CN=NAME, serialNumber=NATIONAL_ID, C=LU,
#            clientAuth, 30 days) signed by the national test CA, for X.509 login at level "high"
#            (OUT_DIR default .data/pki/citizens; tests use guichet_testkit.pki instead)
set -euo pipefail

if [[ "${1:-}" == citizen ]]; then
    [[ $# -ge 3 && "$2" =~ ^[0-9]{13}$ ]] || { echo "usage: $0 citizen NATIONAL_ID(13 digits) NAME [OUT_DIR]" >&2; exit 2; }
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    national="${GUICHET_PKI_DIR:-$root/.data/pki}/national"
    out="${4:-${GUICHET_PKI_DIR:-$root/.data/pki}/citizens}"
    mkdir -p "$out"
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/citizen-$2.key" 2>/dev/null)
    openssl req -new -key "$out/citizen-$2.key" -subj "/C=LU/serialNumber=$2/CN=$3" -out "$out/citizen-$2.csr"
    openssl x509 -req -in "$out/citizen-$2.csr" -CA "$national/ca.crt" -CAkey "$national/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days 30 -sha256 -out "$out/citizen-$2.crt" 2>/dev/null \
        -extfile <(printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
            "extendedKeyUsage = clientAuth" "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid")
    rm -f "$out/citizen-$2.csr"
    echo "$out/citizen-$2.crt $out/citizen-$2.key"
    exit 0
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PKI="${1:-${GUICHET_PKI_DIR:-$ROOT/.data/pki}}"

SERVICES=(etracking identity procedures wallet messaging authentic-data gateway keycloak)
ADMINISTRATIONS=(acd ccss snca cae commune aed justice cedies)
ORG="OpenGuichet development"
ADMIN_ORG="OpenGuichet development administrations"
CA_DAYS=3650
LEAF_DAYS=825

mkdir -p "$PKI"/{services,administrations,rogue,national,seal}
chmod 755 "$PKI" "$PKI"/{services,administrations,rogue,national,seal}
umask 077

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
created=0

newkey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"${2:-2048}" -out "$1.tmp" 2>/dev/null && mv "$1.tmp" "$1"; }
serial() { printf '0x%s' "$(openssl rand -hex 16)"; }

# ca DIR CN: self-signed CA (DIR/ca.key, DIR/ca.crt)
ca() {
    local dir="$1" cn="$2"
    if [[ -s "$dir/ca.key" && -s "$dir/ca.crt" ]] && openssl x509 -checkend 2592000 -noout -in "$dir/ca.crt" >/dev/null; then
        return 0
    fi
    [[ -s "$dir/ca.key" ]] || newkey "$dir/ca.key" 3072
    cat >"$TMP/ca.ext" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
O = $ORG
CN = $cn
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
    openssl req -new -x509 -key "$dir/ca.key" -config "$TMP/ca.ext" -extensions v3_ca \
        -days "$CA_DAYS" -set_serial "$(serial)" -sha256 -out "$dir/ca.crt.tmp"
    mv "$dir/ca.crt.tmp" "$dir/ca.crt"
    chmod 644 "$dir/ca.crt"
    created=$((created + 1))
}

# leaf CADIR OUT SUBJECT EXTENSIONS: key OUT.key + certificate OUT.crt signed by CADIR/ca
leaf() {
    local cadir="$1" out="$2" subj="$3" ext="$4"
    if [[ -s "$out.key" && -s "$out.crt" ]] \
        && openssl verify -CAfile "$cadir/ca.crt" "$out.crt" >/dev/null 2>&1 \
        && openssl x509 -checkend 2592000 -noout -in "$out.crt" >/dev/null; then
        return 0
    fi
    [[ -s "$out.key" ]] || newkey "$out.key"
    printf '%s\n' "$ext" >"$TMP/leaf.ext"
    openssl req -new -key "$out.key" -subj "$subj" -out "$TMP/leaf.csr"
    openssl x509 -req -in "$TMP/leaf.csr" -CA "$cadir/ca.crt" -CAkey "$cadir/ca.key" \
        -set_serial "$(serial)" -days "$LEAF_DAYS" -sha256 -extfile "$TMP/leaf.ext" -out "$out.crt.tmp" 2>/dev/null
    mv "$out.crt.tmp" "$out.crt"
    chmod 644 "$out.crt"
    chmod 600 "$out.key"
    created=$((created + 1))
}

ca "$PKI" "OpenGuichet development platform CA"
ca "$PKI/administrations" "OpenGuichet development administrations CA"
ca "$PKI/rogue" "Rogue development CA (not trusted by OpenGuichet)"
ca "$PKI/national" "OpenGuichet development national eID test CA"

for name in "${SERVICES[@]}"; do
    leaf "$PKI" "$PKI/services/$name" "/O=$ORG/CN=$name" "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:$name
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid"
done

client_ext="basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid"

for code in "${ADMINISTRATIONS[@]}"; do
    leaf "$PKI/administrations" "$PKI/administrations/$code" "/O=$ADMIN_ORG/CN=$code" "$client_ext"
done
leaf "$PKI/rogue" "$PKI/rogue/acd" "/O=$ADMIN_ORG/CN=acd" "$client_ext"

# The platform seal: document signing only (no TLS), non-repudiation as a seal of authenticity requires.
# Extended key usages: documentSigning (RFC 9336) and Microsoft's document signing (accepted by PDF readers).
[[ -s "$PKI/seal/platform-seal.key" ]] || newkey "$PKI/seal/platform-seal.key" 3072
leaf "$PKI" "$PKI/seal/platform-seal" "/O=$ORG/CN=OpenGuichet platform seal" "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = 1.3.6.1.5.5.7.3.36, 1.3.6.1.4.1.311.10.3.12
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid"

# Keys must be readable by the services (run by the same user); CA keys stay private to that user.
chmod 600 "$PKI"/ca.key "$PKI"/administrations/ca.key "$PKI"/rogue/ca.key "$PKI"/national/ca.key

if (( created > 0 )); then
    echo "==> pki: issued $created certificate(s) in $PKI"
else
    echo "==> pki: up to date in $PKI"
fi
