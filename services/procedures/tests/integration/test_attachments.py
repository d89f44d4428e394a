"""Attachments (F25) on the real database and the real wallet: the wallet runs as its own process
(its database, MinIO buckets of this worker's prefix, ClamAV) and procedures calls its
FileService over mutual TLS with procedures' service certificate, as in production.

Files come from the computer (UploadAttachment, streamed to the wallet's IngestFile) or from the
person's wallet (AttachWalletPiece, the wallet's CopyPieceToRequest). A wallet piece is made for a
test's person through the same FileService (a copy ingested, then CopyFileToWallet), since the
wallet's own port wants a signed-in person's token. Every refusal leaves procedures' rows as they
were: no orphan row.
"""

from __future__ import annotations

import io
import json
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.mandates import MandateChecker
from guichet_kit.seal import Sealer
from guichet_procedures.api import wire
from guichet_procedures.api.administration import AdministrationProceduresServicer
from guichet_procedures.api.citizen import ProceduresServicer, RequestRules
from guichet_procedures.api.files import WalletFiles, wallet_channel, wallet_uploads_channel
from guichet_procedures.definitions.model import AttachmentField, LocalText
from guichet_procedures.publishing import publish_directory
from guichet_procedures.requests.attachments import Addition, allowed_content_types
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.service import ProofIssuer
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

