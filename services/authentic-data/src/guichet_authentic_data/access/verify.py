"""Checking the access log's chain: `python -m guichet_authentic_data verify-log`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from guichet_authentic_data.access import chain, repository
from guichet_authentic_data.access.models import DataAccess


@dataclass(frozen=True)
class BrokenLink:
    id: int
    access_id: str
    why: str


@dataclass(frozen=True)
class Verification:
    entries: int
    # The last entry's hash: note it somewhere else to detect later that the tail was cut.
    head: bytes
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def _public(row: DataAccess) -> chain.PublicPart:
    person_reader = row.accessor_kind in chain.PERSON_READERS
    return chain.PublicPart(
        access_id=str(row.access_id),
        accessed_at=row.accessed_at,
        accessor_kind=row.accessor_kind,
        accessor="" if person_reader else (row.accessor or ""),
        purpose=row.purpose,
        fields=tuple(row.fields),
    )


def check_entry(row: DataAccess, previous: bytes) -> str | None:
    """Why `row` does not follow `previous`, or None when it does."""
    if row.previous_hash != previous:
        return "it does not follow the entry before it (an entry was removed, added or moved)"
    if row.purged_at is None:
        if row.salt is None or row.subject is None:
            return "its personal part is missing though it was never purged"
        personal = chain.PersonalPart(
            subject=row.subject,
            reader=(row.accessor or "") if row.accessor_kind in chain.PERSON_READERS else "",
            agent=row.agent or "",
            request_reference=row.request_reference or "",
            correlation_id=row.correlation_id or "",
        )
        if chain.personal_digest(personal, row.salt) != row.personal_digest:
            return "its personal part was altered"
    if chain.entry_hash(previous, _public(row), row.personal_digest) != row.entry_hash:
        return "its content was altered"
    return None


async def verify_log(session: AsyncSession) -> Verification:
    """Walk the chain from the first entry; stop at the first broken link."""
    previous = chain.GENESIS
    count = 0
    async for row in repository.in_chain_order(session):
        why = check_entry(row, previous)
        if why is not None:
            return Verification(count, previous, BrokenLink(row.id, str(row.access_id), why))
        previous = row.entry_hash
        count += 1
    return Verification(count, previous, None)
