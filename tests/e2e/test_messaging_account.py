"""Messaging's part of F13 across the running processes: the export of one's data holds
messaging's (notifications, threads with their messages, eDocuments with their receipts) — the
caller's own, never another person's, whoever's token asks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from citizens import Citizen, Registry

MESSAGE = {
    "theme": "taxes",
    "subject": "income-tax",
    "reason": "tax-assessment",
    "body": "When will my 2025 assessment be sent, please?",
}


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
