"""F61, F63, F65 + F9 on the real servers: messaging's own events (a message sent, answered, an
eDocument delivered) become notifications to the person, by e-mail and/or SMS as their
preferences in identity say and in their language; the notification centre lists the caller's
own in any acting context. identity runs as its own process (as in test_person_notifications);
a scratch JetStream stream per worker stands for messaging's own."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import messaging_pb2 as events
from guichet.messaging.v1 import messaging_pb2 as pb
from guichet_kit.auth import ActingContext, LevelOfAssurance, Principal, set_caller
from guichet_kit.events import DEAD_LETTER_STREAM, dead_letter_subject, ensure_stream
from guichet_kit.i18n import Language
from guichet_kit.national_id import make_national_id
from guichet_messaging.notifications import service
from guichet_messaging.notifications.compose import Composed, Mail, Sms
from guichet_messaging.notifications.contacts import IdentityContacts
from guichet_messaging.notifications.delivery import DeliveryWorker
from guichet_messaging.notifications.exchange_events import ExchangeNotifications
from guichet_messaging.notifications.grpc import MessagingServicer
from guichet_testkit import worker_name
from guichet_testkit.eventually import wait_until
from guichet_testkit.mail import mail_text, newest_mail
from guichet_testkit.streams import purge_streams

from . import test_person_notifications as persons
from .conftest import FAST, Sinks, consuming, contacts_channel, notifications, senders
from .test_person_notifications import Identity, Person, delivered, register, sms_to

# identity as its own process, as for procedures' events (the same fixtures).
identity_server = persons.identity_server
identity = persons.identity

BASE_URL = "https://guichet.example"
STREAM = f"MSGXTEST_{worker_name()}".upper()
PREFIX = f"msgxtest{worker_name()}"
SENT = f"{PREFIX}.message.sent.v1"
ANSWERED = f"{PREFIX}.message.answered.v1"
EDOCUMENT = f"{PREFIX}.edocument.delivered.v1"


@pytest.fixture
async def stream(jetstream: JetStreamContext) -> str:
    await ensure_stream(jetstream, STREAM, [f"{PREFIX}.>"])
    await ensure_stream(jetstream, DEAD_LETTER_STREAM, ["deadletter.>"])
    await purge_streams(jetstream, [STREAM])
    return STREAM


@pytest.fixture
def running(
    sessions: async_sessionmaker[AsyncSession],
    jetstream: JetStreamContext,
    stream: str,
    sinks: Sinks,
    infra: dict[str, str],
    identity: Identity,
) -> Any:
    """The three consumers and a delivery worker, as the worker role runs them, reaching
    identity with messaging's certificate."""

    @asynccontextmanager
    async def start() -> AsyncIterator[ExchangeNotifications]:
        channel = contacts_channel(infra, identity.services_address)
        worker = DeliveryWorker(sessions, senders(sinks), FAST, poll_seconds=0.1)
        handlers = ExchangeNotifications(
            BASE_URL,
            IdentityContacts(channel),
            prefix=f"msgxtest-{uuid.uuid4().hex[:8]}",
            stream=stream,
            sent_subject=SENT,
            answered_subject=ANSWERED,
            edocument_subject=EDOCUMENT,
            backoff=(0.2, 0.5),
            recorded=worker.wake,
        )
        try:
            async with consuming(jetstream, sessions, stream, worker, handlers.subscriptions()):
                yield handlers
        finally:
            await channel.close()

    return start


def sent(
    owner: str,
    *,
    first: bool = True,
    kind: str = "message",
    title: str = "Mon avis 2025",
    reference: str = "",
) -> events.MessageSent:
    return events.MessageSent(
        event_id=str(uuid.uuid4()),
        owner=owner,
        thread_id=str(uuid.uuid4()),
        administration="acd",
        kind=kind,
        title=title,
        reference=reference,
        first=first,
    )


def answered(owner: str, title: str = "Mon avis 2025") -> events.MessageAnswered:
    return events.MessageAnswered(
        event_id=str(uuid.uuid4()),
        owner=owner,
        thread_id=str(uuid.uuid4()),
        administration="ccss",
        title=title,
    )


