"""Streamed RPCs (files) get what unary ones get: the declaration admits the caller, each
streamed message is bounded like any request, and a refusal — before or in the middle of a
stream — reaches the client as a status with its reason. Through a real gRPC server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet.wallet.v1 import wallet_pb2_grpc as pb_grpc
from guichet_kit.domain import InvalidInput, NotFound
from guichet_kit.errors import read_rpc_failure
from guichet_kit.grpc_server import KitInterceptor
from guichet_kit.servicers import Call, Db, DeclaredServicer, citizen, public, rpc, rpc_stream

SERVICE = pb.DESCRIPTOR.services_by_name["FileService"]
LIMIT = 10


class Files(DeclaredServicer, pb_grpc.FileServiceServicer):
    """IngestFile counts bytes up to a limit; ReadCopy streams, or refuses early or midway."""

    @rpc(public(), db=Db.NONE)
    async def IngestFile(
        self, request: AsyncIterator[pb.IngestFileRequest], call: Call
    ) -> pb.IngestFileResponse:
        size = 0
        async for message in request:
            size += len(message.chunk)
            if size > LIMIT:
                raise InvalidInput("FILE_TOO_LARGE", "too large")
        return pb.IngestFileResponse(copy=pb.CopyRef(size=size))

    @rpc_stream(public())
    async def ReadCopy(
        self, request: pb.ReadCopyRequest, call: Call
    ) -> AsyncIterator[pb.ReadCopyResponse]:
        if request.copy_id == "missing":
            raise NotFound("COPY_NOT_FOUND", "no such copy")
        yield pb.ReadCopyResponse(header=pb.CopyRef(copy_id=request.copy_id))
        yield pb.ReadCopyResponse(chunk=b"abc")
        if request.copy_id == "broken":
            raise InvalidInput("FILE_UNREADABLE", "refused midway")


class Wallet(DeclaredServicer, pb_grpc.WalletServiceServicer):
    @rpc_stream(citizen())
    async def DownloadFile(
        self, request: pb.DownloadFileRequest, call: Call
    ) -> AsyncIterator[pb.DownloadFileResponse]:
        yield pb.DownloadFileResponse(chunk=b"never without a caller")


WALLET = pb.DESCRIPTOR.services_by_name["WalletService"]


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    declared = {f"/{SERVICE.full_name}/{name}" for name in ("IngestFile", "ReadCopy")}
    declared.add(f"/{WALLET.full_name}/DownloadFile")
    server = grpc.aio.server(interceptors=[KitInterceptor(None, declared)])
    pb_grpc.add_FileServiceServicer_to_server(Files(None), server)  # type: ignore[abstract]
    pb_grpc.add_WalletServiceServicer_to_server(Wallet(None), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    await server.stop(None)


def ingest(*messages: pb.IngestFileRequest) -> AsyncIterator[pb.IngestFileRequest]:
    async def stream() -> AsyncIterator[pb.IngestFileRequest]:
        for message in messages:
            yield message

    return stream()


async def test_a_client_stream_is_read_to_its_end(channel: grpc.aio.Channel) -> None:
    reply = await pb_grpc.FileServiceStub(channel).IngestFile(
        ingest(
            pb.IngestFileRequest(header=pb.IngestHeader(file_name="a.pdf")),
            pb.IngestFileRequest(chunk=b"12345"),
            pb.IngestFileRequest(chunk=b"6789"),
        )
    )
    assert reply.copy.size == 9


async def test_a_refusal_in_the_middle_of_a_client_stream_keeps_its_reason(
    channel: grpc.aio.Channel,
) -> None:
    chunks = [pb.IngestFileRequest(chunk=b"x" * 6) for _ in range(3)]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await pb_grpc.FileServiceStub(channel).IngestFile(ingest(*chunks))
    failure = read_rpc_failure(refused.value)
    assert (failure.code, failure.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "FILE_TOO_LARGE")


async def test_each_streamed_message_is_bounded_like_a_request(
    channel: grpc.aio.Channel,
) -> None:
    header = pb.IngestFileRequest(header=pb.IngestHeader(file_name="a\x00.pdf"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await pb_grpc.FileServiceStub(channel).IngestFile(ingest(header))
    failure = read_rpc_failure(refused.value)
    assert failure.reason == "INVALID_CHARACTER"
    assert [field.field for field in failure.field_errors] == ["header.file_name"]


async def test_a_reply_stream_admits_its_caller_before_streaming(
    channel: grpc.aio.Channel,
) -> None:
    download = pb_grpc.WalletServiceStub(channel).DownloadFile(pb.DownloadFileRequest())
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        [reply async for reply in download]
    failure = read_rpc_failure(refused.value)
    assert (failure.code, failure.reason) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "AUTHENTICATION_REQUIRED",
    )


async def test_a_reply_stream_refused_before_its_first_message(
    channel: grpc.aio.Channel,
) -> None:
    read = pb_grpc.FileServiceStub(channel).ReadCopy(pb.ReadCopyRequest(copy_id="missing"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        [reply async for reply in read]
    failure = read_rpc_failure(refused.value)
    assert (failure.code, failure.reason) == (grpc.StatusCode.NOT_FOUND, "COPY_NOT_FOUND")


async def test_a_reply_stream_refused_midway_ends_with_its_reason(
    channel: grpc.aio.Channel,
) -> None:
    received: list[pb.ReadCopyResponse] = []

    async def read() -> None:
        read = pb_grpc.FileServiceStub(channel).ReadCopy(pb.ReadCopyRequest(copy_id="broken"))
        async for reply in read:
            received.append(reply)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await read()
    assert [reply.WhichOneof("part") for reply in received] == ["header", "chunk"]
    assert read_rpc_failure(refused.value).reason == "FILE_UNREADABLE"


async def test_a_client_stream_cancelled_midway_never_reads_as_complete() -> None:
    """grpc.aio ends a cancelled client's request stream as if it were complete: the servicer
    must be cancelled before it can act on the end of a cut-off file."""
    completed: list[int] = []

    class Recording(Files):
        @rpc(public(), db=Db.NONE)
        async def IngestFile(
            self, request: AsyncIterator[pb.IngestFileRequest], call: Call
        ) -> pb.IngestFileResponse:
            received = [message async for message in request]
            completed.append(len(received))  # would store a truncated file here
            return pb.IngestFileResponse()

    declared = {f"/{SERVICE.full_name}/IngestFile"}
    server = grpc.aio.server(interceptors=[KitInterceptor(None, declared)])
    pb_grpc.add_FileServiceServicer_to_server(Recording(None), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    sent = asyncio.Event()

    async def cut_off() -> AsyncIterator[pb.IngestFileRequest]:
        for _ in range(3):
            yield pb.IngestFileRequest(chunk=b"x")
        sent.set()
        await asyncio.sleep(60)  # the rest of the file never comes

    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            upload = pb_grpc.FileServiceStub(channel).IngestFile(cut_off())
            await sent.wait()
            await asyncio.sleep(0.2)  # the three chunks reach the servicer
            upload.cancel()
            await asyncio.sleep(0.5)
    finally:
        await server.stop(None)
    assert completed == []
