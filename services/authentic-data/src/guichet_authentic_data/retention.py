"""Authentic data's retention (F92): the access log's personal part, beside the kit's kinds.

The access log is append-only and hash-chained: the database refuses deleting an entry. An entry
older than `AUTHENTIC_DATA_ACCESS_LOG_RETENTION_DAYS` loses its personal part (whose data, the
reading person, agent, request, correlation id) exactly as a deleted person's entries do in the
account purge: the public part, the digests and the hashes stay, so `verify-log` still verifies
the whole chain, and the person's "who looked at my data" no longer lists it. The registers are
the administrations'; reports and certificates go with the account purge.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime

from nats.aio.client import Client as NatsClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_authentic_data.access.models import DataAccess
from guichet_authentic_data.access.repository import emptied
from guichet_authentic_data.settings import AuthenticDataSettings
from guichet_kit.retention import (
    RetentionSettings,
    Rule,
    database_rule,
    days,
    kit_rules,
    run_once_command,
    run_periodically,
)

SERVICE = "authentic-data"


async def purge_access_log(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Entries read before `cutoff` whose personal part is still there, oldest first."""
    oldest = (
        select(DataAccess.id)
        .where(DataAccess.purged_at.is_(None), DataAccess.accessed_at < cutoff)
        .order_by(DataAccess.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(DataAccess).where(DataAccess.id.in_(oldest)).values(emptied(func.now()))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def rules(
    settings: AuthenticDataSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    shared: RetentionSettings | None = None,
) -> list[Rule]:
    shared = shared or RetentionSettings()
    access_log = days("access_log", settings.access_log_retention_days, shared.batch_size)
    return [
        *kit_rules(shared, sessions, nats),
        *database_rule(access_log, sessions, purge_access_log),
    ]


async def periodically(
    settings: AuthenticDataSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    stop: asyncio.Event,
) -> None:
    await run_periodically(SERVICE, functools.partial(rules, settings), sessions, nats, stop)


def command() -> int:
    """`python -m guichet_authentic_data retention`: every policy once (a CronJob)."""
    settings = AuthenticDataSettings()
    return run_once_command(SERVICE, settings, functools.partial(rules, settings))
