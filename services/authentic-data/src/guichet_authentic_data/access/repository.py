"""Every query on the access log."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_authentic_data.access import chain
from guichet_authentic_data.access.models import DataAccess

# One lock for the whole log: an entry is appended after the last one, never beside it.
_CHAIN_LOCK = 0x61757468_6C6F67  # "authlog"


@dataclass(frozen=True)
class NewEntry:
    subject: str
    accessor_kind: str
    # Service, administration code, or the reading person's national id.
    accessor: str
    purpose: str
    fields: Sequence[str]
    agent: str = ""
    request_reference: str = ""
    correlation_id: str = ""


async def append(session: AsyncSession, entry: NewEntry) -> DataAccess:
    """Chain `entry` after the last one, in the caller's transaction. The lock is held until that
    transaction ends, so take it last, just before the commit."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    previous = await session.scalar(
        select(DataAccess.entry_hash).order_by(DataAccess.id.desc()).limit(1)
    )
    is_person = entry.accessor_kind in chain.PERSON_READERS
    public = chain.PublicPart(
        access_id=str(uuid.uuid4()),
        accessed_at=datetime.now(UTC),
        accessor_kind=entry.accessor_kind,
        accessor="" if is_person else entry.accessor,
        purpose=entry.purpose,
        fields=tuple(entry.fields),
    )
    personal = chain.PersonalPart(
        subject=entry.subject,
        reader=entry.accessor if is_person else "",
        agent=entry.agent,
        request_reference=entry.request_reference,
        correlation_id=entry.correlation_id,
    )
    salt = secrets.token_bytes(chain.SALT_BYTES)
    digest = chain.personal_digest(personal, salt)
    previous = previous or chain.GENESIS
    row = DataAccess(
        access_id=uuid.UUID(public.access_id),
        accessed_at=public.accessed_at,
        accessor_kind=public.accessor_kind,
        accessor=entry.accessor,
        purpose=public.purpose,
        fields=list(public.fields),
        subject=personal.subject,
        agent=personal.agent,
        request_reference=personal.request_reference,
        correlation_id=personal.correlation_id,
        salt=salt,
        personal_digest=digest,
        previous_hash=previous,
        entry_hash=chain.entry_hash(previous, public, digest),
    )
    session.add(row)
    await session.flush()
    return row


async def entries_of(
    session: AsyncSession, subject: str, limit: int, before_id: int | None
) -> list[DataAccess]:
    query = select(DataAccess).where(DataAccess.subject == subject)
    if before_id is not None:
        query = query.where(DataAccess.id < before_id)
    rows = await session.scalars(query.order_by(DataAccess.id.desc()).limit(limit))
    return list(rows)


def emptied(at: Any) -> dict[str, Any]:
    """The personal part of an entry emptied (all the trigger lets an update change); the
    digests and hashes stay, so the chain still verifies."""
    return {
        "subject": None,
        "accessor": case(
            (DataAccess.accessor_kind.in_(chain.PERSON_READERS), None),
            else_=DataAccess.accessor,
        ),
        "agent": None,
        "request_reference": None,
        "correlation_id": None,
        "salt": None,
        "purged_at": at,
    }


async def purge_subject(session: AsyncSession, subject: str) -> int:
    """Empty the personal part of every entry about `subject`; the digests and hashes stay."""
    result = await session.execute(
        update(DataAccess).where(DataAccess.subject == subject).values(emptied(datetime.now(UTC)))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def in_chain_order(session: AsyncSession) -> AsyncIterator[DataAccess]:
    """Every entry, first to last, streamed (the log can be long)."""
    result = await session.stream_scalars(
        select(DataAccess).order_by(DataAccess.id).execution_options(yield_per=1000)
    )
    async for row in result:
        yield row
