"""A person's pieces: add, list, read, add a file, replace it (versions kept and downloadable),
rename, delete; the limits; another person's pieces are not even there."""

from __future__ import annotations

import hashlib

import grpc
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet_kit.i18n import Language, speaking
from guichet_wallet.files.pipeline import FilePipeline
from guichet_wallet.pieces.grpc import WalletServicer
from guichet_wallet.pieces.models import FileVersion

from .conftest import (
    ANNE,
    BOB,
    NO_CONTEXT,
    Chunks,
    download,
    new_piece,
    pdf,
    png,
    refusal,
    replacing,
    stream_refusal,
    to_piece,
    upload,
    upload_stream,
)


async def test_a_piece_is_added_listed_read_and_downloaded_as_it_was_sent(
    wallet: WalletServicer, signed_in, objects, pipeline: FilePipeline
) -> None:
    signed_in(ANNE)
    data = pdf("passport", padding=300_000)  # several chunks and parts of a stream
    added = await upload(
        wallet,
        new_piece("passport", "My passport", expires_on="2031-05-01", file_name="pass port.pdf"),
        data,
    )

    piece = added.piece
    assert (piece.type.code, piece.title, piece.expires_on) == (
        "passport",
        "My passport",
        "2031-05-01",
    )
    assert [f.file_id for f in piece.files] == [added.file_id]
    version = added.version
    assert (version.number, version.content_type, version.size) == (
        1,
        "application/pdf",
        len(data),
    )
    assert version.sha256 == hashlib.sha256(data).hexdigest()
    # In the wallet bucket; nothing left in quarantine.
    assert [key.split("/")[0] for key in await objects()] == [pipeline.storage.wallet]

    listed = await wallet.ListPieces(pb.ListPiecesRequest(), NO_CONTEXT)
    assert [p.piece_id for p in listed.pieces] == [piece.piece_id]
    assert listed.max_pieces == 10
    assert listed.pieces[0].files[0].current.version_id == version.version_id
    got = await wallet.GetPiece(pb.GetPieceRequest(piece_id=piece.piece_id), NO_CONTEXT)
    assert (got.piece.piece_id, got.piece.title) == (piece.piece_id, "My passport")
    assert [v.number for v in got.piece.files[0].versions] == [1]

    header, content = await download(wallet, piece.piece_id, added.file_id)
    assert content == data
    assert (header.file_name, header.content_type, header.size, header.sha256) == (
        version.file_name,
        "application/pdf",
        len(data),
        version.sha256,
    )


async def test_a_piece_without_a_title_is_named_after_its_type(
    wallet: WalletServicer, signed_in
) -> None:
    signed_in(ANNE)
    added = await upload(wallet, new_piece("identity_card"), pdf())
    assert added.piece.title == "Carte d'identité"  # the caller's language; French by default


async def test_a_second_file_joins_the_piece_and_a_replaced_file_keeps_its_versions(
    wallet: WalletServicer, signed_in, objects
) -> None:
    signed_in(ANNE)
    first, renewed = pdf("2019"), pdf("2024")
    added = await upload(wallet, new_piece("identity_card", "ID"), first)
    piece_id = added.piece.piece_id
    back = await upload(wallet, to_piece(piece_id), png())
    assert [(f.position, f.current.content_type) for f in back.piece.files] == [
        (1, "application/pdf"),
        (2, "image/png"),
    ]

    replaced = await upload(wallet, replacing(added.file_id), renewed)
    assert replaced.file_id == added.file_id
    assert replaced.version.number == 2

    got = (await wallet.GetPiece(pb.GetPieceRequest(piece_id=piece_id), NO_CONTEXT)).piece
    front = next(f for f in got.files if f.file_id == added.file_id)
    assert [v.number for v in front.versions] == [2, 1]  # newest first
    assert front.current.version_id == replaced.version.version_id
    assert (await download(wallet, piece_id, added.file_id))[1] == renewed
    older = await download(wallet, piece_id, added.file_id, added.version.version_id)
    assert older[1] == first
    assert len(await objects()) == 3


