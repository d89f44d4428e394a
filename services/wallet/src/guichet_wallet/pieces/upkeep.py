"""The worker's periodic jobs: expiry notices and the sweep of objects no row names."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import transaction
from guichet_wallet.files.pipeline import FilePipeline, SweepReport
from guichet_wallet.pieces import repository, service
from guichet_wallet.pieces.details import luxembourg_today

log = structlog.get_logger(__name__)

# Pieces announced per transaction: a large backlog is worked through in short transactions.
EXPIRY_BATCH = 500


async def announce_expiring(
    sessions: async_sessionmaker[AsyncSession],
    notice_days: int,
    today: Callable[[], date] = luxembourg_today,
) -> int:
    """One pass: PieceExpiring for each piece expiring within `notice_days`, once per date."""
    announced = 0
    while True:
        async with transaction(sessions) as session:
            batch = await service.announce_expiring(
                session, today(), notice_days, limit=EXPIRY_BATCH
            )
        announced += batch
        if batch < EXPIRY_BATCH:
            return announced


def key_references(
    sessions: async_sessionmaker[AsyncSession],
) -> Callable[[Sequence[str]], Awaitable[set[str]]]:
    """The sweep's question to the database: which of these keys does a row name?"""

    async def referenced(keys: Sequence[str]) -> set[str]:
        async with sessions() as session:
            return await repository.referenced_keys(session, keys)

    return referenced


async def sweep(
    sessions: async_sessionmaker[AsyncSession], pipeline: FilePipeline, grace: timedelta
) -> SweepReport:
    return await pipeline.sweep(key_references(sessions), older_than=grace)


async def every(
    name: str, seconds: float, job: Callable[[], Awaitable[object]], stop: asyncio.Event
) -> None:
    """Run `job` at start, then every `seconds`, until `stop`; a failed pass is logged and the
    next one tries again."""
    while not stop.is_set():
        try:
            result = await job()
            log.info(f"wallet.{name}", result=str(result))
        except Exception:
            log.exception(f"wallet.{name}_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
