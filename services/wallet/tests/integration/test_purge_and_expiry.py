"""F8: a deleted account's pieces and objects go, and the purge is confirmed in the same
transaction. F45: a piece about to expire is announced once per expiry date."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import date, timedelta

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import identity_pb2 as identity_events
from guichet.events.v1 import wallet_pb2 as wallet_events
from guichet.wallet.v1 import wallet_pb2 as pb
from guichet_kit.db import transaction
from guichet_kit.events import EventConsumer, PoisonMessage, ensure_stream
from guichet_kit.outbox import stamp
from guichet_testkit import worker_name
from guichet_testkit.eventually import wait_until
from guichet_testkit.streams import purge_streams
from guichet_wallet.files.pipeline import FilePipeline
from guichet_wallet.pieces import events, upkeep
from guichet_wallet.pieces.grpc import WalletServicer
from guichet_wallet.pieces.models import Piece
from guichet_wallet.pieces.purge import AccountPurge
from guichet_wallet.pieces.removals import ObjectRemovals
from guichet_wallet.platform.grpc import FileServicer

from .conftest import ANNE, BOB, NO_CONTEXT, as_service, new_piece, outbox, pdf, replacing, upload
from .test_file_service import edocument, ingest_stream


def deleted(national_id: str) -> identity_events.AccountDeleted:
    return identity_events.AccountDeleted(
        deletion_id=str(uuid.uuid4()), national_id=national_id, subject="kc-someone"
    )


async def _owners(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return sorted(await session.scalars(select(Piece.owner)))


@pytest.fixture
async def two_wallets(wallet: WalletServicer, files: FileServicer, signed_in) -> None:
    """Anne: two pieces (one with two versions), an eDocument and a request's copy; Bob: one."""
    signed_in(ANNE)
    added = await upload(wallet, new_piece("passport"), pdf("a1"))
    await upload(wallet, replacing(added.file_id), pdf("a2"))
    await upload(wallet, new_piece("payslip"), pdf("a3"))
    await files.ReceiveDocument(edocument(pdf("a4")), as_service("messaging"))
    await files.IngestFile(ingest_stream(pdf("a5")), as_service("procedures"))
    signed_in(BOB)
    await upload(wallet, new_piece("diploma"), pdf("b1"))


async def test_a_deleted_persons_pieces_and_objects_go_and_the_purge_is_confirmed(
    sessions: async_sessionmaker[AsyncSession],
    pipeline: FilePipeline,
    objects,
    two_wallets: None,
) -> None:
    assert len(await objects()) == 6
    removals = ObjectRemovals(pipeline)
    event = deleted(ANNE)

    async with transaction(sessions) as session:
        await AccountPurge(removals).on_account_deleted(session, event)
    assert removals.pending == 4  # queued at the commit, not before
    assert await removals.remove_pending() == 4

    assert await _owners(sessions) == [f"person:{BOB}"]
    left = await objects()
    # Bob's file, and the request's immutable copy (the request's record, not Anne's wallet).
    assert sorted(key.split("/")[0] for key in left) == [
        pipeline.storage.copies,
        pipeline.storage.wallet,
    ]
    [(_, payload)] = [e for e in await outbox(sessions) if e[0] == events.ACCOUNT_PURGED]
    confirmation = identity_events.AccountPurged.FromString(payload)
    assert (confirmation.deletion_id, confirmation.service) == (event.deletion_id, "wallet")


async def test_a_purge_that_does_not_commit_removes_no_object(
    sessions: async_sessionmaker[AsyncSession],
    pipeline: FilePipeline,
    objects,
    counts,
    two_wallets: None,
) -> None:
    before, stored = await counts(), await objects()
    removals = ObjectRemovals(pipeline)

    async def purge_then_lose_the_connection() -> None:
        async with transaction(sessions) as session:
            await AccountPurge(removals).on_account_deleted(session, deleted(ANNE))
            raise ConnectionError("the connection dropped before the commit")

    with pytest.raises(ConnectionError):
        await purge_then_lose_the_connection()

    assert removals.pending == 0
    assert (await counts(), await objects()) == (before, stored)


@pytest.mark.parametrize("missing", ["national_id", "deletion_id"])
async def test_a_deletion_without_its_ids_is_poison_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], pipeline: FilePipeline, counts, missing: str
) -> None:
    event = deleted(ANNE)
    event.ClearField(missing)  # type: ignore[arg-type]
    before = await counts()
    with pytest.raises(PoisonMessage):
        async with transaction(sessions) as session:
            await AccountPurge(ObjectRemovals(pipeline)).on_account_deleted(session, event)
    assert await counts() == before


