"""eDelivery over gRPC: the administrations' AdministrationDeliveryService (mutual TLS, named by
their certificate) and the person's EDeliveryService (the gateway, with the person's token); and
the two platform services eDelivery calls — identity (is the person subscribed?) and the wallet
(the file into the person's wallet)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as identity
from guichet.identity.v1 import identity_pb2_grpc as identity_grpc
from guichet.messaging.v1 import edelivery_pb2 as pb
from guichet.messaging.v1 import edelivery_pb2_grpc as pb_grpc
from guichet.wallet.v1 import wallet_pb2 as wallet
from guichet.wallet.v1 import wallet_pb2_grpc as wallet_grpc
from guichet_kit.auth import in_own_name
from guichet_kit.client_streams import forward_stream, threaded_mutual_tls_channel
from guichet_kit.db import transaction
from guichet_kit.domain import (
    InvalidInput,
    Unavailable,
)
from guichet_kit.errors import relayed_refusal
from guichet_kit.grpc_client import STREAM_TIMEOUT_SECONDS, call_metadata
from guichet_kit.i18n import Catalog
from guichet_kit.servicers import (
    Call,
    Db,
    DeclaredServicer,
    administration,
    citizen,
    rpc,
    rpc_stream,
)
from guichet_messaging.edelivery import service
from guichet_messaging.edelivery.models import Receipt, ReceiptKind
from guichet_messaging.edelivery.service import DeliveryRequest, EDelivery, FiledDocument

_ = Catalog("guichet_messaging")

_KIND_TO_PROTO = {
    ReceiptKind.DELIVERED.value: pb.RECEIPT_KIND_DELIVERED,
    ReceiptKind.READ.value: pb.RECEIPT_KIND_READ,
    ReceiptKind.UNREAD.value: pb.RECEIPT_KIND_UNREAD,
}
# How often a receipts' watch looks for new ones.
WATCH_POLL_SECONDS = 1.0


def files_unavailable() -> Unavailable:
    return Unavailable(
        "FILES_UNAVAILABLE",
        _("Documents cannot be delivered just now: try again in a few minutes."),
    )


class IdentityAddressees:
    """identity's ContactService on its services port (messaging's certificate)."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = identity_grpc.ContactServiceStub(channel)

    async def subscribed(self, national_id: str) -> bool:
        try:
            with in_own_name():
                reply = await self._stub.GetContact(
                    identity.GetContactRequest(national_id=national_id)
                )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return False  # no account: nowhere to deliver
            raise
        return reply.preferences.edelivery_subscribed


class WalletDocuments:
    """FileService.ReceiveDocument over a threaded channel (see guichet_kit.client_streams)."""

    def __init__(self, uploads: grpc.Channel) -> None:
        self._files = wallet_grpc.FileServiceStub(uploads)

    async def receive(
        self, request: DeliveryRequest, chunks: AsyncIterator[bytes]
    ) -> FiledDocument:
        header = wallet.ReceiveHeader(
            owner=f"person:{request.national_id}",
            sender=wallet.DocumentSender(
                administration=request.administration,
                administration_name=request.administration.upper(),
                signature_subject=request.signature_subject,
                delivery_id=str(request.platform_id),
            ),
            title=request.title,
            file_name=request.file_name,
            declared_content_type=request.declared_content_type,
            declared_size=request.declared_size,
        )
        with in_own_name():
            metadata = call_metadata()
        try:
            reply: wallet.ReceiveDocumentResponse = await forward_stream(
                self._files.ReceiveDocument.future,
                wallet.ReceiveDocumentRequest(header=header),
                chunks,
                lambda chunk: wallet.ReceiveDocumentRequest(chunk=chunk),
                metadata=metadata,
                deadline_seconds=STREAM_TIMEOUT_SECONDS,
            )
        except grpc.RpcError as error:
            raise relayed_refusal(error, files_unavailable()) from error
        piece = reply.piece
        version = piece.files[0].current
        return FiledDocument(
            piece_id=uuid.UUID(piece.piece_id),
            file_name=version.file_name,
            content_type=version.content_type,
            size=version.size,
            sha256=version.sha256,
        )


async def _chunks(messages: AsyncIterator[pb.DeliverDocumentRequest]) -> AsyncIterator[bytes]:
    async for message in messages:
        if message.WhichOneof("part") != "chunk":
            raise InvalidInput(
                "DELIVERY_HEADER_REPEATED", _("A delivery has one header, before its file.")
            )
        yield message.chunk


def receipt_to_proto(receipt: Receipt, delivery_id: str) -> pb.Receipt:
    reply = pb.Receipt(
        receipt_id=str(receipt.id),
        delivery_id=delivery_id,
        kind=_KIND_TO_PROTO[receipt.kind],
        jws=receipt.jws,
        sequence=receipt.number,
    )
    reply.issued_at.FromDatetime(receipt.issued_at)
    return reply


