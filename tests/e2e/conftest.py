"""The running stack for journeys: etracking and the gateway as real processes on real servers."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet_kit.grpc_client import insecure_channel, mutual_tls_channel
from guichet_kit.testing import (
    ServiceProcess,
    free_port,
    grpc_serving,
    migrated_database,
    wait_until,
    worker_name,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from stack import Counts, Stack


def etracking_env(
    infra: dict[str, str], database_url: str, grpc_port: int, admin_port: int, public_url: str
) -> dict[str, str]:
    pki = Path(infra["GUICHET_PKI_DIR"])
    return {
        "ETRACKING_ENVIRONMENT": "test",
        "ETRACKING_DATABASE_URL": database_url,
        "ETRACKING_NATS_URL": infra["GUICHET_NATS_URL"],
        "ETRACKING_GRPC_ADDRESS": f"127.0.0.1:{grpc_port}",
        "ETRACKING_ADMIN_GRPC_ADDRESS": f"127.0.0.1:{admin_port}",
        "ETRACKING_TLS_CERTIFICATE": str(pki / "services" / "etracking.crt"),
        "ETRACKING_TLS_PRIVATE_KEY": str(pki / "services" / "etracking.key"),
        "ETRACKING_ADMINISTRATIONS_CA": str(pki / "ca.crt"),
        "ETRACKING_PUBLIC_BASE_URL": public_url,
    }


def gateway_env(infra: dict[str, str], etracking_address: str, port: int, burst: int) -> dict:
    return {
        "GATEWAY_ENVIRONMENT": "test",
        "GATEWAY_PORT": str(port),
        "GATEWAY_ETRACKING_ADDRESS": etracking_address,
        "GATEWAY_LOOKUP_BURST": str(burst),
        "GATEWAY_HEALTH_URLS": json.dumps(
            {
                "keycloak": f"{infra['GUICHET_KEYCLOAK_MANAGEMENT_URL']}/health/ready",
                "nats": f"{infra['GUICHET_NATS_MONITOR_URL']}/healthz?js-enabled-only=true",
                "minio": f"http://{infra['GUICHET_MINIO_ENDPOINT']}/minio/health/live",
            }
        ),
    }


async def start_etracking(
    infra: dict[str, str],
    log_dir: Path,
    database_url: str,
    role: str,
    grpc_port: int,
    admin_port: int,
    name: str,
) -> ServiceProcess:
    process = ServiceProcess(
        name,
        [sys.executable, "-m", "guichet_etracking", role],
        etracking_env(infra, database_url, grpc_port, admin_port, "http://127.0.0.1:8000"),
        log_dir,
    )
    process.start()
    if role == "worker":
        return process
    address = f"127.0.0.1:{grpc_port}"
    await wait_until(lambda: grpc_serving(address), seconds=60, what=name, process=process)
    return process


async def start_gateway(
    infra: dict[str, str], log_dir: Path, etracking_address: str, *, burst: int, name: str
) -> tuple[ServiceProcess, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ServiceProcess(
        name,
        [sys.executable, "-m", "guichet_gateway"],
        gateway_env(infra, etracking_address, port, burst),
        log_dir,
    )
    process.start()

    async def answers() -> bool:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{url}/openapi.json")).status_code == 200

    await wait_until(answers, seconds=60, what=name, process=process)
    return process, url


@pytest.fixture(scope="session")
def log_dir(repo_root: Path) -> Path:
    return repo_root / ".data" / "log" / "tests"


@pytest.fixture(scope="session")
async def etracking_database(infra: dict[str, str], repo_root: Path) -> str:
    return await migrated_database(
        infra, repo_root / "services" / "etracking", f"etracking_e2e_{worker_name()}"
    )


@pytest.fixture(scope="session")
async def stack(
    infra: dict[str, str], log_dir: Path, etracking_database: str
) -> AsyncIterator[Stack]:
    grpc_port, admin_port = free_port(), free_port()
    etracking = await start_etracking(
        infra, log_dir, etracking_database, "all", grpc_port, admin_port, "etracking-e2e"
    )
    etracking_address = f"127.0.0.1:{grpc_port}"
    gateway, url = await start_gateway(
        infra, log_dir, etracking_address, burst=100_000, name="gateway-e2e"
    )
    yield Stack(
        url,
        etracking_address,
        f"127.0.0.1:{admin_port}",
        Path(infra["GUICHET_PKI_DIR"]),
        etracking_database,
    )
    gateway.stop()
    etracking.stop()


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as client:
        yield client


def administration_channel(stack: Stack, code: str, *, ca: str = "") -> grpc.aio.Channel:
    """A back office of administration `code`, with its client certificate."""
    folder = stack.pki / (ca or "administrations")
    return mutual_tls_channel(
        stack.admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(folder / f"{code}.crt").read_bytes(),
        private_key=(folder / f"{code}.key").read_bytes(),
        timeout=10,
    )


@pytest.fixture
async def acd(stack: Stack) -> AsyncIterator[pb_grpc.AdministrationTrackingServiceAsyncStub]:
    async with administration_channel(stack, "acd") as channel:
        yield pb_grpc.AdministrationTrackingServiceStub(channel)


@pytest.fixture
async def ccss(stack: Stack) -> AsyncIterator[pb_grpc.AdministrationTrackingServiceAsyncStub]:
    async with administration_channel(stack, "ccss") as channel:
        yield pb_grpc.AdministrationTrackingServiceStub(channel)


@pytest.fixture
async def internal(stack: Stack) -> AsyncIterator[grpc.aio.Channel]:
    async with insecure_channel(stack.etracking_address, timeout=10) as channel:
        yield channel


@pytest.fixture(scope="session")
async def etracking_db(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(stack.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def counts(etracking_db: AsyncEngine) -> Counts:
    return Counts(etracking_db)
