"""F65 on the real servers: eTracking's events become an e-mail (plain text and HTML) and an SMS
in the applicant's language, delivered through the development SMTP and SMS sinks; once per
event whatever the redeliveries; retried while the SMTP relay or the SMS provider fails, given
up after the limit; a poison event is dead-lettered and the next ones still go out."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.etracking.v1 import etracking_pb2 as etracking_pb
from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet_kit.events import DEAD_LETTER_STREAM, dead_letter_subject
from guichet_messaging.notifications.compose import TrackingNumber
from guichet_messaging.notifications.models import Notification
from guichet_messaging.notifications.service import Backoff
from guichet_testkit.eventually import wait_until
from guichet_testkit.mail import mail_links, newest_mail
from guichet_testkit.processes import free_port

from .conftest import (
    BASE_URL,
    CREATED,
    STATUS_CHANGED,
    Running,
    Sinks,
    a_mobile,
    an_address,
    notifications,
    senders,
)

NUMBER, OTHER = TrackingNumber.generate(), TrackingNumber.generate()


def status_changed(
    email: str = "",
    phone: str = "",
    language: str = "fr",
    status: etracking_pb.TrackingStatus.ValueType = etracking_pb.TRACKING_STATUS_RECEIVED,
    comment: str = "",
    number: str = "",
) -> events_pb2.TrackingStatusChanged:
    event = events_pb2.TrackingStatusChanged(
        event_id=str(uuid.uuid4()),
        number=number or NUMBER.canonical,
        paper_form_code="ACD-IR-100",
        administration="ACD",
        previous_status=etracking_pb.TRACKING_STATUS_AWAITING_PAPER_FORM,
        status=status,
        comment=comment,
        contact=events_pb2.TrackingContact(email=email, phone=phone, language=language),
    )
    event.occurred_at.GetCurrentTime()
    return event


async def publish(js: JetStreamContext, subject: str, payload: bytes) -> None:
    await js.publish(subject, payload)


async def sms_to(sinks: Sinks, phone: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        reply = await client.get(f"{sinks.sms_url}/messages", params={"to": phone})
    reply.raise_for_status()
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


def mails_to(mail_dir: Path, address: str, since: float) -> int:
    """How many mails the SMTP sink stored for `address` since `since`."""
    wanted = address.encode()
    return sum(
        1
        for path in mail_dir.glob("*.eml")
        if path.stat().st_mtime + 1 >= since and wanted in path.read_bytes()
    )


async def eventually(check: Any, what: str) -> None:
    await wait_until(check, seconds=30.0, what=what, interval=0.1)


def delivered(rows: list[Notification]) -> bool:
    return bool(rows) and all(row.status == "delivered" for row in rows)


async def test_a_status_change_reaches_the_address_and_the_phone_in_their_language(
    running: Running,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    sinks: Sinks,
    mail_dir: Path,
) -> None:
    address, phone = an_address(), a_mobile()
    since = time.time()
    event = status_changed(
        address, phone, "de", etracking_pb.TRACKING_STATUS_AWAITING_DOCUMENTS, "Bitte <Kopie>"
    )
    async with running():
        await publish(jetstream, STATUS_CHANGED, event.SerializeToString())
        await eventually(lambda: _all_delivered(sessions, 2), "the e-mail and the SMS delivered")

    mail = await newest_mail(mail_dir, address, since=since)
    assert mail["Subject"] == f"eTracking {NUMBER.display}: Warten auf zusätzliche Unterlagen"
    text_part = mail.get_body(("plain",))
    html_part = mail.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = str(text_part.get_content())
    assert f"Der Status Ihres eTrackings {NUMBER.display} hat sich geändert" in text
    assert "Die Verwaltung ergänzt: Bitte <Kopie>" in text
    page = str(html_part.get_content())
    assert '<html lang="de">' in page
    # The administration's words are escaped in the HTML part, never markup.
    assert "Bitte &lt;Kopie&gt;" in page and "<Kopie>" not in page
    link = f"{BASE_URL}/etracking/lookup?number={NUMBER.canonical}&lang=de"
    assert mail_links(mail) == [link]

    [sms] = await sms_to(sinks, phone)
    assert sms["text"] == (
        f"OpenGuichet: eTracking {NUMBER.display}: Warten auf zusätzliche Unterlagen. {link}"
    )
    rows = await notifications(sessions)
    assert [(r.channel, r.recipient, r.status, r.attempts) for r in rows] == [
        ("email", address, "delivered", 1),
        ("sms", phone, "delivered", 1),
    ]
    assert {str(r.id) for r in rows} >= {sms["reference"]}


async def _all_delivered(sessions: async_sessionmaker[AsyncSession], count: int) -> bool:
    rows = await notifications(sessions)
    return len(rows) == count and delivered(rows)


async def test_a_tracking_created_in_french_and_by_email_only(
    running: Running,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    address = an_address()
    since = time.time()
    event = events_pb2.TrackingCreated(
        event_id=str(uuid.uuid4()),
        number=OTHER.canonical,
        paper_form_code="ACD-IR-100",
        administration="ACD",
        contact=events_pb2.TrackingContact(email=address, language="fr"),
    )
    async with running():
        await publish(jetstream, CREATED, event.SerializeToString())
        await eventually(lambda: _all_delivered(sessions, 1), "the e-mail delivered")

    mail = await newest_mail(mail_dir, address, since=since)
    assert mail["Subject"] == f"Votre numéro eTracking {OTHER.display}"
    [row] = await notifications(sessions)
    assert (row.kind, row.channel, row.language) == ("etracking.created", "email", "fr")


async def test_a_new_notification_goes_out_at_once_not_at_the_next_poll(
    running: Running,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # The worker looks for due notifications once an hour: only the consumer's wake-up after
    # its commit can make this one go out.
    async with running(poll_seconds=3600):
        await publish(jetstream, STATUS_CHANGED, status_changed(an_address()).SerializeToString())
        await eventually(lambda: _all_delivered(sessions, 1), "the e-mail delivered")


async def test_the_same_event_delivered_twice_sends_once(
    running: Running,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    sinks: Sinks,
    mail_dir: Path,
) -> None:
    address, phone = an_address(), a_mobile()
    since = time.time()
    payload = status_changed(address, phone, "en").SerializeToString()
    marker = status_changed(an_address(), "", "en")
    async with running():
        # Published twice without a message id: JetStream keeps both, the consumer sees both.
        await publish(jetstream, STATUS_CHANGED, payload)
        await publish(jetstream, STATUS_CHANGED, payload)
        # A later event delivered means the two copies before it were handled.
        await publish(jetstream, STATUS_CHANGED, marker.SerializeToString())
        await eventually(lambda: _all_delivered(sessions, 3), "the notifications delivered")

    assert len(await sms_to(sinks, phone)) == 1
    assert mails_to(mail_dir, address, since) == 1


async def test_smtp_down_then_back_delivers_exactly_once(
    running: Running,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    sinks: Sinks,
    mail_dir: Path,
) -> None:
    address, phone = an_address(), a_mobile()
    since = time.time()
    closed_port = free_port()  # nothing listens there: the relay is down
    async with running(senders(sinks, smtp_port=closed_port)):
        await publish(
            jetstream, STATUS_CHANGED, status_changed(address, phone, "en").SerializeToString()
        )

        async def retried() -> bool:
            rows = {r.channel: r for r in await notifications(sessions)}
            mail = rows.get("email")
            return mail is not None and mail.attempts >= 2 and "sms" in rows

        await eventually(retried, "the e-mail tried twice")
    rows = {r.channel: r for r in await notifications(sessions)}
    assert rows["email"].status == "pending"
    assert "Connection refused" in (rows["email"].last_error or "")
    assert mails_to(mail_dir, address, since) == 0
    # The SMS did not wait for the mail.
    assert rows["sms"].status == "delivered"

    async with running(consumers=False):  # the relay is back
        await eventually(lambda: _all_delivered(sessions, 2), "the e-mail delivered")
    assert mails_to(mail_dir, address, since) == 1
    assert len(await sms_to(sinks, phone)) == 1
    email = {r.channel: r for r in await notifications(sessions)}["email"]
    assert email.attempts >= 3 and email.last_error is None


class FlakyProvider:
    """A real HTTP server standing for the SMS provider: answers 500 to the first `failures`
    POSTs, then 202; counts what it received."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[bytes] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                provider.received.append(body)
                status = 500 if len(provider.received) <= provider.failures else 202
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def provider_failing_once() -> Iterator[FlakyProvider]:
    yield from _serve(FlakyProvider(failures=1))


