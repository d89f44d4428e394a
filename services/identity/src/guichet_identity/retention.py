"""Identity's retention (F92): e-mail change links done with, beside the kit's kinds.

A change of login e-mail waits for its link (`IDENTITY_EMAIL_CHANGE_VALID_HOURS`); once
confirmed or expired, its row (the new address and the token's hash) serves nothing but to say
"this link is no longer valid", and goes `IDENTITY_EMAIL_CHANGE_RETENTION_DAYS` later. A pending,
still valid change is never touched. Account deletions and their purge confirmations are the
record that a person was forgotten: not purged here. Sessions are the gateway's and Keycloak's
(the gateway deletes its ended web sessions itself).
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime

from nats.aio.client import Client as NatsClient
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_identity.account.models import EmailChangeRequest
from guichet_identity.settings import IdentitySettings
from guichet_kit.retention import (
    RetentionSettings,
    Rule,
    database_rule,
    days,
    kit_rules,
    run_once_command,
    run_periodically,
)

SERVICE = "identity"


async def purge_email_changes(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """E-mail changes confirmed, or expired, before `cutoff`."""
    ended = func.coalesce(EmailChangeRequest.confirmed_at, EmailChangeRequest.expires_at)
    oldest = (
        select(EmailChangeRequest.id)
        .where(ended < cutoff)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(EmailChangeRequest).where(EmailChangeRequest.id.in_(oldest))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def rules(
    settings: IdentitySettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    shared: RetentionSettings | None = None,
) -> list[Rule]:
    shared = shared or RetentionSettings()
    changes = days("email_changes", settings.email_change_retention_days, shared.batch_size)
    return [
        *kit_rules(shared, sessions, nats),
        *database_rule(changes, sessions, purge_email_changes),
    ]


async def periodically(
    settings: IdentitySettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    stop: asyncio.Event,
) -> None:
    await run_periodically(SERVICE, functools.partial(rules, settings), sessions, nats, stop)


def command() -> int:
    """`python -m guichet_identity retention`: every policy once (a CronJob)."""
    settings = IdentitySettings()
    return run_once_command(SERVICE, settings, functools.partial(rules, settings))
