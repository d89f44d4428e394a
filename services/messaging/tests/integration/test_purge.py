"""F8 and F13 on the real database and stream: identity deleted Anne's account; messaging forgets
her notifications and threads, keeps the receipts her senders got (an unopened eDocument gets its
`unread` receipt at once), blanks her name on the delivery rows and confirms, in one transaction;
Bob's data stays as it was. Her export holds her own data and nobody else's."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import identity_pb2 as identity_events
from guichet.messaging.v1 import messaging_pb2 as pb
from guichet_kit.auth import LevelOfAssurance, Principal, set_caller
from guichet_kit.db import transaction
from guichet_kit.errors import ServiceError
from guichet_kit.events import EventConsumer, PoisonMessage, ProcessedEvent, ensure_stream
from guichet_kit.outbox import OutboxMessage, stamp
from guichet_messaging import export
from guichet_messaging.edelivery.models import Delivery, Receipt
from guichet_messaging.edelivery.receipts import ReceiptSealer
from guichet_messaging.edelivery.service import DeliveryRequest, EDelivery, FiledDocument
from guichet_messaging.exchanges.models import (
    ExchangeAttachment,
    ExchangeMessage,
    ExchangeThread,
)
from guichet_messaging.notifications.grpc import MessagingServicer
from guichet_messaging.notifications.models import Notification
from guichet_messaging.purge import ACCOUNT_PURGED, AccountPurge, purge_account
from guichet_testkit import worker_name
from guichet_testkit.db import row_counts
from guichet_testkit.eventually import wait_until
from guichet_testkit.streams import purge_streams

from .conftest import TABLES

ANNE, BOB = "1980010112345", "1975060600123"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NO_CONTEXT: object = None


@pytest.fixture(scope="module")
def sealer(infra: dict[str, str]) -> ReceiptSealer:
    seal = Path(infra["GUICHET_PKI_DIR"]) / "seal"
    return ReceiptSealer(seal / "platform-seal.crt", seal / "platform-seal.key")


@pytest.fixture(scope="module")
def edelivery(sealer: ReceiptSealer) -> EDelivery:
    return EDelivery(sealer, lambda: datetime.now(UTC))


async def _deliver(
    sessions: async_sessionmaker[AsyncSession], edelivery: EDelivery, person: str, name: str
) -> uuid.UUID:
    request = DeliveryRequest(
        administration="ccss",
        national_id=person,
        delivery_id=f"{name}-{person}",
        title=f"Statement {name}",
        file_name=f"{name}.pdf",
        declared_content_type="application/pdf",
        declared_size=4,
        signature_subject="",
    )
    filed = FiledDocument(uuid.uuid4(), f"{name}.pdf", "application/pdf", 4, "ab" * 32)
    async with transaction(sessions) as session:
        await edelivery.record(session, request, filed)
    return filed.piece_id


def _file(person: str, name: str, message: uuid.UUID | None) -> ExchangeAttachment:
    return ExchangeAttachment(
        owner=person,
        message=message,
        file_id=str(uuid.uuid4()),
        file_name=name,
        content_type="application/pdf",
        size=4,
        sha256="cd" * 32,
    )


async def _life_of(
    sessions: async_sessionmaker[AsyncSession], edelivery: EDelivery, person: str
) -> None:
    """Two notifications, a thread answered and a hidden one (each with a file sent), a file
    uploaded and not sent, two eDocuments (one opened)."""
    async with transaction(sessions) as session:
        for channel, recipient in (("email", f"{person}@example.org"), ("sms", "+352691000111")):
            session.add(
                Notification(
                    event_id=uuid.uuid4(),
                    kind="procedures.submitted",
                    channel=channel,
                    owner=f"person:{person}",
                    recipient=recipient,
                    language="fr",
                    reference="PRC-0001",
                    title=f"Reçu {person}",
                    body_text=f"Votre demande {person}",
                )
            )
        for hidden in (False, True):
            thread = ExchangeThread(
                owner=person,
                administration="acd",
                kind="message",
                theme="taxes",
                subject="income-tax",
                reason="tax-assessment",
                title=f"Assessment of {person}",
                hidden=hidden,
                last_message_at=NOW,
            )
            session.add(thread)
            await session.flush()
            written = ExchangeMessage(
                thread=thread.id, side="person", body=f"Hello, {person}", sent_at=NOW
            )
            session.add(written)
            session.add(
                ExchangeMessage(thread=thread.id, side="administration", body="Sent.", sent_at=NOW)
            )
            await session.flush()
            session.add(_file(person, f"sent-{person}.pdf", message=written.id))
        session.add(_file(person, f"waiting-{person}.pdf", message=None))
    opened = await _deliver(sessions, edelivery, person, "opened")
    await _deliver(sessions, edelivery, person, "unopened")
    async with transaction(sessions) as session:
        await edelivery.mark_read(session, person, opened)


@pytest.fixture
async def lives(sessions: async_sessionmaker[AsyncSession], edelivery: EDelivery) -> None:
    for person in (ANNE, BOB):
        await _life_of(sessions, edelivery, person)


def deleted(national_id: str) -> identity_events.AccountDeleted:
    return identity_events.AccountDeleted(
        deletion_id=str(uuid.uuid4()), national_id=national_id, subject="kc-anne"
    )


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    return await row_counts(sessions, TABLES)


async def _confirmations(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subject == ACCOUNT_PURGED)
            .order_by(OutboxMessage.id)
        )
        purged = [identity_events.AccountPurged.FromString(row.payload) for row in rows]
    return [(p.deletion_id, p.service) for p in purged]


async def _receipts(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    """(delivery id, kind, the addressee the sealed receipt names) of every receipt."""
    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.delivery_id, Receipt.kind, Receipt.jws)
            .join(Delivery, Delivery.id == Receipt.delivery)
            .order_by(Delivery.delivery_id, Receipt.number)
        )
        found = []
        for delivery_id, kind, token in rows.all():
            claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
            found.append((delivery_id, kind, claims["delivery"]["addressee"]))
        return found


async def _exported(sessions: async_sessionmaker[AsyncSession], person: str) -> dict[str, Any]:
    async with sessions() as session:
        return await export.document_of(session, person)


async def test_the_deleted_persons_messaging_goes_her_senders_keep_their_receipts(
    sessions: async_sessionmaker[AsyncSession], edelivery: EDelivery, lives: None
) -> None:
    bob_before = await _exported(sessions, BOB)
    receipts_before = await _receipts(sessions)
    event = deleted(ANNE)

    async with transaction(sessions) as session:
        purged = await purge_account(session, event.deletion_id, ANNE, edelivery)

    assert (purged.notifications, purged.threads, purged.messages) == (2, 2, 4)
    assert (purged.deliveries, purged.unread_receipts) == (2, 1)
    assert await _exported(sessions, ANNE) == {
        "notifications": [],
        "threads": [],
        "uploads_not_sent": [],
        "edocuments": [],
    }
    assert await _exported(sessions, BOB) == bob_before
    async with sessions() as session:
        owners = set(await session.scalars(select(Notification.owner)))
        assert owners == {f"person:{BOB}"}
        assert set(await session.scalars(select(ExchangeThread.owner))) == {BOB}
        assert set(await session.scalars(select(ExchangeAttachment.owner))) == {BOB}
        left = (await session.execute(select(Delivery.addressee, Delivery.title))).all()
        assert sorted(left) == [
            ("", ""),
            ("", ""),
            (BOB, "Statement opened"),
            (BOB, "Statement unopened"),
        ]
    # Every receipt given stays as it was; Anne's unopened eDocument has its unread receipt now
    # (naming her: the sender's proof); Bob's is not due yet.
    receipts_after = await _receipts(sessions)
    assert set(receipts_before) < set(receipts_after)
    assert set(receipts_after) - set(receipts_before) == {(f"unopened-{ANNE}", "unread", ANNE)}
    assert await _confirmations(sessions) == [(event.deletion_id, "messaging")]


async def test_a_second_purge_removes_nothing_more_and_confirms_again(
    sessions: async_sessionmaker[AsyncSession], edelivery: EDelivery, lives: None
) -> None:
    event = deleted(ANNE)
    handler = AccountPurge(edelivery)
    async with transaction(sessions) as session:
        await handler.on_account_deleted(session, event)
    after_first = await _counts(sessions)
    receipts = await _receipts(sessions)

    async with transaction(sessions) as session:
        again = await purge_account(session, event.deletion_id, ANNE, edelivery)

    assert again == type(again)(0, 0, 0, 0, 0)
    counts = await _counts(sessions)
    assert counts.pop("outbox") == after_first.pop("outbox") + 1
    assert counts == after_first
    assert await _receipts(sessions) == receipts
    assert await _confirmations(sessions) == [(event.deletion_id, "messaging")] * 2


async def test_the_purge_and_its_confirmation_stand_or_fall_together(
    sessions: async_sessionmaker[AsyncSession], edelivery: EDelivery, lives: None
) -> None:
    before = await _counts(sessions)

    async def purge_then_lose_the_connection() -> None:
        async with transaction(sessions) as session:
            await AccountPurge(edelivery).on_account_deleted(session, deleted(ANNE))
            raise ConnectionError("the connection dropped before the commit")

    with pytest.raises(ConnectionError):
        await purge_then_lose_the_connection()

    assert await _counts(sessions) == before
    assert await _confirmations(sessions) == []


async def test_without_edelivery_served_the_purge_still_forgets_the_person(
    sessions: async_sessionmaker[AsyncSession], lives: None
) -> None:
    receipts = await _receipts(sessions)
    async with transaction(sessions) as session:
        purged = await purge_account(session, "d-1", ANNE, None)

    assert (purged.deliveries, purged.unread_receipts) == (2, 0)
    assert await _receipts(sessions) == receipts
    assert (await _exported(sessions, ANNE))["edocuments"] == []


@pytest.mark.parametrize("missing", ["national_id", "deletion_id"])
async def test_a_deletion_without_its_ids_is_poison_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], edelivery: EDelivery, lives: None, missing: str
) -> None:
    event = deleted(ANNE)
    event.ClearField(missing)  # type: ignore[arg-type]
    before = await _counts(sessions)

    with pytest.raises(PoisonMessage):
        async with transaction(sessions) as session:
            await AccountPurge(edelivery).on_account_deleted(session, event)

    assert await _counts(sessions) == before


async def test_the_consumer_applies_a_deletion_once_from_the_stream(
    sessions: async_sessionmaker[AsyncSession],
    edelivery: EDelivery,
    lives: None,
    jetstream: JetStreamContext,
) -> None:
    # The real subscription on a stream of this worker's own: no other run's messaging, nor
    # identity's real deletions, is involved.
    stream = f"MSGPURGETEST_{worker_name().upper()}"
    subject = f"msgpurgetest{worker_name()}.account.deleted.v1"
    subscription = AccountPurge(edelivery, f"msgpurgetest-{uuid.uuid4().hex[:8]}").subscription(
        stream, subject
    )
    await ensure_stream(jetstream, stream, [subject])
    await purge_streams(jetstream, [stream])
    event = deleted(ANNE)
    stamp(event)
    stop = asyncio.Event()
    consumer = asyncio.create_task(EventConsumer(jetstream, sessions, subscription).run(stop))
    try:
        for _ in range(2):  # a redelivery, as after a lost acknowledgement
            await jetstream.publish(subject, event.SerializeToString())

        async def consumed() -> bool:
            info = await jetstream.consumer_info(stream, subscription.durable)
            return info.num_pending == 0 and info.num_ack_pending == 0

        await wait_until(consumed, seconds=15, what="the deletion consumed")
    finally:
        stop.set()
        await consumer
        await jetstream.delete_stream(stream)

    assert (await _exported(sessions, ANNE))["threads"] == []
    assert await _confirmations(sessions) == [(event.deletion_id, "messaging")]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


async def test_the_export_holds_the_persons_own_messaging_and_nobody_elses(
    sessions: async_sessionmaker[AsyncSession], lives: None
) -> None:
    document = await _exported(sessions, ANNE)

    assert sorted((n["channel"], n["recipient"]) for n in document["notifications"]) == [
        ("email", f"{ANNE}@example.org"),
        ("sms", "+352691000111"),
    ]
    assert {n["title"] for n in document["notifications"]} == {f"Reçu {ANNE}"}
    # both threads were written in one transaction: the same created_at, so no order between them
    assert sorted(t["hidden"] for t in document["threads"]) == [False, True]
    for thread in document["threads"]:
        assert thread["title"] == f"Assessment of {ANNE}"
        assert [(m["from"], m["body"]) for m in thread["messages"]] == [
            ("person", f"Hello, {ANNE}"),
            ("administration", "Sent."),
        ]
        assert [f["file_name"] for f in thread["messages"][0]["attachments"]] == [
            f"sent-{ANNE}.pdf"
        ]
        assert thread["messages"][1]["attachments"] == []
    assert [f["file_name"] for f in document["uploads_not_sent"]] == [f"waiting-{ANNE}.pdf"]
    edocuments = {d["delivery_id"]: d for d in document["edocuments"]}
    assert set(edocuments) == {f"opened-{ANNE}", f"unopened-{ANNE}"}
    opened = edocuments[f"opened-{ANNE}"]
    assert opened["read_at"] is not None and opened["title"] == "Statement opened"
    assert [r["kind"] for r in opened["receipts"]] == ["delivered", "read"]
    assert [r["kind"] for r in edocuments[f"unopened-{ANNE}"]["receipts"]] == ["delivered"]
    claims = jwt.decode(opened["receipts"][0]["jws"], options={"verify_signature": False})
    assert claims["delivery"]["addressee"] == ANNE
    assert BOB not in str(document)


async def test_the_unread_delay_still_applies_to_others_after_a_purge(
    sessions: async_sessionmaker[AsyncSession],
    sealer: ReceiptSealer,
    edelivery: EDelivery,
    lives: None,
) -> None:
    async with transaction(sessions) as session:
        await purge_account(session, "d-2", ANNE, edelivery)
    later = EDelivery(sealer, lambda: datetime.now(UTC) + timedelta(days=15))
    async with transaction(sessions) as session:
        # Anne's was reported at the purge: only Bob's unopened one is due.
        assert await later.report_unread(session, timedelta(days=14), batch=100) == 1
    assert (f"unopened-{BOB}", "unread", BOB) in await _receipts(sessions)


def _caller(national_id: str, level: LevelOfAssurance) -> Principal:
    return Principal(
        subject=f"kc-{uuid.uuid4().hex[:8]}",
        level=level,
        national_id=national_id,
        email="someone@example.org",
        name="Someone",
        token="not-checked-in-process",
    )


async def test_export_messaging_gives_the_caller_their_own_document(
    sessions: async_sessionmaker[AsyncSession], lives: None
) -> None:
    servicer = MessagingServicer(sessions)
    for person in (ANNE, BOB):
        set_caller(_caller(person, LevelOfAssurance.SUBSTANTIAL))
        reply = await servicer.ExportMessaging(pb.ExportMessagingRequest(), NO_CONTEXT)  # type: ignore[arg-type]
        assert json.loads(reply.document) == await _exported(sessions, person)
        assert (ANNE if person == BOB else BOB) not in reply.document.decode()


@pytest.mark.parametrize(
    ("caller", "code", "reason"),
    [
        (None, grpc.StatusCode.UNAUTHENTICATED, "AUTHENTICATION_REQUIRED"),
        (LevelOfAssurance.LOW, grpc.StatusCode.UNAUTHENTICATED, "INSUFFICIENT_USER_AUTHENTICATION"),
    ],
)
async def test_export_messaging_needs_a_substantial_sign_in(
    sessions: async_sessionmaker[AsyncSession],
    lives: None,
    caller: LevelOfAssurance | None,
    code: grpc.StatusCode,
    reason: str,
) -> None:
    set_caller(None if caller is None else _caller(ANNE, caller))
    with pytest.raises(ServiceError) as refused:
        await MessagingServicer(sessions).ExportMessaging(
            pb.ExportMessagingRequest(),
            NO_CONTEXT,  # type: ignore[arg-type]
        )
    assert (refused.value.code, refused.value.reason) == (code, reason)