def edocument(owner: str) -> events.EDocumentDelivered:
    return events.EDocumentDelivered(
        event_id=str(uuid.uuid4()),
        owner=owner,
        piece_id=str(uuid.uuid4()),
        administration="acd",
        title="Bulletin 2025",
    )


async def test_an_answer_an_acknowledgement_and_an_edocument_reach_the_person_in_their_language(
    running: Any,
    identity: Identity,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    sinks: Sinks,
    mail_dir: Path,
) -> None:
    anne = await register(identity, language=Language.DE, email=True, sms=True)
    first, reply = sent(anne.owner), sent(anne.owner, first=False, title="Noch eine Frage")
    answer, arrived = answered(anne.owner), edocument(anne.owner)
    since = time.time()
    async with running():
        # One consumer takes a subject's events in order: the reply is handled before the first.
        await jetstream.publish(SENT, reply.SerializeToString())
        await jetstream.publish(SENT, first.SerializeToString())
        await jetstream.publish(ANSWERED, answer.SerializeToString())
        # Redelivered: told once.
        await jetstream.publish(ANSWERED, answer.SerializeToString())
        await jetstream.publish(EDOCUMENT, arrived.SerializeToString())
        await wait_until(
            lambda: delivered(sessions, 6), seconds=30, what="three e-mails, three SMS"
        )

    rows = await notifications(sessions)
    assert sorted((row.kind, row.channel) for row in rows) == [
        ("messaging.edocument_delivered", "email"),
        ("messaging.edocument_delivered", "sms"),
        ("messaging.message_answered", "email"),
        ("messaging.message_answered", "sms"),
        ("messaging.message_sent", "email"),
        ("messaging.message_sent", "sms"),
    ]
    assert {row.event_id for row in rows} == {
        uuid.UUID(e.event_id) for e in (first, answer, arrived)
    }

    subjects = set()
    for part in ("wurde gesendet", "geantwortet", "Dokument"):
        mail = await newest_mail(mail_dir, anne.email, since=since, subject_contains=part)
        subjects.add(mail["Subject"])
    assert subjects == {
        "Ihre Nachricht „Mon avis 2025“ wurde gesendet",
        "CCSS hat auf Ihre Nachricht „Mon avis 2025“ geantwortet",
        "Ein Dokument von ACD ist eingegangen: „Bulletin 2025“",
    }
    document = await newest_mail(mail_dir, anne.email, since=since, subject_contains="Dokument")
    text = mail_text(document)
    assert "ACD hat Ihnen das Dokument „Bulletin 2025“ gesendet." in text
    assert f"{BASE_URL}/my/wallet/{arrived.piece_id}?lang=de" in text

    texts = sorted(message["text"] for message in await sms_to(sinks, anne.phone))
    assert len(texts) == 3
    assert texts[0].startswith("OpenGuichet: ACD hat Ihnen das Dokument „Bulletin 2025“ gesendet.")
    assert texts[1].startswith(
        "OpenGuichet: CCSS hat auf Ihre Nachricht „Mon avis 2025“ geantwortet. "
        f"{BASE_URL}/my/messages/{answer.thread_id}?lang=de"
    )
    assert texts[2].startswith(
        "OpenGuichet: Ihre Nachricht „Mon avis 2025“ wurde an ACD gesendet. "
        f"{BASE_URL}/my/messages/{first.thread_id}?lang=de"
    )
    assert not any("Noch eine Frage" in t for t in texts)


