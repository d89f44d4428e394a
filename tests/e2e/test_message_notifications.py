"""F61 + F65 across the running processes: a person who chose e-mail and SMS in German writes to
an administration through the gateway and is acknowledged; the administration answers over mutual
TLS and the person is told by e-mail and SMS, in German, with a link to the conversation and
without the answer's text — through messaging's outbox, JetStream, its consumers (identity's
contact over mutual TLS) and its delivery worker, to the development SMTP and SMS sinks. The
notification centre lists them, also while the person acts for a company."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import test_messages_api as exchanges
from citizens import Registry
from launcher import Launcher, Started
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from stack import Stack

from guichet.events import subjects
from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet_testkit import worker_name
from guichet_testkit.eventually import wait_until
from guichet_testkit.mail import mail_text, newest_mail

# The person and the administration as in the exchanges' journey.
registry = exchanges.registry
MESSAGE = exchanges.MESSAGE
back_office = exchanges.back_office

# The launcher's base URL of links in messaging's mails.
PAGES = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
async def messaging_worker(
    launcher: Launcher, messaging_database: str, jetstream: JetStreamContext, stack: Stack
) -> AsyncIterator[Started]:
    """messaging's worker on the stack's own database (the stack runs its gRPC role only): it
    relays the exchanges' events from the outbox and turns them into notifications."""
    name = f"messaging-notif-e2e-{uuid.uuid4().hex[:6]}"
    started = await launcher.messaging(messaging_database, role="worker", name=name)
    prefix = f"messaging-{name}-{worker_name()}"
    durables = [f"{prefix}-messages-sent", f"{prefix}-messages-answered"]

    async def consuming() -> bool:
        for durable in durables:
            await jetstream.consumer_info(subjects.MESSAGING.name, durable)
        return True

    # Its durables take only what is published after they exist.
    await wait_until(consuming, seconds=60, what="messaging's consumers", process=started.process)
    yield started
    started.process.stop()
    # Every durable this worker made, on whichever stream.
    for stream in await jetstream.streams_info():
        for consumer in await jetstream.consumers_info(stream.config.name):
            if consumer.name.startswith(prefix):
                with contextlib.suppress(NotFoundError):
                    await jetstream.delete_consumer(stream.config.name, consumer.name)


async def sms_to(infra: dict[str, str], phone: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        reply = await client.get(f"{infra['GUICHET_SMS_URL']}/messages", params={"to": phone})
    reply.raise_for_status()
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


async def test_an_answered_message_reaches_the_person_by_mail_and_sms_in_their_language(
    messaging_worker: Started,
    api: httpx.AsyncClient,
    registry: Registry,
    stack: Stack,
    infra: dict[str, str],
    mail_dir: Path,
) -> None:
    lea = await registry.register("Lea")
    digits = f"{uuid.uuid4().int % 1_000_000:06d}"
    phone = f"+352691{digits}"
    profile = await api.put(
        "/api/v1/me/profile",
        headers=lea.bearer(),
        json={"first_name": lea.first_name, "last_name": lea.last_name, "phone": phone},
    )
    assert profile.status_code == 200, profile.text
    chosen = await api.put(
        "/api/v1/me/preferences",
        headers=lea.bearer(),
        json={
            "email_notifications": True,
            "sms_notifications": True,
            "language": "de",
            "edelivery_subscribed": False,
        },
    )
    assert chosen.status_code == 200, chosen.text
    since = time.time()

    sent = await api.post("/api/v1/messages/threads", json=MESSAGE, headers=lea.bearer())
    assert sent.status_code == 201, sent.text
    thread = sent.json()["id"]
    link = f"{PAGES}/my/messages/{thread}?lang=de"
    acknowledged = await newest_mail(
        mail_dir, lea.email, since=since, subject_contains="wurde gesendet", wait_seconds=60
    )
    assert acknowledged["Subject"] == "Ihre Nachricht „My 2025 assessment“ wurde gesendet"
    assert link in mail_text(acknowledged)

    answer = "It was sent on 20 November."
    acd = back_office(stack, "acd")  # kept: the stub alone does not hold its channel open
    await acd.AnswerThread(pb.AnswerThreadRequest(thread_id=thread, body=answer))
    told = await newest_mail(
        mail_dir, lea.email, since=since, subject_contains="geantwortet", wait_seconds=60
    )
    assert told["Subject"] == "ACD hat auf Ihre Nachricht „My 2025 assessment“ geantwortet"
    text = mail_text(told)
    assert link in text
    assert answer not in text  # the answer is read on the platform only
    assert told.get_body(("html",)) is not None

    async def two_sms() -> bool:
        return len(await sms_to(infra, phone)) == 2

    await wait_until(two_sms, seconds=60, what="the two SMS", process=messaging_worker.process)
    assert sorted(sms["text"] for sms in await sms_to(infra, phone)) == [
        f"OpenGuichet: ACD hat auf Ihre Nachricht „My 2025 assessment“ geantwortet. {link}",
        f"OpenGuichet: Ihre Nachricht „My 2025 assessment“ wurde an ACD gesendet. {link}",
    ]

    # The centre lists all four delivered, also while she acts for a company.
    expected = [
        ("messaging.message_answered", "email", "delivered"),
        ("messaging.message_answered", "sms", "delivered"),
        ("messaging.message_sent", "email", "delivered"),
        ("messaging.message_sent", "sms", "delivered"),
    ]
    for context in (None, f"company:{uuid.uuid4()}"):

        async def listed(context: str | None = context) -> bool:
            reply = await api.get("/api/v1/notifications", headers=lea.bearer(context=context))
            assert reply.status_code == 200, reply.text
            rows = reply.json()["notifications"]
            return sorted((n["kind"], n["channel"], n["status"]) for n in rows) == expected

        await wait_until(listed, seconds=30, what=f"the centre in context {context}")
