"""/api/v1/messages through the gateway and messaging's administrations' port: a person writes to
the administration competent for a reason, the administration reads and answers over mutual TLS,
the person sees the answer unread, then read. Each bad input an RFC 9457 problem with nothing
sent; another person's thread not found; another administration refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from citizens import Registry
from stack import Stack

from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet.messaging.v1 import exchanges_pb2_grpc as pb_grpc
from guichet_kit.errors import read_rpc_failure
from guichet_kit.grpc_client import mutual_tls_channel

MESSAGE = {
    "theme": "taxes",
    "subject": "income-tax",
    "reason": "tax-assessment",
    "title": "My 2025 assessment",
    "body": "When will my 2025 assessment be sent?",
}


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


def back_office(stack: Stack, code: str) -> pb_grpc.AdministrationMessagingServiceAsyncStub:
    channel = mutual_tls_channel(
        stack.messaging_admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(stack.pki / "administrations" / f"{code}.crt").read_bytes(),
        private_key=(stack.pki / "administrations" / f"{code}.key").read_bytes(),
        timeout=10,
    )
    return pb_grpc.AdministrationMessagingServiceStub(channel)


def assert_problem(reply: httpx.Response, status: int, reason: str) -> dict[str, object]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, object] = reply.json()
    assert problem["reason"] == reason
    return problem


async def test_a_person_writes_the_administration_answers_the_person_reads(
    api: httpx.AsyncClient, registry: Registry, stack: Stack
) -> None:
    lea = await registry.register("Lea")
    topics = await api.get("/api/v1/messages/topics", headers=lea.bearer())
    assert topics.status_code == 200
    reasons = {
        r["key"]: r
        for theme in topics.json()["themes"]
        for subject in theme["subjects"]
        for r in subject["reasons"]
    }
    # The online procedure that does what one may be writing for is suggested.
    assert reasons["tax-return"]["procedure"] == "income-tax-return"

    sent = await api.post("/api/v1/messages/threads", json=MESSAGE, headers=lea.bearer())
    assert sent.status_code == 201, sent.text
    thread = sent.json()
    assert (thread["administration"], thread["unread"]) == ("acd", 0)

    acd = back_office(stack, "acd")
    listed = await acd.ListThreads(pb.ListThreadsRequest())
    assert thread["id"] in [t.id for t in listed.threads]
    read = await acd.GetThread(pb.GetThreadRequest(thread_id=thread["id"]))
    assert [m.body for m in read.messages] == [MESSAGE["body"]]
    await acd.AnswerThread(
        pb.AnswerThreadRequest(thread_id=thread["id"], body="It was sent on 20 November.")
    )

    mine = (await api.get("/api/v1/messages/threads", headers=lea.bearer())).json()["threads"]
    assert [(t["id"], t["unread"]) for t in mine] == [(thread["id"], 1)]
    opened = await api.get(f"/api/v1/messages/threads/{thread['id']}", headers=lea.bearer())
    assert opened.status_code == 200
    messages = opened.json()["messages"]
    assert [(m["side"], m["body"]) for m in messages] == [
        ("person", MESSAGE["body"]),
        ("administration", "It was sent on 20 November."),
    ]
    assert messages[0]["read_at"] is not None  # the administration read it
    mine = (await api.get("/api/v1/messages/threads", headers=lea.bearer())).json()["threads"]
    assert [t["unread"] for t in mine] == [0]

    # Unread again, then hidden and shown.
    marked = await api.put(
        f"/api/v1/messages/threads/{thread['id']}/read", json={"read": False}, headers=lea.bearer()
    )
    assert marked.status_code == 204
    hidden = await api.put(
        f"/api/v1/messages/threads/{thread['id']}/hidden",
        json={"hidden": True},
        headers=lea.bearer(),
    )
    assert hidden.status_code == 204
    shown = (await api.get("/api/v1/messages/threads", headers=lea.bearer())).json()["threads"]
    assert shown == []
    apart = await api.get(
        "/api/v1/messages/threads", params={"hidden": "true"}, headers=lea.bearer()
    )
    assert [(t["id"], t["unread"]) for t in apart.json()["threads"]] == [(thread["id"], 1)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"body": "x" * 9}, "body"),
        ({"body": "x" * 751}, "body"),
        ({"title": ""}, "title"),
        ({"reason": "no-such-reason"}, "reason"),
    ],
)
async def test_a_bad_message_is_a_problem_and_nothing_is_sent(
    api: httpx.AsyncClient, registry: Registry, changes: dict[str, str], field: str
) -> None:
    paul = await registry.register("Paul")
    refused = await api.post(
        "/api/v1/messages/threads", json={**MESSAGE, **changes}, headers=paul.bearer()
    )
    problem = assert_problem(refused, 422, "VALIDATION_FAILED")
    assert [e["field"] for e in problem["errors"]] == [field]  # type: ignore[attr-defined]
    listed = await api.get("/api/v1/messages/threads", headers=paul.bearer())
    assert listed.json()["threads"] == []


async def test_another_persons_thread_is_not_found(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    lea, paul = await registry.register("Lea"), await registry.register("Paul")
    thread = (await api.post("/api/v1/messages/threads", json=MESSAGE, headers=lea.bearer())).json()
    url = f"/api/v1/messages/threads/{thread['id']}"
    assert_problem(await api.get(url, headers=paul.bearer()), 404, "NO_SUCH_THREAD")
    assert_problem(
        await api.put(f"{url}/hidden", json={"hidden": True}, headers=paul.bearer()),
        404,
        "NO_SUCH_THREAD",
    )
    assert_problem(
        await api.get(f"/api/v1/messages/threads/{uuid.uuid4()}", headers=lea.bearer()),
        404,
        "NO_SUCH_THREAD",
    )
    still = (await api.get("/api/v1/messages/threads", headers=lea.bearer())).json()["threads"]
    assert [(t["id"], t["hidden"]) for t in still] == [(thread["id"], False)]
    assert_problem(await api.get("/api/v1/messages/threads"), 401, "AUTHENTICATION_REQUIRED")


async def test_an_administration_answering_outside_its_competence_is_refused(
    api: httpx.AsyncClient, registry: Registry, stack: Stack
) -> None:
    lea = await registry.register("Lea")
    thread = (await api.post("/api/v1/messages/threads", json=MESSAGE, headers=lea.bearer())).json()
    ccss = back_office(stack, "ccss")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ccss.AnswerThread(
            pb.AnswerThreadRequest(thread_id=thread["id"], body="Not ours to answer at all.")
        )
    failure = read_rpc_failure(refused.value)
    assert (failure.code, failure.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "OUTSIDE_COMPETENCE",
    )
    opened = (
        await api.get(f"/api/v1/messages/threads/{thread['id']}", headers=lea.bearer())
    ).json()
    assert [m["side"] for m in opened["messages"]] == ["person"]
