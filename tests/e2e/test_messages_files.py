"""Files of messages, documents sent to an administration (F66) and the thread of a procedures
request (F60), through the gateway, messaging, the wallet's file pipeline (MinIO, ClamAV) and
procedures: a person uploads a PDF, sends it with a message and the administration reads the same
bytes over mutual TLS; a deposit is acknowledged with a reference and listed for the competent
administration only; a submitted request gets one thread, to its procedure's administration.
Bad input — an infected file, a file whose bytes are not its declared type, another person's
file, a fourth file, another person's request, a draft — is an RFC 9457 problem and nothing is
kept (no row in messaging, no copy in the wallet)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from citizens import Citizen, Registry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from stack import Stack
from test_messages_api import MESSAGE, assert_problem, back_office
from test_procedures_api import Person
from test_wallet_bad_input import eicar, pdf, png

from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet_kit.errors import read_rpc_failure

PDF = "application/pdf"
DOCUMENT = {
    "theme": "social",
    "subject": "affiliation",
    "reason": "contributions",
    "title": "My payslips of October",
}


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


async def _count(database_url: str, sql: str, **params: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(text(sql), params) or 0)
    finally:
        await engine.dispose()


class Kept:
    """What a person's files left behind: messaging's rows and the wallet's copies."""

    def __init__(self, messaging_database: str, wallet_database: str) -> None:
        self.messaging, self.wallet = messaging_database, wallet_database

    async def __call__(self, person: Citizen) -> tuple[int, int]:
        return (
            await _count(
                self.messaging,
                "SELECT count(*) FROM exchange_attachments WHERE owner = :owner",
                owner=person.national_id,
            ),
            await _count(
                self.wallet,
                "SELECT count(*) FROM copies WHERE owner = :owner",
                owner=f"person:{person.national_id}",
            ),
        )


@pytest.fixture
def kept(messaging_database: str, wallet_database: str) -> Kept:
    return Kept(messaging_database, wallet_database)


def upload(
    api: httpx.AsyncClient, person: Citizen, data: bytes, name: str = "payslip.pdf", kind: str = PDF
) -> Any:
    return api.post(
        "/api/v1/messages/files",
        headers={**person.bearer(), "Accept-Language": "en"},
        files={"file": (name, data, kind)},
    )


async def uploaded(
    api: httpx.AsyncClient, person: Citizen, data: bytes, name: str, kind: str = PDF
) -> str:
    reply = await upload(api, person, data, name, kind)
    assert reply.status_code == 201, reply.text
    file: dict[str, Any] = reply.json()
    assert (file["file_name"], file["size"]) == (name, len(data))
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    file_id: str = file["id"]
    return file_id


async def read_file(stack: Stack, code: str, thread_id: str, file_id: str) -> bytes:
    # The stub keeps its channel open while the stream is read.
    office = back_office(stack, code)
    stream = office.ReadFile(pb.ReadFileRequest(thread_id=thread_id, attachment_id=file_id))
    data = b""
    async for part in stream:
        if part.WhichOneof("part") == "chunk":
            data += part.chunk
        else:
            assert part.header.id == file_id
    return data


