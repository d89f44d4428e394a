"""OpenGuichet's test kit: what tests need to run against the real servers of `make infra`.

Installed as a test dependency only (the root workspace's dev group); a service never imports it.

- `db`: a database per xdist worker, migrated with the service's Alembic scripts; tables emptied
  from the SQLAlchemy metadata, rows counted per table.
- `streams`: purging scratch JetStream streams between tests.
- `processes`: services started as real processes, free ports, gRPC health.
- `eventually`: waiting for something that happens in another task, process or server.
- `mail`: the one reader of the development SMTP sink's mails.
- `login`: headless logins through Keycloak's pages (code + PKCE, TOTP, certificates, mail links).
- `pki`: citizens' eID-style certificates from the national test CA.
- `plugin`: the pytest fixtures (`repo_root`, `infra`, `nats_client`, `jetstream`, `mail_dir`),
  registered by the root conftest.py.
"""

from __future__ import annotations

import os


def worker_name() -> str:
    """This test process's name: its xdist worker (gw0, gw1…), else `main`; names its databases
    and streams so that parallel runs never share them."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")
