"""Refusing the tokens of deleted accounts everywhere: every process that verifies tokens follows
identity's deletion events and feeds its verifier's `RevokedSubjects`.

An ordered, ephemeral JetStream consumer replays the deletions of the last `window` (as long as an
access token can live, with margin) so a process that starts after a deletion still refuses the
token, then follows new ones as they are published.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import structlog
from google.protobuf.message import DecodeError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as identity_events
from guichet_kit.auth import RevokedSubjects

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
    while not stop.is_set():
        try:
            await _follow(js, revoked, stop, window, ready, stream, subject)
        except (NotFoundError, TimeoutError, OSError) as error:
            # identity has not created its stream yet, or NATS is restarting: try again.
            log.info("revocation.waiting", error=repr(error))
            await _sleep_unless_stopped(stop, 2.0)


async def _follow(
    js: JetStreamContext,
    revoked: RevokedSubjects,
    stop: asyncio.Event,
    window: timedelta,
    ready: asyncio.Event | None,
    stream: str,
    subject: str,
) -> None:
    start = datetime.now(UTC) - window
    await js.stream_info(stream)
    subscription = await js.subscribe(
        subject,
        stream=stream,
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start),
    )
    if ready is not None:
        ready.set()
    try:
        while not stop.is_set():
            try:
                message = await subscription.next_msg(timeout=1.0)
            except TimeoutError:
                continue
            try:
                event = identity_events.AccountDeleted.FromString(message.data)
            except DecodeError:
                log.warning("revocation.undecodable_event")
                continue
            if event.subject:
                revoked.revoke(event.subject)
                log.info("revocation.subject_revoked", deletion_id=event.deletion_id)
    finally:
        await subscription.unsubscribe()


async def _sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