async def test_a_piece_is_renamed_and_its_dates_changed_and_a_bad_change_changes_nothing(
    wallet: WalletServicer, signed_in, counts
) -> None:
    signed_in(ANNE)
    piece = (await upload(wallet, new_piece("passport", "Old"), pdf())).piece
    changed = await wallet.UpdatePiece(
        pb.UpdatePieceRequest(
            piece_id=piece.piece_id,
            title="Passport 2024",
            issued_on="2024-02-01",
            expires_on="2034-01-31",
        ),
        NO_CONTEXT,
    )
    assert (changed.piece.title, changed.piece.issued_on, changed.piece.expires_on) == (
        "Passport 2024",
        "2024-02-01",
        "2034-01-31",
    )
    before = await counts()
    refused = await refusal(
        wallet.UpdatePiece(
            pb.UpdatePieceRequest(
                piece_id=piece.piece_id, title="", issued_on="2024-02-30", expires_on="2020-01-01"
            ),
            NO_CONTEXT,
        )
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PIECE")
    assert set(refused.fields) == {"title", "issued_on"}
    got = (await wallet.GetPiece(pb.GetPieceRequest(piece_id=piece.piece_id), NO_CONTEXT)).piece
    assert got.title == "Passport 2024"
    assert await counts() == before


async def test_deleting_a_file_removes_every_version_and_the_last_file_stays(
    wallet: WalletServicer, signed_in, objects, sessions: async_sessionmaker[AsyncSession]
) -> None:
    signed_in(ANNE)
    added = await upload(wallet, new_piece("identity_card"), pdf("front"))
    piece_id = added.piece.piece_id
    back = await upload(wallet, to_piece(piece_id), png())
    await upload(wallet, replacing(back.file_id, "back2.png", "image/png"), png() + b"\0")
    assert len(await objects()) == 3

    left = await wallet.DeleteFile(
        pb.DeleteFileRequest(piece_id=piece_id, file_id=back.file_id), NO_CONTEXT
    )
    assert [f.file_id for f in left.piece.files] == [added.file_id]
    assert len(await objects()) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(FileVersion)) == 1

    last = await refusal(
        wallet.DeleteFile(
            pb.DeleteFileRequest(piece_id=piece_id, file_id=added.file_id), NO_CONTEXT
        )
    )
    assert (last.code, last.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "LAST_FILE_OF_PIECE")
    assert len(await objects()) == 1


async def test_deleting_a_piece_removes_its_rows_and_every_object(
    wallet: WalletServicer, signed_in, objects, counts
) -> None:
    signed_in(ANNE)
    empty = await counts()
    added = await upload(wallet, new_piece("lease"), pdf())
    await upload(wallet, replacing(added.file_id), pdf("v2"))
    await upload(wallet, to_piece(added.piece.piece_id), png())
    assert len(await objects()) == 3

    await wallet.DeletePiece(pb.DeletePieceRequest(piece_id=added.piece.piece_id), NO_CONTEXT)

    assert await objects() == set()
    assert await counts() == empty
    gone = await refusal(
        wallet.GetPiece(pb.GetPieceRequest(piece_id=added.piece.piece_id), NO_CONTEXT)
    )
    assert gone.reason == "PIECE_NOT_FOUND"


async def test_the_eleventh_piece_is_refused_before_its_data_is_read(
    wallet: WalletServicer, signed_in, objects, counts
) -> None:
    signed_in(ANNE)
    for number in range(10):
        await upload(wallet, new_piece("payslip", f"Payslip {number}"), pdf(str(number)))
    before, stored_before = await counts(), await objects()

    chunks = Chunks(pdf("eleventh"))
    refused = await refusal(
        wallet.UploadFile(upload_stream(new_piece("payslip"), chunks), NO_CONTEXT)
    )

    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "TOO_MANY_PIECES",
    )
    assert chunks.read == 0
    assert (await counts(), await objects()) == (before, stored_before)


