"""Objects whose rows are gone: removed after the commit, never before (a rollback keeps them).

A removal that fails, or a process that dies before it, leaves an object no row names: the sweep
(`FilePipeline.sweep`, run by the worker) removes it once it is older than the grace period.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from guichet_wallet.files.pipeline import FilePipeline
from guichet_wallet.pieces.repository import ObjectRef

log = structlog.get_logger(__name__)


async def remove_objects(pipeline: FilePipeline, objects: Sequence[ObjectRef]) -> int:
    """Remove each object; returns how many went. A failure is logged and left to the sweep."""
    removed = 0
    for bucket, key in objects:
        try:
            await pipeline.remove(bucket, key)
            removed += 1
        except Exception:
            log.warning("wallet.object_removal_failed", bucket=bucket, key=key, exc_info=True)
    return removed


class ObjectRemovals:
    """For a transaction the caller does not commit itself (a consumed event's): the objects
    are queued when it commits and removed by `run` in the worker."""

    def __init__(self, pipeline: FilePipeline) -> None:
        self._pipeline = pipeline
        self._pending: asyncio.Queue[ObjectRef] = asyncio.Queue()

    def after_commit(self, session: AsyncSession, objects: Sequence[ObjectRef]) -> None:
        if not objects:
            return
        queued = list(objects)

        def committed(_session: Session) -> None:
            for ref in queued:
                self._pending.put_nowait(ref)

        event.listen(session.sync_session, "after_commit", committed, once=True)

    @property
    def pending(self) -> int:
        return self._pending.qsize()

    async def remove_pending(self) -> int:
        """Remove what is queued now (tests call this instead of running the worker's loop)."""
        batch: list[ObjectRef] = []
        while not self._pending.empty():
            batch.append(self._pending.get_nowait())
        return await remove_objects(self._pipeline, batch)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            getting = asyncio.ensure_future(self._pending.get())
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if getting in done:
                await remove_objects(self._pipeline, [getting.result()])
            else:
                getting.cancel()
            stopping.cancel()
