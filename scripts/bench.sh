#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, driven by native load generators (wrk for HTTP, ghz
# for gRPC) so that the figures measure the servers, not a Python client; each prints its ratios
# against the baselines of the same run.
#   BENCH_DURATION=10     seconds of load per target        BENCH_CONNECTIONS=16
#   BENCH_PROFILE=1       also profile the services under the lookup load (py-spy, .data/bench/)
#   BENCH_ONLY=lookup|auth|dashboard|data|wallet|procedures|messaging  run one benchmark
#   BENCH_REGISTER_PERSONS=1000000  the large register of the authentic-data benchmark
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
GHZ_VERSION=v0.120.0
TOOLS=${GUICHET_TOOLS_DIR:-$HOME/.cache/openguichet}
GHZ="$TOOLS/bin/ghz-$GHZ_VERSION"
if [ ! -x "$GHZ" ]; then
  echo "==> bench: installing ghz $GHZ_VERSION with go install (once)"
  GOBIN="$TOOLS/ghz-build" go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  mkdir -p "$TOOLS/bin" && mv "$TOOLS/ghz-build/ghz" "$GHZ"
fi
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench: wrk is missing; install it (apt-get install wrk) or run as root" >&2
    exit 1
  fi
  echo "==> bench: installing wrk from the distribution (once)"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
BENCH_WRK=$(command -v wrk)
export BENCH_GHZ="$GHZ" BENCH_WRK
mkdir -p .data/bench

# The benchmarks start the services with the journeys' launcher and citizens (tests/e2e).
export PYTHONPATH="$ROOT/tests/e2e:$ROOT/bench${PYTHONPATH:+:$PYTHONPATH}"
case "${BENCH_ONLY:-all}" in
  lookup) benches=(bench/etracking_lookup.py) ;;
  auth) benches=(bench/auth.py) ;;
  dashboard) benches=(bench/dashboard.py) ;;
  wallet) benches=(bench/wallet.py) ;;
  procedures) benches=(bench/procedures.py) ;;
  messaging) benches=(bench/messaging.py) ;;
  data) benches=(bench/authentic_data.py) ;;
  login) benches=(bench/keycloak_login.py) ;;  # Keycloak's CPU per sign-in (docs/SCALING.md)
  seal) benches=(bench/seal_cpu.py) ;;  # CPU per certificate rendered and sealed (docs/SCALING.md)
  all) benches=(bench/etracking_lookup.py bench/auth.py bench/dashboard.py bench/authentic_data.py bench/wallet.py bench/procedures.py bench/messaging.py) ;;
  *) echo "bench: BENCH_ONLY is lookup, auth, dashboard, data, wallet, procedures, messaging or unset, not '$BENCH_ONLY'" >&2; exit 2 ;;
esac
for bench in "${benches[@]}"; do
  echo "==> $bench"
  "$ROOT/.venv/bin/python" "$bench"
done
