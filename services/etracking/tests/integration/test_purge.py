"""F8: identity deleted an account; etracking forgets that person's trackings and says so, in the
same transaction as the deletion, so the confirmation is never sent for a purge that did not
happen (nor lost for one that did)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import identity_pb2 as identity_events
from guichet_etracking.tracking import events, service
from guichet_etracking.tracking.catalogue import find_paper_form
from guichet_etracking.tracking.contact import notification_choice
from guichet_etracking.tracking.models import Tracking, TrackingStatusChange
from guichet_etracking.tracking.purge import account_purge_subscription, on_account_deleted
from guichet_kit.db import transaction
from guichet_kit.events import EventConsumer, PoisonMessage, ProcessedEvent, ensure_stream
from guichet_kit.outbox import stamp
from guichet_testkit import worker_name
from guichet_testkit.eventually import wait_until
from guichet_testkit.streams import purge_streams

from .conftest import outbox

ANNE, BOB = "1980010112345", "1975060600123"


async def _track(sessions: async_sessionmaker[AsyncSession], owner: str | None) -> str:
    choice = notification_choice(True, "someone@example.org", False, None, "fr")
    async with transaction(sessions) as session:
        tracking = await service.create_tracking(
            session, find_paper_form("ACD-IR-100"), choice, owner
        )
        return tracking.number


async def _owners(sessions: async_sessionmaker[AsyncSession]) -> list[str | None]:
    async with sessions() as session:
        return sorted(await session.scalars(select(Tracking.owner)), key=lambda owner: owner or "")


async def _history_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(TrackingStatusChange)) or 0
        )


def deleted(national_id: str) -> identity_events.AccountDeleted:
    return identity_events.AccountDeleted(
        deletion_id=str(uuid.uuid4()), national_id=national_id, subject="kc-anne"
    )


async def _consume(
    sessions: async_sessionmaker[AsyncSession], event: identity_events.AccountDeleted
) -> None:
    """What the consumer does with one event: the handler in a transaction of its own."""
    async with transaction(sessions) as session:
        await on_account_deleted(session, event)


@pytest.fixture
async def a_life(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Anne has two trackings; Bob, a company and an anonymous applicant one each."""
    for owner in (f"person:{ANNE}", f"person:{ANNE}", f"person:{BOB}", "company:space-1", None):
        await _track(sessions, owner)


async def _purged_events(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    return [
        identity_events.AccountPurged.FromString(event.payload).deletion_id
        for event in await outbox(sessions)
        if event.subject == events.ACCOUNT_PURGED
    ]


async def test_the_deleted_persons_trackings_go_and_the_purge_is_announced(
    sessions: async_sessionmaker[AsyncSession], a_life: None
) -> None:
    event = deleted(ANNE)
    await _consume(sessions, event)

    assert await _owners(sessions) == [None, "company:space-1", f"person:{BOB}"]
    assert await _history_rows(sessions) == 3  # their histories went with them
    [purged] = [e for e in await outbox(sessions) if e.subject == events.ACCOUNT_PURGED]
    confirmation = identity_events.AccountPurged.FromString(purged.payload)
    assert (confirmation.deletion_id, confirmation.service) == (event.deletion_id, "etracking")


async def test_the_purge_and_its_announcement_stand_or_fall_together(
    sessions: async_sessionmaker[AsyncSession], a_life: None, counts
) -> None:
    before = await counts()

    async def purge_then_lose_the_connection() -> None:
        async with transaction(sessions) as session:
            await on_account_deleted(session, deleted(ANNE))
            raise ConnectionError("the connection dropped before the commit")

    with pytest.raises(ConnectionError):
        await purge_then_lose_the_connection()

    assert await counts() == before
    assert await _purged_events(sessions) == []


async def test_a_person_without_trackings_is_still_confirmed_purged(
    sessions: async_sessionmaker[AsyncSession], a_life: None
) -> None:
    event = deleted("1999123100456")
    await _consume(sessions, event)

    assert len(await _owners(sessions)) == 5
    assert await _purged_events(sessions) == [event.deletion_id]


@pytest.mark.parametrize("missing", ["national_id", "deletion_id"])
async def test_a_deletion_without_its_ids_is_poison_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], a_life: None, counts, missing: str
) -> None:
    event = deleted(ANNE)
    event.ClearField(missing)  # type: ignore[arg-type]
    before = await counts()

    with pytest.raises(PoisonMessage):
        await _consume(sessions, event)

    assert await counts() == before


async def test_the_consumer_applies_a_deletion_once_from_the_stream(
    sessions: async_sessionmaker[AsyncSession], a_life: None, jetstream: JetStreamContext
) -> None:
    # The real subscription on a stream of this worker's own, so no other run's etracking
    # (nor identity's real deletions) is involved.
    stream = f"ETRACKINGTEST_{worker_name().upper()}"
    subscription = dataclasses.replace(
        account_purge_subscription(),
        stream=stream,
        durable=f"etrackingtest-purge-{uuid.uuid4().hex[:8]}",
        subject=f"etrackingtest{worker_name()}.account.deleted.v1",
    )
    await ensure_stream(jetstream, stream, [subscription.subject])
    await purge_streams(jetstream, [stream])
    event = deleted(ANNE)
    stamp(event)
    stop = asyncio.Event()
    consumer = asyncio.create_task(EventConsumer(jetstream, sessions, subscription).run(stop))
    try:
        for _ in range(2):  # a redelivery, as after a lost acknowledgement
            await jetstream.publish(subscription.subject, event.SerializeToString())

        async def handled_twice_applied_once() -> bool:
            info = await jetstream.consumer_info(stream, subscription.durable)
            return info.num_pending == 0 and info.num_ack_pending == 0

        await wait_until(handled_twice_applied_once, seconds=15, what="the deletion consumed")
    finally:
        stop.set()
        await consumer
        await jetstream.delete_stream(stream)

    assert f"person:{ANNE}" not in await _owners(sessions)
    assert await _purged_events(sessions) == [event.deletion_id]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1
