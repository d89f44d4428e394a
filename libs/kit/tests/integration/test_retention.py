"""Retention on real PostgreSQL and JetStream, the clock moved forward: what is past its age
goes, what is not stays, a second run changes nothing, a backlog goes batch by batch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import transaction
from guichet_kit.events import ensure_stream
from guichet_kit.outbox import OutboxMessage
from guichet_kit.retention import (
    Batch,
    Policy,
    Retention,
    RetentionSettings,
    Rule,
    in_batches,
    kit_rules,
    purge_sent_outbox,
    purge_stream_by_age,
)
from guichet_testkit import worker_name

DEAD_STREAM = f"RETENTIONTEST_{worker_name().upper()}"
DEAD_SUBJECTS = f"retentiontest{worker_name()}.>"
OUTBOX = Policy("outbox", timedelta(days=30), batch=500)


async def _outbox_rows(
    sessions: async_sessionmaker[AsyncSession], count: int, sent_at: datetime | None
) -> None:
    async with transaction(sessions) as session:
        await session.execute(
            insert(OutboxMessage),
            [
                {
                    "event_id": uuid.uuid4(),
                    "subject": "kit.retention.v1",
                    "payload": b"",
                    "headers": {},
                    "sent_at": sent_at,
                }
                for _ in range(count)
            ],
        )


async def _count(sessions: async_sessionmaker[AsyncSession], *where: object) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(OutboxMessage)
        for clause in where:
            query = query.where(clause)  # type: ignore[arg-type]
        return int(await session.scalar(query) or 0)


async def test_sent_outbox_rows_past_their_age_go_and_the_others_stay(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sent = datetime.now(UTC)
    await _outbox_rows(sessions, 3, sent - timedelta(days=10))
    await _outbox_rows(sessions, 2, sent)
    await _outbox_rows(sessions, 4, None)  # unsent: never purged, whatever its age
    purge = in_batches(sessions, purge_sent_outbox)

    # 29 days after the last sends: only those sent 10 days earlier are past 30 days.
    assert await purge(OUTBOX, sent + timedelta(days=29)) == 3
    assert await _count(sessions) == 6
    assert await _count(sessions, OutboxMessage.sent_at.is_(None)) == 4
    assert await purge(OUTBOX, sent + timedelta(days=29)) == 0, "a second run changes nothing"
    assert await _count(sessions) == 6

    assert await purge(OUTBOX, sent + timedelta(days=31)) == 2
    assert await _count(sessions) == 4
    assert await _count(sessions, OutboxMessage.sent_at.is_not(None)) == 0


async def test_a_backlog_larger_than_a_batch_goes_in_one_transaction_per_batch(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sent = datetime.now(UTC)
    await _outbox_rows(sessions, 1203, sent)
    transactions: list[int] = []

    async def counted(session: AsyncSession, cutoff: datetime, limit: int) -> Batch:
        count = await purge_sent_outbox(session, cutoff, limit)
        # What the next batch sees was committed by this one, not by the end of the run.
        return Batch(count, after_commit=lambda: _record(transactions, count))

    policy = Policy("outbox", timedelta(days=30), batch=500)
    assert await in_batches(sessions, counted)(policy, sent + timedelta(days=31)) == 1203
    assert transactions == [500, 500, 203]
    assert await _count(sessions) == 0


async def _record(transactions: list[int], count: int) -> None:
    transactions.append(count)


async def test_a_stream_loses_only_the_messages_past_their_age(
    nats_client: NatsClient, jetstream: JetStreamContext
) -> None:
    await ensure_stream(jetstream, DEAD_STREAM, [DEAD_SUBJECTS])
    await jetstream.purge_stream(DEAD_STREAM)
    subject = DEAD_SUBJECTS.replace(">", "consumer.some.event.v1")
    for number in range(5):
        await jetstream.publish(subject, f"old {number}".encode())
    for number in range(3):
        await jetstream.publish(subject, f"young {number}".encode())
    info = await jetstream.stream_info(DEAD_STREAM)
    last_old = await jetstream.get_msg(DEAD_STREAM, info.state.first_seq + 4)
    first_young = await jetstream.get_msg(DEAD_STREAM, info.state.first_seq + 5)
    assert last_old.time is not None and first_young.time is not None
    between = last_old.time + (first_young.time - last_old.time) / 2
    policy = Policy("dead_letters", timedelta(days=90))
    # Gaps (a message removed by hand) are skipped by the search.
    await jetstream.delete_msg(DEAD_STREAM, info.state.first_seq + 2)
    await jetstream.delete_msg(DEAD_STREAM, info.state.first_seq + 6)

    assert await purge_stream_by_age(nats_client, DEAD_STREAM, DEAD_SUBJECTS, policy, between) == 0
    now = between + timedelta(days=90)
    assert await purge_stream_by_age(nats_client, DEAD_STREAM, DEAD_SUBJECTS, policy, now) == 4
    state = (await jetstream.stream_info(DEAD_STREAM)).state
    assert state.messages == 2
    kept = await jetstream.get_msg(DEAD_STREAM, state.first_seq)
    assert kept.data == b"young 0"
    assert await purge_stream_by_age(nats_client, DEAD_STREAM, DEAD_SUBJECTS, policy, now) == 0
    assert (await jetstream.stream_info(DEAD_STREAM)).state.messages == 2

    later = first_young.time + timedelta(days=91)
    assert await purge_stream_by_age(nats_client, DEAD_STREAM, DEAD_SUBJECTS, policy, later) == 2
    assert (await jetstream.stream_info(DEAD_STREAM)).state.messages == 0
    assert await purge_stream_by_age(nats_client, DEAD_STREAM, DEAD_SUBJECTS, policy, later) == 0
    await jetstream.delete_stream(DEAD_STREAM)
    # A stream that was never made holds nothing to purge.
    assert await purge_stream_by_age(nats_client, DEAD_STREAM, DEAD_SUBJECTS, policy, later) == 0


async def test_a_failing_kind_is_reported_and_the_others_still_run(
    sessions: async_sessionmaker[AsyncSession], nats_client: NatsClient
) -> None:
    sent = datetime.now(UTC)
    await _outbox_rows(sessions, 2, sent)

    async def broken(policy: Policy, now: datetime) -> int:
        raise RuntimeError("the store is away")

    settings = RetentionSettings(outbox_days=7, dead_letter_days=0)
    rules = [
        Rule(Policy("broken", timedelta(days=1)), broken),
        *kit_rules(settings, sessions, nats_client),
    ]
    report = await Retention("kit", rules).run_once(sent + timedelta(days=8))

    assert report.failed == ["broken"]
    assert report.purged == {"outbox": 2}, "0 days keeps dead letters for ever: no rule"
    assert await _count(sessions) == 0


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="age must be positive"):
        Policy("drafts", timedelta(0))
    with pytest.raises(ValueError, match="at least one item"):
        Policy("drafts", timedelta(days=1), batch=0)
    with pytest.raises(ValueError, match="aware time"):
        Policy("drafts", timedelta(days=1)).cutoff(datetime(2026, 1, 1))

    async def nothing(policy: Policy, now: datetime) -> int:
        return 0

    rule = Rule(Policy("drafts", timedelta(days=1)), nothing)
    with pytest.raises(ValueError, match="two retention rules"):
        Retention("kit", [rule, rule])
    with pytest.raises(ValueError, match="outbox_days"):
        RetentionSettings(outbox_days=-1)
    with pytest.raises(ValueError, match="batch_size"):
        RetentionSettings(batch_size=0)
