"""Procedures' retention on its migrated database, the clock moved forward: a draft left alone
expires, then its tombstone goes once past its age with its history; drafts cancelled before
submission go too; live drafts and everything ever submitted stay; a second run changes nothing;
a backlog goes batch by batch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import transaction
from guichet_kit.retention import Policy, in_batches
from guichet_procedures.requests import upkeep
from guichet_procedures.requests.models import (
    CANCELLED,
    CLOSED,
    DRAFT,
    EXPIRED,
    SUBMITTED,
    Request,
    RequestHistory,
)
from guichet_procedures.retention import purge_abandoned_drafts

NINETY_DAYS = Policy("abandoned_drafts", timedelta(days=90), batch=50)


async def _requests(
    sessions: async_sessionmaker[AsyncSession], count: int, state: str, at: datetime, **more: Any
) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    async with transaction(sessions) as session:
        await session.execute(
            insert(Request),
            [
                {
                    "id": request_id,
                    "procedure_code": "retention-test",
                    "procedure_version": 1,
                    "administration": "acd",
                    "owner": "person:19800101123",
                    "language": "fr",
                    "state": state,
                    "title": {"fr": "t", "de": "t", "en": "t"},
                    "answers": {},
                    "completed_steps": [],
                    "created_at": at,
                    "updated_at": at,
                    **more,
                }
                for request_id in ids
            ],
        )
        await session.execute(
            insert(RequestHistory),
            [
                {"request_id": request_id, "kind": "message", "actor": "applicant"}
                for request_id in ids
            ],
        )
    return ids


async def _left(sessions: async_sessionmaker[AsyncSession]) -> set[uuid.UUID]:
    async with sessions() as session:
        return set(await session.scalars(select(Request.id)))


async def _history(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(RequestHistory)) or 0)


async def test_abandoned_drafts_go_past_their_age_and_submitted_requests_stay(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    start = datetime.now(UTC)
    tombstones = await _requests(sessions, 120, EXPIRED, start)  # more than two batches
    cancelled = await _requests(sessions, 3, CANCELLED, start - timedelta(days=20))
    left_alone = await _requests(sessions, 2, DRAFT, start, expires_at=start + timedelta(days=10))
    live = await _requests(sessions, 2, DRAFT, start, expires_at=start + timedelta(days=900))
    old_record = {"submitted_at": start - timedelta(days=900), "reference": None}
    submitted = [
        *await _requests(
            sessions,
            1,
            SUBMITTED,
            start - timedelta(days=900),
            **{**old_record, "reference": "PR-AAAA-AAAA-1"},
        ),
        *await _requests(
            sessions,
            1,
            CANCELLED,
            start - timedelta(days=900),
            **{**old_record, "reference": "PR-AAAA-AAAB-2", "cancelled_at": start},
        ),
        *await _requests(
            sessions,
            1,
            CLOSED,
            start - timedelta(days=900),
            **{**old_record, "reference": "PR-AAAA-AAAC-3", "closed_at": start},
        ),
    ]
    purge = in_batches(sessions, purge_abandoned_drafts)

    # 80 days on: only the drafts cancelled 20 days before the start are past 90 days.
    assert await purge(NINETY_DAYS, start + timedelta(days=80)) == 3
    assert await _left(sessions) == {*tombstones, *left_alone, *live, *submitted}
    assert not await _left(sessions) & set(cancelled)
    assert await purge(NINETY_DAYS, start + timedelta(days=80)) == 0, "a second run: nothing"

    # The drafts left alone expired on day 10 (the upkeep's clock); their tombstones then wait.
    assert await upkeep.expire_drafts(sessions, now=start + timedelta(days=10)) == 2
    assert await purge(NINETY_DAYS, start + timedelta(days=95)) == 120
    assert await _left(sessions) == {*left_alone, *live, *submitted}
    assert await purge(NINETY_DAYS, start + timedelta(days=101)) == 2
    assert await _left(sessions) == {*live, *submitted}
    assert await _history(sessions) == len(live) + len(submitted), "history went with them"

    assert await purge(NINETY_DAYS, start + timedelta(days=5000)) == 0
    assert await _left(sessions) == {*live, *submitted}, "live drafts and records: any age"
