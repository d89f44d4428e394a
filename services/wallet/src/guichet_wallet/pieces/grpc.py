"""WalletService: a signed-in person's pieces, in the context they act in (their own, a company
space, or a relation's with a wallet:read / wallet:write mandate, audited as an act on behalf)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet.wallet.v1 import wallet_pb2_grpc as pb_grpc
from guichet_kit.db import transaction
from guichet_kit.domain import FieldError, InvalidInput, NotFound
from guichet_kit.i18n import Catalog, current_language
from guichet_kit.mandates import MandateChecker
from guichet_kit.servicers import ANY_CONTEXT, Call, Db, DeclaredServicer, citizen, rpc, rpc_stream
from guichet_wallet.pieces import filing as filing_protocol
from guichet_wallet.pieces import service
from guichet_wallet.pieces.catalogue import UPLOADABLE_TYPES, UnknownPieceType, uploadable_type
from guichet_wallet.pieces.details import luxembourg_today, piece_details
from guichet_wallet.pieces.filing import FileHeader, Filing
from guichet_wallet.pieces.models import Piece
from guichet_wallet.pieces.service import AddedFile, NewPiece, NewVersion, Target
from guichet_wallet.pieces.wire import (
    file_to_proto,
    piece_to_proto,
    piece_type_to_proto,
    version_to_proto,
)

_ = Catalog("guichet_wallet")

READ, WRITE = "wallet:read", "wallet:write"


def parse_id(text: str, missing: Callable[[], NotFound]) -> uuid.UUID:
    """An id that is not even a UUID names nothing: the same answer as an unknown one."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise missing() from None


def unknown_type(error: UnknownPieceType) -> InvalidInput:
    message = _("Choose a type of piece from the list.")
    return InvalidInput(
        "UNKNOWN_PIECE_TYPE", message, [FieldError("type_code", "unknown", message)]
    )


def header_missing() -> InvalidInput:
    return InvalidInput(
        "UPLOAD_HEADER_MISSING",
        _("An upload starts with its header (where the file goes, its name and type)."),
    )


async def chunks_after_header(
    messages: AsyncIterator[pb.UploadFileRequest]
    | AsyncIterator[pb.IngestFileRequest]
    | AsyncIterator[pb.ReceiveDocumentRequest],
) -> AsyncIterator[bytes]:
    """The data of an upload whose header was read: a second header is refused."""
    async for message in messages:
        if message.WhichOneof("part") == "header":
            raise InvalidInput(
                "UPLOAD_HEADER_REPEATED", _("An upload has one header, before its data.")
            )
        yield message.chunk


def _target(header: pb.UploadHeader) -> Target:
    which = header.WhichOneof("target")
    if which == "new_piece":
        new = header.new_piece
        try:
            piece_type = uploadable_type(new.type_code)
        except UnknownPieceType as error:
            raise unknown_type(error) from None
        details = piece_details(
            piece_type,
            new.title,
            new.issued_on,
            new.expires_on,
            today=luxembourg_today(),
            language=current_language(),
            title_required=False,
        )
        return NewPiece(piece_type, details)
    if which == "piece_id":
        return AddedFile(parse_id(header.piece_id, service.PieceNotFound))
    if which == "replaces_file_id":
        return NewVersion(None, parse_id(header.replaces_file_id, service.FileNotFound))
    raise InvalidInput(
        "UPLOAD_TARGET_MISSING",
        _("Say where the file goes: a new piece, a piece of yours, or a file to replace."),
    )