from .conftest import (
    ANNE,
    BOB,
    DEFINITIONS,
    NO_CONTEXT,
    STATUSES,
    VERIFY_URL,
    Clock,
    Wakes,
    _text,
    refusal,
    stored_request,
    write_catalogue,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
CHUNK = 64 * 1024
FILES = "test-files"

FILES_FORM: dict[str, Any] = {
    "code": FILES,
    "version": 1,
    "administration": "commune",
    "theme": "housing",
    "audience": ["citizen"],
    "access": {"login": "required", "level": "low"},
    "channel": "online",
    "title": _text("Declaration with files"),
    "summary": _text("A form with files for the tests"),
    "keywords": {"fr": ["fichiers"], "de": ["Dateien"], "en": ["files"]},
    "statuses": STATUSES,
    "steps": [
        {
            "id": "papers",
            "title": _text("Your papers"),
            "fields": [
                {"id": "payslips", "type": "attachment", "label": _text("Payslips"),
                 "piece_types": ["payslip"], "max_files": 4, "required": True},
                {"id": "note", "type": "text", "label": _text("Note")},
            ],
        },
    ],
}  # fmt: skip


def pdf(text: str = "a paper", padding: int = 0) -> bytes:
    """A small, well-formed PDF; `padding` bytes of comment lines make it bigger."""
    body = (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
        + f"% {text}\n".encode()
    )
    line = b"% " + b"x" * 77 + b"\n"
    return body + line * (padding // len(line)) + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


def eicar() -> bytes:
    # The antivirus test string, assembled here: no file of the repository holds it whole.
    parts = ["X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-", "ANTIVIRUS-TEST-FILE!$H+H*"]
    return "".join(parts).encode()


def sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Wallet:
    services_address: str


@pytest.fixture(scope="module")
async def wallet_server(infra: dict[str, str]) -> AsyncIterator[Wallet]:
    """The wallet as its own process, on a database and buckets of its own."""
    service_dir = REPO_ROOT / "services" / "wallet"
    pki = Path(infra["GUICHET_PKI_DIR"])
    database_url = await migrated_database(
        infra, service_dir, f"procedures_test_wallet_{worker_name()}"
    )
    address, services_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {
        "WALLET_ENVIRONMENT": "test",
        "WALLET_DATABASE_URL": database_url,
        "WALLET_NATS_URL": infra["GUICHET_NATS_URL"],
        "WALLET_GRPC_ADDRESS": address,
        "WALLET_SERVICES_GRPC_ADDRESS": services_address,
        "WALLET_TLS_CERTIFICATE": str(pki / "services" / "wallet.crt"),
        "WALLET_TLS_PRIVATE_KEY": str(pki / "services" / "wallet.key"),
        "WALLET_SERVICES_CA": str(pki / "ca.crt"),
        "WALLET_MINIO_ENDPOINT": infra["GUICHET_MINIO_ENDPOINT"],
        "WALLET_MINIO_ACCESS_KEY": infra["GUICHET_MINIO_ACCESS_KEY"],
        "WALLET_MINIO_SECRET_KEY": infra["GUICHET_MINIO_SECRET_KEY"],
        "WALLET_BUCKET_PREFIX": f"proc-files-{worker_name()}".lower().replace("_", "-"),
        "WALLET_CLAMAV_ADDRESS": infra["GUICHET_CLAMAV_ADDRESS"],
        "WALLET_COPY_RETENTION_DAYS": "1",
        "WALLET_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
        "WALLET_CA_FILE": infra["GUICHET_CA_FILE"],
        "WALLET_IDENTITY_ADDRESS": "127.0.0.1:1",
        "WALLET_PURGE_CONSUMER": f"wallet-account-purge-procedures-test-{worker_name()}",
    }
    process = ServiceProcess(
        f"procedures-test-wallet-{worker_name()}",
        [sys.executable, "-m", "guichet_wallet", "grpc"],
        env,
        REPO_ROOT / ".data" / "log" / "tests",
    )
    process.start()
    try:
        await wait_until(lambda: grpc_serving(address), seconds=60, what="wallet", process=process)
        yield Wallet(services_address)
    finally:
        process.stop()


@dataclass
class Files:
    citizen: ProceduresServicer
    administration: AdministrationProceduresServicer
    wallet: WalletFiles


@pytest.fixture
async def files(
    sessions: async_sessionmaker[AsyncSession],
    store: CatalogueStore,
    sealer: Sealer,
    pki: Path,
    clock: Clock,
    wakes: Wakes,
    wallet_server: Wallet,
    tmp_path: Path,
) -> AsyncIterator[Files]:
    await publish_directory(sessions, write_catalogue(tmp_path / "c", [*DEFINITIONS, FILES_FORM]))
    channel = wallet_channel(
        wallet_server.services_address,
        pki / "services" / "procedures.crt",
        pki / "services" / "procedures.key",
        pki / "ca.crt",
        timeout=30,
    )
    uploads = wallet_uploads_channel(
        wallet_server.services_address,
        pki / "services" / "procedures.crt",
        pki / "services" / "procedures.key",
        pki / "ca.crt",
    )
    wallet = WalletFiles(channel, uploads)
    rules = RequestRules(
        draft_days=90,
        make_proof=ProofIssuer(sealer, VERIFY_URL, wire.display),
        trust_roots=(pki / "ca.crt",),
        clock=clock,
        files=wallet,
    )
    async with channel, insecure_channel("127.0.0.1:1", timeout=1) as nowhere:
        with uploads:
            yield Files(
                ProceduresServicer(sessions, store, MandateChecker(nowhere), rules, wakes),
                AdministrationProceduresServicer(
                    sessions, store, wakes, stream_poll_seconds=0.2, files=wallet
                ),
                wallet,
            )


# ---- calls ----


@dataclass(frozen=True)
class Certified:
    """The context of an administration's call whose client certificate mutual TLS verified."""

    name: str

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_common_name": [self.name.encode()]}

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return []


COMMUNE: Any = Certified("commune")


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def upload(
    files: Files,
    request_id: str,
    data: bytes,
    *,
    field_id: str = "payslips",
    name: str = "payslip.pdf",
    content_type: str = "application/pdf",
) -> Awaitable[pb.UploadAttachmentResponse]:
    async def messages() -> AsyncIterator[pb.UploadAttachmentRequest]:
        yield pb.UploadAttachmentRequest(
            header=pb.UploadAttachmentHeader(
                request_id=request_id,
                field_id=field_id,
                file_name=name,
                declared_content_type=content_type,
                declared_size=len(data),
                language="en",
            )
        )
        async for chunk in _chunks(data):
            yield pb.UploadAttachmentRequest(chunk=chunk)

    return files.citizen.UploadAttachment(messages(), NO_CONTEXT)


async def start(files: Files, code: str = FILES) -> str:
    reply = await files.citizen.StartDraft(
        pb.StartDraftRequest(procedure_code=code, language="en"), NO_CONTEXT
    )
    return reply.request.id


async def save(files: Files, request_id: str, answers: dict[str, Any]) -> pb.Request:
    reply = await files.citizen.SaveStep(
        pb.SaveStepRequest(
            request_id=request_id, step_id="papers", answers_json=json.dumps(answers)
        ),
        NO_CONTEXT,
    )
    return reply.request


async def submit(files: Files, request_id: str) -> pb.Request:
    reply = await files.citizen.SubmitRequest(
        pb.SubmitRequestRequest(
            request_id=request_id, idempotency_key=uuid.uuid4().hex, language="en"
        ),
        NO_CONTEXT,
    )
    return reply.request


async def wallet_piece(files: Files, national_id: str, data: bytes) -> tuple[str, str]:
    """A piece of `national_id`'s wallet holding `data`: (piece id, file id)."""
    owner = f"person:{national_id}"
    addition = Addition(
        uuid.uuid4(),
        FILES_FIELD,
        owner,
        "procedures:test-setup",
        allowed_content_types(FILES_FIELD),
    )
    copy = await files.wallet.ingest(
        addition, "payslip-march.pdf", "application/pdf", len(data), _chunks(data)
    )
    piece = await files.wallet.copy_to_wallet(copy.copy_id, owner, "payslip", "March payslip")
    return piece.piece_id, piece.files[0].file_id


async def read_back(stream: AsyncIterator[Any]) -> tuple[pb.Attachment, bytes]:
    header: pb.Attachment | None = None
    data = bytearray()
    async for message in stream:
        if message.WhichOneof("part") == "header":
            header = message.header
        else:
            data += message.chunk
    assert header is not None
    return header, bytes(data)


FILES_FIELD = AttachmentField(
    id="payslips", label=LocalText(fr="a", de="a", en="a"), piece_types=("payslip",), max_files=4
)


def answers_of(request: pb.Request) -> dict[str, Any]:
    return json.loads(request.answers_json)


# ---- the journey ----


async def test_upload_and_wallet_piece_submitted_then_listed_on_the_proof_and_read_by_the_commune(
    files: Files, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    request_id = await start(files)
    scan = pdf("march", padding=200_000)
    uploaded = await upload(files, request_id, scan)
    assert uploaded.attachment.sha256 == sha256(scan)
    assert uploaded.attachment.source == "upload"
    assert uploaded.attachment.content_type == "application/pdf"
    assert answers_of(uploaded.request)["payslips"] == [uploaded.attachment.id]

    kept = pdf("april")
    piece_id, file_id = await wallet_piece(files, ANNE, kept)
    attached = await files.citizen.AttachWalletPiece(
        pb.AttachWalletPieceRequest(
            request_id=request_id, field_id="payslips", piece_id=piece_id, file_id=file_id
        ),
        NO_CONTEXT,
    )
    assert attached.attachment.source == "wallet"
    assert attached.attachment.sha256 == sha256(kept)
    ids = [uploaded.attachment.id, attached.attachment.id]
    assert answers_of(attached.request)["payslips"] == ids
    assert [a.id for a in attached.request.attachments] == ids

    # The answer is the files: sending it back as read is fine, another list is not.
    saved = await save(files, request_id, {"payslips": ids, "note": "two months"})
    assert "papers" in [s.id for s in saved.steps if s.complete]
    submitted = await submit(files, request_id)
    assert all(a.submitted for a in submitted.attachments)

    proof = await files.citizen.GetProof(pb.GetProofRequest(request_id=request_id), NO_CONTEXT)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(proof.pdf)).pages)
    flat = text.replace("\n", "")
    assert "Attached files" in text
    assert "payslip.pdf" in text and "payslip-march.pdf" in text
    assert sha256(scan) in flat and sha256(kept) in flat

    # The citizen downloads their own file; the commune streams it over its API.
    header, data = await read_back(
        files.citizen.DownloadAttachment(
            pb.DownloadAttachmentRequest(request_id=request_id, attachment_id=ids[0]), NO_CONTEXT
        )
    )
    assert data == scan and header.sha256 == sha256(scan)
    incoming = await files.administration.GetIncomingRequest(
        pb.GetIncomingRequestRequest(reference=submitted.reference), COMMUNE
    )
    assert [a.id for a in incoming.request.attachments] == ids
    header, data = await read_back(
        files.administration.ReadAttachment(
            pb.ReadAttachmentRequest(reference=submitted.reference, attachment_id=ids[1]), COMMUNE
        )
    )
    assert data == kept and header.file_name == "payslip-march.pdf"

    # Submitted files stay: not removed, and no more added without a correction asking.
    counts_before = await stored_request(files.citizen.sessions, request_id)  # type: ignore[arg-type]
    refused = await refusal(
        files.citizen.RemoveAttachment(
            pb.RemoveAttachmentRequest(request_id=request_id, attachment_id=ids[0]), NO_CONTEXT
        )
    )
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "ATTACHMENTS_CLOSED",
    )
    refused = await refusal(upload(files, request_id, pdf("late")))
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "ATTACHMENTS_CLOSED",
    )
    assert await stored_request(files.citizen.sessions, request_id) == counts_before  # type: ignore[arg-type]


