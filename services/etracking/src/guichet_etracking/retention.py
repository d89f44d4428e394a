"""eTracking's retention (F92): the kit's kinds (its outbox's sent rows, the dead-letter stream).

Trackings are the administrations' and their citizens' record, removed by the account
purge or by the administration; no kind of its own is purged by age yet.
"""

from __future__ import annotations

import asyncio
import functools

from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_etracking.settings import EtrackingSettings
from guichet_kit.retention import (
    RetentionSettings,
    Rule,
    kit_rules,
    run_once_command,
    run_periodically,
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
    await run_periodically(SERVICE, functools.partial(rules, settings), sessions, nats, stop)


def command() -> int:
    """`python -m guichet_etracking retention`: every policy once (a CronJob)."""
    settings = EtrackingSettings()
    return run_once_command(SERVICE, settings, functools.partial(rules, settings))
