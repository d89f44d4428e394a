"""Messaging's part of F8 and F13 across the running processes: the export of one's data holds
messaging's (notifications, threads with their messages, eDocuments with their receipts) — the
caller's own, never another person's, whoever's token asks; an account deleted through the
gateway loses its threads in messaging, whose worker confirms on messaging.account.purged.v1,
and another person's stay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from citizens import Citizen, Registry
from launcher import Launcher, Started
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from stack import Stack, messaging_worker

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as identity_events
from guichet_testkit.eventually import wait_until

MESSAGE = {
    "theme": "taxes",
    "subject": "income-tax",
    "reason": "tax-assessment",
    "body": "When will my 2025 assessment be sent, please?",
}


@pytest.fixture(scope="module")
async def purging(
    launcher: Launcher, messaging_database: str, jetstream: JetStreamContext, stack: Stack
) -> AsyncIterator[Started]:
    """messaging's worker beside the stack's gRPC role (after it: the launcher then knows the
    stack's addresses): it consumes identity's deletions."""
    async with messaging_worker(
        launcher, messaging_database, jetstream, [(subjects.IDENTITY.name, "account-purge")]
    ) as started:
        yield started


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


async def write(api: httpx.AsyncClient, person: Citizen, title: str) -> str:
    sent = await api.post(
        "/api/v1/messages/threads", json={**MESSAGE, "title": title}, headers=person.bearer()
    )
    assert sent.status_code == 201, sent.text
    thread_id: str = sent.json()["id"]
    return thread_id


async def exported(api: httpx.AsyncClient, person: Citizen) -> dict[str, Any]:
    reply = await api.get("/api/v1/me/export", headers=person.bearer("substantial"))
    assert reply.status_code == 200, reply.text
    document: dict[str, Any] = reply.json()
    return document


async def test_the_export_holds_the_callers_own_threads_and_nobody_elses(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    anne_title, bert_title = f"Anne {uuid.uuid4().hex[:8]}", f"Bert {uuid.uuid4().hex[:8]}"
    anne_thread = await write(api, anne, anne_title)
    bert_thread = await write(api, bert, bert_title)
    hidden = await api.put(
        f"/api/v1/messages/threads/{anne_thread}/hidden",
        json={"hidden": True},
        headers=anne.bearer(),
    )
    assert hidden.status_code == 204, hidden.text
    for person in (anne, bert):
        await registry.step_up_to_substantial(person)

    anne_export, bert_export = await exported(api, anne), await exported(api, bert)

    [thread] = anne_export["messaging"]["threads"]
    assert (thread["id"], thread["title"], thread["hidden"]) == (anne_thread, anne_title, True)
    assert [(m["from"], m["body"]) for m in thread["messages"]] == [("person", MESSAGE["body"])]
    assert {"notifications", "uploads_not_sent", "edocuments"} <= set(anne_export["messaging"])
    assert [t["id"] for t in bert_export["messaging"]["threads"]] == [bert_thread]
    # Each token gets its owner's document only: nothing of the other anywhere in it.
    assert bert_title not in str(anne_export) and bert_thread not in str(anne_export)
    assert anne_title not in str(bert_export) and anne_thread not in str(bert_export)


async def threads_of(database_url: str, national_id: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT count(*) FROM exchange_threads WHERE owner = :n"), {"n": national_id}
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def confirmed(jetstream: JetStreamContext, deletion_id: str) -> bool:
    """messaging.account.purged.v1 for this deletion is on the MESSAGING stream (relayed)."""
    info = await jetstream.stream_info(subjects.MESSAGING.name)
    first = max(info.state.first_seq, info.state.last_seq - 500)
    for sequence in range(info.state.last_seq, first - 1, -1):
        message = await jetstream.get_msg(subjects.MESSAGING.name, sequence)
        if message.subject == subjects.account_purged("messaging"):
            purged = identity_events.AccountPurged.FromString(message.data or b"")
            if purged.deletion_id == deletion_id:
                return True
    return False


async def test_a_deleted_account_loses_its_threads_and_messaging_confirms(
    api: httpx.AsyncClient,
    registry: Registry,
    purging: Started,
    messaging_database: str,
    jetstream: JetStreamContext,
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    await write(api, anne, "Before I leave")
    bert_thread = await write(api, bert, "I stay")
    await registry.step_up_to_substantial(anne)
    assert await threads_of(messaging_database, anne.national_id) == 1

    deleted = await api.post(
        "/api/v1/me/deletion",
        headers=anne.bearer("substantial"),
        json={"confirm_email": anne.email},
    )
    assert deleted.status_code == 202, deleted.text
    deletion_id = deleted.json()["deletion_id"]

    async def purged() -> bool:
        return await threads_of(messaging_database, anne.national_id) == 0

    await wait_until(purged, seconds=60, what="Anne's threads purged", process=purging.process)
    await wait_until(
        lambda: confirmed(jetstream, deletion_id), seconds=60, what="messaging's confirmation"
    )
    mine = await api.get("/api/v1/messages/threads", headers=bert.bearer())
    assert [t["id"] for t in mine.json()["threads"]] == [bert_thread]