async def test_a_correction_asking_for_the_field_lets_more_files_come_and_the_new_proof_lists_them(
    files: Files, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    request_id = await start(files)
    first = await upload(files, request_id, pdf("one"))
    await save(files, request_id, {})
    submitted = await submit(files, request_id)
    incoming = await files.administration.GetIncomingRequest(
        pb.GetIncomingRequestRequest(reference=submitted.reference), COMMUNE
    )
    await files.administration.AskCorrection(
        pb.AskCorrectionRequest(
            reference=submitted.reference,
            field_ids=["payslips"],
            message="Add the payslip of April too.",
            expected_version=incoming.request.version,
        ),
        COMMUNE,
    )
    second_file = pdf("two")
    second = await upload(files, request_id, second_file, name="april.pdf")
    # Before answering, the new file may go again; the submitted one may not.
    refused = await refusal(
        files.citizen.RemoveAttachment(
            pb.RemoveAttachmentRequest(request_id=request_id, attachment_id=first.attachment.id),
            NO_CONTEXT,
        )
    )
    assert refused.reason == "ATTACHMENT_SUBMITTED"
    answered = await files.citizen.AnswerCorrection(
        pb.AnswerCorrectionRequest(request_id=request_id, answers_json="{}", language="en"),
        NO_CONTEXT,
    )
    assert answers_of(answered.request)["payslips"] == [first.attachment.id, second.attachment.id]
    proof = await files.citizen.GetProof(pb.GetProofRequest(request_id=request_id), NO_CONTEXT)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(proof.pdf)).pages)
    assert "april.pdf" in text and sha256(second_file) in text.replace("\n", "")


