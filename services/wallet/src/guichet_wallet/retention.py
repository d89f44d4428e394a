"""The wallet's retention (F92): eDocuments read long ago, beside the kit's kinds.

An eDocument (a received piece) opened more than `WALLET_EDOCUMENT_RETENTION_DAYS` ago goes the
way a person's own deletion takes it (`filing.delete_piece`): its rows in one batch's transaction
(files, versions and sender with it), its objects removed once that commits, never before. An
object whose removal fails is named by no row any more and the sweep removes it; no row ever
names a removed object. An unread eDocument stays, whatever its age: the sender's unread receipt
and the person still need it. The immutable copies made for requests are the requests' record
(held under object lock for the procedure): not purged here.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from nats.aio.client import Client as NatsClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.retention import (
    Batch,
    BatchPurge,
    Report,
    Retention,
    RetentionSettings,
    Rule,
    database_rule,
    days,
    kit_rules,
    resources,
    run_command,
)
from guichet_wallet.files.pipeline import FilePipeline
from guichet_wallet.pieces import repository
from guichet_wallet.pieces.models import Piece, ReceivedDocument
from guichet_wallet.pieces.removals import remove_objects
from guichet_wallet.settings import WalletSettings

SERVICE = "wallet"


def read_edocuments(pipeline: FilePipeline) -> BatchPurge:
    """The batch purge of eDocuments opened before the cutoff, with their objects."""

    async def purge(session: AsyncSession, cutoff: datetime, limit: int) -> Batch:
        piece_ids = list(
            await session.scalars(
                select(Piece.id)
                .join(ReceivedDocument, ReceivedDocument.piece_id == Piece.id)
                .where(Piece.received.is_(True), ReceivedDocument.opened_at < cutoff)
                .order_by(ReceivedDocument.opened_at, Piece.id)
                .limit(limit)
                .with_for_update(of=Piece, skip_locked=True)
            )
        )
        if not piece_ids:
            return Batch(0)
        objects = await repository.objects_of_pieces(session, piece_ids)
        await repository.delete_pieces(session, piece_ids)
        return Batch(len(piece_ids), after_commit=lambda: remove_objects(pipeline, objects))

    return purge


def rules(
    settings: WalletSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    pipeline: FilePipeline,
    shared: RetentionSettings | None = None,
) -> list[Rule]:
    shared = shared or RetentionSettings()
    edocuments = days("read_edocuments", settings.edocument_retention_days, shared.batch_size)
    return [
        *kit_rules(shared, sessions, nats),
        *database_rule(edocuments, sessions, read_edocuments(pipeline)),
    ]


async def periodically(
    settings: WalletSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    pipeline: FilePipeline,
    stop: asyncio.Event,
) -> None:
    """The worker role's job: every policy at start, then every interval."""
    shared = RetentionSettings()
    job = Retention(SERVICE, rules(settings, sessions, nats, pipeline, shared))
    await job.run_every(shared.interval_seconds, stop)


def command() -> int:
    """`python -m guichet_wallet retention`: every policy once (a CronJob)."""
    # Imported here: the app module imports this one.
    from guichet_wallet.app import pipeline_of

    settings = WalletSettings()

    async def once(now: datetime) -> Report:
        async with (
            resources(SERVICE, settings.database_url, settings.nats_url) as held,
            pipeline_of(settings) as pipeline,
        ):
            job = Retention(SERVICE, rules(settings, held.sessions, held.nats, pipeline))
            return await job.run_once(now)

    return run_command(SERVICE, once, log_level=settings.log_level, log_json=settings.log_json)
