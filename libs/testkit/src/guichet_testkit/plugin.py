"""The pytest fixtures every suite shares, on the real servers of `make infra`.

Registered once by the repository's root conftest.py (`pytest_plugins`); suites build their own
fixtures on these (a service's migrated database with `guichet_testkit.db`, its servicers…).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from guichet_kit.events import connect
from guichet_kit.infra import find_root, read_infra_env
from guichet_testkit import worker_name


@pytest.fixture(scope="session")
def repo_root(pytestconfig: pytest.Config) -> Path:
    return find_root(pytestconfig.rootpath)


@pytest.fixture(scope="session")
def infra(repo_root: Path) -> dict[str, str]:
    """The servers' addresses and credentials, from `.data/infra.env` (written by `make infra`)."""
    return read_infra_env(repo_root)


@pytest.fixture(scope="session")
async def nats_client(infra: dict[str, str]) -> AsyncIterator[NatsClient]:
    client = await connect(infra["GUICHET_NATS_URL"], f"tests-{worker_name()}")
    yield client
    await client.drain()


@pytest.fixture(scope="session")
def jetstream(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()


@pytest.fixture(scope="session")
def mail_dir(infra: dict[str, str]) -> Path:
    """Where the development SMTP sink stores the mails it accepts (read with
    `guichet_testkit.mail`)."""
    return Path(infra["GUICHET_MAIL_DIR"])
