"""The containers backend (GUICHET_INFRA=containers): the servers the tests reach are this
checkout's containers, started by testcontainers from the images made here.

Run by `make test-containers` with the journeys it chooses (scripts/test_containers.sh), after
`deploy/local/infra/up.sh` has started the backend; on the local launcher they fail and say so.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PODMAN_ENV = {**os.environ, "CONTAINERS_CONF": str(REPO_ROOT / "deploy/containers/containers.conf")}
CHECKOUT = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]


def port_of(infra: dict[str, str], key: str) -> int:
    value = infra[key]
    address = urlsplit(value if "://" in value else f"tcp://{value}")
    assert address.port is not None, key
    return address.port


@pytest.fixture(scope="module")
def published(infra: dict[str, str]) -> dict[str, dict[int, str]]:
    """Each running server of this checkout: host port → the address it is published on."""
    assert infra.get("GUICHET_INFRA") == "containers", (
        "these tests check the containers backend: run them through make test-containers"
    )
    listing = subprocess.run(
        ["podman", "ps", "--format=json", f"--filter=label=org.openguichet.checkout={CHECKOUT}"],
        env=PODMAN_ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    servers: dict[str, dict[int, str]] = {}
    for container in json.loads(listing.stdout):
        assert container["State"] == "running", container["Names"]
        server = container["Labels"]["org.openguichet.server"]
        servers[server] = {p["host_port"]: p["host_ip"] for p in container["Ports"] or []}
    return servers


@pytest.mark.parametrize(
    ("server", "key"),
    [
        ("postgres", "GUICHET_PG_PORT"),
        ("nats", "GUICHET_NATS_URL"),
        ("minio", "GUICHET_MINIO_ENDPOINT"),
        ("keycloak", "GUICHET_KEYCLOAK_URL"),
        ("keycloak", "GUICHET_KEYCLOAK_HTTPS_URL"),
        ("clamav", "GUICHET_CLAMAV_ADDRESS"),
        ("smtp-sink", "GUICHET_SMTP_PORT"),
        ("sms-sink", "GUICHET_SMS_URL"),
        ("jaeger", "GUICHET_OTLP_ENDPOINT"),
    ],
)
def test_each_setting_names_a_port_of_this_checkouts_container(
    published: dict[str, dict[int, str]], infra: dict[str, str], server: str, key: str
) -> None:
    port = int(infra[key]) if key.endswith("_PORT") else port_of(infra, key)
    assert server in published, f"no running {server} container of this checkout"
    # published on the loopback only: the development secrets protect nothing else
    assert published[server].get(port) == "127.0.0.1"


def test_an_unknown_backend_is_refused_before_anything_changes(tmp_path: Path) -> None:
    settings = REPO_ROOT / ".data" / "infra.env"
    before = settings.read_bytes()
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "deploy/local/infra/up.sh")],
        env={**os.environ, "GUICHET_INFRA": "docker"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert 'GUICHET_INFRA is local (the default) or containers, not "docker"' in result.stderr
    assert settings.read_bytes() == before