def _limit(requested: int) -> int:
    if requested == 0:
        return service.DEFAULT_RECEIPTS
    if not 1 <= requested <= service.MAX_RECEIPTS:
        raise InvalidInput(
            "INVALID_PAGE_REQUEST",
            _("Ask for between 1 and 500 receipts."),
            metadata={"max": "500"},
        )
    return requested


def _after(sequence: int) -> int:
    if sequence < 0:
        raise InvalidInput(
            "INVALID_PAGE_REQUEST", _("A receipt's sequence number is never negative.")
        )
    return sequence


class AdministrationDeliveryServicer(
    DeclaredServicer, pb_grpc.AdministrationDeliveryServiceServicer
):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        events_written: Callable[[], None],
        edelivery: EDelivery,
        addressees: service.Addressees,
        documents: service.Wallet,
    ) -> None:
        super().__init__(sessions, events_written)
        self._edelivery = edelivery
        self._addressees = addressees
        self._documents = documents

    @rpc(administration(), db=Db.NONE)
    async def DeliverDocument(
        self, request: AsyncIterator[pb.DeliverDocumentRequest], call: Call
    ) -> pb.DeliverDocumentResponse:
        messages = aiter(request)
        first = await anext(messages, None)
        if first is None or first.WhichOneof("part") != "header":
            raise InvalidInput(
                "DELIVERY_HEADER_MISSING", _("A delivery starts with its header, then its file.")
            )
        header = first.header
        wanted = service.delivery_request(
            call.administration or "",
            header.national_id,
            header.delivery_id,
            header.title,
            header.file_name,
            header.declared_content_type,
            header.declared_size,
            header.signature_subject,
        )
        assert self.sessions is not None
        async with self.read_sessions()() as session:
            earlier = await self._edelivery.earlier(session, wanted)
        if earlier is None:
            if not await self._addressees.subscribed(wanted.national_id):
                raise service.not_subscribed()
            # A stream cut here cancels the wallet's call: the wallet keeps nothing.
            filed = await self._documents.receive(wanted, _chunks(messages))
            async with transaction(self.sessions) as session:
                delivered = await self._edelivery.record(session, wanted, filed)
            if not delivered.already_delivered:
                self.events_written()
        else:
            delivered = earlier
        return pb.DeliverDocumentResponse(
            receipt=receipt_to_proto(delivered.receipt, wanted.delivery_id),
            already_delivered=delivered.already_delivered,
        )

    @rpc(administration(), db=Db.READ)
    async def ListReceipts(
        self, request: pb.ListReceiptsRequest, call: Call
    ) -> pb.ListReceiptsResponse:
        rows = await service.receipts_of(
            call.session,
            call.administration or "",
            delivery_id=request.delivery_id,
            after=_after(request.after_sequence),
            limit=_limit(request.limit),
        )
        return pb.ListReceiptsResponse(
            receipts=[receipt_to_proto(receipt, name) for receipt, name in rows]
        )

    @rpc_stream(administration())
    async def WatchReceipts(
        self, request: pb.WatchReceiptsRequest, call: Call
    ) -> AsyncIterator[pb.WatchReceiptsResponse]:
        after = _after(request.after_sequence)
        while True:
            # A short read each time: no session held open while the watch waits.
            async with self.read_sessions()() as session:
                rows = await service.receipts_of(
                    session, call.administration or "", after=after, limit=service.MAX_RECEIPTS
                )
            for receipt, name in rows:
                yield pb.WatchReceiptsResponse(receipt=receipt_to_proto(receipt, name))
                after = receipt.number
            if len(rows) < service.MAX_RECEIPTS:
                await asyncio.sleep(WATCH_POLL_SECONDS)


class EDeliveryServicer(DeclaredServicer, pb_grpc.EDeliveryServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        events_written: Callable[[], None],
        edelivery: EDelivery,
    ) -> None:
        super().__init__(sessions, events_written)
        self._edelivery = edelivery

    @rpc(citizen())
    async def MarkDocumentRead(
        self, request: pb.MarkDocumentReadRequest, call: Call
    ) -> pb.MarkDocumentReadResponse:
        try:
            piece_id = uuid.UUID(request.piece_id)
        except ValueError:
            raise service.delivery_not_found() from None
        await self._edelivery.mark_read(call.session, call.person.national_id, piece_id)
        return pb.MarkDocumentReadResponse()


async def report_unread(
    sessions: async_sessionmaker[AsyncSession],
    edelivery: EDelivery,
    delay: timedelta,
    every_seconds: float,
    stop: asyncio.Event,
) -> None:
    """The worker's periodic job: unread deliveries past the delay get their `unread` receipt."""
    while not stop.is_set():
        while True:
            async with transaction(sessions) as session:
                reported = await edelivery.report_unread(session, delay, batch=100)
            if reported < 100:
                break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_seconds)


def uploads_channel(address: str, certificate: Path, private_key: Path, ca: Path) -> grpc.Channel:
    return threaded_mutual_tls_channel(
        address,
        ca=ca.read_bytes(),
        certificate=certificate.read_bytes(),
        private_key=private_key.read_bytes(),
    )