# ---- bad input: each refused with its reason, nothing changed ----


async def test_bad_files_are_refused_with_a_clear_reason_and_nothing_is_written(
    files: Files,
    signed_in: Callable[..., Any],
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    signed_in(BOB)
    bobs_piece, bobs_file = await wallet_piece(files, BOB, pdf("bob's"))
    signed_in(ANNE)
    request_id = await start(files)
    for index in range(4):
        await upload(files, request_id, pdf(f"page {index}"))
    before_rows = await counts()
    before = await stored_request(files.citizen.sessions, request_id)  # type: ignore[arg-type]

    fifth = await refusal(upload(files, request_id, pdf("fifth")))
    assert (fifth.code, fifth.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "TOO_MANY_ATTACHMENTS",
    )
    assert "At most 4 files" in fifth.message

    request_two = await start(files)
    before_rows = await counts()
    before_two = await stored_request(files.citizen.sessions, request_two)  # type: ignore[arg-type]
    cases: Sequence[tuple[Awaitable[Any], grpc.StatusCode, str]] = (
        (
            files.citizen.AttachWalletPiece(
                pb.AttachWalletPieceRequest(
                    request_id=request_two,
                    field_id="payslips",
                    piece_id=bobs_piece,
                    file_id=bobs_file,
                ),
                NO_CONTEXT,
            ),
            grpc.StatusCode.NOT_FOUND,
            "PIECE_NOT_FOUND",
        ),
        (
            upload(
                files,
                request_two,
                b"just some words\n" * 20,
                name="notes.txt",
                content_type="text/plain",
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "FILE_TYPE_NOT_ALLOWED",
        ),
        (
            # Refused at its first bytes while the rest still flows: the wallet's reason comes
            # back all the same.
            upload(
                files,
                request_two,
                b"just some words\n" * 400_000,
                name="notes.pdf",
                content_type="application/pdf",
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "FILE_TYPE_MISMATCH",
        ),
        (
            upload(files, request_two, b"%PDF-1.4\n" + eicar(), name="eicar.pdf"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "FILE_INFECTED",
        ),
        (
            upload(files, request_two, pdf(), field_id="note"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "NOT_AN_ATTACHMENT_FIELD",
        ),
        (
            files.citizen.SaveStep(
                pb.SaveStepRequest(
                    request_id=request_two,
                    step_id="papers",
                    answers_json=json.dumps({"payslips": [str(uuid.uuid4())]}),
                ),
                NO_CONTEXT,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ANSWERS",
        ),
    )
    for call, code, reason in cases:
        refused = await refusal(call)
        assert (refused.code, refused.reason) == (code, reason), refused
        assert refused.message
    assert await counts() == before_rows
    assert await stored_request(files.citizen.sessions, request_two) == before_two  # type: ignore[arg-type]
    assert await stored_request(files.citizen.sessions, request_id) == before  # type: ignore[arg-type]

    # Another person's request and its files are not found.
    signed_in(BOB)
    refused = await refusal(upload(files, request_id, pdf("intruder")))
    assert refused.reason == "REQUEST_NOT_FOUND"


async def test_a_required_attachment_field_without_files_is_not_complete_and_removal_reopens_it(
    files: Files, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    request_id = await start(files)
    refused = await refusal(save(files, request_id, {"note": "no files"}))
    assert refused.fields == ("payslips",)
    added = await upload(files, request_id, pdf())
    saved = await save(files, request_id, {"note": "now with a file"})
    assert [s.id for s in saved.steps if s.complete] == ["papers"]
    removed = await files.citizen.RemoveAttachment(
        pb.RemoveAttachmentRequest(request_id=request_id, attachment_id=added.attachment.id),
        NO_CONTEXT,
    )
    assert "payslips" not in answers_of(removed.request)
    assert not removed.request.attachments
    assert [s.id for s in removed.request.steps if s.complete] == []
    refused = await refusal(submit(files, request_id))
    assert refused.reason == "REQUEST_INCOMPLETE"
