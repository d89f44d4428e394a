"""The wallet's FileService as exchanges call it: a message's files (and a deposited document,
F66) go through the platform's one file pipeline on the wallet's services port, over mutual TLS
with messaging's own certificate; messaging keeps only the copy's id and description.

A refusal of the wallet (a virus, a type not accepted, a file too large) reaches the person as
the wallet gave it: same kind, reason, message and field errors; nothing is kept of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc

from guichet.wallet.v1 import wallet_pb2 as wallet
from guichet.wallet.v1 import wallet_pb2_grpc as wallet_grpc
from guichet_kit.auth import in_own_name
from guichet_kit.client_streams import forward_stream, threaded_mutual_tls_channel
from guichet_kit.domain import (
    DomainError,
    Unavailable,
)
from guichet_kit.errors import relayed_refusal
from guichet_kit.grpc_client import STREAM_TIMEOUT_SECONDS, call_metadata, mutual_tls_channel
from guichet_kit.i18n import Catalog
from guichet_messaging.exchanges.service import FileRef

_ = Catalog("guichet_messaging")

# What the copy serves, as the wallet records it.
PURPOSE = "exchange"


def files_unavailable() -> Unavailable:
    return Unavailable(
        "FILES_UNAVAILABLE",
        _("Files cannot be received or read just now: try again in a few minutes."),
    )


def wallet_refusal(error: Any) -> DomainError:
    """The wallet's refusal as the person's, or an outage."""
    return relayed_refusal(error, files_unavailable())


class MessageFiles:
    """FileService over two channels (a threaded one for uploads: `guichet_kit.client_streams`
    says why); each call in messaging's own name, the person's owner id in the header."""

    def __init__(self, channel: grpc.aio.Channel, uploads: grpc.Channel) -> None:
        self._files = wallet_grpc.FileServiceStub(channel)
        self._upload_files = wallet_grpc.FileServiceStub(uploads)

    @staticmethod
    def channels(
        address: str, certificate: Path, private_key: Path, platform_ca: Path
    ) -> tuple[grpc.aio.Channel, grpc.Channel]:
        """Messaging's certificate says who calls; the platform CA says who answers."""
        ca, cert, key = platform_ca.read_bytes(), certificate.read_bytes(), private_key.read_bytes()
        return (
            mutual_tls_channel(
                address, ca=ca, certificate=cert, private_key=key, timeout=STREAM_TIMEOUT_SECONDS
            ),
            threaded_mutual_tls_channel(address, ca=ca, certificate=cert, private_key=key),
        )

    async def ingest(
        self,
        national_id: str,
        file_name: str,
        declared_content_type: str,
        declared_size: int,
        chunks: AsyncIterator[bytes],
    ) -> FileRef:
        header = wallet.IngestHeader(
            owner=f"person:{national_id}",
            purpose=PURPOSE,
            file_name=file_name,
            declared_content_type=declared_content_type,
            declared_size=declared_size,
        )
        with in_own_name():
            metadata = call_metadata()
        try:
            reply: wallet.IngestFileResponse = await forward_stream(
                self._upload_files.IngestFile.future,
                wallet.IngestFileRequest(header=header),
                chunks,
                lambda chunk: wallet.IngestFileRequest(chunk=chunk),
                metadata=metadata,
                deadline_seconds=STREAM_TIMEOUT_SECONDS,
            )
        except grpc.RpcError as error:
            raise wallet_refusal(error) from error
        copy = reply.copy
        return FileRef(copy.copy_id, copy.file_name, copy.content_type, copy.size, copy.sha256)

    async def read(self, copy_id: str) -> AsyncIterator[bytes]:
        """The copy's bytes, chunk by chunk (its header, which exchanges' row repeats, skipped)."""
        try:
            with in_own_name():
                stream = self._files.ReadCopy(wallet.ReadCopyRequest(copy_id=copy_id))
            async for message in stream:
                if message.WhichOneof("part") == "chunk":
                    yield message.chunk
        except grpc.aio.AioRpcError as error:
            raise wallet_refusal(error) from error
