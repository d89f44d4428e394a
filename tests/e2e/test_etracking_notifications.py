"""F65 across the running processes: a tracking created through the gateway with an e-mail
address and a mobile number, then scanned by its administration over mutual TLS, reaches the
applicant by e-mail and SMS in the language they chose — through etracking's outbox, JetStream,
messaging's consumers and its delivery worker, to the development SMTP and SMS sinks."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from launcher import Launcher, Started
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet.events import subjects
from guichet_testkit import worker_name
from guichet_testkit.altcha import solved_challenge
from guichet_testkit.db import migrated_database
from guichet_testkit.eventually import wait_until
from guichet_testkit.mail import mail_text, newest_mail

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def messaging(
    launcher: Launcher, infra: dict[str, str], jetstream: JetStreamContext, stack: Any
) -> AsyncIterator[Started]:
    database_url = await migrated_database(
        infra, REPO_ROOT / "services" / "messaging", f"messaging_e2e_{worker_name()}"
    )
    name = f"messaging-e2e-{uuid.uuid4().hex[:6]}"
    started = await launcher.messaging(database_url, name=name)
    prefix = f"messaging-{name}-{worker_name()}"
    durables = [f"{prefix}-etracking-created", f"{prefix}-etracking-status"]

    async def consuming() -> bool:
        for durable in durables:
            await jetstream.consumer_info(subjects.ETRACKING.name, durable)
        return True

    # Its durables take only what is published after they exist.
    await wait_until(consuming, seconds=60, what="messaging's consumers", process=started.process)
    yield started
    started.process.stop()
    for durable in durables:
        with contextlib.suppress(NotFoundError):
            await jetstream.delete_consumer(subjects.ETRACKING.name, durable)


async def sms_to(infra: dict[str, str], phone: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        reply = await client.get(f"{infra['GUICHET_SMS_URL']}/messages", params={"to": phone})
    reply.raise_for_status()
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


async def test_a_tracking_and_its_status_change_reach_the_applicant_by_mail_and_sms(
    messaging: Started,
    api: httpx.AsyncClient,
    acd: pb_grpc.AdministrationTrackingServiceAsyncStub,
    infra: dict[str, str],
    mail_dir: Path,
) -> None:
    address = f"lea.{uuid.uuid4().hex[:10]}@example.lu"
    digits = f"{uuid.uuid4().int % 1_000_000:06d}"
    phone = f"+352691{digits}"
    since = time.time()
    response = await api.post(
        "/api/v1/etracking/trackings",
        json={
            "paper_form_code": "ACD-IR-100",
            "notify_by_email": True,
            "email": address,
            "notify_by_sms": True,
            "phone": f"691 {digits[:3]} {digits[3:]}",
            "language": "de",
            "altcha": await solved_challenge(api),
        },
    )
    assert response.status_code == 201, response.text
    number = response.json()["number"]

    created = await newest_mail(mail_dir, address, since=since, wait_seconds=60)
    assert created["Subject"] == f"Ihre eTracking-Nummer {number}"
    assert created.get_body(("html",)) is not None

    await acd.ScanTracking(pb.ScanTrackingRequest(number=number))
    changed = await newest_mail(
        mail_dir, address, since=since, subject_contains="Bei der Verwaltung", wait_seconds=60
    )
    assert changed["Subject"] == f"eTracking {number}: Bei der Verwaltung eingegangen"
    assert f"Der Status Ihres eTrackings {number} hat sich geändert" in mail_text(changed)

    async def two_sms() -> bool:
        return len(await sms_to(infra, phone)) == 2

    await wait_until(two_sms, seconds=60, what="the two SMS", process=messaging.process)
    texts = [sms["text"] for sms in await sms_to(infra, phone)]
    assert texts[0].startswith(
        f"OpenGuichet: Ihr Papierformular ACD-IR-100 wird unter eTracking {number}"
    )
    assert texts[1].startswith(f"OpenGuichet: eTracking {number}: Bei der Verwaltung eingegangen.")
