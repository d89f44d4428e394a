"""Read receipts (F64) from the wallet's word: the EDocumentOpened event (a scratch stream of this
worker stands for the wallet's) becomes the sender's sealed read receipt, on the real PostgreSQL
and NATS JetStream, once however often the event comes; an event for a delivery messaging does
not know is retried, then dead-lettered, and the next one goes on."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import wallet_pb2 as wallet_events
from guichet_kit.db import transaction
from guichet_kit.events import DEAD_LETTER_STREAM, EventConsumer, dead_letter_subject
from guichet_kit.national_id import make_national_id
from guichet_messaging.edelivery.models import Delivery, Receipt, ReceiptKind
from guichet_messaging.edelivery.opened import ReadReceipts
from guichet_messaging.edelivery.receipts import ReceiptSealer
from guichet_messaging.edelivery.service import EDelivery, FiledDocument, delivery_request
from guichet_testkit.eventually import wait_until

from .conftest import PREFIX, _exists
from .test_edelivery import payload_of

OPENED = f"{PREFIX}.edocument.opened.v1"
ANNE = make_national_id(date(1980, 1, 1), 311).value
MARC = make_national_id(date(1977, 7, 7), 312).value


@pytest.fixture
def edelivery(infra: dict[str, str]) -> EDelivery:
    pki = Path(infra["GUICHET_PKI_DIR"])
    sealer = ReceiptSealer(pki / "seal" / "platform-seal.crt", pki / "seal" / "platform-seal.key")
    return EDelivery(sealer, lambda: datetime.now(UTC))


@pytest.fixture
async def consuming(
    sessions: async_sessionmaker[AsyncSession],
    jetstream: JetStreamContext,
    stream: str,
    edelivery: EDelivery,
) -> AsyncIterator[ReadReceipts]:
    """The consumer as messaging's worker runs it, with short retries."""
    handlers = ReadReceipts(
        edelivery,
        prefix=f"msgtest-{uuid.uuid4().hex[:8]}",
        stream=stream,
        subject=OPENED,
        backoff=(0.1, 0.1),
    )
    subscription = handlers.subscription()
    stop = asyncio.Event()
    task = asyncio.create_task(EventConsumer(jetstream, sessions, subscription).run(stop))
    await wait_until(
        functools.partial(_exists, jetstream, stream, subscription.durable),
        seconds=15,
        what="the read receipts' consumer",
    )
    try:
        yield handlers
    finally:
        stop.set()
        await task
        await jetstream.delete_consumer(stream, subscription.durable)


async def delivered(
    sessions: async_sessionmaker[AsyncSession], edelivery: EDelivery, national_id: str, name: str
) -> uuid.UUID:
    """A delivery recorded as DeliverDocument records it once the wallet filed the file; returns
    the wallet piece it became."""
    piece_id = uuid.uuid4()
    wanted = delivery_request(
        "ccss", national_id, name, "Certificate", "certificate.pdf", "application/pdf", 100, ""
    )
    async with transaction(sessions) as session:
        await edelivery.record(
            session,
            wanted,
            FiledDocument(piece_id, "certificate.pdf", "application/pdf", 100, "ab" * 32),
        )
    return piece_id


def opened(national_id: str, piece_id: uuid.UUID, at: datetime) -> wallet_events.EDocumentOpened:
    event = wallet_events.EDocumentOpened(
        event_id=str(uuid.uuid4()),
        piece_id=str(piece_id),
        owner=f"person:{national_id}",
        delivery_id="platform-id",
        opened_by=national_id,
    )
    event.opened_at.FromDatetime(at)
    return event


async def read_receipts(sessions: async_sessionmaker[AsyncSession]) -> list[Receipt]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Receipt).where(Receipt.kind == ReceiptKind.READ.value).order_by(Receipt.number)
        )
        return list(rows)


async def test_an_opened_edocument_gives_its_sender_one_sealed_read_receipt(
    sessions: async_sessionmaker[AsyncSession],
    jetstream: JetStreamContext,
    edelivery: EDelivery,
    consuming: ReadReceipts,
    infra: dict[str, str],
) -> None:
    piece_id = await delivered(sessions, edelivery, ANNE, "read-me")
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    event = opened(ANNE, piece_id, at)

    await jetstream.publish(OPENED, event.SerializeToString())
    await wait_until(lambda: _count_is(sessions, 1), seconds=15, what="the read receipt")
    # The same event redelivered, and the wallet's word again (another event): still one.
    await jetstream.publish(OPENED, event.SerializeToString())
    await jetstream.publish(OPENED, opened(ANNE, piece_id, at).SerializeToString())
    after = await delivered(sessions, edelivery, ANNE, "sentinel")
    await jetstream.publish(OPENED, opened(ANNE, after, at).SerializeToString())
    await wait_until(lambda: _count_is(sessions, 2), seconds=15, what="the sentinel's receipt")

    first, _ = await read_receipts(sessions)
    async with sessions() as session:
        delivery = await session.scalar(select(Delivery).where(Delivery.piece_id == piece_id))
    assert delivery is not None
    assert delivery.read_at == at  # when the person opened it, not when messaging heard
    payload = payload_of(first.jws, Path(infra["GUICHET_PKI_DIR"]))
    assert payload["receipt"] == "read"
    assert payload["read_at"] == at.isoformat()
    assert payload["delivery"]["delivery_id"] == "read-me"  # type: ignore[index]


async def test_an_unknown_delivery_is_retried_then_dead_lettered_and_the_next_goes_on(
    sessions: async_sessionmaker[AsyncSession],
    jetstream: JetStreamContext,
    edelivery: EDelivery,
    consuming: ReadReceipts,
) -> None:
    marcs = await delivered(sessions, edelivery, MARC, "for-marc")
    # Anne did not get Marc's document: his piece under her name names no delivery.
    stranger = opened(ANNE, marcs, datetime.now(UTC))
    await jetstream.publish(OPENED, stranger.SerializeToString())
    await jetstream.publish(OPENED, opened(MARC, marcs, datetime.now(UTC)).SerializeToString())

    await wait_until(lambda: _count_is(sessions, 1), seconds=15, what="Marc's read receipt")
    subject = dead_letter_subject(consuming.subscription().durable, OPENED)
    await wait_until(
        functools.partial(_dead_lettered, jetstream, subject),
        seconds=30,
        what="the unknown delivery dead-lettered",
    )
    (receipt,) = await read_receipts(sessions)
    async with sessions() as session:
        delivery = await session.get(Delivery, receipt.delivery)
    assert delivery is not None and delivery.addressee == MARC


async def _count_is(sessions: async_sessionmaker[AsyncSession], wanted: int) -> bool:
    return len(await read_receipts(sessions)) == wanted


async def _dead_lettered(jetstream: JetStreamContext, subject: str) -> bool:
    await jetstream.get_last_msg(DEAD_LETTER_STREAM, subject)  # raises while there is none
    return True
