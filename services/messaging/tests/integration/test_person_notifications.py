"""F65 + F9 on the real servers: procedures' events become notifications to the person who owns
the request, by e-mail and/or SMS as their preferences in identity say and in their language.
identity runs as its own process (its services port, mutual TLS with messaging's certificate);
a scratch JetStream stream per worker stands for procedures' and the wallet's."""

from __future__ import annotations

import functools
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import procedures_pb2 as events
from guichet.events.v1 import wallet_pb2 as wallet_events
from guichet.messaging.v1 import messaging_pb2 as pb
from guichet_identity.profile import service as profiles
from guichet_kit.auth import LevelOfAssurance, Principal, set_caller
from guichet_kit.db import create_engine, session_factory, transaction
from guichet_kit.events import ensure_stream
from guichet_kit.i18n import Language
from guichet_kit.national_id import make_national_id
from guichet_messaging.notifications.compose import RequestReference
from guichet_messaging.notifications.contacts import IdentityContacts
from guichet_messaging.notifications.delivery import DeliveryWorker
from guichet_messaging.notifications.grpc import MessagingServicer
from guichet_messaging.notifications.person_events import PersonNotifications
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database, service_metadata, truncate_tables
from guichet_testkit.eventually import wait_until
from guichet_testkit.mail import mail_text, newest_mail
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving
from guichet_testkit.streams import purge_streams