async def test_a_message_carries_files_the_administration_reads_them(
    api: httpx.AsyncClient, registry: Registry, stack: Stack, kept: Kept
) -> None:
    lea = await registry.register("Lea")
    scan, photo = pdf(4000, b"% payslip\n"), png()
    first = await uploaded(api, lea, scan, "payslip.pdf")
    second = await uploaded(api, lea, photo, "receipt.png", "image/png")
    # Before it is sent, the person sees their upload, and may drop one.
    got = await api.get(f"/api/v1/messages/files/{second}", headers=lea.bearer())
    assert (got.status_code, got.content) == (200, photo)
    assert (
        await api.delete(f"/api/v1/messages/files/{second}", headers=lea.bearer())
    ).status_code == 204

    sent = await api.post(
        "/api/v1/messages/threads",
        json={**MESSAGE, "attachment_ids": [first]},
        headers=lea.bearer(),
    )
    assert sent.status_code == 201, sent.text
    thread_id = sent.json()["id"]
    opened = (await api.get(f"/api/v1/messages/threads/{thread_id}", headers=lea.bearer())).json()
    [file] = opened["messages"][0]["attachments"]
    assert (file["id"], file["file_name"], file["content_type"]) == (first, "payslip.pdf", PDF)
    downloaded = await api.get(file["url"], headers=lea.bearer())
    assert downloaded.content == scan
    assert downloaded.headers["content-disposition"].startswith("attachment")

    # The competent administration streams the same bytes; another is refused.
    assert await read_file(stack, "acd", thread_id, first) == scan
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await read_file(stack, "ccss", thread_id, first)
    assert read_rpc_failure(refused.value).reason == "OUTSIDE_COMPETENCE"

    # A reply carries a file too; a file sent once is not sent again, nor removed.
    third = await uploaded(api, lea, pdf(300), "second-page.pdf")
    replied = await api.post(
        f"/api/v1/messages/threads/{thread_id}/messages",
        json={"body": "Here is the second page.", "attachment_ids": [third]},
        headers=lea.bearer(),
    )
    assert replied.status_code == 201, replied.text
    assert [a["id"] for a in replied.json()["attachments"]] == [third]
    again = await api.post(
        f"/api/v1/messages/threads/{thread_id}/messages",
        json={"body": "The first page once more.", "attachment_ids": [first]},
        headers=lea.bearer(),
    )
    problem = assert_problem(again, 422, "VALIDATION_FAILED")
    assert [e["field"] for e in problem["errors"]] == ["attachment_ids"]  # type: ignore[attr-defined]
    assert_problem(
        await api.delete(f"/api/v1/messages/files/{first}", headers=lea.bearer()),
        409,
        "FILE_SENT",
    )
    # Three files kept by messaging (one removed from its list), three copies in the wallet.
    assert await kept(lea) == (2, 3)


@pytest.mark.parametrize(
    ("data", "name", "kind", "status", "reason"),
    [
        (b"%PDF-1.4\n" + eicar(), "eicar.pdf", PDF, 422, "FILE_INFECTED"),
        (png(), "photo.pdf", PDF, 422, "FILE_TYPE_MISMATCH"),
        (b"just some words\n", "notes.txt", "text/plain", 422, "FILE_TYPE_NOT_ALLOWED"),
    ],
)
async def test_a_file_the_pipeline_refuses_is_a_problem_and_nothing_is_kept(
    api: httpx.AsyncClient,
    registry: Registry,
    kept: Kept,
    data: bytes,
    name: str,
    kind: str,
    status: int,
    reason: str,
) -> None:
    paul = await registry.register("Paul")
    refused = await upload(api, paul, data, name, kind)
    problem = assert_problem(refused, status, reason)
    assert problem["title"] and problem["detail"]
    assert await kept(paul) == (0, 0)


async def test_another_persons_files_and_too_many_files_are_refused(
    api: httpx.AsyncClient, registry: Registry, kept: Kept
) -> None:
    lea, paul = await registry.register("Lea"), await registry.register("Paul")
    leas = await uploaded(api, lea, pdf(), "lea.pdf")
    for url in (f"/api/v1/messages/files/{leas}",):
        assert_problem(await api.get(url, headers=paul.bearer()), 404, "NO_SUCH_FILE")
        assert_problem(await api.delete(url, headers=paul.bearer()), 404, "NO_SUCH_FILE")
    pauls = [await uploaded(api, paul, pdf(n), f"page-{n}.pdf") for n in range(4)]
    for ids in ([leas], pauls):
        refused = await api.post(
            "/api/v1/messages/threads",
            json={**MESSAGE, "attachment_ids": ids},
            headers=paul.bearer(),
        )
        problem = assert_problem(refused, 422, "VALIDATION_FAILED")
        assert [e["field"] for e in problem["errors"]] == ["attachment_ids"]  # type: ignore[attr-defined]
    listed = await api.get("/api/v1/messages/threads", headers=paul.bearer())
    assert listed.json()["threads"] == []
    assert await kept(lea) == (1, 1)


