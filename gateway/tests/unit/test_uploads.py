"""Streamed uploads (guichet_gateway.uploads): a body cut anywhere gives the same parts, a file's
bytes come in bounded chunks as they arrive (never the whole body first), every malformed or
oversized body is a clear refusal; forwarded into a gRPC client stream, a service's refusal stops
the reading and a broken body cancels the call."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet.wallet.v1 import wallet_pb2_grpc as pb_grpc
from guichet_gateway.uploads import (
    CHUNK_BYTES,
    FilePart,
    MultipartReader,
    TextField,
    refuse_declared_length,
    stream_into,
)
from guichet_kit import correlation
from guichet_kit.i18n import Language, set_language
from guichet_kit.problems import Problem

BOUNDARY = "----guichet-test-boundary-7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def text_part(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
    )


def file_part(name: str, file_name: bytes, content_type: str, data: bytes) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="'.encode()
        + file_name
        + f'"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )


def closing() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


class Body:
    """A request body delivered in pieces, counting what was taken from it."""

    def __init__(self, data: bytes, cuts: list[int]) -> None:
        self.pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.taken += len(piece)
            yield piece


def random_cuts(size: int, rng: random.Random, count: int) -> list[int]:
    return sorted(rng.sample(range(1, size), min(count, size - 1)))


async def read_all(reader: MultipartReader) -> list[tuple[str, str, bytes]]:
    parts = []
    while (part := await reader.next_part()) is not None:
        if isinstance(part, FilePart):
            data = b"".join([chunk async for chunk in part.chunks()])
            parts.append((part.name, f"{part.file_name}|{part.content_type}", data))
        else:
            parts.append((part.name, "text", part.value.encode()))
    return parts


@pytest.mark.parametrize("seed", range(12))
async def test_a_body_cut_anywhere_gives_the_same_parts(seed: int) -> None:
    rng = random.Random(seed)
    content = rng.randbytes(700_000) + f"\r\n--{BOUNDARY}".encode()[:-1] + b"\r\n--"
    body = (
        text_part("type", "identity_card")
        + text_part("title", "Carte d'identit\u00e9 \u2013 L\u00e9a")
        + file_part("file", "carte d\u2019identit\u00e9.pdf".encode(), "application/pdf", content)
        + closing()
    )
    reader = MultipartReader(
        Body(body, random_cuts(len(body), rng, rng.randint(1, 400))).__aiter__(),
        CONTENT_TYPE,
        max_body=len(body),
    )
    parts = await read_all(reader)
    assert parts == [
        ("type", "text", b"identity_card"),
        ("title", "text", "Carte d'identit\u00e9 \u2013 L\u00e9a".encode()),
        ("file", "carte d\u2019identit\u00e9.pdf|application/pdf", content),
    ]


async def test_a_file_comes_in_bounded_chunks_while_the_body_is_still_arriving() -> None:
    content = random.Random(1).randbytes(5 * CHUNK_BYTES + 123)
    body_bytes = (
        text_part("type", "other") + file_part("file", b"a.bin", "x/y", content) + closing()
    )
    body = Body(body_bytes, list(range(8192, len(body_bytes), 8192)))
    reader = MultipartReader(body.__aiter__(), CONTENT_TYPE, max_body=len(body_bytes))
    assert await reader.next_part() == TextField("type", "other")
    part = await reader.next_part()
    assert isinstance(part, FilePart)
    digest = hashlib.sha256()
    sizes = []
    async for chunk in part.chunks():
        sizes.append(len(chunk))
        digest.update(chunk)
        if len(sizes) == 1:
            # The first chunk is given long before the body's end.
            assert body.taken < len(body_bytes) / 2
    assert digest.hexdigest() == hashlib.sha256(content).hexdigest()
    assert max(sizes) <= CHUNK_BYTES
    assert await reader.next_part() is None


async def test_a_file_left_unread_is_skipped_for_the_next_part() -> None:
    body = file_part("file", b"a.pdf", "application/pdf", b"x" * 1000) + text_part("after", "yes")
    reader = MultipartReader(Body(body + closing(), [7]).__aiter__(), CONTENT_TYPE, max_body=10**6)
    assert isinstance(await reader.next_part(), FilePart)
    assert await reader.next_part() == TextField("after", "yes")
    assert await reader.next_part() is None


async def test_a_second_file_is_refused_where_one_is_expected() -> None:
    body = (
        file_part("file", b"a.pdf", "application/pdf", b"%PDF-1")
        + file_part("file", b"b.pdf", "application/pdf", b"%PDF-2")
        + closing()
    )
    reader = MultipartReader(Body(body, [50]).__aiter__(), CONTENT_TYPE, max_body=10**6)
    part = await reader.next_part()
    assert isinstance(part, FilePart)
    assert b"".join([c async for c in part.chunks()]) == b"%PDF-1"
    with pytest.raises(Problem) as refused:
        await reader.rest()
    assert (refused.value.status, refused.value.errors[0].reason) == (422, "too_many")


async def refusal(body: bytes, content_type: str = CONTENT_TYPE, **limits: int) -> Problem:
    reader = MultipartReader(
        Body(body, [3]).__aiter__(), content_type, **{"max_body": 10**6, **limits}
    )
    with pytest.raises(Problem) as refused:
        await read_all(reader)
    return refused.value


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        # Cut before the closing boundary (a client gone, a truncated body).
        (text_part("type", "other") + file_part("file", b"a", "x/y", b"123")[:-10], "body", ""),
        # Not multipart at all.
        (b"type=other&title=x", "body", "multipart"),
        # A part without a name.
        (
            f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n".encode() + closing(),
            "body",
            "multipart",
        ),
        # A text that is not UTF-8.
        (text_part("title", "x")[:-3] + b"\xff\xfe\r\n" + closing(), "title", "encoding"),
    ],
)
async def test_a_malformed_body_is_invalid_input(body: bytes, field: str, kind: str) -> None:
    problem = await refusal(body)
    assert (problem.status, problem.reason) == (422, "VALIDATION_FAILED")
    assert problem.errors[0].field == field
    if kind:
        assert problem.errors[0].reason == kind


async def test_a_long_text_field_and_too_many_fields_are_refused() -> None:
    problem = await refusal(text_part("title", "x" * 5000) + closing())
    assert (problem.errors[0].field, problem.errors[0].reason) == ("title", "too_long")
    many = b"".join(text_part(f"f{i}", "x") for i in range(20)) + closing()
    problem = await refusal(many)
    assert problem.status == 422 and problem.errors[0].field == "body"


async def test_a_body_beyond_its_bound_is_refused_while_read() -> None:
    content = b"x" * 300_000
    body_bytes = file_part("file", b"a.pdf", "application/pdf", content) + closing()
    body = Body(body_bytes, list(range(4096, len(body_bytes), 4096)))
    reader = MultipartReader(body.__aiter__(), CONTENT_TYPE, max_body=100_000)
    with pytest.raises(Problem) as refused:
        await read_all(reader)
    assert (refused.value.status, refused.value.reason) == (413, "REQUEST_TOO_LARGE")
    assert body.taken <= 100_000 + 4096, "reading stopped at the bound"


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "multipart/form-data", 'multipart/form-data; boundary="a\nb"'],
)
async def test_a_body_that_is_not_multipart_form_data_is_refused(content_type: str | None) -> None:
    with pytest.raises(Problem) as refused:
        MultipartReader(Body(b"", []).__aiter__(), content_type, max_body=10)
    assert refused.value.status == 415


def test_an_announced_length_beyond_the_limit_is_refused_before_reading() -> None:
    refuse_declared_length(None, 10)
    refuse_declared_length("10", 10)
    with pytest.raises(Problem) as refused:
        refuse_declared_length("11", 10)
    assert (refused.value.status, refused.value.reason) == (413, "REQUEST_TOO_LARGE")
    with pytest.raises(Problem) as refused:
        refuse_declared_length("-1", 10)
    assert refused.value.status == 422


# --- forwarding into a gRPC client stream (a real gRPC server in this process) ----------------


class Receiver(pb_grpc.WalletServiceServicer):
    """UploadFile as a service would see it: the header, the chunks, how the call ended."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.received = 0
        self.header: pb.UploadHeader | None = None
        self.metadata: dict[str, str] = {}
        self.ended = asyncio.Event()
        self.chunk_seen = asyncio.Event()
        self.cancelled = False
        # What a service does once the stream ends (storing the file) waits for this: a call
        # cancelled meanwhile is cancelled there. (A cancelled client stream first looks ended.)
        self.may_store = asyncio.Event()

    async def UploadFile(
        self,
        request_iterator: AsyncIterator[pb.UploadFileRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> pb.UploadFileResponse:
        self.metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        try:
            async for message in request_iterator:
                if message.WhichOneof("part") == "header":
                    self.header = message.header
                    continue
                self.received += len(message.chunk)
                self.chunk_seen.set()
                if self.received > self.limit:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "FILE_TOO_LARGE")
            await self.may_store.wait()
            return pb.UploadFileResponse(file_id=str(self.received))
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            self.ended.set()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, pb_grpc.WalletServiceStub]]:
    servicer = Receiver(limit=3 * CHUNK_BYTES)
    server = grpc.aio.server()
    pb_grpc.add_WalletServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    # The threaded client the gateway uploads with (uploads.stream_into says why).
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield servicer, pb_grpc.WalletServiceStub(channel)
    channel.close()
    await server.stop(None)


