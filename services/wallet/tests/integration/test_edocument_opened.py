"""An eDocument (F44) downloaded whole from its addressee's wallet is marked opened, and the event
messaging turns into the sender's read receipt (F64) is written with the mark, once; nothing for
a piece of the person's own, a download cut before its end, or someone else's eDocument."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import wallet_pb2 as events
from guichet.wallet.v1 import wallet_pb2 as pb
from guichet_wallet.pieces.grpc import WalletServicer
from guichet_wallet.pieces.models import ReceivedDocument
from guichet_wallet.platform.grpc import FileServicer

from .conftest import (
    ANNE,
    BOB,
    NO_CONTEXT,
    as_service,
    download,
    new_piece,
    outbox,
    pdf,
    stream_refusal,
    upload,
)
from .test_file_service import edocument as edocument_stream

OPENED = "wallet.edocument.opened.v1"


async def opened_events(sessions: async_sessionmaker[AsyncSession]) -> list[events.EDocumentOpened]:
    return [
        events.EDocumentOpened.FromString(payload)
        for subject, payload in await outbox(sessions)
        if subject == OPENED
    ]


async def test_an_edocument_downloaded_whole_is_opened_once_with_its_event(
    files: FileServicer, wallet: WalletServicer, signed_in, sessions
) -> None:
    data = pdf("assessment")
    received = (await files.ReceiveDocument(edocument_stream(data), as_service("messaging"))).piece
    signed_in(ANNE)
    listed = await wallet.ListPieces(pb.ListPiecesRequest(), NO_CONTEXT)
    (shown,) = listed.pieces
    assert shown.sender.HasField("received_at")
    assert not shown.sender.HasField("opened_at")  # unread
    wakes_before = wallet.events_written.count  # type: ignore[attr-defined]

    before = datetime.now(UTC)
    _, content = await download(wallet, received.piece_id, received.files[0].file_id)
    assert content == data

    (event,) = await opened_events(sessions)
    assert (event.piece_id, event.owner, event.opened_by) == (
        received.piece_id,
        f"person:{ANNE}",
        ANNE,
    )
    assert event.delivery_id == received.sender.delivery_id
    assert event.opened_at.ToDatetime(tzinfo=UTC) >= before
    assert wallet.events_written.count == wakes_before + 1  # type: ignore[attr-defined]
    piece = (
        await wallet.GetPiece(pb.GetPieceRequest(piece_id=received.piece_id), NO_CONTEXT)
    ).piece
    assert piece.sender.opened_at == event.opened_at

    # Opened again: the same mark, no second event (the read receipt is given once).
    await download(wallet, received.piece_id, received.files[0].file_id)
    assert len(await opened_events(sessions)) == 1
    assert wallet.events_written.count == wakes_before + 1  # type: ignore[attr-defined]


async def test_a_download_cut_before_its_end_leaves_the_edocument_unread(
    files: FileServicer, wallet: WalletServicer, signed_in, sessions
) -> None:
    received = (
        await files.ReceiveDocument(edocument_stream(pdf("notice")), as_service("messaging"))
    ).piece
    signed_in(ANNE)
    replies = wallet.DownloadFile(
        pb.DownloadFileRequest(piece_id=received.piece_id, file_id=received.files[0].file_id),
        NO_CONTEXT,
    )
    first = await anext(replies)
    assert first.WhichOneof("part") == "header"
    await replies.aclose()  # the person went away after the header

    assert await opened_events(sessions) == []
    async with sessions() as session:
        opened_at = await session.scalar(select(ReceivedDocument.opened_at))
    assert opened_at is None


async def test_own_pieces_and_another_persons_edocument_give_no_event(
    files: FileServicer, wallet: WalletServicer, signed_in, sessions, counts
) -> None:
    received = (
        await files.ReceiveDocument(edocument_stream(pdf("for anne")), as_service("messaging"))
    ).piece
    signed_in(ANNE)
    own = await upload(wallet, new_piece("payslip"), pdf("payslip"))
    await download(wallet, own.piece.piece_id, own.file_id)
    assert await opened_events(sessions) == []

    signed_in(BOB)
    before = await counts()
    refused = await stream_refusal(
        wallet.DownloadFile(
            pb.DownloadFileRequest(piece_id=received.piece_id, file_id=received.files[0].file_id),
            NO_CONTEXT,
        )
    )
    assert refused.reason == "PIECE_NOT_FOUND"
    assert await counts() == before
    async with sessions() as session:
        opened_at = await session.scalar(select(ReceivedDocument.opened_at))
    assert opened_at is None