async def test_the_fifth_file_of_a_piece_is_refused_before_its_data_is_read(
    wallet: WalletServicer, signed_in, objects, counts
) -> None:
    signed_in(ANNE)
    piece_id = (await upload(wallet, new_piece("other"), pdf("1"))).piece.piece_id
    for number in range(2, 5):
        await upload(wallet, to_piece(piece_id, "f.pdf", "application/pdf"), pdf(str(number)))
    before, stored_before = await counts(), await objects()

    chunks = Chunks(png())
    refused = await refusal(
        wallet.UploadFile(upload_stream(to_piece(piece_id), chunks), NO_CONTEXT)
    )

    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TOO_MANY_FILES")
    assert chunks.read == 0
    assert (await counts(), await objects()) == (before, stored_before)
    # A new version of one of the four is still possible.
    files = (await wallet.GetPiece(pb.GetPieceRequest(piece_id=piece_id), NO_CONTEXT)).piece.files
    assert (await upload(wallet, replacing(files[0].file_id), pdf("1b"))).version.number == 2


async def test_a_type_that_does_not_exist_or_is_only_received_is_refused(
    wallet: WalletServicer, signed_in, objects, counts
) -> None:
    signed_in(ANNE)
    for code in ("spaceship_licence", "edocument", ""):
        chunks = Chunks(pdf())
        refused = await refusal(
            wallet.UploadFile(upload_stream(new_piece(code), chunks), NO_CONTEXT)
        )
        assert (refused.code, refused.reason, refused.fields) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "UNKNOWN_PIECE_TYPE",
            ("type_code",),
        )
        assert chunks.read == 0
    assert await objects() == set()
    assert sum((await counts()).values()) == 0


async def test_another_persons_piece_is_not_found_whatever_is_asked(
    wallet: WalletServicer, signed_in, objects, counts
) -> None:
    signed_in(ANNE)
    annes = await upload(wallet, new_piece("diploma", "Master"), pdf())
    piece_id, file_id = annes.piece.piece_id, annes.file_id
    before, stored_before = await counts(), await objects()

    signed_in(BOB)
    assert (await wallet.ListPieces(pb.ListPiecesRequest(), NO_CONTEXT)).pieces == []
    calls = {
        "GetPiece": wallet.GetPiece(pb.GetPieceRequest(piece_id=piece_id), NO_CONTEXT),
        "UpdatePiece": wallet.UpdatePiece(
            pb.UpdatePieceRequest(piece_id=piece_id, title="Mine now"), NO_CONTEXT
        ),
        "DeleteFile": wallet.DeleteFile(
            pb.DeleteFileRequest(piece_id=piece_id, file_id=file_id), NO_CONTEXT
        ),
        "DeletePiece": wallet.DeletePiece(pb.DeletePieceRequest(piece_id=piece_id), NO_CONTEXT),
        "UploadFile to the piece": wallet.UploadFile(
            upload_stream(to_piece(piece_id), Chunks(png())), NO_CONTEXT
        ),
        "UploadFile replacing": wallet.UploadFile(
            upload_stream(replacing(file_id), Chunks(pdf())), NO_CONTEXT
        ),
    }
    for what, call in calls.items():
        refused = await refusal(call)
        assert refused.code == grpc.StatusCode.NOT_FOUND, what
        assert refused.reason in {"PIECE_NOT_FOUND", "FILE_NOT_FOUND"}, what
    download = wallet.DownloadFile(
        pb.DownloadFileRequest(piece_id=piece_id, file_id=file_id), NO_CONTEXT
    )
    assert (await stream_refusal(download)).reason == "PIECE_NOT_FOUND"
    # Not even a hint that the id exists: the same answer as an id that was never given.
    never = await refusal(
        wallet.GetPiece(
            pb.GetPieceRequest(piece_id="8c6f0a4e-0000-4000-8000-000000000000"), NO_CONTEXT
        )
    )
    malformed = await refusal(wallet.GetPiece(pb.GetPieceRequest(piece_id="nope"), NO_CONTEXT))
    assert (
        never
        == malformed
        == await refusal(wallet.GetPiece(pb.GetPieceRequest(piece_id=piece_id), NO_CONTEXT))
    )
    assert (await counts(), await objects()) == (before, stored_before)


