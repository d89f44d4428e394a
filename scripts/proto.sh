#!/usr/bin/env bash
# Regenerates libs/contracts/src from proto/: messages (*_pb2.py + .pyi) and gRPC stubs
# (*_pb2_grpc.py + .pyi). The output is checked in; `make lint` fails when it is stale.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/libs/contracts/src"
cd "$root"
find "$out/guichet" -name '*_pb2*.py*' -delete
mapfile -t files < <(cd proto && find guichet -name '*.proto' | sort)
(cd proto && "$root/.venv/bin/python" -m grpc_tools.protoc -I . \
  --plugin=protoc-gen-mypy="$root/.venv/bin/protoc-gen-mypy" \
  --plugin=protoc-gen-mypy_grpc="$root/.venv/bin/protoc-gen-mypy_grpc" \
  --python_out="$out" --mypy_out="$out" --grpc_python_out="$out" --mypy_grpc_out="$out" \
  "${files[@]}")
# Namespace packages need no __init__.py; py.typed marks the stubs as typed for mypy.
touch "$out/guichet/py.typed"
echo "generated $(find "$out/guichet" -name '*_pb2*.py' | wc -l) modules into libs/contracts/src"