async def test_a_document_is_acknowledged_and_read_by_its_administration_only(
    api: httpx.AsyncClient, registry: Registry, stack: Stack, kept: Kept
) -> None:
    lea = await registry.register("Lea")
    refused = await api.post(
        "/api/v1/messages/documents",
        json={**DOCUMENT, "attachment_ids": []},
        headers=lea.bearer(),
    )
    problem = assert_problem(refused, 422, "VALIDATION_FAILED")
    assert [e["field"] for e in problem["errors"]] == ["attachment_ids"]  # type: ignore[attr-defined]

    scan = pdf(2000, b"% payslips\n")
    file_id = await uploaded(api, lea, scan, "payslips.pdf")
    sent = await api.post(
        "/api/v1/messages/documents",
        json={**DOCUMENT, "attachment_ids": [file_id]},
        headers=lea.bearer(),
    )
    assert sent.status_code == 201, sent.text
    receipt = sent.json()
    assert receipt["reference"].startswith("DP-") and len(receipt["reference"]) == 14
    assert receipt["thread"]["kind"] == "document"
    assert receipt["thread"]["administration"] == "ccss"
    [file] = receipt["message"]["attachments"]
    assert file["sha256"] == hashlib.sha256(scan).hexdigest()
    assert receipt["message"]["sent_at"]

    ccss = back_office(stack, "ccss")
    deposited = await ccss.ListThreads(pb.ListThreadsRequest(kind="document"))
    [mine] = [t for t in deposited.threads if t.id == receipt["thread"]["id"]]
    assert mine.reference == receipt["reference"]
    assert await read_file(stack, "ccss", mine.id, file_id) == scan
    acd = back_office(stack, "acd")
    theirs = await acd.ListThreads(pb.ListThreadsRequest(kind="document"))
    assert mine.id not in [t.id for t in theirs.threads]
    assert await kept(lea) == (1, 1)


async def test_a_submitted_request_has_one_thread_to_its_administration(
    api: httpx.AsyncClient, registry: Registry, stack: Stack
) -> None:
    anne, paul = await registry.register("Anne"), await registry.register("Paul")
    submitted = await Person(api, anne).submitted()
    reference = submitted["reference"]
    url = f"/api/v1/messages/requests/{reference}/messages"

    first = await api.post(url, json={"body": "Do you need my lease?"}, headers=anne.bearer())
    assert first.status_code == 201, first.text
    thread = first.json()["thread"]
    assert (thread["kind"], thread["administration"], thread["request_reference"]) == (
        "request",
        "commune",
        reference,
    )
    # Typed without dashes, in lower case: the same request, the same thread.
    compact = reference.replace("-", "").lower()
    second = await api.post(
        f"/api/v1/messages/requests/{compact}/messages",
        json={"body": "I found my lease, here it is."},
        headers=anne.bearer(),
    )
    assert second.status_code == 201, second.text
    assert second.json()["thread"]["id"] == thread["id"]
    listed = await api.get(
        "/api/v1/messages/threads", params={"request_reference": reference}, headers=anne.bearer()
    )
    assert [t["id"] for t in listed.json()["threads"]] == [thread["id"]]

    commune = back_office(stack, "commune")
    read = await commune.GetThread(pb.GetThreadRequest(thread_id=thread["id"]))
    assert [m.body for m in read.messages] == [
        "Do you need my lease?",
        "I found my lease, here it is.",
    ]

    # Another person's request, a draft, a reference of nothing: not found, nothing written.
    assert_problem(
        await api.post(url, json={"body": "Not my request at all."}, headers=paul.bearer()),
        404,
        "NO_SUCH_REQUEST",
    )
    draft = await Person(api, paul).start()
    assert_problem(
        await api.post(
            f"/api/v1/messages/requests/{draft['id']}/messages",
            json={"body": "A draft has no thread."},
            headers=paul.bearer(),
        ),
        404,
        "NO_SUCH_REQUEST",
    )
    assert_problem(
        await api.post(
            "/api/v1/messages/requests/PR-0000-0000-X/messages",
            json={"body": "No such request exists."},
            headers=paul.bearer(),
        ),
        404,
        "NO_SUCH_REQUEST",
    )
    assert (await api.get("/api/v1/messages/threads", headers=paul.bearer())).json()[
        "threads"
    ] == []
    short = await api.post(url, json={"body": "Too short"}, headers=anne.bearer())
    assert_problem(short, 422, "VALIDATION_FAILED")
    opened = (
        await api.get(f"/api/v1/messages/threads/{thread['id']}", headers=anne.bearer())
    ).json()
    assert len(opened["messages"]) == 2