from .conftest import (
    FAST,
    Sinks,
    a_mobile,
    an_address,
    consuming,
    contacts_channel,
    notifications,
    senders,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
BASE_URL = "https://guichet.example"
STREAM = f"MSGPTEST_{worker_name()}".upper()
PREFIX = f"msgptest{worker_name()}"
SUBMITTED = f"{PREFIX}.request.submitted.v1"
STATUS_CHANGED = f"{PREFIX}.request.status_changed.v1"
CORRECTION_ASKED = f"{PREFIX}.request.correction_asked.v1"
IDENTITY_TABLES = service_metadata("guichet_identity")


def _start_identity(infra: dict[str, str], database_url: str, services_address: str) -> Any:
    """identity's gRPC role as its own process; returns (process, internal address)."""
    address = f"127.0.0.1:{free_port()}"
    pki = Path(infra["GUICHET_PKI_DIR"])
    env = {
        "IDENTITY_ENVIRONMENT": "test",
        "IDENTITY_DATABASE_URL": database_url,
        "IDENTITY_NATS_URL": infra["GUICHET_NATS_URL"],
        "IDENTITY_GRPC_ADDRESS": address,
        "IDENTITY_SERVICES_GRPC_ADDRESS": services_address,
        "IDENTITY_KEYCLOAK_URL": infra["GUICHET_KEYCLOAK_HTTPS_URL"],
        "IDENTITY_KEYCLOAK_CLIENT_ID": infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_ID"],
        "IDENTITY_KEYCLOAK_CLIENT_SECRET": infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_SECRET"],
        "IDENTITY_CA_FILE": infra["GUICHET_CA_FILE"],
        "IDENTITY_TLS_CERTIFICATE": str(pki / "services" / "identity.crt"),
        "IDENTITY_TLS_PRIVATE_KEY": str(pki / "services" / "identity.key"),
        "IDENTITY_PLATFORM_CA": str(pki / "ca.crt"),
        "IDENTITY_AUTHENTIC_DATA_ADDRESS": "127.0.0.1:1",
    }
    process = ServiceProcess(
        f"messaging-test-identity-{uuid.uuid4().hex[:6]}",
        [sys.executable, "-m", "guichet_identity", "grpc"],
        env,
        REPO_ROOT / ".data" / "log" / "tests",
    )
    process.start()
    return process, address


@dataclass
class Identity:
    sessions: async_sessionmaker[AsyncSession]
    database_url: str
    services_address: str


@pytest.fixture(scope="module")
async def identity_server(infra: dict[str, str]) -> AsyncIterator[Identity]:
    url = await migrated_database(
        infra, REPO_ROOT / "services" / "identity", f"messaging_test_identity_{worker_name()}"
    )
    engine = create_engine(url)
    services_address = f"127.0.0.1:{free_port()}"
    process, address = _start_identity(infra, url, services_address)
    try:
        await wait_until(
            lambda: grpc_serving(address), seconds=60, what="identity", process=process
        )
        yield Identity(session_factory(engine), url, services_address)
    finally:
        process.stop()
        await engine.dispose()


@pytest.fixture
async def identity(identity_server: Identity) -> Identity:
    await truncate_tables(identity_server.sessions, IDENTITY_TABLES)
    return identity_server


@dataclass(frozen=True)
class Person:
    national_id: str
    email: str
    phone: str

    @property
    def owner(self) -> str:
        return f"person:{self.national_id}"


_sequence = iter(range(1, 1000))


async def register(identity: Identity, *, language: Language, email: bool, sms: bool) -> Person:
    """A person with an account, a mobile number and these notification preferences."""
    subject = f"kc-{uuid.uuid4().hex[:12]}"
    national_id = make_national_id(date(1981, 3, 4), next(_sequence)).value
    person = Person(national_id, an_address(), a_mobile())
    async with transaction(identity.sessions) as session:
        await profiles.create_profile(
            session,
            subject=subject,
            national_id=national_id,
            email=person.email,
            first_name="Anne",
            last_name="Muller",
            language="fr",
        )
    async with transaction(identity.sessions) as session:
        profile = await profiles.own_profile(session, subject)
        profile.phone = person.phone
    async with transaction(identity.sessions) as session:
        await profiles.update_preferences(
            session,
            subject,
            profiles.PreferenceChoice(
                email_notifications=email,
                sms_notifications=sms,
                language=language,
                edelivery_subscribed=False,
            ),
        )
    return person


def submitted(owner: str, reference: str = "PR-2026-0001") -> events.RequestSubmitted:
    return events.RequestSubmitted(
        event_id=str(uuid.uuid4()),
        request_id=str(uuid.uuid4()),
        reference=reference,
        procedure_code="acd-income-tax",
        administration="ACD",
        status="submitted",
        applicant=events.RequestApplicant(owner=owner, filed_by=owner, language="fr"),
    )


def status_changed(
    owner: str, *, notify: bool = True, text: str = "Angenommen"
) -> events.RequestStatusChanged:
    return events.RequestStatusChanged(
        event_id=str(uuid.uuid4()),
        request_id=str(uuid.uuid4()),
        reference="PR-2026-0002",
        procedure_code="acd-income-tax",
        administration="ACD",
        previous_status="submitted",
        status="accepted",
        notify=notify,
        status_text=text,
        comment="",
        applicant=events.RequestApplicant(owner=owner, filed_by=owner, language="de"),
    )


@pytest.fixture
async def stream(jetstream: JetStreamContext) -> str:
    await ensure_stream(jetstream, STREAM, [f"{PREFIX}.>"])
    await purge_streams(jetstream, [STREAM])
    return STREAM


@pytest.fixture
def running(
    sessions: async_sessionmaker[AsyncSession],
    jetstream: JetStreamContext,
    stream: str,
    sinks: Sinks,
    infra: dict[str, str],
) -> Any:
    """The persons' consumers and a delivery worker, as the worker role runs them, reaching
    identity at `services_address` with messaging's certificate."""

    @asynccontextmanager
    async def start(services_address: str) -> AsyncIterator[None]:
        channel = contacts_channel(infra, services_address)
        worker = DeliveryWorker(sessions, senders(sinks), FAST, poll_seconds=0.1)
        handlers = PersonNotifications(
            BASE_URL,
            IdentityContacts(channel),
            prefix=f"msgptest-{uuid.uuid4().hex[:8]}",
            procedures_stream=stream,
            wallet_stream=stream,
            submitted_subject=SUBMITTED,
            status_changed_subject=STATUS_CHANGED,
            correction_asked_subject=CORRECTION_ASKED,
            cancelled_subject=f"{PREFIX}.request.cancelled.v1",
            draft_expiring_subject=f"{PREFIX}.draft.expiring.v1",
            piece_expiring_subject=f"{PREFIX}.piece.expiring.v1",
            backoff=(0.2, 0.5),
            recorded=worker.wake,
        )
        try:
            async with consuming(jetstream, sessions, stream, worker, handlers.subscriptions()):
                yield
        finally:
            await channel.close()

    return start


async def sms_to(sinks: Sinks, phone: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        reply = await client.get(f"{sinks.sms_url}/messages", params={"to": phone})
    reply.raise_for_status()
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


async def delivered(sessions: async_sessionmaker[AsyncSession], count: int) -> bool:
    rows = await notifications(sessions)
    return len(rows) == count and all(row.status == "delivered" for row in rows)


async def centre(sessions: async_sessionmaker[AsyncSession], person: Person) -> list[Any]:
    """What the person's notification centre lists (ListMyNotifications, signed in as them)."""
    set_caller(
        Principal("kc-x", LevelOfAssurance.LOW, person.national_id, person.email, "Anne", "t")
    )
    try:
        reply = await MessagingServicer(sessions).ListMyNotifications(
            pb.ListMyNotificationsRequest(), None
        )
    finally:
        set_caller(None)
    return list(reply.notifications)


async def test_a_submitted_request_and_a_status_change_reach_the_person_in_their_language(
    running: Any,
    identity: Identity,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    sinks: Sinks,
    mail_dir: Path,
) -> None:
    anne = await register(identity, language=Language.DE, email=True, sms=True)
    since = time.time()
    async with running(identity.services_address):
        await jetstream.publish(SUBMITTED, submitted(anne.owner).SerializeToString())
        await jetstream.publish(STATUS_CHANGED, status_changed(anne.owner).SerializeToString())
        # Not told: the procedure does not notify this status.
        quiet = status_changed(anne.owner, notify=False, text="Intern")
        await jetstream.publish(STATUS_CHANGED, quiet.SerializeToString())
        await wait_until(
            lambda: delivered(sessions, 4), seconds=30, what="two e-mails and two SMS", interval=0.1
        )

    mail = await newest_mail(mail_dir, anne.email, since=since, subject_contains="gesendet")
    assert mail["Subject"] == "Ihr Antrag PR-2026-0001 wurde gesendet"
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and html is not None
    assert "Ihr Antrag PR-2026-0001 wurde an die Verwaltung gesendet." in str(text.get_content())
    assert '<html lang="de">' in str(html.get_content())
    status_mail = await newest_mail(
        mail_dir, anne.email, since=since, subject_contains="Angenommen"
    )
    assert status_mail["Subject"] == "Antrag PR-2026-0002: Angenommen"

    texts = sorted(message["text"] for message in await sms_to(sinks, anne.phone))
    assert len(texts) == 2
    assert texts[0].startswith("OpenGuichet: Antrag PR-2026-0002: Angenommen. https://")
    assert texts[1].startswith("OpenGuichet: Ihr Antrag PR-2026-0001 wurde gesendet. https://")

    listed = await centre(sessions, anne)
    assert sorted((n.reference, n.channel) for n in listed) == [
        ("PR-2026-0001", pb.NOTIFICATION_CHANNEL_EMAIL),
        ("PR-2026-0001", pb.NOTIFICATION_CHANNEL_SMS),
        ("PR-2026-0002", pb.NOTIFICATION_CHANNEL_EMAIL),
        ("PR-2026-0002", pb.NOTIFICATION_CHANNEL_SMS),
    ]
    assert {n.status for n in listed} == {pb.DELIVERY_STATUS_DELIVERED}


async def test_preferences_choose_the_channels_and_none_sends_nothing(
    running: Any,
    identity: Identity,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    sinks: Sinks,
) -> None:
    silent = await register(identity, language=Language.FR, email=False, sms=False)
    texts_only = await register(identity, language=Language.EN, email=False, sms=True)
    async with running(identity.services_address):
        # One consumer takes them in order: once the second is delivered, the first was handled.
        await jetstream.publish(SUBMITTED, submitted(silent.owner).SerializeToString())
        await jetstream.publish(SUBMITTED, submitted(texts_only.owner).SerializeToString())
        await wait_until(lambda: delivered(sessions, 1), seconds=30, what="one SMS", interval=0.1)

    rows = await notifications(sessions)
    assert [(row.owner, row.channel, row.language) for row in rows] == [
        (texts_only.owner, "sms", "en")
    ]
    assert await sms_to(sinks, silent.phone) == []
    assert await centre(sessions, silent) == []
    [message] = await sms_to(sinks, texts_only.phone)
    assert message["text"].startswith("OpenGuichet: your request PR-2026-0001 was sent. https://")


async def test_a_person_without_an_account_is_told_nothing_and_the_next_goes_on(
    running: Any,
    identity: Identity,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    anne = await register(identity, language=Language.FR, email=True, sms=False)
    nobody = make_national_id(date(1950, 1, 1), 999).value
    async with running(identity.services_address):
        await jetstream.publish(SUBMITTED, submitted(f"person:{nobody}").SerializeToString())
        await jetstream.publish(SUBMITTED, submitted(anne.owner).SerializeToString())
        await wait_until(
            lambda: delivered(sessions, 1), seconds=30, what="Anne's e-mail", interval=0.1
        )

    assert [row.owner for row in await notifications(sessions)] == [anne.owner]


async def test_identity_unreachable_the_event_is_retried_not_lost(
    running: Any,
    identity: Identity,
    infra: dict[str, str],
    jetstream: JetStreamContext,
    stream: str,
    sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    anne = await register(identity, language=Language.FR, email=True, sms=False)
    since = time.time()
    # Nothing listens there yet: a second identity comes up on it once the event was retried.
    later = f"127.0.0.1:{free_port()}"
    async with running(later):
        await jetstream.publish(SUBMITTED, submitted(anne.owner).SerializeToString())
        await wait_until(
            functools.partial(_redelivered, jetstream, stream),
            seconds=30,
            what="the event tried again",
            interval=0.1,
        )
        assert await notifications(sessions) == []
        process, address = _start_identity(infra, identity.database_url, later)
        try:
            await wait_until(
                lambda: grpc_serving(address), seconds=60, what="identity", process=process
            )
            await wait_until(
                lambda: delivered(sessions, 1), seconds=60, what="the e-mail", interval=0.2
            )
        finally:
            process.stop()

    mail = await newest_mail(mail_dir, anne.email, since=since)
    assert mail["Subject"] == "Votre demande PR-2026-0001 a été envoyée"


async def _redelivered(jetstream: JetStreamContext, stream: str) -> bool:
    """Whether one of this test's consumers already delivered an event again."""
    consumers = await jetstream.consumers_info(stream)
    return any((c.num_redelivered or 0) > 0 for c in consumers)


async def test_an_anonymous_submission_is_told_to_its_address_and_a_company_request_to_its_filer(
    running: Any,
    identity: Identity,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    filer = await register(identity, language=Language.EN, email=True, sms=False)
    address = an_address()
    since = time.time()
    anonymous = submitted("anonymous:3f1c0e7e-1111-4222-8333-944455556666", "PR-2026-0003")
    anonymous.applicant.filed_by = ""
    anonymous.applicant.language = "de"
    anonymous.applicant.email = address
    anonymous.applicant.follow_up_url = "https://guichet.example/procedures/follow#t=secret"
    company = submitted("company:5b9d3c1a-2222-4333-8444-a55566667777", "PR-2026-0004")
    company.applicant.filed_by = filer.owner
    async with running(identity.services_address):
        await jetstream.publish(SUBMITTED, anonymous.SerializeToString())
        await jetstream.publish(SUBMITTED, company.SerializeToString())
        await wait_until(lambda: delivered(sessions, 2), seconds=30, what="two e-mails")

    rows = await notifications(sessions)
    assert sorted((row.reference, row.recipient, row.owner, row.language) for row in rows) == [
        ("PR-2026-0003", address, None, "de"),
        ("PR-2026-0004", filer.email, filer.owner, "en"),
    ]
    mail = await newest_mail(mail_dir, address, since=since)
    assert mail["Subject"] == "Ihr Antrag PR-2026-0003 wurde gesendet"
    text = mail.get_body(("plain",))
    assert text is not None
    # The acknowledgement (procedures sends none): the personal link, to be kept to oneself.
    body = str(text.get_content())
    assert "https://guichet.example/procedures/follow#t=secret" in body
    assert "geben Sie ihn nicht weiter" in body


async def test_later_events_of_a_request_without_an_account_reach_its_address_without_a_link(
    running: Any,
    identity: Identity,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    address = an_address()
    reference = RequestReference.generate()
    owner = "anonymous:3f1c0e7e-1111-4222-8333-944455556666"
    moved = status_changed(owner, text="Accepted")
    moved.reference = reference.canonical
    moved.applicant.email, moved.applicant.language = address, "en"
    asked = events.CorrectionAsked(
        event_id=str(uuid.uuid4()),
        request_id=str(uuid.uuid4()),
        reference=reference.canonical,
        message="Attach the back side.",
        applicant=events.RequestApplicant(owner=owner, language="en", email=address),
    )
    # An event of such a request without an address (as before procedures gave one): nobody.
    silent = status_changed(owner)
    since = time.time()
    async with running(identity.services_address):
        await jetstream.publish(STATUS_CHANGED, silent.SerializeToString())
        await jetstream.publish(STATUS_CHANGED, moved.SerializeToString())
        await jetstream.publish(CORRECTION_ASKED, asked.SerializeToString())
        await wait_until(lambda: delivered(sessions, 2), seconds=30, what="two e-mails")

    rows = await notifications(sessions)
    assert sorted((row.kind, row.reference, row.recipient, row.channel) for row in rows) == [
        ("procedures.correction_asked", reference.display, address, "email"),
        ("procedures.request_status_changed", reference.display, address, "email"),
    ]
    status_mail = await newest_mail(mail_dir, address, since=since, subject_contains="Accepted")
    assert status_mail["Subject"] == f"Request {reference.display}: Accepted"
    correction = await newest_mail(mail_dir, address, since=since, subject_contains="correction")
    for mail in (status_mail, correction):
        text = mail_text(mail)
        # Its only way back is the acknowledgement's personal link: named, not given.
        assert "personal link of the e-mail that acknowledged" in text and "http" not in text
    assert "Attach the back side." in mail_text(correction)


async def test_a_correction_a_cancellation_an_expiring_draft_and_piece_are_told(
    running: Any,
    identity: Identity,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    anne = await register(identity, language=Language.FR, email=True, sms=False)
    applicant = events.RequestApplicant(owner=anne.owner, filed_by=anne.owner, language="fr")
    correction = events.CorrectionAsked(
        event_id=str(uuid.uuid4()),
        request_id=str(uuid.uuid4()),
        reference="PR-2026-0005",
        message="Joignez le <verso>.",
        applicant=applicant,
    )
    cancelled = events.RequestCancelled(
        event_id=str(uuid.uuid4()),
        request_id=str(uuid.uuid4()),
        reference="PR-2026-0006",
        applicant=applicant,
    )
    draft = events.DraftExpiring(
        event_id=str(uuid.uuid4()),
        request_id=str(uuid.uuid4()),
        title="Allocation",
        applicant=applicant,
    )
    draft.expires_at.FromDatetime(datetime(2027, 3, 4, 12, tzinfo=UTC))
    piece = wallet_events.PieceExpiring(
        event_id=str(uuid.uuid4()),
        piece_id=str(uuid.uuid4()),
        owner=anne.owner,
        type_code="passport",
        title="Passeport",
        expires_on="2027-03-04",
    )
    since = time.time()
    async with running(identity.services_address):
        await jetstream.publish(
            f"{PREFIX}.request.correction_asked.v1", correction.SerializeToString()
        )
        await jetstream.publish(f"{PREFIX}.request.cancelled.v1", cancelled.SerializeToString())
        await jetstream.publish(f"{PREFIX}.draft.expiring.v1", draft.SerializeToString())
        await jetstream.publish(f"{PREFIX}.piece.expiring.v1", piece.SerializeToString())
        await wait_until(lambda: delivered(sessions, 4), seconds=30, what="four e-mails")

    subjects = set()
    for part in ("correction", "annulée", "brouillon", "document"):
        mail = await newest_mail(mail_dir, anne.email, since=since, subject_contains=part)
        subjects.add(mail["Subject"])
        if part == "correction":
            html = mail.get_body(("html",))
            assert html is not None and "Joignez le &lt;verso&gt;." in str(html.get_content())
    assert subjects == {
        "Demande PR-2026-0005 : une correction est demandée",
        "Votre demande PR-2026-0006 a été annulée",
        "Votre brouillon « Allocation » expire le 4 mars 2027",
        "Votre document « Passeport » expire le 4 mars 2027",
    }
