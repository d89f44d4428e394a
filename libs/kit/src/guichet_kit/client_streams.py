"""A file forwarded into another service's client stream (an upload) without holding it whole.

Threaded, not asyncio gRPC: grpc.aio loses the callee's status when the callee ends the call
while a message is being sent (its failed write overwrites the status with INTERNAL), which is
exactly a refusal in the middle of a file (a wrong type seen in the first bytes, a virus). The
threaded client reports the callee's own status. Chunks pass to its sending thread through a
queue of a few chunks: memory stays flat whatever the file's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, TypeVar

import grpc

from guichet_kit.grpc_client import CHANNEL_OPTIONS

# Chunks waiting for the stream: about 1 MB per upload in flight with 256 KiB chunks.
QUEUE_CHUNKS = 4
_ABORT = object()

Message = TypeVar("Message")


async def forward_stream(
    start: Callable[..., grpc.Future[Any]],
    header: Message,
    chunks: AsyncIterator[bytes],
    wrap: Callable[[bytes], Message],
    *,
    metadata: Sequence[tuple[str, str]],
    deadline_seconds: float,
) -> Any:
    """`header`, then every chunk (as `wrap(chunk)`), into the client stream `start(messages,
    metadata=, timeout=)` opens (a threaded stub's `.future`); its reply.

    The first side to finish decides: the callee refusing before the file's end stops the
    reading and its `grpc.RpcError` (also a `grpc.Call`: code, details, trailing metadata) is
    raised; `chunks` failing cancels the call, so the callee keeps nothing, and its error is
    raised."""
    loop = asyncio.get_running_loop()
    items: queue.SimpleQueue[Any] = queue.SimpleQueue()
    room = asyncio.Semaphore(QUEUE_CHUNKS)

    def release() -> None:
        with contextlib.suppress(RuntimeError):  # the loop may be gone at shutdown
            loop.call_soon_threadsafe(room.release)

    def messages() -> Iterator[Message]:
        # In the client's sending thread; ends normally only after the last chunk.
        yield header
        while (item := items.get()) is not None and item is not _ABORT:
            release()
            yield wrap(item)

    async def feed() -> None:
        async for chunk in chunks:
            await room.acquire()
            items.put(chunk)
        items.put(None)

    answered: asyncio.Future[Any] = loop.create_future()

    def settle(future: grpc.Future[Any]) -> None:
        if not answered.done():
            answered.set_result(future)

    def done(future: grpc.Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, future)

    call = start(messages(), metadata=tuple(metadata), timeout=deadline_seconds)
    call.add_done_callback(done)
    feeding = asyncio.create_task(feed())
    try:
        await asyncio.wait({feeding, answered}, return_when=asyncio.FIRST_COMPLETED)
        if not answered.done():
            error = feeding.exception()
            if error is not None:
                raise error
            await answered
        return call.result()
    finally:
        if not feeding.done():
            feeding.cancel()
        if not call.done():
            call.cancel()
        items.put(_ABORT)  # frees the sending thread if it waits for a chunk
        await asyncio.gather(feeding, return_exceptions=True)


def threaded_mutual_tls_channel(
    address: str, *, ca: bytes, certificate: bytes, private_key: bytes
) -> grpc.Channel:
    """The threaded channel `forward_stream` needs, with mutual TLS (a platform service's
    certificate says who calls, `ca` says who answers)."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=private_key, certificate_chain=certificate
    )
    return grpc.secure_channel(address, credentials, options=CHANNEL_OPTIONS)


def threaded_insecure_channel(address: str) -> grpc.Channel:
    """The threaded channel `forward_stream` needs, inside the platform's network (the gateway
    to a service), balancing its calls over the service's replicas like the asyncio channels."""
    return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
