"""The messaging process starts with its settings, on its migrated database, and says SERVING
on the gRPC health service; it stops cleanly on SIGTERM. Its consumers are on etracking's real
stream: new durables take only what comes after them, so the process sends nothing for the
trackings other tests made before."""

from __future__ import annotations

import contextlib
import sys
import uuid
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from guichet.events import subjects
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

from .conftest import SERVICE_DIR


async def test_the_service_starts_and_answers_health(
    infra: dict[str, str], repo_root: Path, jetstream: JetStreamContext
) -> None:
    database_url = await migrated_database(infra, SERVICE_DIR, f"messaging_process_{worker_name()}")
    pki = Path(infra["GUICHET_PKI_DIR"])
    prefix = f"messaging-processtest-{uuid.uuid4().hex[:8]}"
    address, admin_address = (f"127.0.0.1:{free_port()}" for _ in range(2))
    env = {
        "MESSAGING_ENVIRONMENT": "test",
        "MESSAGING_DATABASE_URL": database_url,
        "MESSAGING_NATS_URL": infra["GUICHET_NATS_URL"],
        "MESSAGING_GRPC_ADDRESS": address,
        "MESSAGING_ADMIN_GRPC_ADDRESS": admin_address,
        "MESSAGING_TLS_CERTIFICATE": str(pki / "services" / "messaging.crt"),
        "MESSAGING_TLS_PRIVATE_KEY": str(pki / "services" / "messaging.key"),
        "MESSAGING_ADMINISTRATIONS_CA": str(pki / "administrations" / "ca.crt"),
        "MESSAGING_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
        "MESSAGING_CA_FILE": infra["GUICHET_CA_FILE"],
        "MESSAGING_SMTP_HOST": infra["GUICHET_SMTP_HOST"],
        "MESSAGING_SMTP_PORT": infra["GUICHET_SMTP_PORT"],
        "MESSAGING_SMS_URL": infra["GUICHET_SMS_URL"],
        # The durables of this process only (never the deployment's), removed at the end.
        "MESSAGING_CONSUMER_PREFIX": prefix,
    }
    log_dir = repo_root / ".data" / "test-logs" / f"messaging-{worker_name()}"
    process = ServiceProcess(
        "messaging", [sys.executable, "-m", "guichet_messaging", "all"], env, log_dir
    )
    process.start()
    try:
        await wait_until(
            lambda: grpc_serving(address), seconds=60, what="messaging", process=process
        )
        assert process.running
    finally:
        code = process.stop()
        for purpose in ("etracking-created", "etracking-status"):
            with contextlib.suppress(NotFoundError):
                await jetstream.delete_consumer(subjects.ETRACKING.name, f"{prefix}-{purpose}")
    assert code == 0, process.log_tail()
