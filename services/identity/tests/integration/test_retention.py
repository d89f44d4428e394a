"""Identity's retention on its migrated database, the clock moved forward: e-mail changes
confirmed or expired go once past their age; a pending, still valid change stays."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_identity.account.models import EmailChangeRequest
from guichet_identity.retention import purge_email_changes
from guichet_kit.db import transaction
from guichet_kit.retention import Policy, in_batches

MONTH = Policy("email_changes", timedelta(days=30), batch=2)


async def _change(
    sessions: async_sessionmaker[AsyncSession],
    requested: datetime,
    *,
    confirmed: bool = False,
    valid_hours: int = 24,
) -> uuid.UUID:
    change_id = uuid.uuid4()
    async with transaction(sessions) as session:
        await session.execute(
            insert(EmailChangeRequest).values(
                id=change_id,
                subject=str(uuid.uuid4()),
                new_email=f"{change_id.hex[:8]}@example.org",
                token_sha256=hashlib.sha256(change_id.bytes).hexdigest(),
                requested_at=requested,
                expires_at=requested + timedelta(hours=valid_hours),
                confirmed_at=requested + timedelta(hours=1) if confirmed else None,
            )
        )
    return change_id


async def _left(sessions: async_sessionmaker[AsyncSession]) -> set[uuid.UUID]:
    async with sessions() as session:
        return set(await session.scalars(select(EmailChangeRequest.id)))


async def test_email_changes_done_with_go_past_their_age(
    identity_sessions: async_sessionmaker[AsyncSession],
) -> None:
    sessions = identity_sessions
    start = datetime.now(UTC)
    confirmed = [await _change(sessions, start, confirmed=True) for _ in range(3)]
    expired = [await _change(sessions, start) for _ in range(2)]
    # Valid for a year: still pending when the others are long gone.
    pending = await _change(sessions, start, valid_hours=24 * 365)
    purge = in_batches(sessions, purge_email_changes)

    assert await purge(MONTH, start + timedelta(days=30)) == 0
    assert await purge(MONTH, start + timedelta(days=30, hours=2)) == 3, "confirmed at 1 h"
    assert await _left(sessions) == {*expired, pending}
    assert await purge(MONTH, start + timedelta(days=30, hours=2)) == 0, "a second run: nothing"
    assert await purge(MONTH, start + timedelta(days=32)) == 2, "expired at 24 h"
    assert await _left(sessions) == {pending}
    assert await purge(MONTH, start + timedelta(days=300)) == 0
    assert await _left(sessions) == {pending}
    assert not set(confirmed) & await _left(sessions)