@pytest.fixture
def provider_always_failing() -> Iterator[FlakyProvider]:
    yield from _serve(FlakyProvider(failures=1_000))


def _serve(provider: FlakyProvider) -> Iterator[FlakyProvider]:
    thread = threading.Thread(target=provider.server.serve_forever, daemon=True)
    thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


async def test_the_sms_provider_answering_500_then_202_is_retried(
    running: Running,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    sinks: Sinks,
    provider_failing_once: FlakyProvider,
) -> None:
    phone = a_mobile()
    async with running(senders(sinks, sms_url=provider_failing_once.url)):
        await publish(jetstream, STATUS_CHANGED, status_changed("", phone).SerializeToString())
        await eventually(lambda: _all_delivered(sessions, 1), "the SMS delivered")
    [row] = await notifications(sessions)
    assert (row.channel, row.attempts) == ("sms", 2)
    assert len(provider_failing_once.received) == 2
    assert phone.encode() in provider_failing_once.received[1]


async def test_a_notification_never_accepted_is_given_up_after_the_limit(
    running: Running,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    sinks: Sinks,
    provider_always_failing: FlakyProvider,
) -> None:
    limit = Backoff(base=0.1, max_delay=0.2, max_attempts=3)
    async with running(senders(sinks, sms_url=provider_always_failing.url), backoff=limit):
        await publish(jetstream, STATUS_CHANGED, status_changed("", a_mobile()).SerializeToString())

        async def failed() -> bool:
            rows = await notifications(sessions)
            return len(rows) == 1 and rows[0].status == "failed"

        await eventually(failed, "the SMS given up")
        # Given up means no more tries, whatever the worker does next.
        await asyncio.sleep(0.5)
    [row] = await notifications(sessions)
    assert row.attempts == 3
    assert "500" in (row.last_error or "")
    assert len(provider_always_failing.received) == 3