async def test_a_deposited_document_is_acknowledged_with_its_reference(
    running: Any,
    identity: Identity,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    lea = await register(identity, language=Language.FR, email=True, sms=False)
    deposit = sent(lea.owner, kind="document", title="Certificat", reference="DOC-7K2M-9QXP")
    since = time.time()
    async with running():
        await jetstream.publish(SENT, deposit.SerializeToString())
        await wait_until(lambda: delivered(sessions, 1), seconds=30, what="the acknowledgement")

    [row] = await notifications(sessions)
    assert (row.owner, row.channel, row.reference) == (lea.owner, "email", "DOC-7K2M-9QXP")
    mail = await newest_mail(mail_dir, lea.email, since=since)
    assert mail["Subject"] == "Votre document « Certificat » a été envoyé : référence DOC-7K2M-9QXP"
    assert (
        "Votre document « Certificat » a été envoyé à ACD sous la référence DOC-7K2M-9QXP."
        in mail_text(mail)
    )


async def test_nobody_to_tell_sends_nothing_a_poison_event_is_dead_lettered_the_next_goes_on(
    running: Any,
    identity: Identity,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    sinks: Sinks,
) -> None:
    silent = await register(identity, language=Language.FR, email=False, sms=False)
    texts_only = await register(identity, language=Language.EN, email=False, sms=True)
    nobody = make_national_id(date(1950, 1, 1), 998).value
    no_uuid = answered(texts_only.owner)
    no_uuid.event_id = "not-a-uuid"
    async with running() as handlers:
        await jetstream.publish(ANSWERED, answered(silent.owner).SerializeToString())
        await jetstream.publish(ANSWERED, answered(f"person:{nobody}").SerializeToString())
        # A company is never an exchange's owner; an event id must be a UUID.
        company = answered("company:5b9d3c1a-2222-4333-8444-a55566667777")
        await jetstream.publish(ANSWERED, company.SerializeToString())
        await jetstream.publish(ANSWERED, no_uuid.SerializeToString())
        await jetstream.publish(ANSWERED, b"\xff\x00 not a protobuf")
        await jetstream.publish(ANSWERED, answered(texts_only.owner).SerializeToString())
        await wait_until(lambda: delivered(sessions, 1), seconds=30, what="one SMS")
        durable = handlers.subscriptions()[1].durable

    rows = await notifications(sessions)
    assert [(row.owner, row.channel, row.language) for row in rows] == [
        (texts_only.owner, "sms", "en")
    ]
    assert await sms_to(sinks, silent.phone) == []
    [message] = await sms_to(sinks, texts_only.phone)
    assert message["text"].startswith(
        "OpenGuichet: CCSS answered your message “Mon avis 2025”. https://"
    )
    reasons = []
    for _ in range(3):
        dead = await jetstream.get_last_msg(
            DEAD_LETTER_STREAM, dead_letter_subject(durable, ANSWERED)
        )
        reasons.append((dead.headers or {}).get("Dead-Letter-Reason", ""))
        assert dead.seq is not None
        await jetstream.delete_msg(DEAD_LETTER_STREAM, dead.seq)
    assert any(reason.startswith("poison: an owner that is no person") for reason in reasons)
    # The kit refuses an event whose id is no UUID, as bytes that are no event.
    assert sum(reason.startswith("undecodable") for reason in reasons) == 2


def _composed(title: str) -> Composed:
    return Composed(Mail(title, "text", "<p>text</p>"), Sms(title))


async def _notify(sessions: async_sessionmaker[AsyncSession], person: Person, title: str) -> None:
    async with sessions() as session, session.begin():
        await service.record(
            session,
            event_id=uuid.uuid4(),
            kind="messaging.message_answered",
            reference=title,
            recipient=service.Recipient(Language.FR, email=person.email, owner=person.owner),
            composed=_composed(title),
        )


@pytest.mark.parametrize(
    "context",
    [
        ActingContext("private"),
        ActingContext("company", "5b9d3c1a-2222-4333-8444-a55566667777"),
        ActingContext("relation", "8c1e4d2b-3333-4444-8555-b66677778888"),
    ],
    ids=str,
)
async def test_the_centre_lists_the_callers_own_notifications_in_any_acting_context(
    sessions: async_sessionmaker[AsyncSession], context: ActingContext
) -> None:
    anne = Person(make_national_id(date(1981, 3, 4), 11).value, "anne@example.org", "")
    bert = Person(make_national_id(date(1979, 5, 6), 12).value, "bert@example.org", "")
    await _notify(sessions, anne, "Anne's")
    await _notify(sessions, bert, "Bert's")
    set_caller(
        Principal("kc-anne", LevelOfAssurance.LOW, anne.national_id, anne.email, "Anne", "t"),
        context,
    )
    try:
        reply = await MessagingServicer(sessions).ListMyNotifications(
            pb.ListMyNotificationsRequest(), cast(Any, None)
        )
    finally:
        set_caller(None)
    # Her own, whatever context she acts in; never the company's or the represented person's.
    assert [n.title for n in reply.notifications] == ["Anne's"]