async def test_the_consumer_applies_a_deletion_once_and_the_worker_removes_the_objects(
    sessions: async_sessionmaker[AsyncSession],
    pipeline: FilePipeline,
    objects,
    two_wallets: None,
    jetstream: JetStreamContext,
) -> None:
    # The real subscription on a stream of this worker's own, so no other run's wallet (nor
    # identity's real deletions) is involved.
    stream = f"WALLETTEST_{worker_name().upper()}"
    removals = ObjectRemovals(pipeline)
    subscription = dataclasses.replace(
        AccountPurge(removals).subscription(),
        stream=stream,
        durable=f"wallettest-purge-{uuid.uuid4().hex[:8]}",
        subject=f"wallettest{worker_name()}.account.deleted.v1",
    )
    await ensure_stream(jetstream, stream, [subscription.subject])
    await purge_streams(jetstream, [stream])
    event = deleted(ANNE)
    stamp(event)
    stop = asyncio.Event()
    workers = [
        asyncio.create_task(EventConsumer(jetstream, sessions, subscription).run(stop)),
        asyncio.create_task(removals.run(stop)),
    ]
    try:
        for _ in range(2):  # a redelivery, as after a lost acknowledgement
            await jetstream.publish(subscription.subject, event.SerializeToString())

        async def purged() -> bool:
            info = await jetstream.consumer_info(stream, subscription.durable)
            done = info.num_pending == 0 and info.num_ack_pending == 0
            return done and len(await objects()) == 2

        await wait_until(purged, seconds=30, what="the deletion consumed and the objects gone")
    finally:
        stop.set()
        await asyncio.gather(*workers)
        await jetstream.delete_stream(stream)

    assert await _owners(sessions) == [f"person:{BOB}"]
    confirmations = [e for e in await outbox(sessions) if e[0] == events.ACCOUNT_PURGED]
    assert len(confirmations) == 1


# --- expiry ---

TODAY = date(2026, 11, 24)


def _expiring(sessions: async_sessionmaker[AsyncSession]):
    return upkeep.announce_expiring(sessions, notice_days=30, today=lambda: TODAY)


async def _announced(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    return [
        (event.title, event.expires_on)
        for event in (
            wallet_events.PieceExpiring.FromString(payload)
            for subject, payload in await outbox(sessions)
            if subject == events.PIECE_EXPIRING
        )
    ]


async def test_a_piece_about_to_expire_is_announced_once_per_expiry_date(
    wallet: WalletServicer, signed_in, sessions: async_sessionmaker[AsyncSession]
) -> None:
    signed_in(ANNE)
    soon = (TODAY + timedelta(days=30)).isoformat()
    passport = await upload(wallet, new_piece("passport", "Passport", expires_on=soon), pdf())
    for title, expires in (
        ("Later", (TODAY + timedelta(days=31)).isoformat()),
        ("Expired", (TODAY - timedelta(days=1)).isoformat()),
        ("No date", ""),
    ):
        await upload(wallet, new_piece("identity_card", title, expires_on=expires), pdf(title))

    assert await _expiring(sessions) == 1
    assert await _expiring(sessions) == 0  # once
    assert await _announced(sessions) == [("Passport", soon)]
    [(_, payload)] = [e for e in await outbox(sessions) if e[0] == events.PIECE_EXPIRING]
    event = wallet_events.PieceExpiring.FromString(payload)
    assert (event.piece_id, event.owner, event.type_code) == (
        passport.piece.piece_id,
        f"person:{ANNE}",
        "passport",
    )
    assert event.event_id and event.occurred_at.seconds

    # Renewed with a new expiry date, still within the notice: announced again, for that date.
    sooner = (TODAY + timedelta(days=10)).isoformat()
    await wallet.UpdatePiece(
        pb.UpdatePieceRequest(
            piece_id=passport.piece.piece_id, title="Passport", expires_on=sooner
        ),
        NO_CONTEXT,
    )
    assert await _expiring(sessions) == 1
    assert await _announced(sessions) == [("Passport", soon), ("Passport", sooner)]
    async with sessions() as session:
        notified = await session.scalar(
            select(func.count()).select_from(Piece).where(Piece.expiry_notified_for.is_not(None))
        )
    assert notified == 1