async def test_a_poison_event_is_dead_lettered_and_the_next_still_delivered(
    running: Running,
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    sinks: Sinks,
) -> None:
    phone = a_mobile()
    async with running() as handlers:
        await publish(jetstream, STATUS_CHANGED, b"\xff\x00 not a protobuf")
        # Decodes, but its contact is no phone number: it can never be applied either.
        bad_contact = status_changed("", "not a number")
        await publish(jetstream, STATUS_CHANGED, bad_contact.SerializeToString())
        bad_number = status_changed("", a_mobile(), number="ET-0000-0000-0")
        await publish(jetstream, STATUS_CHANGED, bad_number.SerializeToString())
        await publish(jetstream, STATUS_CHANGED, status_changed("", phone).SerializeToString())
        await eventually(lambda: _all_delivered(sessions, 1), "the next event delivered")
        durable = handlers.subscriptions()[1].durable

    [sms] = await sms_to(sinks, phone)
    assert f"eTracking {NUMBER.display}" in sms["text"]
    dead = dead_letter_subject(durable, STATUS_CHANGED)
    reasons = []
    for _ in range(3):
        message = await jetstream.get_last_msg(DEAD_LETTER_STREAM, dead)
        reasons.append((message.headers or {}).get("Dead-Letter-Reason", ""))
        assert message.seq is not None
        await jetstream.delete_msg(DEAD_LETTER_STREAM, message.seq)
    assert any(reason.startswith("poison: a contact") for reason in reasons)
    assert any(reason.startswith("undecodable") for reason in reasons)
    assert any(reason.startswith("poison: no eTracking number") for reason in reasons)
    assert len(await notifications(sessions)) == 1
