"""Refusing the tokens of deleted accounts everywhere: every process that verifies tokens follows
identity's deletion events and feeds its verifier's `RevokedSubjects`.

A follower (`guichet_kit.following`) replays the deletions of the last `window` (as long as an
access token can live, with margin) so a process that starts after a deletion still refuses the
token, then follows new ones as they are published.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as identity_events
from guichet_kit.auth import RevokedSubjects
from guichet_kit.following import follow_events

log = structlog.get_logger(__name__)

WINDOW = timedelta(hours=1)


async def follow_account_deletions(
    js: JetStreamContext,
    revoked: RevokedSubjects,
    stop: asyncio.Event,
    *,
    window: timedelta = WINDOW,
    ready: asyncio.Event | None = None,
    stream: str = subjects.IDENTITY.name,
    subject: str = subjects.ACCOUNT_DELETED,
) -> None:
    """Revoke the subject of every account deleted in the last `window`, then of each new one."""

    def revoke(event: identity_events.AccountDeleted) -> None:
        if event.subject:
            revoked.revoke(event.subject)
            log.info("revocation.subject_revoked", deletion_id=event.deletion_id)

    def replaying_the_window() -> ConsumerConfig:
        return ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=datetime.now(UTC) - window,
        )

    await follow_events(
        js,
        stream=stream,
        subject=subject,
        event_type=identity_events.AccountDeleted,
        handle=revoke,
        config=replaying_the_window,
        stop=stop,
        ready=ready,
    )
