"""FileService, the path other platform services take (F42, F44): immutable copies for requests,
a request's attachment into the wallet, eDocuments received; each copy read only by the service
that made it, and only platform services with their certificate may call."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet_kit.domain import Conflict
from guichet_wallet.files.pipeline import FilePipeline
from guichet_wallet.pieces.grpc import WalletServicer
from guichet_wallet.platform.grpc import FileServicer

from .conftest import (
    ANNE,
    BOB,
    CHUNK,
    NO_CONTEXT,
    as_service,
    download,
    new_piece,
    pdf,
    png,
    refusal,
    replacing,
    stream_refusal,
    to_piece,
    upload,
)

PROCEDURES, MESSAGING = "procedures", "messaging"


def ingest_stream(
    data: bytes,
    *,
    owner: str = f"person:{ANNE}",
    purpose: str = "Request RQ-2026-0001",
    file_name: str = "payslip.pdf",
    content_type: str = "application/pdf",
    retention_days: int = 0,
    allowed: tuple[str, ...] = (),
) -> AsyncIterator[pb.IngestFileRequest]:
    async def stream() -> AsyncIterator[pb.IngestFileRequest]:
        yield pb.IngestFileRequest(
            header=pb.IngestHeader(
                owner=owner,
                purpose=purpose,
                file_name=file_name,
                declared_content_type=content_type,
                retention_days=retention_days,
                allowed_content_types=allowed,
            )
        )
        for start in range(0, len(data), CHUNK):
            yield pb.IngestFileRequest(chunk=data[start : start + CHUNK])

    return stream()


def edocument(
    data: bytes,
    *,
    owner: str = f"person:{ANNE}",
    delivery_id: str = "DLV-0001",
    title: str = "Tax assessment 2025",
) -> AsyncIterator[pb.ReceiveDocumentRequest]:
    async def stream() -> AsyncIterator[pb.ReceiveDocumentRequest]:
        header = pb.ReceiveHeader(
            owner=owner,
            sender=pb.DocumentSender(
                administration="acd",
                administration_name="Administration des contributions directes",
                signature_subject="CN=ACD seal,O=ACD,C=LU",
                delivery_id=delivery_id,
            ),
            title=title,
            file_name="assessment.pdf",
            declared_content_type="application/pdf",
        )
        header.sender.signed_at.FromDatetime(datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
        yield pb.ReceiveDocumentRequest(header=header)
        yield pb.ReceiveDocumentRequest(chunk=data)

    return stream()


async def read_copy(files: FileServicer, copy_id: str, service: str) -> tuple[pb.CopyRef, bytes]:
    replies = [
        reply
        async for reply in files.ReadCopy(pb.ReadCopyRequest(copy_id=copy_id), as_service(service))
    ]
    return replies[0].header, b"".join(reply.chunk for reply in replies[1:])


async def test_an_ingested_attachment_is_an_immutable_copy_only_its_service_reads(
    files: FileServicer, pipeline: FilePipeline, objects
) -> None:
    data = pdf("attachment", padding=200_000)
    reply = await files.IngestFile(ingest_stream(data), as_service(PROCEDURES))

    copy = reply.copy
    assert (copy.owner, copy.purpose, copy.size) == (
        f"person:{ANNE}",
        "Request RQ-2026-0001",
        len(data),
    )
    assert copy.sha256 == hashlib.sha256(data).hexdigest()
    retained = copy.retained_until.ToDatetime(tzinfo=UTC)
    assert datetime.now(UTC) < retained <= datetime.now(UTC) + timedelta(days=1, minutes=1)
    [key] = await objects()
    assert key.startswith(f"{pipeline.storage.copies}/")
    # Retained: the storage itself refuses to let it go before its time.
    bucket, name = key.split("/")
    with pytest.raises(Conflict) as retained_error:
        await pipeline.remove(bucket, name)
    assert retained_error.value.reason == "COPY_RETAINED"

    header, content = await read_copy(files, copy.copy_id, PROCEDURES)
    assert (header.copy_id, content) == (copy.copy_id, data)
    other = files.ReadCopy(pb.ReadCopyRequest(copy_id=copy.copy_id), as_service(MESSAGING))
    assert (await stream_refusal(other)).reason == "COPY_NOT_FOUND"


async def test_only_platform_services_with_their_certificate_call_the_file_service(
    files: FileServicer, objects
) -> None:
    for caller in (None, "gateway", "etracking"):
        refused = await refusal(files.IngestFile(ingest_stream(pdf()), as_service(caller)))
        assert (refused.code, refused.reason) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "SERVICE_CERTIFICATE_REQUIRED",
        )
    assert await objects() == set()


async def test_a_wrong_ingest_header_is_refused_and_stores_nothing(
    files: FileServicer, objects, counts
) -> None:
    for stream, reason, fields in (
        (ingest_stream(pdf(), owner="relation:12"), "INVALID_OWNER", ("owner",)),
        (ingest_stream(pdf(), purpose=" "), "INVALID_COPY_REQUEST", ("purpose",)),
        (ingest_stream(pdf(), retention_days=-1), "INVALID_COPY_REQUEST", ("retention_days",)),
        (
            ingest_stream(png(), content_type="image/png", allowed=("application/pdf",)),
            "FILE_TYPE_NOT_ALLOWED",
            None,
        ),
    ):
        refused = await refusal(files.IngestFile(stream, as_service(PROCEDURES)))
        assert refused.reason == reason
        if fields is not None:
            assert refused.fields == fields
    assert await objects() == set()
    assert sum((await counts()).values()) == 0


async def test_a_piece_attached_to_a_request_is_copied_and_outlives_the_piece(
    files: FileServicer, wallet: WalletServicer, signed_in, objects
) -> None:
    signed_in(ANNE)
    data = pdf("diploma")
    added = await upload(wallet, new_piece("diploma", "Master"), data)
    request = pb.CopyPieceToRequestRequest(
        owner=f"person:{ANNE}",
        piece_id=added.piece.piece_id,
        file_id=added.file_id,
        purpose="Request RQ-2026-0002",
    )

    copied = (await files.CopyPieceToRequest(request, as_service(PROCEDURES))).copy

    assert (copied.sha256, copied.size, copied.file_name) == (
        added.version.sha256,
        added.version.size,
        added.version.file_name,
    )
    await wallet.DeletePiece(pb.DeletePieceRequest(piece_id=added.piece.piece_id), NO_CONTEXT)
    assert (await read_copy(files, copied.copy_id, PROCEDURES))[1] == data
    assert len(await objects()) == 1  # the copy, not the deleted piece's file


async def test_a_service_cannot_copy_a_piece_of_someone_else_than_the_owner_it_names(
    files: FileServicer, wallet: WalletServicer, signed_in, objects, counts
) -> None:
    signed_in(ANNE)
    added = await upload(wallet, new_piece("diploma"), pdf())
    before, stored = await counts(), await objects()
    request = pb.CopyPieceToRequestRequest(
        owner=f"person:{BOB}",
        piece_id=added.piece.piece_id,
        file_id=added.file_id,
        purpose="Request of Bob",
    )
    refused = await refusal(files.CopyPieceToRequest(request, as_service(PROCEDURES)))
    assert (refused.code, refused.reason) == (grpc.StatusCode.NOT_FOUND, "PIECE_NOT_FOUND")
    assert (await counts(), await objects()) == (before, stored)


async def test_a_requests_attachment_is_copied_into_its_owners_wallet(
    files: FileServicer, wallet: WalletServicer, signed_in
) -> None:
    data = pdf("certificate")
    copy = (await files.IngestFile(ingest_stream(data), as_service(PROCEDURES))).copy
    into = pb.CopyFileToWalletRequest(
        copy_id=copy.copy_id, owner=f"person:{ANNE}", type_code="residence_certificate"
    )

    piece = (await files.CopyFileToWallet(into, as_service(PROCEDURES))).piece

    assert (piece.type.code, piece.title) == ("residence_certificate", "Certificat de résidence")
    signed_in(ANNE)
    listed = await wallet.ListPieces(pb.ListPiecesRequest(), NO_CONTEXT)
    assert [p.piece_id for p in listed.pieces] == [piece.piece_id]
    file = listed.pieces[0].files[0]
    assert (await download(wallet, piece.piece_id, file.file_id))[1] == data
    # Another owner, or another service than the one that made the copy, finds no such copy.
    for owner, service in ((f"person:{BOB}", PROCEDURES), (f"person:{ANNE}", MESSAGING)):
        wrong = pb.CopyFileToWalletRequest(copy_id=copy.copy_id, owner=owner, type_code="other")
        refused = await refusal(files.CopyFileToWallet(wrong, as_service(service)))
        assert refused.reason == "COPY_NOT_FOUND"


async def test_a_copy_into_a_full_wallet_is_refused_and_stores_nothing(
    files: FileServicer, wallet: WalletServicer, signed_in, objects, counts
) -> None:
    copy = (await files.IngestFile(ingest_stream(pdf()), as_service(PROCEDURES))).copy
    signed_in(ANNE)
    for number in range(10):
        await upload(wallet, new_piece("payslip"), pdf(str(number)))
    before, stored = await counts(), await objects()
    into = pb.CopyFileToWalletRequest(
        copy_id=copy.copy_id, owner=f"person:{ANNE}", type_code="other"
    )
    refused = await refusal(files.CopyFileToWallet(into, as_service(PROCEDURES)))
    assert refused.reason == "TOO_MANY_PIECES"
    assert (await counts(), await objects()) == (before, stored)


async def test_an_edocument_lands_in_a_full_wallet_with_its_sender_and_only_once(
    files: FileServicer, wallet: WalletServicer, signed_in, objects
) -> None:
    signed_in(ANNE)
    for number in range(10):
        await upload(wallet, new_piece("payslip"), pdf(str(number)))
    data = pdf("assessment")

    received = (await files.ReceiveDocument(edocument(data), as_service(MESSAGING))).piece

    assert (received.type.code, received.title) == ("edocument", "Tax assessment 2025")
    assert received.sender.administration == "acd"
    assert received.sender.signature_subject == "CN=ACD seal,O=ACD,C=LU"
    assert received.sender.signed_at.ToDatetime(tzinfo=UTC) == datetime(
        2026, 3, 1, 9, 30, tzinfo=UTC
    )
    listed = await wallet.ListPieces(pb.ListPiecesRequest(), NO_CONTEXT)
    assert len(listed.pieces) == 11
    shown = next(p for p in listed.pieces if p.piece_id == received.piece_id)
    assert shown.sender.delivery_id == "DLV-0001"
    # Still full for what the person adds: eDocuments do not count, nor make room.
    assert (await refusal(upload(wallet, new_piece("payslip"), pdf()))).reason == "TOO_MANY_PIECES"

    stored = await objects()
    again = (await files.ReceiveDocument(edocument(data), as_service(MESSAGING))).piece
    assert again.piece_id == received.piece_id
    assert await objects() == stored
    # What the administration sent stays as sent: no other file, no new version.
    for header in (to_piece(received.piece_id), replacing(received.files[0].file_id)):
        refused = await refusal(upload(wallet, header, png() if header.piece_id else pdf()))
        assert (refused.code, refused.reason) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "RECEIVED_DOCUMENT_UNCHANGEABLE",
        )
    assert await objects() == stored


async def test_an_edocument_without_its_sender_is_refused_and_stores_nothing(
    files: FileServicer, objects, counts
) -> None:
    refused = await refusal(
        files.ReceiveDocument(edocument(pdf(), delivery_id=""), as_service(MESSAGING))
    )
    assert (refused.reason, refused.fields) == ("INVALID_EDOCUMENT", ("sender.delivery_id",))
    refused = await refusal(
        files.ReceiveDocument(edocument(pdf(), owner="anne"), as_service(MESSAGING))
    )
    assert refused.reason == "INVALID_OWNER"
    assert await objects() == set()
    assert sum((await counts()).values()) == 0
