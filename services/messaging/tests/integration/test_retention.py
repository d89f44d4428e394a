"""Messaging's retention on its migrated database, the clock moved forward: notifications done
with go once past their age, pending ones and young ones stay; the command a CronJob runs."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import create_engine, session_factory, transaction
from guichet_kit.retention import Policy, in_batches
from guichet_messaging.notifications.models import Notification, Status
from guichet_messaging.retention import purge_notifications, rules
from guichet_messaging.settings import MessagingSettings
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database

from .conftest import SERVICE_DIR

YEAR = Policy("notifications", timedelta(days=365), batch=100)


async def _notifications(
    sessions: async_sessionmaker[AsyncSession],
    count: int,
    status: Status,
    at: datetime,
) -> None:
    async with transaction(sessions) as session:
        await session.execute(
            insert(Notification),
            [
                {
                    "event_id": uuid.uuid4(),
                    "kind": "etracking.status_changed",
                    "channel": "email",
                    "owner": "person:19800101123",
                    "recipient": "someone@example.org",
                    "language": "fr",
                    "reference": "ET12345678A",
                    "title": "t",
                    "body_text": "b",
                    "status": status,
                    "created_at": at,
                    "next_attempt_at": at,
                    "delivered_at": at if status is Status.DELIVERED else None,
                }
                for _ in range(count)
            ],
        )


async def _left(sessions: async_sessionmaker[AsyncSession], status: Status | None = None) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Notification)
        if status is not None:
            query = query.where(Notification.status == status)
        return int(await session.scalar(query) or 0)


async def test_notifications_done_with_go_past_their_age_and_pending_ones_stay(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    start = datetime.now(UTC)
    await _notifications(sessions, 230, Status.DELIVERED, start)  # more than two batches
    await _notifications(sessions, 4, Status.FAILED, start)
    await _notifications(sessions, 3, Status.PENDING, start)
    await _notifications(sessions, 5, Status.DELIVERED, start + timedelta(days=30))
    purge = in_batches(sessions, purge_notifications)

    assert await purge(YEAR, start + timedelta(days=364)) == 0
    assert await _left(sessions) == 242

    assert await purge(YEAR, start + timedelta(days=366)) == 234
    assert await _left(sessions, Status.DELIVERED) == 5, "delivered later: not past its age"
    assert await _left(sessions, Status.FAILED) == 0
    assert await _left(sessions, Status.PENDING) == 3, "pending: never purged"
    assert await purge(YEAR, start + timedelta(days=366)) == 0, "a second run changes nothing"
    assert await _left(sessions) == 8

    assert await purge(YEAR, start + timedelta(days=400)) == 5
    assert await _left(sessions) == 3


def test_the_rules_follow_the_settings(sessions: async_sessionmaker[AsyncSession]) -> None:
    settings = MessagingSettings.model_construct(notification_retention_days=365)
    kinds = [rule.policy.kind for rule in rules(settings, sessions, nats=None)]  # type: ignore[arg-type]
    assert kinds == ["outbox", "dead_letters", "notifications"]
    keep = MessagingSettings.model_construct(notification_retention_days=0)
    kinds = [rule.policy.kind for rule in rules(keep, sessions, nats=None)]  # type: ignore[arg-type]
    assert "notifications" not in kinds, "0 days: kept for ever"


async def _command(env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "guichet_messaging",
        "retention",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_the_command_purges_once_and_says_when_it_could_not(
    infra: dict[str, str], repo_root: Path
) -> None:
    database_url = await migrated_database(
        infra, SERVICE_DIR, f"messaging_retention_{worker_name()}"
    )
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    pki = Path(infra["GUICHET_PKI_DIR"])
    env = {
        "MESSAGING_ENVIRONMENT": "test",
        "MESSAGING_DATABASE_URL": database_url,
        "MESSAGING_NATS_URL": infra["GUICHET_NATS_URL"],
        "MESSAGING_TLS_CERTIFICATE": str(pki / "services" / "messaging.crt"),
        "MESSAGING_TLS_PRIVATE_KEY": str(pki / "services" / "messaging.key"),
        "MESSAGING_ADMINISTRATIONS_CA": str(pki / "administrations" / "ca.crt"),
        "MESSAGING_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
        "MESSAGING_SMS_URL": infra["GUICHET_SMS_URL"],
        "MESSAGING_NOTIFICATION_RETENTION_DAYS": "30",
        # The deployment's dead letters are not this test's.
        "GUICHET_RETENTION_DEAD_LETTER_DAYS": "0",
    }
    try:
        now = datetime.now(UTC)
        await _notifications(sessions, 2, Status.DELIVERED, now - timedelta(days=31))
        await _notifications(sessions, 1, Status.DELIVERED, now - timedelta(days=29))

        code, output = await _command(env)
        assert code == 0, output
        assert '"kind": "notifications"' in output and '"count": 2' in output, output
        assert await _left(sessions) == 1

        code, output = await _command(env)
        assert code == 0, output
        assert await _left(sessions) == 1

        code, output = await _command({**env, "MESSAGING_NOTIFICATION_RETENTION_DAYS": "-1"})
        assert code != 0
        assert "notification_retention_days" in output
        assert await _left(sessions) == 1

        unreachable = database_url.rsplit("/", 1)[0] + "/no_such_database_for_retention"
        code, output = await _command({**env, "MESSAGING_DATABASE_URL": unreachable})
        assert code == 1, output
        assert "retention.failed" in output
    finally:
        await engine.dispose()
