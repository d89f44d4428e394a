"""Tokens of deleted accounts are refused: the deletion events reach every verifier's revocation
list, also in a process that starts after the deletion (replayed from the stream)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext

from guichet.events.v1 import identity_pb2 as identity_events
from guichet_kit.auth import RevokedSubjects
from guichet_kit.revocation import follow_account_deletions
from guichet_testkit import worker_name
from guichet_testkit.eventually import wait_until


async def publish_deletion(js: JetStreamContext, subject: str, account: str) -> None:
    event = identity_events.AccountDeleted(
        event_id=str(uuid.uuid4()), deletion_id=str(uuid.uuid4()), subject=account
    )
    await js.publish(subject, event.SerializeToString())


def is_revoked(revoked: RevokedSubjects, account: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return account in revoked

    return check


async def test_deleted_subjects_are_revoked_as_the_events_arrive_and_after_a_restart(
    jetstream: JetStreamContext, stream: str
) -> None:
    subject = f"kittest{worker_name()}.account.deleted.v1"  # on this worker's scratch stream
    before, after = f"before-{uuid.uuid4()}", f"after-{uuid.uuid4()}"
    await publish_deletion(jetstream, subject, before)

    revoked, stop, ready = RevokedSubjects(), asyncio.Event(), asyncio.Event()
    follower = asyncio.create_task(
        follow_account_deletions(
            jetstream, revoked, stop, ready=ready, stream=stream, subject=subject
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        await wait_until(is_revoked(revoked, before), seconds=10, what="the earlier deletion")
        await publish_deletion(jetstream, subject, after)
        await wait_until(is_revoked(revoked, after), seconds=10, what="the new deletion")
        assert "someone-else" not in revoked
    finally:
        stop.set()
        await asyncio.wait_for(follower, timeout=10)
