"""FileService: the platform's one path for files, called by other platform services (procedures,
messaging) with their service certificate over mutual TLS. The calling service has checked whom
the person acts for; the wallet checks that what it names belongs to that owner."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet.wallet.v1 import wallet_pb2_grpc as pb_grpc
from guichet_kit.domain import FieldErrors, InvalidInput
from guichet_kit.i18n import Catalog, current_language
from guichet_kit.servicers import Call, Db, DeclaredServicer, platform_service, rpc, rpc_stream
from guichet_kit.values import InvalidValue, parse_human_text
from guichet_wallet.pieces import service
from guichet_wallet.pieces.catalogue import (
    EDOCUMENT,
    UnknownPieceType,
    find_piece_type,
    uploadable_type,
)
from guichet_wallet.pieces.copying import Copying, CopyRequest
from guichet_wallet.pieces.details import (
    MAX_PURPOSE_LENGTH,
    InvalidOwner,
    luxembourg_today,
    owner_error,
    parse_owner,
    piece_details,
)
from guichet_wallet.pieces.filing import FileHeader
from guichet_wallet.pieces.grpc import (
    chunks_after_header,
    header_missing,
    parse_id,
    unknown_type,
)
from guichet_wallet.pieces.service import NewPiece, Sender
from guichet_wallet.pieces.wire import copy_to_proto, piece_to_proto

_ = Catalog("guichet_wallet")

CALLERS = ("procedures", "messaging")
# Beyond ten years a retention is a typing slip, not a rule of a procedure.
MAX_RETENTION_DAYS = 3650


def _owner(text: str) -> str:
    try:
        return parse_owner(text)
    except InvalidOwner:
        raise owner_error() from None


def _copy_request(call: Call, owner: str, purpose: str, retention_days: int) -> CopyRequest:
    errors = FieldErrors()
    clean = ""
    try:
        clean = parse_human_text(purpose, max_length=MAX_PURPOSE_LENGTH)
    except InvalidValue as error:
        errors.add("purpose", error.reason, error.message)
    if not 0 <= retention_days <= MAX_RETENTION_DAYS:
        errors.add(
            "retention_days",
            "out_of_range",
            _("Between 0 (the default) and {limit} days.", limit=MAX_RETENTION_DAYS),
        )
    errors.raise_if_any("INVALID_COPY_REQUEST", _("The copy request has errors."))
    return CopyRequest(_owner(owner), clean, call.service or "", retention_days)


def _sender(header: pb.ReceiveHeader) -> Sender:
    errors = FieldErrors()
    fields = {}
    for name, value, limit, required in (
        ("sender.administration", header.sender.administration, 40, True),
        ("sender.administration_name", header.sender.administration_name, 200, True),
        ("sender.signature_subject", header.sender.signature_subject, 500, False),
        ("sender.delivery_id", header.sender.delivery_id, 100, True),
    ):
        try:
            fields[name] = parse_human_text(value, max_length=limit, required=required)
        except InvalidValue as error:
            errors.add(name, error.reason, error.message)
    errors.raise_if_any("INVALID_EDOCUMENT", _("The eDocument's description has errors."))
    signed_at = (
        header.sender.signed_at.ToDatetime(tzinfo=UTC)
        if header.sender.HasField("signed_at")
        else None
    )
    return Sender(
        fields["sender.administration"],
        fields["sender.administration_name"],
        fields["sender.signature_subject"],
        signed_at,
        fields["sender.delivery_id"],
    )


class FileServicer(DeclaredServicer, pb_grpc.FileServiceServicer):
    def __init__(self, copying: Copying, events_written: Callable[[], None]) -> None:
        super().__init__(copying.filing.sessions, events_written)
        self._copying = copying
        self._filing = copying.filing

    @rpc(platform_service(*CALLERS), db=Db.NONE)
    async def IngestFile(
        self, request: AsyncIterator[pb.IngestFileRequest], call: Call
    ) -> pb.IngestFileResponse:
        messages = aiter(request)
        first = await anext(messages, None)
        if first is None or first.WhichOneof("part") != "header":
            raise header_missing()
        header = first.header
        copy_request = _copy_request(call, header.owner, header.purpose, header.retention_days)
        spec = self._copying.check_ingest(
            FileHeader(header.file_name, header.declared_content_type, header.declared_size),
            frozenset(header.allowed_content_types),
        )
        copy = await self._copying.ingest(copy_request, spec, chunks_after_header(messages))
        return pb.IngestFileResponse(copy=copy_to_proto(copy))

    @rpc(platform_service(*CALLERS), db=Db.NONE)
    async def CopyPieceToRequest(
        self, request: pb.CopyPieceToRequestRequest, call: Call
    ) -> pb.CopyPieceToRequestResponse:
        copy_request = _copy_request(call, request.owner, request.purpose, request.retention_days)
        piece_id = parse_id(request.piece_id, service.PieceNotFound)
        file_id = parse_id(request.file_id, service.FileNotFound)
        version_id = (
            parse_id(request.version_id, service.VersionNotFound) if request.version_id else None
        )
        copy = await self._copying.copy_piece(copy_request, piece_id, file_id, version_id)
        return pb.CopyPieceToRequestResponse(copy=copy_to_proto(copy))

    @rpc(platform_service(*CALLERS), db=Db.NONE)
    async def CopyFileToWallet(
        self, request: pb.CopyFileToWalletRequest, call: Call
    ) -> pb.CopyFileToWalletResponse:
        owner = _owner(request.owner)
        copy_id = parse_id(request.copy_id, service.CopyNotFound)
        try:
            piece_type = uploadable_type(request.type_code)
        except UnknownPieceType as error:
            raise unknown_type(error) from None
        details = piece_details(
            piece_type,
            request.title,
            "",
            "",
            today=luxembourg_today(),
            language=current_language(),
            title_required=False,
        )
        filed = await self._copying.copy_into_wallet(
            copy_id, owner, call.service or "", piece_type, details
        )
        return pb.CopyFileToWalletResponse(
            piece=piece_to_proto(filed.piece, current_language(), {})
        )

    @rpc(platform_service(*CALLERS), db=Db.NONE)
    async def ReceiveDocument(
        self, request: AsyncIterator[pb.ReceiveDocumentRequest], call: Call
    ) -> pb.ReceiveDocumentResponse:
        """An eDocument into its addressee's wallet. It never counts toward the limit of pieces
        (an administration's document must not be lost because the wallet is full), and a
        delivery sent again lands once: the piece it made is answered."""
        messages = aiter(request)
        first = await anext(messages, None)
        if first is None or first.WhichOneof("part") != "header":
            raise header_missing()
        header = first.header
        owner = _owner(header.owner)
        sender = _sender(header)
        piece_type = find_piece_type(EDOCUMENT)
        details = piece_details(
            piece_type,
            header.title,
            "",
            "",
            today=luxembourg_today(),
            language=current_language(),
            title_required=False,
        )
        senders = {}
        async with self._filing.sessions() as session:
            earlier = await service.received_piece(session, owner, sender.delivery_id)
            if earlier is not None:
                senders = await service.senders_of(session, [earlier])
        if earlier is not None:
            return pb.ReceiveDocumentResponse(
                piece=piece_to_proto(earlier, current_language(), senders)
            )
        target = NewPiece(piece_type, details, sender)
        spec = await self._filing.check(
            owner,
            target,
            FileHeader(header.file_name, header.declared_content_type, header.declared_size),
        )
        filed = await self._filing.file(owner, target, spec, chunks_after_header(messages))
        return pb.ReceiveDocumentResponse(
            piece=piece_to_proto(filed.piece, current_language(), {filed.piece.id: sender})
        )

    @rpc_stream(platform_service(*CALLERS))
    async def ReadCopy(
        self, request: pb.ReadCopyRequest, call: Call
    ) -> AsyncIterator[pb.ReadCopyResponse]:
        copy_id = parse_id(request.copy_id, service.CopyNotFound)
        async with self._filing.sessions() as session:
            copy = await service.copy_of(session, copy_id, call.service or "")
        yield pb.ReadCopyResponse(header=copy_to_proto(copy))
        async for chunk in self._filing.pipeline.read(copy.bucket, copy.object_key):
            yield pb.ReadCopyResponse(chunk=chunk)


__all__ = ["CALLERS", "FileServicer", "InvalidInput"]
