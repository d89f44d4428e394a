"""Pytest fixtures on the real servers of `make infra`: load with `pytest_plugins`.

Each xdist worker gets its own database per service (created fresh and migrated once per
session); streams are purged between tests so one test's events never reach another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServiceProcess:
    """A service started as its own process, as in production, for tests that cross processes."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], log_dir: Path):
        self.name = name
        self._args = list(args)
        self._env = {**os.environ, **env}
        self._log_path = log_dir / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self._log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 (the test names the command)
            self._args, env=self._env, stdout=log_file, stderr=subprocess.STDOUT
        )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if not self._log_path.exists():
            return ""
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        code = self._process.returncode
        self._process = None
        return code

    def send(self, sig: signal.Signals) -> None:
        if self._process is not None:
            self._process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when a node dies."""
        self.stop(signal.SIGKILL)


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, seconds: float, what: str, process: ServiceProcess
) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if not process.running:
            raise RuntimeError(
                f"{process.name} exited while waiting for {what}:\n{process.log_tail()}"
            )
        with contextlib.suppress(Exception):
            if await check():
                return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {seconds}s:\n{process.log_tail()}")


async def grpc_serving(address: str) -> bool:
    async with grpc.aio.insecure_channel(address) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
