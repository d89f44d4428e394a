"""Streamed uploads: a multipart/form-data body read as it arrives, its file forwarded into a gRPC
client stream, so the gateway's memory stays flat whatever the file's size (DESIGN §3 "Files").

FastAPI's `UploadFile`/`Form` would spool the whole body first; here `MultipartReader` feeds the
request's chunks to python-multipart's streaming parser and gives the parts one after the other:
text fields whole (each bounded), a file as an iterator of chunks. `stream_into` forwards those
chunks to the service through a small bounded queue: when the service is slower, the body is read
slower; when the service refuses (too large, wrong type, infected…), reading stops at once and the
refusal is the answer; when the body is wrong or the client goes away, the call is cancelled and
the service keeps nothing.

The text fields must come before the file part: the service needs to know what the file is and
where it goes before its first byte (the header message of the stream).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import grpc
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from guichet_kit.client_streams import forward_stream
from guichet_kit.errors import FieldError
from guichet_kit.grpc_client import STREAM_TIMEOUT_SECONDS, call_metadata
from guichet_kit.i18n import Catalog, Text
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")

# Forwarded gRPC messages carry at most this much of a file each (far below gRPC's 4 MB).
CHUNK_BYTES = 256 * 1024
# A text field of an upload (type, title, dates, a file name) is short.
MAX_TEXT_FIELD_BYTES = 4096
MAX_TEXT_FIELDS = 16
# What a body may hold besides its files: boundaries, part headers, text fields.
BODY_OVERHEAD_BYTES = 64 * 1024
# A streamed body may run this far past its announced bound before the gateway stops it: the
# service refuses a file over its limit itself (with its own reason) as the bytes reach it, and
# what gRPC's buffers and the queue hold meanwhile must not make the gateway answer first.
READ_AHEAD_BYTES = 64 * 1024 * 1024

_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{1,70}")

Message = TypeVar("Message")


def malformed(message: Text, field: str = "body", kind: str = "multipart") -> Problem:
    """A body the gateway cannot read as the form it expects (422, like any invalid input)."""
    return Problem(422, "VALIDATION_FAILED", "", [FieldError(field, kind, message)])


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "REQUEST_TOO_LARGE",
        _("The request is larger than {limit} bytes.", limit=limit).render(),
    )


def refuse_declared_length(content_length: str | None, limit: int) -> None:
    """Refuse at once, before reading anything, a body announced larger than `limit`."""
    if content_length is None:
        return  # chunked: counted while read
    if not content_length.isdigit():
        raise malformed(_("Content-Length is not a number of bytes."), "Content-Length", "format")
    if int(content_length) > limit:
        raise too_large(limit)


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not _BOUNDARY.fullmatch(boundary):
        raise Problem(
            415,
            "VALIDATION_FAILED",
            "",
            [
                FieldError(
                    "Content-Type",
                    "media_type",
                    _("Send the form as multipart/form-data with its boundary."),
                )
            ],
        )
    return boundary


def open_upload(request: Any, limit: int) -> MultipartReader:
    """The request's multipart body, streamed: refused at once when announced beyond `limit`
    (Content-Length), else read as it comes and stopped a little beyond `limit`."""
    refuse_declared_length(request.headers.get("content-length"), limit)
    return MultipartReader(
        request.stream(), request.headers.get("content-type"), max_body=limit + READ_AHEAD_BYTES
    )


@dataclass(frozen=True)
class TextField:
    name: str
    value: str


@dataclass
class FilePart:
    """A file of the form: its name and declared type from its part's headers; its bytes from
    `chunks()`, read once, as they arrive."""

    name: str
    file_name: str
    content_type: str
    _reader: MultipartReader

    def chunks(self) -> AsyncIterator[bytes]:
        return self._reader.file_chunks()


class MultipartReader:
    """The parts of a multipart/form-data body, in order, as the body arrives.

    Every byte is counted against `max_body` (413 beyond it); text fields are bounded one by one
    and in number; the headers of a part are bounded by the parser. A file part must be read
    (`chunks()`) or is skipped when the next part is asked for."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        content_type: str | None,
        *,
        max_body: int,
        max_text_bytes: int = MAX_TEXT_FIELD_BYTES,
        max_text_fields: int = MAX_TEXT_FIELDS,
    ) -> None:
        self._body = body
        self._max_body = max_body
        self._max_text_bytes = max_text_bytes
        self._max_text_fields = max_text_fields
        self._read = 0
        self._texts = 0
        # What the parser found, in order: ("part", its headers), ("data", bytes), ("end_part",
        # None), ("end", None).
        self._events: deque[tuple[str, Any]] = deque()
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._ended = False  # the closing boundary was seen
        self._exhausted = False  # the body has no more bytes
        self._in_file = False
        self._parser = MultipartParser(
            boundary_of(content_type),
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    @property
    def bytes_read(self) -> int:
        return self._read

    # The parser's callbacks run inside `write`: they only note what happened, in order.
    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._field).strip().lower()] = bytes(self._value).strip()
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        # The parser may go on to the next part in the same write: keep these headers with it.
        self._events.append(("part", self._headers))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(("data", data[start:end]))

    def _part_end(self) -> None:
        self._events.append(("end_part", None))

    def _end(self) -> None:
        self._ended = True
        self._events.append(("end", None))

    async def _event(self) -> tuple[str, Any]:
        while not self._events:
            if self._exhausted:
                # The body stopped before its closing boundary.
                raise malformed(_("The form ends before its last part."))
            chunk = await anext(self._body, None)
            if chunk is None:
                self._exhausted = True
                continue
            self._read += len(chunk)
            if self._read > self._max_body:
                raise too_large(self._max_body)
            try:
                self._parser.write(chunk)
            except FormParserError as error:
                raise malformed(_("The form cannot be read as multipart/form-data.")) from error
        return self._events.popleft()

    async def next_part(self) -> TextField | FilePart | None:
        """The next part, or None after the last one."""
        if self._in_file:
            async for _skipped in self.file_chunks():
                pass
        if self._ended and not self._events:
            return None
        kind, headers = await self._event()
        if kind == "end":
            return None
        if kind != "part":
            raise malformed(_("The form cannot be read as multipart/form-data."))
        disposition = headers.get(b"content-disposition", b"")
        kind_of_part, options = parse_options_header(disposition)
        name = _text(options.get(b"name", b""))
        if kind_of_part != b"form-data" or not name:
            raise malformed(_("Each part of the form needs a name."))
        if b"filename" in options:
            self._in_file = True
            content_type, _options = parse_options_header(headers.get(b"content-type"))
            return FilePart(
                name,
                _text(options[b"filename"]),
                content_type.decode("latin-1") or "application/octet-stream",
                self,
            )
        return await self._text_field(name)

    async def _text_field(self, name: str) -> TextField:
        self._texts += 1
        if self._texts > self._max_text_fields:
            raise malformed(_("The form has too many fields."))
        value = bytearray()
        while True:
            kind, data = await self._event()
            if kind == "end_part":
                break
            value += data
            if len(value) > self._max_text_bytes:
                raise malformed(
                    _("At most {limit} bytes.", limit=self._max_text_bytes), name, "too_long"
                )
        try:
            return TextField(name, value.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise malformed(_("The text is not UTF-8."), name, "encoding") from error

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The current file's bytes, in chunks of at most CHUNK_BYTES, as they arrive."""
        pending = bytearray()
        while self._in_file:
            kind, data = await self._event()
            if kind == "data":
                pending += data
                while len(pending) >= CHUNK_BYTES:
                    yield bytes(pending[:CHUNK_BYTES])
                    del pending[:CHUNK_BYTES]
            elif kind == "end_part":
                self._in_file = False
            else:
                raise malformed(_("The form cannot be read as multipart/form-data."))
        if pending:
            yield bytes(pending)

    async def rest(self) -> list[TextField]:
        """The text fields after the last file, if any; a second file is refused (one file per
        request where this is asked)."""
        texts = []
        while (part := await self.next_part()) is not None:
            if isinstance(part, FilePart):
                raise malformed(_("Send one file per request."), part.name, "too_many")
            texts.append(part)
        return texts

    async def drain(self, limit: int) -> bool:
        """Read what is left of the body without keeping it (a browser shows an answer more
        reliably once its whole request was read); False when more than `limit` bytes were
        left, the rest then unread."""
        while not self._exhausted:
            chunk = await anext(self._body, None)
            if chunk is None:
                self._exhausted = True
                break
            self._read += len(chunk)
            if self._read > limit:
                return False
        return True


def _text(raw: bytes) -> str:
    # Browsers send a part's file name in UTF-8; the parser gives the header's bytes as they came.
    return raw.decode("utf-8", errors="replace")


# A stream's deadline covers a whole transfer.
UPLOAD_TIMEOUT_SECONDS = STREAM_TIMEOUT_SECONDS


def _as_aio_error(error: grpc.RpcError) -> grpc.aio.AioRpcError:
    """The failure of a threaded call as the problem handlers read a call's failure."""
    call = cast(grpc.Call, error)
    return grpc.aio.AioRpcError(
        call.code(),
        grpc.aio.Metadata(*(call.initial_metadata() or ())),
        grpc.aio.Metadata(*(call.trailing_metadata() or ())),
        call.details(),
    )


async def stream_into(
    start: Callable[..., grpc.Future[Any]],
    header: Message,
    chunks: AsyncIterator[bytes],
    wrap: Callable[[bytes], Message],
) -> Any:
    """The kit's `forward_stream` with the caller's metadata and an upload's deadline (its
    docstring says why threaded, and who decides the end); the service's refusal is raised as
    `grpc.aio.AioRpcError`, as the problem handlers read a call's failure."""
    try:
        return await forward_stream(
            start,
            header,
            chunks,
            wrap,
            metadata=call_metadata(),
            deadline_seconds=UPLOAD_TIMEOUT_SECONDS,
        )
    except grpc.RpcError as failed:
        if isinstance(failed, grpc.aio.AioRpcError):
            raise
        raise _as_aio_error(failed) from None


async def first_of_stream(call: Any) -> tuple[Any, AsyncIterator[Any]]:
    """The first message of a reply stream (a download's header, or the service's refusal
    raised before any byte is sent) and an iterator over the rest."""
    replies = call.__aiter__()
    try:
        first = await anext(replies)
    except StopAsyncIteration:
        raise Problem(502, "UPSTREAM_FAILED") from None
    return first, replies