class WalletServicer(DeclaredServicer, pb_grpc.WalletServiceServicer):
    def __init__(
        self, filing: Filing, mandates: MandateChecker, events_written: Callable[[], None]
    ) -> None:
        super().__init__(filing.sessions, events_written)
        self._filing = filing
        self._mandates = mandates

    async def _owner(self, call: Call, right: str, act: str) -> str:
        # In a relation's or a company's context, each act is checked afresh and audited.
        return await self._mandates.owner(call.person, call.acting, right, act=act)

    async def _reply_piece(self, piece: Piece, *, every_version: bool = False) -> pb.Piece:
        async with self._filing.sessions() as session:
            senders = await service.senders_of(session, [piece])
        return piece_to_proto(piece, current_language(), senders, every_version=every_version)

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.NONE)
    async def ListPieceTypes(
        self, request: pb.ListPieceTypesRequest, call: Call
    ) -> pb.ListPieceTypesResponse:
        language = current_language()
        return pb.ListPieceTypesResponse(
            piece_types=[piece_type_to_proto(t, language) for t in UPLOADABLE_TYPES]
        )

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListPieces(self, request: pb.ListPiecesRequest, call: Call) -> pb.ListPiecesResponse:
        owner = await self._owner(call, READ, "listed the pieces of the wallet")
        pieces = await service.pieces_of(call.session, owner)
        senders = await service.senders_of(call.session, pieces)
        language = current_language()
        return pb.ListPiecesResponse(
            pieces=[piece_to_proto(piece, language, senders) for piece in pieces],
            max_pieces=self._filing.limits.max_pieces,
        )

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def GetPiece(self, request: pb.GetPieceRequest, call: Call) -> pb.GetPieceResponse:
        piece_id = parse_id(request.piece_id, service.PieceNotFound)
        owner = await self._owner(call, READ, "read a piece of the wallet")
        piece = await service.piece_of(call.session, owner, piece_id)
        senders = await service.senders_of(call.session, [piece])
        return pb.GetPieceResponse(
            piece=piece_to_proto(piece, current_language(), senders, every_version=True)
        )

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.NONE)
    async def UploadFile(
        self, request: AsyncIterator[pb.UploadFileRequest], call: Call
    ) -> pb.UploadFileResponse:
        messages = aiter(request)
        first = await anext(messages, None)
        if first is None or first.WhichOneof("part") != "header":
            raise header_missing()
        header = first.header
        target = _target(header)
        owner = await self._owner(call, WRITE, "added a file to the wallet")
        # Everything the header allows to refuse is refused before a byte of data is read.
        spec = await self._filing.check(
            owner,
            target,
            FileHeader(header.file_name, header.declared_content_type, header.declared_size),
        )
        filed = await self._filing.file(owner, target, spec, chunks_after_header(messages))
        return pb.UploadFileResponse(
            piece=await self._reply_piece(filed.piece),
            file_id=str(filed.file.id),
            version=version_to_proto(filed.version),
        )

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def UpdatePiece(
        self, request: pb.UpdatePieceRequest, call: Call
    ) -> pb.UpdatePieceResponse:
        """The piece's title and dates as they are to be: an empty date clears it."""
        piece_id = parse_id(request.piece_id, service.PieceNotFound)
        owner = await self._owner(call, WRITE, "changed a piece of the wallet")
        piece = await service.piece_of(call.session, owner, piece_id)
        details = piece_details(
            service.piece_type_of(piece),
            request.title,
            request.issued_on,
            request.expires_on,
            today=luxembourg_today(),
            language=current_language(),
            title_required=True,
        )
        piece = await service.update_piece(call.session, owner, piece_id, details)
        senders = await service.senders_of(call.session, [piece])
        return pb.UpdatePieceResponse(piece=piece_to_proto(piece, current_language(), senders))

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.NONE)
    async def DeleteFile(self, request: pb.DeleteFileRequest, call: Call) -> pb.DeleteFileResponse:
        piece_id = parse_id(request.piece_id, service.PieceNotFound)
        file_id = parse_id(request.file_id, service.FileNotFound)
        owner = await self._owner(call, WRITE, "deleted a file of the wallet")
        piece = await filing_protocol.delete_file(self._filing, owner, piece_id, file_id)
        return pb.DeleteFileResponse(piece=await self._reply_piece(piece))

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.NONE)
    async def DeletePiece(
        self, request: pb.DeletePieceRequest, call: Call
    ) -> pb.DeletePieceResponse:
        piece_id = parse_id(request.piece_id, service.PieceNotFound)
        owner = await self._owner(call, WRITE, "deleted a piece of the wallet")
        await filing_protocol.delete_piece(self._filing, owner, piece_id)
        return pb.DeletePieceResponse()

    @rpc_stream(citizen(contexts=ANY_CONTEXT))
    async def DownloadFile(
        self, request: pb.DownloadFileRequest, call: Call
    ) -> AsyncIterator[pb.DownloadFileResponse]:
        piece_id = parse_id(request.piece_id, service.PieceNotFound)
        file_id = parse_id(request.file_id, service.FileNotFound)
        version_id = (
            parse_id(request.version_id, service.VersionNotFound) if request.version_id else None
        )
        owner = await self._owner(call, READ, "downloaded a file of the wallet")
        # A short session: none is held open while the bytes flow.
        async with self._filing.sessions() as session:
            version = await service.version_of(session, owner, piece_id, file_id, version_id)
        yield pb.DownloadFileResponse(
            header=pb.DownloadHeader(
                file_name=version.display_name,
                content_type=version.content_type,
                size=version.size,
                sha256=version.sha256,
            )
        )
        # An eDocument is opened once its file was read whole: the mark and its event commit
        # together (the read receipt cannot be lost) before the last chunk leaves, so a client
        # that hangs up as soon as it has every byte cannot skip it; a download cut earlier
        # leaves it unread.
        last: bytes | None = None
        async for chunk in self._filing.pipeline.read(version.bucket, version.object_key):
            if last is not None:
                yield pb.DownloadFileResponse(chunk=last)
            last = chunk
        async with transaction(self._filing.sessions) as session:
            opened = await service.mark_opened(
                session, owner, piece_id, opened_by=call.person.national_id
            )
        if opened:
            self.events_written()
        if last is not None:
            yield pb.DownloadFileResponse(chunk=last)


__all__ = ["WalletServicer", "chunks_after_header", "file_to_proto", "header_missing"]