async def test_a_file_of_another_piece_or_an_unknown_version_is_not_found(
    wallet: WalletServicer, signed_in
) -> None:
    signed_in(ANNE)
    one = await upload(wallet, new_piece("payslip"), pdf("1"))
    two = await upload(wallet, new_piece("payslip"), pdf("2"))
    crossed = wallet.DownloadFile(
        pb.DownloadFileRequest(piece_id=one.piece.piece_id, file_id=two.file_id), NO_CONTEXT
    )
    assert (await stream_refusal(crossed)).reason == "FILE_NOT_FOUND"
    unknown = wallet.DownloadFile(
        pb.DownloadFileRequest(
            piece_id=one.piece.piece_id, file_id=one.file_id, version_id=two.version.version_id
        ),
        NO_CONTEXT,
    )
    assert (await stream_refusal(unknown)).reason == "VERSION_NOT_FOUND"


async def test_an_upload_must_start_with_one_header(
    wallet: WalletServicer, signed_in, objects, counts
) -> None:
    signed_in(ANNE)

    async def data_first():
        yield pb.UploadFileRequest(chunk=pdf())
        yield pb.UploadFileRequest(header=new_piece())

    async def nothing():
        return
        yield

    async def two_headers():
        yield pb.UploadFileRequest(header=new_piece())
        yield pb.UploadFileRequest(chunk=pdf()[:100])
        yield pb.UploadFileRequest(header=new_piece())

    async def no_target():
        yield pb.UploadFileRequest(
            header=pb.UploadHeader(file_name="a.pdf", declared_content_type="application/pdf")
        )

    for stream, reason in (
        (data_first(), "UPLOAD_HEADER_MISSING"),
        (nothing(), "UPLOAD_HEADER_MISSING"),
        (two_headers(), "UPLOAD_HEADER_REPEATED"),
        (no_target(), "UPLOAD_TARGET_MISSING"),
    ):
        refused = await refusal(wallet.UploadFile(stream, NO_CONTEXT))
        assert (refused.code, refused.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert await objects() == set()
    assert sum((await counts()).values()) == 0


async def test_a_file_the_pipeline_refuses_leaves_no_row_and_no_object(
    wallet: WalletServicer, signed_in, objects, counts
) -> None:
    signed_in(ANNE)
    from .conftest import EICAR

    for header, data, reason in (
        (new_piece(), png(), "FILE_TYPE_MISMATCH"),
        (new_piece(file_name="eicar.pdf"), b"%PDF-1.4\n" + EICAR, "FILE_INFECTED"),
        (
            new_piece(content_type="text/html", file_name="a.html"),
            b"<html>",
            "FILE_TYPE_NOT_ALLOWED",
        ),
        (new_piece(size=3_000_000), pdf(), "FILE_TOO_LARGE"),
    ):
        refused = await refusal(upload(wallet, header, data))
        assert refused.reason == reason
    assert await objects() == set()
    assert sum((await counts()).values()) == 0


async def test_the_types_a_person_chooses_from_are_named_in_their_language(
    wallet: WalletServicer, signed_in
) -> None:
    signed_in(ANNE)
    with speaking(Language.DE):
        listed = await wallet.ListPieceTypes(pb.ListPieceTypesRequest(), NO_CONTEXT)
    by_code = {t.code: t for t in listed.piece_types}
    assert by_code["passport"].name == "Reisepass"
    assert by_code["passport"].expires and not by_code["diploma"].expires
    assert set(by_code["payslip"].allowed_content_types) == {
        "application/pdf",
        "image/jpeg",
        "image/png",
    }
    assert "application/zip" in by_code["other"].allowed_content_types
    assert "edocument" not in by_code  # received from administrations, never uploaded
