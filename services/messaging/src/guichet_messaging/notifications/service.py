"""The rules of notifications: record one per channel for an event (idempotent), list a
person's, and move one along its delivery (delivered, retried later, or given up)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_kit.i18n import Language
from guichet_messaging.notifications.compose import Composed
from guichet_messaging.notifications.models import Channel, Notification, Status

MAX_LIST = 100
DEFAULT_LIST = 50


@dataclass(frozen=True)
class Recipient:
    """Where an event's notification goes: the address and/or number given, in a language."""

    language: Language
    email: str | None = None
    phone: str | None = None
    # `person:<national id>` when known, so that it shows in their notification centre.
    owner: str | None = None


async def record(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    kind: str,
    reference: str,
    recipient: Recipient,
    composed: Composed,
) -> int:
    """Store the event's notifications, one per channel the recipient has, pending delivery.
    Returns how many were new: a redelivered event adds none (unique per event and channel)."""
    rows = []
    common = {
        "event_id": event_id,
        "kind": kind,
        "reference": reference,
        "owner": recipient.owner,
        "language": recipient.language.value,
        "status": Status.PENDING.value,
        "attempts": 0,
    }
    if recipient.email:
        mail = composed.mail
        rows.append(
            {
                **common,
                "id": uuid.uuid4(),
                "channel": Channel.EMAIL.value,
                "recipient": recipient.email,
                "title": mail.subject,
                "body_text": mail.text,
                "body_html": mail.html,
            }
        )
    if recipient.phone:
        rows.append(
            {
                **common,
                "id": uuid.uuid4(),
                "channel": Channel.SMS.value,
                "recipient": recipient.phone,
                "title": composed.sms.text,
                "body_text": composed.sms.text,
                "body_html": None,
            }
        )
    if not rows:
        return 0
    added = await session.scalars(
        insert(Notification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id", "channel"])
        .returning(Notification.id)
    )
    return len(added.all())


@dataclass(frozen=True)
class Position:
    """Where a page of a person's notifications ended: the last one's time and id (the list
    is ordered by both, newest first, so a page never repeats or skips one)."""

    created_at: datetime
    id: uuid.UUID


async def notifications_of(
    session: AsyncSession, owner: str, limit: int = DEFAULT_LIST, after: Position | None = None
) -> tuple[list[Notification], Position | None]:
    """A page of the person's notifications, and where the next starts (None: no more)."""
    size = min(max(limit, 1), MAX_LIST)
    query = select(Notification).where(Notification.owner == owner)
    if after is not None:
        query = query.where(
            tuple_(Notification.created_at, Notification.id) < tuple_(after.created_at, after.id)
        )
    rows = list(
        await session.scalars(
            query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(size + 1)
        )
    )
    page = rows[:size]
    more = len(rows) > size
    return page, Position(page[-1].created_at, page[-1].id) if more else None


@dataclass(frozen=True)
class Backoff:
    """Retries after base * 2^(attempts-1) seconds, at most `max_delay`; `failed` after
    `max_attempts` tries."""

    base: float
    max_delay: float
    max_attempts: int

    def delay(self, attempts: int) -> timedelta:
        seconds = self.base * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.max_delay))


async def next_due(session: AsyncSession, now: datetime) -> Notification | None:
    """The oldest pending notification due now, locked for this transaction; another worker
    skips it (so one notification is never handed over twice at once)."""
    result = await session.scalars(
        select(Notification)
        .where(Notification.status == Status.PENDING.value, Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return result.first()


def delivered(notification: Notification, now: datetime) -> None:
    notification.attempts += 1
    notification.status = Status.DELIVERED.value
    notification.delivered_at = now
    notification.last_error = None


def attempt_failed(notification: Notification, error: str, now: datetime, backoff: Backoff) -> None:
    notification.attempts += 1
    notification.last_error = error[:500]
    if notification.attempts >= backoff.max_attempts:
        notification.status = Status.FAILED.value
    else:
        notification.next_attempt_at = now + backoff.delay(notification.attempts)
