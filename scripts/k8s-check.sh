#!/usr/bin/env bash
# `make k8s-check`: builds every overlay of deploy/k8s with kustomize, validates each rendered
# manifest offline against the Kubernetes schemas shipped by kubernetes-validate, and runs checkov's
# Kubernetes checks on it (0 findings; each skipped check carries its reason in the manifest that
# skips it). The tools are pinned and installed once into the per-user tools cache: kustomize with
# `go install`, kubernetes-validate and checkov into their own virtualenv (not the project's lock).
#   K8S_CHECK_INSTALL_ONLY=1  only install the tools
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
KUSTOMIZE_VERSION=v5.8.1
KUBERNETES_VALIDATE_VERSION=1.37.0
CHECKOV_VERSION=3.3.30
# The Kubernetes release the manifests are validated against (a schema kubernetes-validate ships).
K8S_VERSION=1.34.0
# Transitive dependencies of the tools' virtualenv resolve as they were on this day, so a rebuilt
# cache gets the same packages.
TOOLS_EXCLUDE_NEWER=2026-11-20T00:00:00Z
TOOLS=${GUICHET_TOOLS_DIR:-$HOME/.cache/openguichet}
KUSTOMIZE="$TOOLS/bin/kustomize-$KUSTOMIZE_VERSION"
K8S_VENV="$TOOLS/k8s-check-venv-kv$KUBERNETES_VALIDATE_VERSION-checkov$CHECKOV_VERSION"
mkdir -p "$TOOLS/locks" "$TOOLS/bin"

install_tools() {
  if [ ! -x "$KUSTOMIZE" ]; then
    echo "==> k8s-check: installing kustomize $KUSTOMIZE_VERSION with go install (once)"
    rm -rf "$TOOLS/kustomize-build"
    GOBIN="$TOOLS/kustomize-build" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
    mv "$TOOLS/kustomize-build/kustomize" "$KUSTOMIZE"
  fi
  if [ ! -f "$K8S_VENV/.installed" ]; then
    echo "==> k8s-check: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION and checkov $CHECKOV_VERSION into $K8S_VENV (once)"
    rm -rf "$K8S_VENV"
    # uv (installed by the Makefile into the same cache) resolves and installs in seconds.
    local uv="$TOOLS/uv/bin/uv"
    [ -x "$uv" ] || { echo "k8s-check: $uv is missing: run 'make k8s-check'" >&2; exit 1; }
    export UV_CACHE_DIR=${UV_CACHE_DIR:-$TOOLS/uv-cache} UV_PYTHON_DOWNLOADS=never
    "$uv" venv --quiet --python python3 "$K8S_VENV"
    "$uv" pip install --quiet --python "$K8S_VENV/bin/python" --exclude-newer "$TOOLS_EXCLUDE_NEWER" \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "checkov==$CHECKOV_VERSION"
    touch "$K8S_VENV/.installed"
  fi
}
# Serialised: two clones of one machine share the cache.
(
  flock 9
  install_tools
) 9>"$TOOLS/locks/k8s-check.lock"
[ "${K8S_CHECK_INSTALL_ONLY:-}" = 1 ] && exit 0

KUSTOMIZE_DIR=deploy/k8s
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
failed=0
# Every service of the workspace is deployed: its folder in the base, listed there.
for service in services/*/; do
  name=$(basename "$service")
  if [ ! -f "$KUSTOMIZE_DIR/base/$name/kustomization.yaml" ] \
      || ! grep -qx "  - $name" "$KUSTOMIZE_DIR/base/kustomization.yaml"; then
    echo "k8s-check: services/$name has no deploy/k8s/base/$name listed in deploy/k8s/base/kustomization.yaml" >&2
    failed=1
  fi
done
# Calls between services are balanced per call: each service's Service is headless and every
# caller names it dns:///<service>:<port> (round_robin over the pods; docs/OPERATIONS.md).
services_pattern=$(for s in services/*/; do basename "$s"; done | paste -sd'|')
for service in services/*/; do
  name=$(basename "$service")
  if ! grep -q '^  clusterIP: None$' "$KUSTOMIZE_DIR/base/$name/service.yaml" 2>/dev/null; then
    echo "k8s-check: deploy/k8s/base/$name/service.yaml is not headless (clusterIP: None)" >&2
    failed=1
  fi
done
if grep -nE "_ADDRESS=($services_pattern):[0-9]+$" "$KUSTOMIZE_DIR"/base/*/settings.env >&2; then
  echo "k8s-check: the addresses above call a service without dns:/// (no per-call balancing)" >&2
  failed=1
fi
for overlay in "$KUSTOMIZE_DIR"/overlays/*/; do
  name=$(basename "$overlay")
  mkdir -p "$OUT/$name"
  echo "==> k8s-check: kustomize build $overlay"
  "$KUSTOMIZE" build "$overlay" >"$OUT/$name/manifests.yaml"
  resources=$(grep -c '^kind:' "$OUT/$name/manifests.yaml")
  # Every resource is checked against the schema of its kind (strict: no unknown field); a kind
  # without a schema (a custom resource) is refused too, so that nothing goes unchecked: each
  # resource must have its own "passed" line.
  echo "==> k8s-check: kubernetes-validate (Kubernetes $K8S_VERSION, strict) $name: $resources resources"
  "$K8S_VENV/bin/kubernetes-validate" --strict -k "$K8S_VERSION" "$OUT/$name/manifests.yaml" \
    >"$OUT/$name/validate.log" 2>&1 || true
  passed=$(grep -c '^INFO .* passed for resource' "$OUT/$name/validate.log" || true)
  if [ "$passed" != "$resources" ]; then
    grep -v '^INFO ' "$OUT/$name/validate.log" >&2 || true
    echo "k8s-check: $name: $passed of $resources resources validated" >&2
    failed=1
  fi
done
# checkov offline (no download of its online guidelines): every rendered overlay at once, the
# skipped checks and their reasons in deploy/k8s/checkov.yaml.
echo "==> k8s-check: checkov (Kubernetes checks)"
if ! CKV_SKIP_PACKAGE_UPDATE_CHECK=true "$K8S_VENV/bin/checkov" --config-file "$KUSTOMIZE_DIR/checkov.yaml" --directory "$OUT" \
    >"$OUT/checkov.log" 2>&1; then
  cat "$OUT/checkov.log" >&2
  failed=1
elif ! grep -q -E '^Passed checks: [1-9]' "$OUT/checkov.log"; then
  # A run that checked nothing (no manifest found, a broken install) is no pass.
  cat "$OUT/checkov.log" >&2
  echo "k8s-check: checkov ran no check" >&2
  failed=1
else
  grep -E '^(Passed|Failed) checks' "$OUT/checkov.log" | sed 's/^/    /'
fi
if [ "$failed" != 0 ]; then
  echo "k8s-check: failed" >&2
  exit 1
fi
echo "k8s-check clean"
