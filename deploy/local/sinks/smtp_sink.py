"""Development SMTP sink: accepts every message and keeps it as an .eml file for tests to read.

Listens on 127.0.0.1:51025 by default, no auth, no TLS, any sender and recipient. Each message
is written atomically (temporary file + rename) as ``<UTC timestamp>-<uuid>.eml`` into the mail
directory, with two extra headers first: ``X-Sink-Mail-From`` and ``X-Sink-Rcpt-To`` (the SMTP
envelope, useful for Bcc).

    python deploy/local/sinks/smtp_sink.py --dir .data/mail [--host 127.0.0.1] [--port 51025]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("smtp_sink")


class FileSinkHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if isinstance(envelope.content, str) and not content:
            content = envelope.content.encode("utf-8")
        mail_from = envelope.mail_from or ""
        header = (
            f"X-Sink-Mail-From: {mail_from}\r\nX-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode("utf-8", "replace")
        name = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}-{uuid.uuid4()}.eml"
        await asyncio.to_thread(self._store, name, header + content)
        log.info(
            "stored %s from=%s to=%s (%d bytes)", name, mail_from, envelope.rcpt_tos, len(content)
        )
        return "250 Message accepted for delivery"

    def _store(self, name: str, data: bytes) -> None:
        tmp = self.directory / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / name)


async def serve(host: str, port: int, directory: Path) -> None:
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    handler = FileSinkHandler(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp-sink.localhost", data_size_limit=50 * 1024 * 1024),
        host=host,
        port=port,
        reuse_address=True,
    )
    log.info("SMTP sink listening on %s:%d, writing to %s", host, port, directory)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    log.info("SMTP sink stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=51025)
    parser.add_argument("--dir", type=Path, default=Path(".data/mail"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(args.host, args.port, args.dir.resolve()))


if __name__ == "__main__":
    main()