def upload_header() -> pb.UploadFileRequest:
    return pb.UploadFileRequest(header=pb.UploadHeader(piece_id="p", file_name="a.pdf"))


class Chunks:
    """A file's chunks, counting how many were taken."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.taken += 1
            yield b"x" * CHUNK_BYTES


async def test_a_file_is_forwarded_header_first_with_the_callers_language_and_id(
    receiver: tuple[Receiver, pb_grpc.WalletServiceStub],
) -> None:
    servicer, stub = receiver
    servicer.may_store.set()
    set_language(Language.DE)
    correlation_id = correlation.ensure("4b0c6f1e-0000-4000-8000-000000000001")
    reply = await stream_into(
        stub.UploadFile.future,
        upload_header(),
        Chunks(3).__aiter__(),
        lambda chunk: pb.UploadFileRequest(chunk=chunk),
    )
    assert reply.file_id == str(3 * CHUNK_BYTES)
    assert servicer.header is not None and servicer.header.file_name == "a.pdf"
    assert servicer.metadata["x-language"] == "de"
    assert servicer.metadata["x-correlation-id"] == correlation_id


async def test_a_refusal_in_the_middle_stops_the_reading_of_the_body(
    receiver: tuple[Receiver, pb_grpc.WalletServiceStub],
) -> None:
    _servicer, stub = receiver
    chunks = Chunks(200)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stream_into(
            stub.UploadFile.future,
            upload_header(),
            chunks.__aiter__(),
            lambda chunk: pb.UploadFileRequest(chunk=chunk),
        )
    assert refused.value.details() == "FILE_TOO_LARGE"
    # Refused after 4 chunks: what gRPC's and the queue's buffers took more, never the 200.
    assert chunks.taken < 50
    # The service's own status, with its words: not the transport's "Internal error".
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_broken_body_cancels_the_call_so_the_service_keeps_nothing(
    receiver: tuple[Receiver, pb_grpc.WalletServiceStub],
) -> None:
    servicer, stub = receiver

    async def broken_after_two_chunks() -> AsyncIterator[bytes]:
        for _ in range(2):
            yield b"x" * CHUNK_BYTES
        # Broken only once the service holds the call (a call cancelled before it reaches the
        # service would leave nothing to check).
        await asyncio.wait_for(servicer.chunk_seen.wait(), 5)
        raise Problem(422, "VALIDATION_FAILED")

    with pytest.raises(Problem):
        await stream_into(
            stub.UploadFile.future,
            upload_header(),
            broken_after_two_chunks(),
            lambda chunk: pb.UploadFileRequest(chunk=chunk),
        )
    await asyncio.wait_for(servicer.ended.wait(), 5)
    assert servicer.cancelled, "the service saw the call cancelled, not a complete file"
