"""Attachments of requests (F25) through the gateway, on the real services (procedures, the wallet
with MinIO and ClamAV): a tenant's change of address gets a lease scanned from the computer and
another from their wallet, is submitted, its proof of deposit lists each file's name and SHA-256,
and the commune streams the files over its mutual TLS API. Bad input — another person's wallet
piece, a fifth file, a file of a type not accepted, an infected file, an announced oversize body,
a file added after submission without a correction — is refused with a problem document, and
nothing changes (no row of procedures, no answer)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from citizens import Citizen, Registry
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from stack import Stack
from test_procedures_administration import commune
from test_wallet_bad_input import _read_answer, _request_head, eicar, pdf

from guichet.procedures.v1 import procedures_pb2 as pb

__all__ = ["commune"]

MY_REQUESTS = "/api/v1/me/requests"
PROBLEM = "application/problem+json"
PDF = "application/pdf"
ADDRESS = {
    "street": "Rue du Marché-aux-Herbes",
    "house_number": "12A",
    "postcode": "L-1728",
    "locality": "Luxembourg",
    "country": "LU",
}
MOVE = {
    "move_kind": "within",
    "moving_date": date.today().isoformat(),
    "new_address": ADDRESS,
    "previous_address": {**ADDRESS, "house_number": "3"},
    "housing_status": "tenant",
    "landlord_name": "Immo Sàrl",
}
STEPS = {
    "household": {"moving_alone": True},
    "contact": {"email": "anne.muller@example.lu", "phone": "+352 621 123 456"},
}


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def problem_of(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["reason"]) == (status, reason), body
    assert body["title"] and body["detail"]
    return body


class Tenant:
    """A citizen's calls for a change of address with its lease."""

    def __init__(self, api: httpx.AsyncClient, citizen: Citizen) -> None:
        self.api = api
        self.headers = {**citizen.bearer(), "Accept-Language": "en"}

    async def start(self) -> str:
        created = await self.api.post(
            "/api/v1/procedures/change-of-address/drafts", headers=self.headers
        )
        assert created.status_code == 201, created.text
        request_id: str = created.json()["id"]
        return request_id

    def upload(self, request_id: str, data: bytes, name: str = "lease.pdf", kind: str = PDF) -> Any:
        return self.api.post(
            f"{MY_REQUESTS}/{request_id}/fields/lease/files",
            headers=self.headers,
            files={"file": (name, data, kind)},
        )

    async def wallet_piece(self, data: bytes) -> dict[str, str]:
        created = await self.api.post(
            "/api/v1/wallet/pieces",
            headers=self.headers,
            data={"type": "lease", "title": "My lease", "expires_on": "2031-05-31"},
            files={"file": ("lease-signed.pdf", data, PDF)},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        return {"piece_id": body["piece"]["piece_id"], "file_id": body["file_id"]}

    def attach(self, request_id: str, piece: dict[str, str]) -> Any:
        return self.api.post(
            f"{MY_REQUESTS}/{request_id}/fields/lease/files/from-wallet",
            headers=self.headers,
            json=piece,
        )

    async def save(self, request_id: str, step: str, answers: dict[str, Any]) -> dict[str, Any]:
        saved = await self.api.put(
            f"{MY_REQUESTS}/{request_id}/steps/{step}", headers=self.headers, json=answers
        )
        assert saved.status_code == 200, saved.text
        body: dict[str, Any] = saved.json()
        return body

    async def get(self, request_id: str) -> dict[str, Any]:
        response = await self.api.get(f"{MY_REQUESTS}/{request_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def submit(self, request_id: str) -> dict[str, Any]:
        for step, answers in {"move": MOVE, **STEPS}.items():
            await self.save(request_id, step, answers)
        submitted = await self.api.post(
            f"{MY_REQUESTS}/{request_id}/submission",
            headers={**self.headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert submitted.status_code == 200, submitted.text
        body: dict[str, Any] = submitted.json()
        return body


async def attachment_rows(stack: Stack) -> int:
    engine = create_async_engine(stack.procedures_database_url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT count(*) FROM request_attachments")))
    finally:
        await engine.dispose()


async def test_files_from_the_computer_and_the_wallet_are_submitted_proved_and_read_by_the_commune(
    api: httpx.AsyncClient, registry: Registry, commune: Any
) -> None:
    anne = Tenant(api, await registry.register("Anne"))
    request_id = await anne.start()
    scan = pdf(filler=300_000, marker=b"% lease scan\n")
    uploaded = await anne.upload(request_id, scan, name="bail scanné.pdf")
    assert uploaded.status_code == 201, uploaded.text
    first = uploaded.json()["attachment"]
    assert (first["sha256"], first["source"], first["content_type"]) == (
        sha256(scan),
        "upload",
        PDF,
    )
    assert uploaded.json()["request"]["answers"]["lease"] == [first["id"]]

    signed = pdf(marker=b"% signed lease\n")
    attached = await anne.attach(request_id, await anne.wallet_piece(signed))
    assert attached.status_code == 201, attached.text
    second = attached.json()["attachment"]
    assert (second["sha256"], second["source"]) == (sha256(signed), "wallet")

    downloaded = await api.get(first["url"], headers=anne.headers)
    assert downloaded.status_code == 200 and downloaded.content == scan
    assert downloaded.headers["content-type"] == PDF
    assert "attachment" in downloaded.headers["content-disposition"]

    submitted = await anne.submit(request_id)
    assert submitted["answers"]["lease"] == [first["id"], second["id"]]
    assert all(a["submitted"] for a in submitted["attachments"])

    proof = await api.get(f"{MY_REQUESTS}/{request_id}/proof", headers=anne.headers)
    assert proof.status_code == 200
    printed = "".join(page.extract_text() for page in PdfReader(io.BytesIO(proof.content)).pages)
    assert "Attached files" in printed and "lease-signed.pdf" in printed
    flat = printed.replace("\n", "")
    assert sha256(scan) in flat and sha256(signed) in flat

    # The commune reads the request and streams each file over its API.
    incoming = await commune.GetIncomingRequest(
        pb.GetIncomingRequestRequest(reference=submitted["reference"])
    )
    assert [a.sha256 for a in incoming.request.attachments] == [sha256(scan), sha256(signed)]
    received = bytearray()
    header = None
    async for message in commune.ReadAttachment(
        pb.ReadAttachmentRequest(reference=submitted["reference"], attachment_id=first["id"])
    ):
        if message.WhichOneof("part") == "header":
            header = message.header
        else:
            received += message.chunk
    assert header is not None and header.sha256 == sha256(scan)
    assert bytes(received) == scan

    # A submitted file stays; no file is added without a correction asking for it.
    rows = await attachment_rows_of(api, anne, request_id)
    removed = await api.delete(first["url"], headers=anne.headers)
    problem_of(removed, 409, "ATTACHMENTS_CLOSED")
    problem_of(await anne.upload(request_id, pdf()), 409, "ATTACHMENTS_CLOSED")
    assert await attachment_rows_of(api, anne, request_id) == rows


async def attachment_rows_of(api: httpx.AsyncClient, tenant: Tenant, request_id: str) -> Any:
    request = await tenant.get(request_id)
    return request["attachments"], request["answers"].get("lease"), request["updated_at"]


async def test_bad_files_are_refused_with_a_problem_and_nothing_changes(
    api: httpx.AsyncClient, registry: Registry, stack: Stack
) -> None:
    bob = Tenant(api, await registry.register("Bob"))
    bobs_piece = await bob.wallet_piece(pdf(marker=b"% bob's lease\n"))
    citizen = await registry.register("Anne")
    anne = Tenant(api, citizen)
    request_id = await anne.start()
    for page in range(4):
        added = await anne.upload(request_id, pdf(marker=f"% page {page}\n".encode()))
        assert added.status_code == 201, added.text
    other_id = await anne.start()
    before = (await anne.get(request_id), await anne.get(other_id), await attachment_rows(stack))

    problem = problem_of(await anne.upload(request_id, pdf()), 409, "TOO_MANY_ATTACHMENTS")
    assert "At most 4 files" in problem["detail"]
    problem_of(await anne.attach(other_id, bobs_piece), 404, "PIECE_NOT_FOUND")
    problem_of(
        await anne.upload(other_id, b"just words\n" * 50, "notes.txt", "text/plain"),
        422,
        "FILE_TYPE_NOT_ALLOWED",
    )
    problem_of(
        await anne.upload(other_id, b"%PDF-1.4\n" + eicar(), "eicar.pdf"), 422, "FILE_INFECTED"
    )
    problem_of(
        await api.post(
            f"{MY_REQUESTS}/{other_id}/fields/moving_date/files",
            headers=anne.headers,
            files={"file": ("x.pdf", pdf(), PDF)},
        ),
        422,
        "NOT_AN_ATTACHMENT_FIELD",
    )
    # Another person's request: unknown.
    problem_of(await bob.upload(other_id, pdf()), 404, "REQUEST_NOT_FOUND")

    # An oversize body announced in its head is refused before any byte of it.
    head = _request_head(
        str(api.base_url),
        f"{MY_REQUESTS}/{other_id}/fields/lease/files",
        citizen.tokens["low"].access_token,
        "multipart/form-data; boundary=x",
        str(10 * 1024**3),
    )

    def send_head_only() -> tuple[int, bytes]:
        parts = urlsplit(str(api.base_url))
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            sock.sendall(head)
            return _read_answer(sock)

    status, body = await asyncio.to_thread(send_head_only)
    assert status == 413 and b'"reason":"REQUEST_TOO_LARGE"' in body

    after = (await anne.get(request_id), await anne.get(other_id), await attachment_rows(stack))
    assert after == before
