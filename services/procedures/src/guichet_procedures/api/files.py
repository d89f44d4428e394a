"""The wallet's FileService as procedures calls it (F25): the platform's one path for files, on the
wallet's services port over mutual TLS with procedures' own service certificate. Procedures has
checked whom the person acts for; the wallet checks that what is named belongs to that owner,
scans and types each file, and keeps the copies immutable.

A refusal of the wallet (a virus, a file type not accepted, another owner's piece) reaches the
caller as the wallet gave it: same kind, reason, message and field errors.
"""

from __future__ import annotations

import uuid
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
from guichet_procedures.requests.attachments import Addition, CopyInfo

_ = Catalog("guichet_procedures")


def wallet_channel(
    address: str, certificate: Path, private_key: Path, platform_ca: Path, *, timeout: float
) -> grpc.aio.Channel:
    """Procedures' certificate says who calls; the platform CA says who answers."""
    return mutual_tls_channel(
        address,
        ca=platform_ca.read_bytes(),
        certificate=certificate.read_bytes(),
        private_key=private_key.read_bytes(),
        timeout=timeout,
    )


def wallet_uploads_channel(
    address: str, certificate: Path, private_key: Path, platform_ca: Path
) -> grpc.Channel:
    """The same, threaded: for files streamed in (`guichet_kit.client_streams` says why)."""
    return threaded_mutual_tls_channel(
        address,
        ca=platform_ca.read_bytes(),
        certificate=certificate.read_bytes(),
        private_key=private_key.read_bytes(),
    )


def files_unavailable() -> Unavailable:
    return Unavailable(
        "FILES_UNAVAILABLE",
        _("Files cannot be received or read just now: try again in a few minutes."),
    )


def wallet_refusal(error: Any) -> DomainError:
    """The wallet's refusal as procedures' own, or an outage."""
    return relayed_refusal(error, files_unavailable())


def copy_info(copy: wallet.CopyRef) -> CopyInfo:
    return CopyInfo(
        copy_id=uuid.UUID(copy.copy_id),
        file_name=copy.file_name,
        content_type=copy.content_type,
        size=copy.size,
        sha256=copy.sha256,
    )


class WalletFiles:
    """FileService over one channel; each call in procedures' own name (no person's token)."""

    def __init__(self, channel: grpc.aio.Channel, uploads: grpc.Channel) -> None:
        self._files = wallet_grpc.FileServiceStub(channel)
        self._uploads = wallet_grpc.FileServiceStub(uploads)

    async def ingest(
        self,
        addition: Addition,
        file_name: str,
        declared_content_type: str,
        declared_size: int,
        chunks: AsyncIterator[bytes],
    ) -> CopyInfo:
        header = wallet.IngestHeader(
            owner=addition.owner,
            purpose=addition.purpose,
            file_name=file_name,
            declared_content_type=declared_content_type,
            declared_size=declared_size,
            allowed_content_types=sorted(addition.allowed_content_types),
        )

        with in_own_name():
            metadata = call_metadata()
        try:
            reply: wallet.IngestFileResponse = await forward_stream(
                self._uploads.IngestFile.future,
                wallet.IngestFileRequest(header=header),
                chunks,
                lambda chunk: wallet.IngestFileRequest(chunk=chunk),
                metadata=metadata,
                deadline_seconds=STREAM_TIMEOUT_SECONDS,
            )
        except grpc.RpcError as error:
            raise wallet_refusal(error) from error
        return copy_info(reply.copy)

    async def copy_piece(
        self, owner: str, piece_id: str, file_id: str, version_id: str, purpose: str
    ) -> CopyInfo:
        request = wallet.CopyPieceToRequestRequest(
            owner=owner, piece_id=piece_id, file_id=file_id, version_id=version_id, purpose=purpose
        )
        try:
            with in_own_name():
                reply = await self._files.CopyPieceToRequest(request)
        except grpc.aio.AioRpcError as error:
            raise wallet_refusal(error) from error
        return copy_info(reply.copy)

    async def copy_to_wallet(
        self, copy_id: uuid.UUID, owner: str, type_code: str, title: str
    ) -> wallet.Piece:
        request = wallet.CopyFileToWalletRequest(
            copy_id=str(copy_id), owner=owner, type_code=type_code, title=title
        )
        try:
            with in_own_name():
                reply = await self._files.CopyFileToWallet(request)
        except grpc.aio.AioRpcError as error:
            raise wallet_refusal(error) from error
        return reply.piece

    async def read(self, copy_id: uuid.UUID) -> AsyncIterator[bytes]:
        """The copy's bytes, chunk by chunk (its header, which the caller's row repeats, is
        skipped)."""
        try:
            with in_own_name():
                stream = self._files.ReadCopy(wallet.ReadCopyRequest(copy_id=str(copy_id)))
            async for message in stream:
                if message.WhichOneof("part") == "chunk":
                    yield message.chunk
        except grpc.aio.AioRpcError as error:
            raise wallet_refusal(error) from error
