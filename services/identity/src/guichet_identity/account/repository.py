"""Every query the account sub-domain makes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from guichet_identity.account.models import AccountDeletion, EmailChangeRequest, PurgeConfirmation


async def drop_pending_email_changes(session: AsyncSession, subject: str) -> None:
    """A new request supersedes the earlier ones: only the latest link works."""
    await session.execute(
        delete(EmailChangeRequest).where(
            EmailChangeRequest.subject == subject, EmailChangeRequest.confirmed_at.is_(None)
        )
    )


async def drop_email_changes(session: AsyncSession, subject: str) -> None:
    await session.execute(delete(EmailChangeRequest).where(EmailChangeRequest.subject == subject))


async def pending_email_changes(
    session: AsyncSession, subject: str, now: datetime
) -> list[EmailChangeRequest]:
    rows = await session.scalars(
        select(EmailChangeRequest)
        .where(
            EmailChangeRequest.subject == subject,
            EmailChangeRequest.confirmed_at.is_(None),
            EmailChangeRequest.expires_at > now,
        )
        .order_by(EmailChangeRequest.requested_at)
    )
    return list(rows)


async def find_email_change(session: AsyncSession, token_sha256: str) -> EmailChangeRequest | None:
    # Locked: the same link followed twice at once must confirm only once.
    request: EmailChangeRequest | None = await session.scalar(
        select(EmailChangeRequest)
        .where(EmailChangeRequest.token_sha256 == token_sha256)
        .with_for_update()
    )
    return request


async def find_deletion(
    session: AsyncSession, deletion_id: uuid.UUID, *, for_update: bool = False
) -> AccountDeletion | None:
    query = (
        select(AccountDeletion)
        .where(AccountDeletion.id == deletion_id)
        .options(selectinload(AccountDeletion.confirmations))
    )
    if for_update:
        # Two services confirming at once must not both miss that the purge is complete.
        query = query.with_for_update(of=AccountDeletion)
    deletion: AccountDeletion | None = await session.scalar(query)
    return deletion


async def add_confirmation(
    session: AsyncSession, deletion_id: uuid.UUID, service: str, event_id: uuid.UUID
) -> bool:
    """Record a service's confirmation; False when it had already confirmed."""
    added = await session.scalar(
        insert(PurgeConfirmation)
        .values(deletion_id=deletion_id, service=service, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(PurgeConfirmation.service)
    )
    return added is not None


async def pending_login_removals(session: AsyncSession, limit: int) -> list[tuple[uuid.UUID, str]]:
    """(deletion id, subject) of the oldest deletions whose login is not known to be removed."""
    rows = await session.execute(
        select(AccountDeletion.id, AccountDeletion.subject)
        .where(AccountDeletion.login_removed_at.is_(None))
        .order_by(AccountDeletion.requested_at)
        .limit(limit)
    )
    return [(row.id, row.subject) for row in rows]


async def mark_login_removed(session: AsyncSession, deletion_id: uuid.UUID, now: datetime) -> None:
    # The first confirmation stands: a second sweep or a replica's concurrent one changes nothing.
    await session.execute(
        update(AccountDeletion)
        .where(AccountDeletion.id == deletion_id, AccountDeletion.login_removed_at.is_(None))
        .values(login_removed_at=now)
    )
