"""The ClamAV daemon's INSTREAM command over TCP, fed as the upload flows, so a file is never
read twice: `zINSTREAM\\0`, then chunks as `<uint32 big-endian length><bytes>`, then a zero
length; clamd answers `stream: OK`, `stream: <signature> FOUND` or `<text> ERROR`.

A scanner that cannot be reached, breaks off or answers an error is never taken for a clean
verdict: Unavailable SCANNER_UNAVAILABLE, and the file is not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from dataclasses import dataclass

from guichet_kit.domain import Unavailable
from guichet_kit.i18n import Catalog

_ = Catalog("guichet_wallet")
log = logging.getLogger(__name__)

# clamd's default StreamMaxLength is 25 MB; its frames need not match ours, but smaller frames
# keep each write short.
FRAME = 256 * 1024
MAX_REPLY = 4096


def scanner_unavailable() -> Unavailable:
    return Unavailable(
        "SCANNER_UNAVAILABLE",
        _("Files cannot be checked for viruses at the moment: try again later"),
    )


@dataclass(frozen=True)
class Verdict:
    clean: bool
    signature: str = ""


def parse_address(address: str) -> tuple[str, int]:
    host, separator, port = address.rpartition(":")
    if not separator or not host or not port.isdigit():
        raise ValueError(f"a scanner address is host:port, not {address!r}")
    return host.strip("[]"), int(port)


class Scanner:
    """Opens one scan per file on the clamd at `address` (host:port)."""

    def __init__(
        self, address: str, connect_timeout: float = 5.0, verdict_timeout: float = 120.0
    ) -> None:
        self.host, self.port = parse_address(address)
        self.connect_timeout = connect_timeout
        self.verdict_timeout = verdict_timeout

    async def open(self) -> Scan:
        """A scan in progress, connected and told to expect a stream."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as error:
            log.warning("scanner %s:%s unreachable: %s", self.host, self.port, error)
            raise scanner_unavailable() from error
        scan = Scan(reader, writer, self.verdict_timeout)
        try:
            writer.write(b"zINSTREAM\0")
            await writer.drain()
        except OSError as error:
            await scan.close()
            raise scanner_unavailable() from error
        return scan

    async def ping(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"zPING\0")
            await writer.drain()
            reply = await asyncio.wait_for(reader.readuntil(b"\0"), self.connect_timeout)
            return reply == b"PONG\0"
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class Scan:
    """One file's stream to clamd: `feed` its bytes as they come, then `verdict`."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout

    async def feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        try:
            for start in range(0, len(view), FRAME):
                frame = view[start : start + FRAME]
                self._writer.write(struct.pack(">I", len(frame)))
                self._writer.write(frame)
                # Back-pressure: never hold more than the socket's buffer for a slow scanner.
                await self._writer.drain()
        except OSError as error:
            # clamd closes the stream when it refuses it (size limit): it is not a verdict.
            log.warning("scanner broke off the stream: %s", error)
            raise scanner_unavailable() from error

    async def verdict(self) -> Verdict:
        try:
            self._writer.write(struct.pack(">I", 0))
            await self._writer.drain()
            reply = await asyncio.wait_for(self._reader.readuntil(b"\0"), self._timeout)
        except (
            OSError,
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ) as error:
            log.warning("scanner gave no verdict: %r", error)
            raise scanner_unavailable() from error
        finally:
            await self.close()
        return parse_reply(reply[:MAX_REPLY])

    async def close(self) -> None:
        if self._writer.is_closing():
            return
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


def parse_reply(reply: bytes) -> Verdict:
    """clamd's answer to INSTREAM: `stream: OK`, `stream: <name> FOUND`, else an error."""
    text = reply.rstrip(b"\0").decode("utf-8", errors="replace").strip()
    if text == "stream: OK":
        return Verdict(clean=True)
    if text.startswith("stream: ") and text.endswith(" FOUND"):
        return Verdict(clean=False, signature=text[len("stream: ") : -len(" FOUND")])
    log.warning("scanner error: %s", text)
    raise scanner_unavailable()
