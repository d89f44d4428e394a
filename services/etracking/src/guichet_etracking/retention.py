"""eTracking's retention (F92): the kit's kinds (its outbox's sent rows, the dead-letter stream).

Trackings are the administrations' and their citizens' record, removed by the account
purge or by the administration; no kind of its own is purged by age yet.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_etracking.settings import EtrackingSettings
from guichet_kit.retention import (
    Retention,
    RetentionSettings,
    Rule,
    kit_rules,
    once_with,
    run_command,
)

SERVICE = "etracking"


def rules(
    settings: EtrackingSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    shared: RetentionSettings | None = None,
) -> list[Rule]:
    return kit_rules(shared or RetentionSettings(), sessions, nats)


async def periodically(
    settings: EtrackingSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    stop: asyncio.Event,
) -> None:
    """The worker role's job: every policy at start, then every interval."""
    shared = RetentionSettings()
    job = Retention(SERVICE, rules(settings, sessions, nats, shared))
    await job.run_every(shared.interval_seconds, stop)


def command() -> int:
    """`python -m guichet_etracking retention`: every policy once (a CronJob)."""
    settings = EtrackingSettings()
    once = once_with(
        SERVICE,
        settings.database_url,
        settings.nats_url,
        lambda sessions, nats: rules(settings, sessions, nats),
    )
    return run_command(SERVICE, once, log_level=settings.log_level, log_json=settings.log_json)
