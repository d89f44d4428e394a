"""Messaging's retention (F92): notifications once they are done with, beside the kit's kinds.

A notification delivered (or given up on, `failed`) more than
`MESSAGING_NOTIFICATION_RETENTION_DAYS` ago leaves the notification centre and the person's
export; a pending one is never touched. The event it came from stays recorded by its consumer
(`processed_events`), so a redelivered event is not notified again. eDeliveries and their receipts
are the administrations' proofs: not purged here.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime

from nats.aio.client import Client as NatsClient
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.retention import (
    RetentionSettings,
    Rule,
    database_rule,
    days,
    kit_rules,
    run_once_command,
    run_periodically,
)
from guichet_messaging.notifications.models import Notification, Status
from guichet_messaging.settings import MessagingSettings

SERVICE = "messaging"


async def purge_notifications(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Delivered or failed notifications done with before `cutoff`."""
    done_at = func.coalesce(Notification.delivered_at, Notification.created_at)
    oldest = (
        select(Notification.id)
        .where(Notification.status.in_([Status.DELIVERED, Status.FAILED]), done_at < cutoff)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(delete(Notification).where(Notification.id.in_(oldest)))
    return int(getattr(result, "rowcount", 0) or 0)


def rules(
    settings: MessagingSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    shared: RetentionSettings | None = None,
) -> list[Rule]:
    shared = shared or RetentionSettings()
    notifications = days("notifications", settings.notification_retention_days, shared.batch_size)
    return [
        *kit_rules(shared, sessions, nats),
        *database_rule(notifications, sessions, purge_notifications),
    ]


async def periodically(
    settings: MessagingSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    stop: asyncio.Event,
) -> None:
    await run_periodically(SERVICE, functools.partial(rules, settings), sessions, nats, stop)


def command() -> int:
    """`python -m guichet_messaging retention`: every policy once (a CronJob)."""
    settings = MessagingSettings()
    return run_once_command(SERVICE, settings, functools.partial(rules, settings))
