"""Every bad input of the wallet (issue 8), sent through the gateway's API as a client would: each
is refused with its problem (status and reason) and NOTHING is stored: the pieces listed, the
wallet's rows and the objects of its buckets (the stack's own prefix) are what they were.

Oversize is refused before the whole body is read (the gateway answers 413 while the client still
had most of its body to send, or at once from Content-Length). The harmful samples are made here:
an executable's header, a ZIP bomb, the EICAR test string (assembled from pieces, so no file of
the repository holds it whole)."""

from __future__ import annotations

import asyncio
import io
import select
import socket
import struct
import uuid
import zipfile
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from citizens import Citizen, Registry
from minio import Minio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from stack import Stack

from guichet_testkit.db import row_counts, service_metadata

PDF = "application/pdf"
WALLET_TABLES = service_metadata("guichet_wallet")
MAX_FILE_BYTES = 20_000_000  # the wallet's and the gateway's default limit per file

# --- samples ------------------------------------------------------------------------------------


def pdf(filler: int = 200, marker: bytes = b"") -> bytes:
    body = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    return body + marker + b"%" + b"x" * filler + b"\n%%EOF\n"


def png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def elf_executable() -> bytes:
    """The 64-byte header of an x86-64 Linux executable and a little code: enough for libmagic."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x400078, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    segment = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 0x84, 0x84, 0x1000)
    return ident + header + segment + b"\x48\x31\xff\xb8\x3c\x00\x00\x00\x0f\x05" + bytes(2)


def pe_executable() -> bytes:
    """A DOS stub pointing to a PE header (a Windows program)."""
    dos = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x80))
    dos += bytes(0x80 - len(dos))
    pe = b"PE\x00\x00" + struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 0xF0, 0x22)
    optional = struct.pack("<H", 0x20B) + bytes(0xEE)
    return bytes(dos) + pe + optional + bytes(512)


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """One entry of 50 MB of zeros: about 50 KB packed, a ratio near 1000 to 1."""
    return zip_of({"report.txt": bytes(50_000_000)})


def eicar() -> bytes:
    # The antivirus test string, assembled here: no file of the repository holds it whole.
    parts = ["X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-", "ANTIVIRUS-TEST-FILE!$H+H*"]
    return "".join(parts).encode()


# --- the wallet as a test sees it ---------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    pieces: list[dict]
    rows: dict[str, int]
    objects: frozenset[str]


class WalletProbe:
    """What the wallet holds for a person: pieces (API), rows (its database) and objects (its
    buckets, those of this stack's prefix only)."""

    def __init__(self, api: httpx.AsyncClient, engine: AsyncEngine, minio: Minio, prefix: str):
        self.api = api
        self.engine = engine
        self.minio = minio
        self.prefix = prefix

    def _objects(self) -> frozenset[str]:
        found = set()
        for bucket in self.minio.list_buckets():
            if bucket.name.startswith(f"{self.prefix}-"):
                for item in self.minio.list_objects(bucket.name, recursive=True):
                    found.add(f"{bucket.name}/{item.object_name}")
        return frozenset(found)

    async def pieces(self, citizen: Citizen, context: str | None = None) -> list[dict]:
        listed = await self.api.get(
            "/api/v1/wallet/pieces", headers=citizen.bearer(context=context)
        )
        assert listed.status_code == 200, listed.text
        return list(listed.json()["items"])

    async def snapshot(self, citizen: Citizen, context: str | None = None) -> Stored:
        return Stored(
            await self.pieces(citizen, context),
            await row_counts(self.engine, WALLET_TABLES),
            await asyncio.to_thread(self._objects),
        )

    async def unchanged_since(
        self, before: Stored, citizen: Citizen, context: str | None = None
    ) -> None:
        after = await self.snapshot(citizen, context)
        assert after.pieces == before.pieces, "no piece was added or changed"
        assert after.rows == before.rows, "no row was added"
        assert after.objects == before.objects, after.objects ^ before.objects

    async def add_piece(
        self,
        citizen: Citizen,
        data: bytes | None = None,
        *,
        piece_type: str = "identity_card",
        title: str = "Carte d'identité",
        name: str = "carte.pdf",
        content_type: str = PDF,
        context: str | None = None,
    ) -> dict:
        answer = await self.api.post(
            "/api/v1/wallet/pieces",
            headers=citizen.bearer(context=context),
            data={"type": piece_type, "title": title},
            files={"file": (name, pdf() if data is None else data, content_type)},
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def remove_every_piece(self, citizen: Citizen) -> None:
        for piece in await self.pieces(citizen):
            removed = await self.api.delete(
                f"/api/v1/wallet/pieces/{piece['piece_id']}", headers=citizen.bearer()
            )
            assert removed.status_code == 204, removed.text


@pytest.fixture(scope="module")
async def wallet_api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
async def registry(
    wallet_api: httpx.AsyncClient, infra: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Registry]:
    people = Registry(wallet_api, infra, tmp_path_factory.mktemp("wallet-people"))
    yield people
    await asyncio.to_thread(people.cleanup)


@pytest.fixture(scope="module")
async def probe(
    wallet_api: httpx.AsyncClient, wallet_database: str, wallet_bucket_prefix: str, infra: dict
) -> AsyncIterator[WalletProbe]:
    engine = create_async_engine(wallet_database)
    minio = Minio(
        infra["GUICHET_MINIO_ENDPOINT"],
        access_key=infra["GUICHET_MINIO_ACCESS_KEY"],
        secret_key=infra["GUICHET_MINIO_SECRET_KEY"],
        secure=False,
    )
    yield WalletProbe(wallet_api, engine, minio, wallet_bucket_prefix)
    await engine.dispose()


@pytest.fixture(scope="module")
async def lea(registry: Registry, probe: WalletProbe) -> AsyncIterator[Citizen]:
    """One person for the module; each test leaves her wallet as it found it."""
    citizen = await registry.register("Lea")
    yield citizen
    await probe.remove_every_piece(citizen)


def problem_of(answer: httpx.Response, status: int, reason: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = dict(answer.json())
    assert problem["reason"] == reason, problem
    assert problem["status"] == status and problem["title"]
    return problem


# --- the file's content -------------------------------------------------------------------------

CONTENT_REFUSALS = [
    pytest.param(png(), "identity_card", "carte.pdf", PDF, "FILE_TYPE_MISMATCH", id="png-as-pdf"),
    pytest.param(
        elf_executable(),
        "identity_card",
        "carte.pdf",
        PDF,
        "FILE_TYPE_MISMATCH",
        id="elf-renamed-pdf",
    ),
    pytest.param(
        pe_executable(),
        "identity_card",
        "carte.pdf",
        PDF,
        "FILE_TYPE_MISMATCH",
        id="exe-renamed-pdf",
    ),
    pytest.param(
        pdf() + zip_of({"inside.txt": b"hidden"}),
        "identity_card",
        "carte.pdf",
        PDF,
        "FILE_POLYGLOT",
        id="pdf-zip-polyglot",
    ),
    pytest.param(
        zip_bomb(), "other", "archive.zip", "application/zip", "ARCHIVE_BOMB", id="zip-bomb"
    ),
    pytest.param(
        pdf(marker=b"% " + eicar() + b"\n"),
        "identity_card",
        "carte.pdf",
        PDF,
        "FILE_INFECTED",
        id="eicar-in-pdf",
    ),
    pytest.param(
        zip_of({"readme.txt": b"hello", "tool.com": eicar()}),
        "other",
        "tools.zip",
        "application/zip",
        "FILE_INFECTED",
        id="eicar-in-zip",
    ),
    pytest.param(b"", "identity_card", "carte.pdf", PDF, "FILE_EMPTY", id="empty"),
]


@pytest.mark.parametrize(("data", "piece_type", "name", "declared", "reason"), CONTENT_REFUSALS)
async def test_a_harmful_or_wrong_file_is_refused_and_nothing_is_stored(
    probe: WalletProbe,
    lea: Citizen,
    data: bytes,
    piece_type: str,
    name: str,
    declared: str,
    reason: str,
) -> None:
    before = await probe.snapshot(lea)
    answer = await probe.api.post(
        "/api/v1/wallet/pieces",
        headers=lea.bearer(),
        data={"type": piece_type, "title": "Refused"},
        files={"file": (name, data, declared)},
    )
    problem_of(answer, 422, reason)
    await probe.unchanged_since(before, lea)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        pytest.param("../../etc/passwd.pdf", "INVALID_FILE_NAME", id="dot-dot-slash"),
        pytest.param("..\\..\\boot.pdf", "INVALID_FILE_NAME", id="dot-dot-backslash"),
        # The kit refuses a NUL in any field of any request before the wallet reads it.
        pytest.param("carte\x00.pdf", "INVALID_CHARACTER", id="nul"),
        pytest.param("facture\u202efdp.exe", "INVALID_FILE_NAME", id="rtl-override"),
        pytest.param("a" * 996 + ".pdf", "INVALID_FILE_NAME", id="1000-characters"),
    ],
)
async def test_a_misleading_file_name_is_refused_and_nothing_is_stored(
    probe: WalletProbe, lea: Citizen, name: str, reason: str
) -> None:
    before = await probe.snapshot(lea)
    # The name in the `file_name` field: a multipart header could not carry a NUL faithfully.
    answer = await probe.api.post(
        "/api/v1/wallet/pieces",
        headers=lea.bearer(),
        data={"type": "identity_card", "file_name": name},
        files={"file": ("carte.pdf", pdf(), PDF)},
    )
    problem = problem_of(answer, 422, reason)
    assert "file_name" in problem["errors"][0]["field"]
    await probe.unchanged_since(before, lea)


async def test_a_file_name_in_the_parts_own_header_is_checked_the_same(
    probe: WalletProbe, lea: Citizen
) -> None:
    before = await probe.snapshot(lea)
    answer = await probe.api.post(
        "/api/v1/wallet/pieces",
        headers=lea.bearer(),
        data={"type": "identity_card"},
        files={"file": ("../secret/carte.pdf", pdf(), PDF)},
    )
    problem_of(answer, 422, "INVALID_FILE_NAME")
    await probe.unchanged_since(before, lea)


async def test_an_unknown_piece_type_is_refused_and_nothing_is_stored(
    probe: WalletProbe, lea: Citizen
) -> None:
    before = await probe.snapshot(lea)
    answer = await probe.api.post(
        "/api/v1/wallet/pieces",
        headers=lea.bearer(),
        data={"type": "passport_of_mars"},
        files={"file": ("carte.pdf", pdf(), PDF)},
    )
    problem = problem_of(answer, 422, "UNKNOWN_PIECE_TYPE")
    assert problem["errors"][0]["field"].endswith("type_code")
    await probe.unchanged_since(before, lea)


# --- too large: refused before the body is read -------------------------------------------------


def _request_head(url: str, path: str, token: str, content_type: str, length: str | None) -> bytes:
    parts = urlsplit(url)
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Authorization: Bearer {token}",
        f"Content-Type: {content_type}",
        "Accept: application/json",
        "Connection: close",
    ]
    lines.append(f"Content-Length: {length}" if length else "Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_answer(sock: socket.socket) -> tuple[int, bytes]:
    sock.setblocking(True)
    sock.settimeout(30)
    received = b""
    while True:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not data:
            break
        received += data
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, body


@dataclass
class Sent:
    status: int
    body: bytes
    sent: int
    total: int


def send_slowly_until_answered(url: str, head: bytes, body: Iterator[bytes], total: int) -> Sent:
    """Sends the body chunk by chunk (chunked transfer) and stops as soon as the server
    answers: how much was sent then tells whether it read the whole body first."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall(head)
    sock.setblocking(False)
    sent = 0
    try:
        for piece in body:
            frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            offset = 0
            while offset < len(frame):
                readable, writable, _ = select.select([sock], [sock], [], 30)
                if readable:
                    return Sent(*_read_answer(sock), sent=sent, total=total)
                if not writable:
                    raise AssertionError("the server neither read nor answered for 30 s")
                try:
                    offset += sock.send(frame[offset:])
                except (BrokenPipeError, ConnectionResetError):
                    return Sent(*_read_answer(sock), sent=sent, total=total)
            sent += len(piece)
        sock.sendall(b"0\r\n\r\n")
        return Sent(*_read_answer(sock), sent=sent, total=total)
    finally:
        sock.close()


def multipart_stream(boundary: str, size: int) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\nidentity_card\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        f"Content-Type: {PDF}\r\n\r\n"
    ).encode()
    yield b"%PDF-1.4\n"
    block = b"%" + b"x" * 65_533 + b"\n"
    remaining = size
    while remaining > 0:
        yield block[:remaining]
        remaining -= len(block)
    yield f"\r\n--{boundary}--\r\n".encode()


async def test_an_oversize_file_is_refused_while_it_arrives_and_nothing_is_stored(
    stack: Stack, probe: WalletProbe, lea: Citizen
) -> None:
    before = await probe.snapshot(lea)
    boundary = uuid.uuid4().hex
    size = 5 * MAX_FILE_BYTES
    head = _request_head(
        stack.gateway_url,
        "/api/v1/wallet/pieces",
        lea.tokens["low"].access_token,
        f"multipart/form-data; boundary={boundary}",
        None,
    )
    answer = await asyncio.to_thread(
        send_slowly_until_answered,
        stack.gateway_url,
        head,
        multipart_stream(boundary, size),
        size,
    )
    assert answer.status == 413, answer.body
    assert b'"reason":"FILE_TOO_LARGE"' in answer.body
    # Answered while the client still had most of its body to send (the wallet refused once
    # past its limit; what was sent meanwhile sat in buffers on the way).
    assert answer.sent < 3 * MAX_FILE_BYTES, (answer.sent, size)
    await probe.unchanged_since(before, lea)


async def test_an_announced_oversize_body_is_refused_before_any_byte_of_it(
    stack: Stack, probe: WalletProbe, lea: Citizen
) -> None:
    before = await probe.snapshot(lea)
    head = _request_head(
        stack.gateway_url,
        "/api/v1/wallet/pieces",
        lea.tokens["low"].access_token,
        "multipart/form-data; boundary=x",
        str(10 * 1024**3),
    )

    def send_head_only() -> tuple[int, bytes]:
        parts = urlsplit(stack.gateway_url)
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            sock.sendall(head)  # and not one byte of the 10 GB
            return _read_answer(sock)

    status, body = await asyncio.to_thread(send_head_only)
    assert status == 413, body
    assert b'"reason":"REQUEST_TOO_LARGE"' in body
    await probe.unchanged_since(before, lea)


# --- limits -------------------------------------------------------------------------------------


async def test_a_fifth_file_is_refused_and_nothing_is_stored(
    probe: WalletProbe, lea: Citizen
) -> None:
    created = await probe.add_piece(lea)
    piece_id = created["piece"]["piece_id"]
    for number in range(2, 5):
        added = await probe.api.post(
            f"/api/v1/wallet/pieces/{piece_id}/files",
            headers=lea.bearer(),
            files={"file": (f"page{number}.pdf", pdf(), PDF)},
        )
        assert added.status_code == 201, added.text
    before = await probe.snapshot(lea)
    fifth = await probe.api.post(
        f"/api/v1/wallet/pieces/{piece_id}/files",
        headers=lea.bearer(),
        files={"file": ("page5.pdf", pdf(), PDF)},
    )
    problem_of(fifth, 409, "TOO_MANY_FILES")
    await probe.unchanged_since(before, lea)
    await probe.remove_every_piece(lea)


async def test_an_eleventh_piece_is_refused_and_nothing_is_stored(
    probe: WalletProbe, lea: Citizen
) -> None:
    for number in range(10):
        await probe.add_piece(lea, title=f"Piece {number + 1}")
    before = await probe.snapshot(lea)
    assert len(before.pieces) == 10
    eleventh = await probe.api.post(
        "/api/v1/wallet/pieces",
        headers=lea.bearer(),
        data={"type": "payslip", "title": "Piece 11"},
        files={"file": ("payslip.pdf", pdf(), PDF)},
    )
    problem_of(eleventh, 409, "TOO_MANY_PIECES")
    await probe.unchanged_since(before, lea)
    await probe.remove_every_piece(lea)


# --- whose pieces -------------------------------------------------------------------------------


async def test_another_persons_piece_is_not_found_whatever_is_asked(
    probe: WalletProbe, registry: Registry, lea: Citizen
) -> None:
    created = await probe.add_piece(lea)
    piece_id = created["piece"]["piece_id"]
    file_id = created["file_id"]
    version_id = created["version"]["version_id"]
    carl = await registry.register("Carl")
    base = f"/api/v1/wallet/pieces/{piece_id}"
    before = await probe.snapshot(lea)
    asked = [
        await probe.api.get(base, headers=carl.bearer()),
        await probe.api.patch(base, headers=carl.bearer(), json={"title": "Mine now"}),
        await probe.api.delete(base, headers=carl.bearer()),
        await probe.api.get(f"{base}/files/{file_id}", headers=carl.bearer()),
        await probe.api.get(f"{base}/files/{file_id}/versions/{version_id}", headers=carl.bearer()),
        await probe.api.delete(f"{base}/files/{file_id}", headers=carl.bearer()),
        await probe.api.post(
            f"{base}/files", headers=carl.bearer(), files={"file": ("x.pdf", pdf(), PDF)}
        ),
        await probe.api.put(
            f"{base}/files/{file_id}", headers=carl.bearer(), files={"file": ("x.pdf", pdf(), PDF)}
        ),
    ]
    for answer in asked:
        problem_of(answer, 404, "PIECE_NOT_FOUND")
    await probe.unchanged_since(before, lea)
    assert await probe.pieces(carl) == []
    await probe.remove_every_piece(lea)


async def grant(
    api: httpx.AsyncClient, registry: Registry, subject: Citizen, actor: Citizen, rights: list[str]
) -> str:
    """`subject` gives `actor` a mandate with `rights`; its acting context."""
    await registry.step_up_to_high(subject)
    granted = await api.post(
        "/api/v1/me/relations",
        headers=subject.bearer("high"),
        json={
            "actor_national_id": actor.national_id,
            "kind": "spouse",
            "rights": rights,
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert granted.status_code == 201, granted.text
    return f"relation:{granted.json()['id']}"


async def test_a_relation_without_wallet_write_reads_but_changes_nothing(
    probe: WalletProbe, registry: Registry, lea: Citizen
) -> None:
    created = await probe.add_piece(lea)
    piece_id = created["piece"]["piece_id"]
    file_id = created["file_id"]
    bert = await registry.register("Bert")
    context = await grant(probe.api, registry, lea, bert, ["wallet:read"])

    # Reading is what the mandate gives.
    seen = await probe.pieces(bert, context)
    assert [p["piece_id"] for p in seen] == [piece_id]
    downloaded = await probe.api.get(
        f"/api/v1/wallet/pieces/{piece_id}/files/{file_id}", headers=bert.bearer(context=context)
    )
    assert downloaded.status_code == 200 and downloaded.content == pdf()

    before = await probe.snapshot(lea)
    refused = [
        await probe.api.post(
            "/api/v1/wallet/pieces",
            headers=bert.bearer(context=context),
            data={"type": "payslip"},
            files={"file": ("payslip.pdf", pdf(), PDF)},
        ),
        await probe.api.post(
            f"/api/v1/wallet/pieces/{piece_id}/files",
            headers=bert.bearer(context=context),
            files={"file": ("more.pdf", pdf(), PDF)},
        ),
        await probe.api.put(
            f"/api/v1/wallet/pieces/{piece_id}/files/{file_id}",
            headers=bert.bearer(context=context),
            files={"file": ("other.pdf", pdf(), PDF)},
        ),
        await probe.api.patch(
            f"/api/v1/wallet/pieces/{piece_id}",
            headers=bert.bearer(context=context),
            json={"title": "Changed"},
        ),
        await probe.api.delete(
            f"/api/v1/wallet/pieces/{piece_id}", headers=bert.bearer(context=context)
        ),
    ]
    for answer in refused:
        problem_of(answer, 403, "MANDATE_REFUSED")
    await probe.unchanged_since(before, lea)
    await probe.remove_every_piece(lea)


# --- what the gateway refuses of the form itself ------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "files", "field", "kind"),
    [
        pytest.param({}, {"file": ("a.pdf", pdf(), PDF)}, "type", "missing", id="no-type"),
        pytest.param({"type": "payslip"}, None, "file", "missing", id="no-file"),
        pytest.param(
            {"type": "payslip", "colour": "red"},
            {"file": ("a.pdf", pdf(), PDF)},
            "colour",
            "extra_forbidden",
            id="unknown-field",
        ),
        pytest.param(
            {"type": "payslip", "expires_on": "31/12/2030"},
            {"file": ("a.pdf", pdf(), PDF)},
            "expires_on",
            "string_pattern_mismatch",
            id="bad-date",
        ),
    ],
)
async def test_a_wrong_form_is_refused_by_the_gateway_and_nothing_is_stored(
    probe: WalletProbe,
    lea: Citizen,
    fields: dict[str, str],
    files: dict | None,
    field: str,
    kind: str,
) -> None:
    before = await probe.snapshot(lea)
    if files is None:
        # multipart with text fields only
        answer = await probe.api.post(
            "/api/v1/wallet/pieces",
            headers=lea.bearer(),
            files={name: (None, value) for name, value in fields.items()},
        )
    else:
        answer = await probe.api.post(
            "/api/v1/wallet/pieces", headers=lea.bearer(), data=fields, files=files
        )
    problem = problem_of(answer, 422, "VALIDATION_FAILED")
    assert (problem["errors"][0]["field"], problem["errors"][0]["reason"]) == (field, kind)
    await probe.unchanged_since(before, lea)


async def test_a_field_after_the_file_cancels_the_upload_and_nothing_is_stored(
    probe: WalletProbe, lea: Citizen
) -> None:
    before = await probe.snapshot(lea)
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\npayslip\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            f"Content-Type: {PDF}\r\n\r\n"
        ).encode()
        + pdf()
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nlate\r\n'
            f"--{boundary}--\r\n"
        ).encode()
    )
    answer = await probe.api.post(
        "/api/v1/wallet/pieces",
        headers={**lea.bearer(), "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=body,
    )
    problem = problem_of(answer, 422, "VALIDATION_FAILED")
    assert problem["errors"][0]["reason"] == "order"
    await probe.unchanged_since(before, lea)


async def test_a_body_that_is_not_multipart_is_refused(probe: WalletProbe, lea: Citizen) -> None:
    answer = await probe.api.post(
        "/api/v1/wallet/pieces", headers=lea.bearer(), json={"type": "payslip"}
    )
    problem_of(answer, 415, "VALIDATION_FAILED")
