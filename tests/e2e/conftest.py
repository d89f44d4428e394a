"""The running stack for journeys: identity, etracking and the gateway as real processes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from citizens import registers_database
from launcher import Launcher
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from stack import Counts, Stack

from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet_kit.grpc_client import insecure_channel, mutual_tls_channel
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database
from guichet_testkit.processes import free_port


@pytest.fixture(scope="session")
def log_dir(repo_root: Path) -> Path:
    return repo_root / ".data" / "log" / "tests"


@pytest.fixture(scope="session")
async def etracking_database(infra: dict[str, str], repo_root: Path) -> str:
    return await migrated_database(
        infra, repo_root / "services" / "etracking", f"etracking_e2e_{worker_name()}"
    )


@pytest.fixture(scope="session")
async def identity_database(infra: dict[str, str], repo_root: Path) -> str:
    return await migrated_database(
        infra, repo_root / "services" / "identity", f"identity_e2e_{worker_name()}"
    )


@pytest.fixture(scope="session")
async def authentic_data_database(infra: dict[str, str], repo_root: Path) -> str:
    return await migrated_database(
        infra, repo_root / "services" / "authentic-data", registers_database()
    )


@pytest.fixture(scope="session")
async def wallet_database(infra: dict[str, str], repo_root: Path) -> str:
    return await migrated_database(
        infra, repo_root / "services" / "wallet", f"wallet_e2e_{worker_name()}"
    )


@pytest.fixture(scope="session")
async def procedures_database(infra: dict[str, str], repo_root: Path) -> str:
    return await migrated_database(
        infra, repo_root / "services" / "procedures", f"procedures_e2e_{worker_name()}"
    )


@pytest.fixture(scope="session")
async def messaging_database(infra: dict[str, str], repo_root: Path) -> str:
    return await migrated_database(
        infra, repo_root / "services" / "messaging", f"messaging_stack_e2e_{worker_name()}"
    )


@pytest.fixture(scope="session")
def wallet_bucket_prefix() -> str:
    """The stack's wallet buckets, one set per worker (tests compare objects before and after)."""
    return f"we2e-{re.sub(r'[^a-z0-9]', '', worker_name().lower())[:12]}"


@pytest.fixture(scope="session")
def launcher(infra: dict[str, str], log_dir: Path) -> Launcher:
    return Launcher(infra, log_dir)


@pytest.fixture(scope="session")
async def stack(
    launcher: Launcher,
    infra: dict[str, str],
    etracking_database: str,
    identity_database: str,
    authentic_data_database: str,
    wallet_database: str,
    wallet_bucket_prefix: str,
    procedures_database: str,
    messaging_database: str,
) -> AsyncIterator[Stack]:
    # Authentic data and identity call each other: identity's address is chosen first.
    launcher.identity_address = f"127.0.0.1:{free_port()}"
    data = await launcher.authentic_data(authentic_data_database, name="authentic-data-e2e")
    identity = await launcher.identity(
        identity_database, name="identity-e2e", address=launcher.identity_address
    )
    # Before the gateway, which calls it; its worker confirms identity's account purges.
    wallet = await launcher.wallet(wallet_database, wallet_bucket_prefix, name="wallet-e2e")
    etracking = await launcher.etracking(etracking_database, name="etracking-e2e")
    procedures = await launcher.procedures(procedures_database, name="procedures-e2e")
    # The notification centre's reads only: no consumers of the shared streams here (the
    # notifications' journeys start a whole messaging of their own).
    messaging = await launcher.messaging(messaging_database, role="grpc", name="messaging-e2e")
    launcher.messaging_address = messaging.address
    gateway = await launcher.gateway(etracking.address, burst=100_000, name="gateway-e2e")
    yield Stack(
        gateway.address,
        etracking.address,
        etracking.admin_address,
        Path(infra["GUICHET_PKI_DIR"]),
        etracking_database,
        identity.address,
        identity_database,
        data.address,
        data.admin_address,
        authentic_data_database,
        procedures.address,
        procedures.admin_address,
        procedures_database,
        messaging_admin_address=messaging.admin_address,
    )
    for started in (gateway, messaging, procedures, etracking, wallet, identity, data):
        started.process.stop()


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
