"""No orphans (issue item 5): whatever fails between the object and its rows, nothing is left
visible — concurrent uploads cannot pass the limit, a failed commit removes its object, and the
sweep removes an object no row names (what a killed process leaves; the SIGKILL journey itself is
tests/e2e/test_wallet_journeys.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet_kit.db import transaction
from guichet_kit.errors import ServiceError
from guichet_testkit.eventually import wait_until
from guichet_wallet.files.pipeline import Destination, FilePipeline, FileSpec, StoredFile
from guichet_wallet.pieces import repository, service, upkeep
from guichet_wallet.pieces.catalogue import find_piece_type
from guichet_wallet.pieces.details import PieceDetails
from guichet_wallet.pieces.filing import Filing
from guichet_wallet.pieces.grpc import WalletServicer
from guichet_wallet.pieces.service import NewPiece, TooManyPieces

from .conftest import ANNE, LIMITS, NO_CONTEXT, new_piece, pdf, upload


async def test_concurrent_uploads_cannot_make_an_eleventh_piece(
    wallet: WalletServicer, signed_in, objects
) -> None:
    signed_in(ANNE)
    for number in range(9):
        await upload(wallet, new_piece("payslip"), pdf(str(number)))
    # Three uploads each pass the header's check (9 < 10) before any of them stores its rows.
    all_checked = asyncio.Barrier(3)

    def racing(number: int) -> AsyncIterator[pb.UploadFileRequest]:
        async def stream() -> AsyncIterator[pb.UploadFileRequest]:
            yield pb.UploadFileRequest(header=new_piece("payslip", f"Racing {number}"))
            await all_checked.wait()
            yield pb.UploadFileRequest(chunk=pdf(f"racing {number}"))

        return stream()

    results = await asyncio.gather(
        *(wallet.UploadFile(racing(number), NO_CONTEXT) for number in range(3)),
        return_exceptions=True,
    )

    stored = [r for r in results if isinstance(r, pb.UploadFileResponse)]
    refused = [r for r in results if isinstance(r, ServiceError)]
    assert len(stored) == 1, results
    assert [r.reason for r in refused] == ["TOO_MANY_PIECES", "TOO_MANY_PIECES"]
    listed = await wallet.ListPieces(pb.ListPiecesRequest(), NO_CONTEXT)
    assert len(listed.pieces) == 10
    # The refused ones' objects were stored by the pipeline, then removed.
    assert len(await objects()) == 10


async def test_the_tenth_place_is_taken_once_when_two_transactions_file_at_once(
    filing: Filing, sessions: async_sessionmaker[AsyncSession], pipeline: FilePipeline
) -> None:
    """The check is repeated under the owner's lock: the second transaction waits for the first
    to commit, then counts ten and is refused (without the lock both would see nine)."""
    owner = f"person:{ANNE}"
    target = NewPiece(find_piece_type("payslip"), PieceDetails("Payslip", None, None))
    stored = [await _stored(pipeline, f"{number}") for number in range(11)]
    for number in range(9):
        async with transaction(sessions) as session:
            await service.record(session, owner, target, stored[number], LIMITS)

    async def second() -> None:
        async with transaction(sessions) as session:
            await service.record(session, owner, target, stored[10], LIMITS)

    async with transaction(sessions) as first:
        await service.record(first, owner, target, stored[9], LIMITS)
        racing = asyncio.create_task(second())

        async def waiting_or_done() -> bool:
            return racing.done() or await _someone_waits_for_an_advisory_lock(sessions)

        await wait_until(waiting_or_done, seconds=30, what="the second transaction's turn")
    with pytest.raises(TooManyPieces):
        await racing
    async with sessions() as session:
        assert await repository.count_counted_pieces(session, owner) == 10


async def _someone_waits_for_an_advisory_lock(
    sessions: async_sessionmaker[AsyncSession],
) -> bool:
    async with sessions() as session:
        waiting = await session.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        )
        return bool(waiting)


async def _stored(pipeline: FilePipeline, text_: str) -> StoredFile:
    async def chunks() -> AsyncIterator[bytes]:
        yield pdf(text_)

    return await pipeline.take(chunks(), PDF_SPEC, Destination.WALLET)


PDF_SPEC = FileSpec("a.pdf", "application/pdf", 0, frozenset({"application/pdf"}), 10**6)


@pytest.fixture
async def failing_commit(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    """A deferred constraint trigger: the version's row is refused at COMMIT, after the object
    is in place and every statement of the transaction succeeded."""
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "CREATE FUNCTION refuse_versions() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'versions are frozen'; END $$"
            )
        )
        await session.execute(
            text(
                "CREATE CONSTRAINT TRIGGER refuse_versions AFTER INSERT ON file_versions "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_versions()"
            )
        )
    try:
        yield
    finally:
        async with sessions() as session, session.begin():
            await session.execute(text("DROP TRIGGER refuse_versions ON file_versions"))
            await session.execute(text("DROP FUNCTION refuse_versions()"))


async def test_a_failed_commit_leaves_no_object_and_no_row(
    wallet: WalletServicer, signed_in, objects, counts, failing_commit: None
) -> None:
    signed_in(ANNE)
    with pytest.raises(DBAPIError, match="versions are frozen"):
        await upload(wallet, new_piece("passport"), pdf())

    assert await objects() == set()
    assert sum((await counts()).values()) == 0


async def test_the_sweep_removes_objects_no_row_names_and_keeps_the_others(
    wallet: WalletServicer,
    signed_in,
    objects,
    pipeline: FilePipeline,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    signed_in(ANNE)
    kept = await upload(wallet, new_piece("passport"), pdf("kept"))

    async def chunks() -> AsyncIterator[bytes]:
        yield pdf("orphan")

    # What a process killed between the pipeline and the commit leaves: an object, no row.
    orphan = await pipeline.take(chunks(), PDF_SPEC, Destination.WALLET)
    assert len(await objects()) == 2

    report = await upkeep.sweep(sessions, pipeline, grace=timedelta(0))

    assert report.orphans_removed == 1
    assert await objects() == {f"{pipeline.storage.wallet}/{k}" for k in await _keys(wallet)}
    assert orphan.key not in await _keys(wallet)
    listed = await wallet.ListPieces(pb.ListPiecesRequest(), NO_CONTEXT)
    assert [p.piece_id for p in listed.pieces] == [kept.piece.piece_id]


async def test_the_sweep_leaves_young_objects_alone(
    wallet: WalletServicer, objects, pipeline: FilePipeline, sessions
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield pdf("in flight")

    await pipeline.take(chunks(), PDF_SPEC, Destination.WALLET)  # an upload about to commit

    report = await upkeep.sweep(sessions, pipeline, grace=timedelta(hours=1))

    assert report.orphans_removed == 0
    assert len(await objects()) == 1


async def _keys(wallet: WalletServicer) -> set[str]:
    async with wallet.sessions() as session:  # type: ignore[misc]
        rows = await session.execute(text("SELECT object_key FROM file_versions"))
        return {row[0] for row in rows}
