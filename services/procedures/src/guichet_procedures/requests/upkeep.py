"""The worker's periodic jobs: the drafts' expiry warning, the drafts' expiry, and the purge of
requests that no account holds any more once their retention ended.

The expiry does not depend on the warning: a draft past its date expires whether or not
DraftExpiring went out (a worker down for weeks, a warning period longer than what was left).
Each job works in short transactions of a batch, with rows locked and skipped by a concurrent
worker; `now` is a parameter so tests move the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import transaction
from guichet_procedures.requests import service

log = structlog.get_logger(__name__)

BATCH = 500


@dataclass(frozen=True)
class UpkeepReport:
    warned: int
    expired: int
    purged: int


async def _in_batches(
    sessions: async_sessionmaker[AsyncSession], job: Callable[[AsyncSession], Awaitable[int]]
) -> int:
    done = 0
    while True:
        async with transaction(sessions) as session:
            batch = await job(session)
        done += batch
        if batch < BATCH:
            return done


async def warn_expiring(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, warning_days: int
) -> int:
    return await _in_batches(
        sessions,
        lambda session: service.warn_expiring(
            session, now=now, warning_days=warning_days, limit=BATCH
        ),
    )


async def expire_drafts(sessions: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    return await _in_batches(
        sessions, lambda session: service.expire_drafts(session, now=now, limit=BATCH)
    )


async def purge_detached(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, retention_days: int
) -> int:
    return await _in_batches(
        sessions,
        lambda session: service.purge_detached(
            session, now=now, retention_days=retention_days, limit=BATCH
        ),
    )


async def run_once(
    sessions: async_sessionmaker[AsyncSession],
    *,
    warning_days: int,
    retention_days: int,
    now: datetime | None = None,
) -> UpkeepReport:
    moment = now or datetime.now(UTC)
    return UpkeepReport(
        warned=await warn_expiring(sessions, now=moment, warning_days=warning_days),
        expired=await expire_drafts(sessions, now=moment),
        purged=await purge_detached(sessions, now=moment, retention_days=retention_days),
    )


async def every(
    name: str, seconds: float, job: Callable[[], Awaitable[object]], stop: asyncio.Event
) -> None:
    """Run `job` at start, then every `seconds`, until `stop`; a failed pass is logged and the
    next one tries again."""
    while not stop.is_set():
        try:
            result = await job()
            log.info(f"procedures.{name}", result=str(result))
        except Exception:
            log.exception(f"procedures.{name}_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
