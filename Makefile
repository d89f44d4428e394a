# OpenGuichet: `make up` runs the whole platform, `make test` runs every test against real servers.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT := $(abspath .)
export GUICHET_TOOLS_DIR ?= $(HOME)/.cache/openguichet
UV_HOME := $(GUICHET_TOOLS_DIR)/uv
UV_VERSION := 0.13.8
UV := $(UV_HOME)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(ROOT)/.venv
export UV_CACHE_DIR ?= $(GUICHET_TOOLS_DIR)/uv-cache
PY := $(ROOT)/.venv/bin/python
INFRA_ENV := $(ROOT)/.data/infra.env

.PHONY: help up test infra down migrate proto lint bench venv unit messages web-deps

help:
	@echo "make up      install what is missing, start the infrastructure and every service"
	@echo "make test    install what is missing, start the infrastructure, run every test"
	@echo "make infra   install and start PostgreSQL, NATS, MinIO (KMS), Keycloak, ClamAV, mail and SMS sinks"
	@echo "make down    stop everything started by make infra / make up"
	@echo "make migrate apply every service's Alembic migrations"
	@echo "make proto   regenerate libs/contracts from proto/"
	@echo "make lint    ruff, mypy strict, import-linter, buf lint, stale-stub check, k8s-check"
	@echo "make web-deps  Debian's chromium and the web client's pinned design-system assets"
	@echo "make messages  extract translatable texts into each package's fr/de .po files"
	@echo "make bench   run the benchmarks in bench/ (wrk, ghz; BENCH_PROFILE=1 adds py-spy)"
	@echo "make k8s-check  build deploy/k8s's overlays, validate them offline, run checkov"
	@echo "make image   the project's image (podman, FROM the base made here); make base-image, make test-image"
	@echo "make infra-images  the infrastructure's images; GUICHET_INFRA=containers make infra|up|test runs them with testcontainers"
	@echo "make test-containers  the kit's integration tests and a journey per service on the containers backend"
	@echo "make test-cluster  a NATS cluster of 3 and an erasure-coded MinIO lose a node and a drive under 10,000 operations"

$(UV):
	@echo "==> installing uv $(UV_VERSION) into $(UV_HOME)"
	python3 -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml $(wildcard */pyproject.toml */*/pyproject.toml)
	$(UV) sync --frozen
	@touch $@

venv: .venv/.synced

infra: venv
	@deploy/local/infra/up.sh

down:
	@deploy/local/infra/down.sh

migrate: infra
	@deploy/local/migrate.sh

proto: venv
	@scripts/proto.sh

lint: venv
	@scripts/lint.sh
	@scripts/k8s-check.sh

messages: venv
	@scripts/messages.sh

unit: venv
	$(PY) -m pytest -q -m "not integration" services/*/tests/unit libs/kit/tests/unit

web-deps:
	@scripts/web_deps.sh

# Every test on the local launcher's servers, then the representative part on the containers backend
# (make test-containers, ~5 min; skipped when the whole suite just ran on it).
test: infra web-deps
	@scripts/test.sh
ifneq ($(GUICHET_INFRA),containers)
	@scripts/test_containers.sh
endif

up: migrate web-deps
	@deploy/local/run.sh

bench: infra
	@scripts/bench.sh

# The synthetic registers of authentic data, deterministic per SEED (make seed-registers PERSONS=1000000).
.PHONY: seed-registers
seed-registers: migrate
	@scripts/seed_registers.sh "$(or $(SEED),1)" "$(or $(PERSONS),10000)"

# deploy/k8s: every overlay built, validated against the Kubernetes schemas and checked by checkov.
.PHONY: k8s-check
k8s-check: $(UV)
	@scripts/k8s-check.sh

# Images (deploy/containers): the base made here by debootstrap, the project's image FROM it, and the
# test that runs each role's container against the make infra servers (not part of make test).
.PHONY: base-image image test-image
base-image:
	@scripts/image_base.sh

image: web-deps
	@UV_VERSION=$(UV_VERSION) scripts/image.sh

test-image: image infra
	@scripts/image_test.sh

# The containers backend (issue 14): the infrastructure as images FROM the base (deploy/containers/
# infra.Containerfile), run by testcontainers when GUICHET_INFRA=containers (make infra, make up, make test);
# make test-containers runs the kit's integration tests and one journey per service on it.
.PHONY: infra-images test-containers
infra-images:
	@scripts/infra_images.sh

test-containers: venv
	@scripts/test_containers.sh

# The clustered data plane (issue 13 item 5): a 3-node NATS cluster (JetStream R3) and an
# erasure-coded MinIO over 4 drives of its own, 10,000 operations through the services while a NATS
# node is killed and a drive pulled (not part of make test: several minutes).
.PHONY: test-cluster
test-cluster: infra
	@scripts/test_cluster.sh
