"""Procedures' retention (F92): abandoned drafts, beside the kit's kinds.

A draft left alone expires (`requests/upkeep.py`, `PROCEDURES_DRAFT_DAYS`): its answers go and a
tombstone says `expired` in the person's list. The tombstone, and a draft cancelled before it was
ever submitted, are deleted `PROCEDURES_ABANDONED_DRAFT_RETENTION_DAYS` after that last change,
with their history, hold and attachment rows (ON DELETE CASCADE; the attachments' files are the
wallet's copies, which keep their own retention). Nothing that was ever submitted is touched: it
has a reference, is the administration's record, and goes only by the account-deletion purge's
`PROCEDURES_ADMINISTRATION_RETENTION_DAYS`.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime

from nats.aio.client import Client as NatsClient
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.retention import (
    RetentionSettings,
    Rule,
    database_rule,
    days,
    kit_rules,
    run_once_command,
    run_periodically,
)
from guichet_procedures.requests.models import CANCELLED, EXPIRED, Request
from guichet_procedures.settings import ProceduresSettings

SERVICE = "procedures"


async def purge_abandoned_drafts(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Expired and cancelled drafts, never submitted, last changed before `cutoff`."""
    oldest = (
        select(Request.id)
        .where(
            Request.reference.is_(None),
            Request.submitted_at.is_(None),
            Request.state.in_([EXPIRED, CANCELLED]),
            Request.updated_at < cutoff,
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(delete(Request).where(Request.id.in_(oldest)))
    return int(getattr(result, "rowcount", 0) or 0)


def rules(
    settings: ProceduresSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    shared: RetentionSettings | None = None,
) -> list[Rule]:
    shared = shared or RetentionSettings()
    drafts = days("abandoned_drafts", settings.abandoned_draft_retention_days, shared.batch_size)
    return [
        *kit_rules(shared, sessions, nats),
        *database_rule(drafts, sessions, purge_abandoned_drafts),
    ]


async def periodically(
    settings: ProceduresSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    stop: asyncio.Event,
) -> None:
    await run_periodically(SERVICE, functools.partial(rules, settings), sessions, nats, stop)


def command() -> int:
    """`python -m guichet_procedures retention`: every policy once (a CronJob)."""
    settings = ProceduresSettings()
    return run_once_command(SERVICE, settings, functools.partial(rules, settings))
