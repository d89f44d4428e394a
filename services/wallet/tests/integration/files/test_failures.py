"""Failures on the way leave nothing: the scanner down or erroring (the file is never stored
unscanned), MinIO down, the client gone mid-upload, the task cancelled mid-upload."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from guichet_kit.domain import Unavailable
from guichet_wallet.files.pipeline import Destination, FilePipeline

from ...unit.files import samples
from .conftest import Chunks, new_pipeline, spec

MiB = samples.MiB
Remains = Callable[[], Awaitable[set[str]]]


def closed_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_scanner_down_refuses_the_upload_before_a_byte_is_read(
    infra: dict[str, str], pipeline: FilePipeline, remains: Remains
) -> None:
    blind = new_pipeline(
        infra,
        pipeline.storage.quarantine.removesuffix("-quarantine"),
        clamav_address=f"127.0.0.1:{closed_port()}",
    )
    chunks = Chunks(samples.pdf(100))
    async with blind:
        with pytest.raises(Unavailable) as refused:
            await blind.take(chunks, spec(), Destination.WALLET)
    assert refused.value.reason == "SCANNER_UNAVAILABLE"
    assert chunks.pulled == 0
    assert await remains() == set()


async def test_a_scanner_error_is_never_taken_for_clean(
    infra: dict[str, str], pipeline: FilePipeline, remains: Remains
) -> None:
    # clamd refuses streams over its StreamMaxLength (64 MiB in make infra) with an error
    # instead of a verdict: a pipeline allowing bigger files must refuse rather than store.
    generous = new_pipeline(infra, pipeline.storage.quarantine.removesuffix("-quarantine"))
    data = samples.pdf(70 * MiB)
    async with generous:
        with pytest.raises(Unavailable) as refused:
            await generous.take(
                Chunks(data, chunk=MiB), spec(max_size=100 * MiB), Destination.WALLET
            )
    assert refused.value.reason == "SCANNER_UNAVAILABLE"
    assert await remains() == set()


async def test_storage_down_is_unavailable(infra: dict[str, str]) -> None:
    nowhere = new_pipeline(infra, "wfiles-nowhere", endpoint=f"127.0.0.1:{closed_port()}")
    chunks = Chunks(samples.pdf(100))
    async with asyncio.timeout(120):
        with pytest.raises(Unavailable) as refused:
            await nowhere.take(chunks, spec(), Destination.WALLET)
    await nowhere.close()
    assert refused.value.reason == "STORAGE_UNAVAILABLE"
    assert chunks.pulled == 0


async def test_a_client_gone_mid_upload_leaves_nothing(
    pipeline: FilePipeline, remains: Remains
) -> None:
    # Gone after 12 MiB: one part is in, the second on its way.
    chunks = Chunks(samples.pdf(18 * MiB), fail_after=12 * MiB)
    with pytest.raises(ConnectionResetError):
        await pipeline.take(chunks, spec(), Destination.WALLET)
    assert chunks.bytes_pulled >= 12 * MiB
    assert await remains() == set()


class Stalled:
    """A client that sends `sent` bytes then waits forever (until its upload is cancelled)."""

    def __init__(self, sent: int) -> None:
        self.data = samples.pdf(sent)
        self.waiting = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), MiB):
            yield self.data[start : start + MiB]
        self.waiting.set()
        await asyncio.Event().wait()


@pytest.mark.parametrize("sent", [3 * MiB, 10 * MiB, 17 * MiB])
async def test_an_upload_cancelled_mid_way_leaves_nothing(
    pipeline: FilePipeline, remains: Remains, sent: int
) -> None:
    client = Stalled(sent)
    upload = asyncio.create_task(pipeline.take(client, spec(), Destination.WALLET))
    await client.waiting.wait()
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert await remains() == set()
