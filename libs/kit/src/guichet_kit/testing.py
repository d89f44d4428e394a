"""Pytest fixtures on the real servers of `make infra`: load with `pytest_plugins`.

Each xdist worker gets its own database per service (created fresh and migrated once per
session); streams are purged between tests so one test's events never reach another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from guichet_kit.events import connect
from guichet_kit.infra import find_root, postgres_url, read_infra_env


def worker_name() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


async def recreate_database(env: dict[str, str], name: str) -> None:
    admin = await asyncpg.connect(
        host=env["GUICHET_PG_HOST"],
        port=int(env["GUICHET_PG_PORT"]),
        user=env["GUICHET_PG_USER"],
        password=env["GUICHET_PG_PASSWORD"],
        database="postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def migrated_database(env: dict[str, str], service_dir: Path, name: str) -> str:
    """A fresh database `name` at the head of the service's migrations; returns its URL."""
    await recreate_database(env, name)
    url = postgres_url(env, name)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alembic",
        "-c",
        str(service_dir / "alembic.ini"),
        "-x",
        f"url={url}",
        "upgrade",
        "head",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"migrations of {service_dir.name} failed:\n{output.decode()}")
    return url


async def purge_streams(js: JetStreamContext, names: Sequence[str]) -> None:
    for name in names:
        with contextlib.suppress(NotFoundError):
            await js.purge_stream(name)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return find_root(Path(__file__))


@pytest.fixture(scope="session")
def infra(repo_root: Path) -> dict[str, str]:
    return read_infra_env(repo_root)


@pytest.fixture(scope="session")
async def nats_client(infra: dict[str, str]) -> AsyncIterator[NatsClient]:
    client = await connect(infra["GUICHET_NATS_URL"], f"tests-{worker_name()}")
    yield client
    await client.drain()


@pytest.fixture(scope="session")
def jetstream(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()
