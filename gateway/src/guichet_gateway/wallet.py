"""/api/v1/wallet: the person's documents ("Mes pièces", F40 to F45), kept by the wallet service.

Uploads are streamed end to end: the multipart body is read as it arrives (uploads.py) and its
file forwarded to the wallet's `UploadFile` client stream, which puts it through the platform's
file pipeline (size, type from the bytes, archives, antivirus) into MinIO; nothing is spooled
here, whatever the file's size. The text fields come first, then the file: the wallet must know
what the file is before its first byte. Downloads are streamed the same way, with the type the
wallet found, a safe `Content-Disposition` and `nosniff`.

Every route acts in the caller's acting context (`X-Acting-Context`); the wallet checks the
mandate (wallet:read / wallet:write) with identity and refuses another person's piece as unknown.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import Scope

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser, LanguageDep, ServiceStubs, acts_in_context
from guichet_gateway.fields import HUMAN_TEXT_PATTERN, UuidPath
from guichet_gateway.openapi import refusals
from guichet_gateway.settings import GatewaySettings
from guichet_gateway.uploads import (
    BODY_OVERHEAD_BYTES,
    FilePart,
    MultipartReader,
    first_of_stream,
    malformed,
    open_upload,
    stream_into,
)
from guichet_gateway.wire import timestamp
from guichet_kit.i18n import Catalog
from guichet_kit.problems import Problem, validation_problem

_ = Catalog("guichet_gateway")

router = APIRouter(prefix="/api/v1/wallet", tags=["wallet"])

PIECE_TYPE_PATTERN = r"^[A-Za-z0-9_.-]*$"
PIECE_TYPE_MAX_LENGTH = 64
PIECE_TITLE_MAX_LENGTH = 200
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# What a download's Content-Disposition carries of a name (the wallet keeps it sanitized).
SHOWN_NAME_MAX_LENGTH = 200
# The routes whose body is a streamed upload, the API's and the pages' forms: the gateway's body
# limit does not apply to them, each bounds its own while streaming it (uploads.py).
STREAMED_UPLOADS = re.compile(
    r"^/api/v1/wallet/pieces(?:/[^/]{1,64}/files(?:/[^/]{1,64})?)?$"
    r"|^/my/wallet/(?:new|[^/]{1,64}/files(?:/[^/]{1,64})?)$"
)


def streams_its_body(scope: Scope) -> bool:
    """Whether this request is a file upload that bounds its own body while streaming it."""
    return scope.get("method") in ("POST", "PUT") and bool(
        STREAMED_UPLOADS.match(scope.get("path", ""))
    )


# --- what the API answers ---------------------------------------------------------------------


class PieceTypeOut(BaseModel):
    code: str = Field(examples=["identity_card"])
    name: str = Field(description="In the caller's language")
    allowed_content_types: list[str] = Field(examples=[["application/pdf", "image/jpeg"]])
    expires: bool = Field(description="Whether pieces of this type carry an expiry date")


class FileVersionOut(BaseModel):
    version_id: str
    number: int = Field(description="1 for the first content, then 2, 3…")
    file_name: str = Field(description="Sanitized for display")
    content_type: str = Field(description="Found from the bytes, not from the declaration")
    size: int
    sha256: str = Field(description="Hex SHA-256 of the content")
    created_at: datetime | None
    download_url: str


class PieceFileOut(BaseModel):
    file_id: str
    position: int
    current: FileVersionOut
    versions: list[FileVersionOut] = Field(
        description="Every version, newest first (in the answers about one piece)"
    )


class SenderOut(BaseModel):
    """Who sent a document received from an administration (eDelivery, F44)."""

    administration: str
    administration_name: str
    signature_subject: str = Field(description="The signature or seal found on the document")
    signed_at: datetime | None
    delivery_id: str
    received_at: datetime | None = Field(None, description="When it arrived in the wallet")
    opened_at: datetime | None = Field(
        None,
        description="When its file was first downloaded whole (the sender then gets its read "
        "receipt); null while it is unread",
    )


class PieceOut(BaseModel):
    piece_id: str
    type: PieceTypeOut
    title: str
    issued_on: date | None
    expires_on: date | None
    files: list[PieceFileOut]
    created_at: datetime | None
    updated_at: datetime | None
    sender: SenderOut | None = Field(
        None,
        description="For a document received from an administration: who sent it. Its file "
        "cannot be replaced nor another added; it does not count toward the limit of pieces.",
    )


class PiecesOut(BaseModel):
    items: list[PieceOut]
    total: int
    max_pieces: int = Field(description="The most pieces this space may hold")


class UploadOut(BaseModel):
    piece: PieceOut
    file_id: str = Field(description="The file the upload stored")
    version: FileVersionOut = Field(description="The version it stored")


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def version_url(piece_id: str, file_id: str, version_id: str = "") -> str:
    base = f"/api/v1/wallet/pieces/{piece_id}/files/{file_id}"
    return f"{base}/versions/{version_id}" if version_id else base


def version_out(piece_id: str, file_id: str, version: pb.FileVersion) -> FileVersionOut:
    return FileVersionOut(
        version_id=version.version_id,
        number=version.number,
        file_name=version.file_name,
        content_type=version.content_type,
        size=version.size,
        sha256=version.sha256,
        created_at=timestamp(version.created_at),
        download_url=version_url(piece_id, file_id, version.version_id),
    )


def piece_type_out(piece_type: pb.PieceType) -> PieceTypeOut:
    return PieceTypeOut(
        code=piece_type.code,
        name=piece_type.name,
        allowed_content_types=list(piece_type.allowed_content_types),
        expires=piece_type.expires,
    )


def piece_out(piece: pb.Piece) -> PieceOut:
    return PieceOut(
        piece_id=piece.piece_id,
        type=piece_type_out(piece.type),
        title=piece.title,
        issued_on=_day(piece.issued_on),
        expires_on=_day(piece.expires_on),
        files=[
            PieceFileOut(
                file_id=f.file_id,
                position=f.position,
                current=version_out(piece.piece_id, f.file_id, f.current),
                versions=[version_out(piece.piece_id, f.file_id, v) for v in f.versions],
            )
            for f in piece.files
        ],
        created_at=timestamp(piece.created_at),
        updated_at=timestamp(piece.updated_at),
        sender=SenderOut(
            administration=piece.sender.administration,
            administration_name=piece.sender.administration_name,
            signature_subject=piece.sender.signature_subject,
            signed_at=timestamp(piece.sender.signed_at),
            delivery_id=piece.sender.delivery_id,
            received_at=timestamp(piece.sender.received_at),
            opened_at=timestamp(piece.sender.opened_at),
        )
        if piece.HasField("sender")
        else None,
    )


# --- what the API takes -----------------------------------------------------------------------

PieceTypeCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=PIECE_TYPE_MAX_LENGTH,
        pattern=PIECE_TYPE_PATTERN,
        description="A code of GET /api/v1/wallet/piece-types",
        examples=["identity_card"],
    ),
]
PieceTitle = Annotated[
    str,
    Field(
        max_length=PIECE_TITLE_MAX_LENGTH,
        pattern=HUMAN_TEXT_PATTERN,
        description=f"At most {PIECE_TITLE_MAX_LENGTH} characters, no control characters",
        examples=["Carte d'identité"],
    ),
]
Day = Annotated[
    str,
    Field(
        max_length=10,
        pattern=DATE_PATTERN,
        json_schema_extra={"format": "date"},
        description="YYYY-MM-DD",
        examples=["2031-05-31"],
    ),
]
DeclaredSize = Annotated[
    int,
    Field(
        ge=0,
        le=2**53,
        description="The file's size in bytes, when the client knows it: a file over the "
        "wallet's limit is then refused before it is sent",
    ),
]


class _Fields(BaseModel):
    """Text fields of an upload, checked like a JSON body; they come before the file."""

    model_config = ConfigDict(extra="forbid")

    file_name: str | None = Field(
        None,
        max_length=1000,
        description="The file's name, when the part's own `filename` cannot carry it; "
        "the wallet checks and sanitizes it",
    )
    size: DeclaredSize | None = None


class NewPieceFields(_Fields):
    type: PieceTypeCode
    title: PieceTitle = Field("", description="Without one, the piece is named after its type")
    issued_on: Day | None = None
    expires_on: Day | None = None


class FileFields(_Fields):
    pass


class UpdatePieceIn(BaseModel):
    """What to change; what is left out stays. A date set to null is removed."""

    model_config = ConfigDict(extra="forbid")

    title: PieceTitle | None = None
    issued_on: Day | None = None
    expires_on: Day | None = None


def _multipart_body(fields: type[BaseModel], what: str) -> dict[str, Any]:
    schema = fields.model_json_schema()
    schema["properties"]["file"] = {
        "type": "string",
        "format": "binary",
        "description": "The file, as the LAST part: its part's `filename` names it and its "
        "`Content-Type` declares its type (the bytes must match it).",
    }
    schema["required"] = [*schema.get("required", []), "file"]
    schema.pop("title", None)
    return {
        "required": True,
        "description": f"{what} `multipart/form-data`, the text fields first and the file "
        "last (the wallet must know what a file is before its first byte: a field after the "
        "file is refused). The file is streamed to the wallet as it arrives; a body announced "
        "beyond the wallet's limit per file is refused with 413 before it is read.",
        "content": {
            "multipart/form-data": {
                "schema": schema,
                "encoding": {
                    "file": {"contentType": "application/pdf, image/jpeg, image/png, */*"}
                },
            }
        },
    }


UPLOAD_REFUSALS = refusals(
    {
        404: "No such piece or file in the acting context (PIECE_NOT_FOUND, FILE_NOT_FOUND).",
        409: "The piece holds its most files already (TOO_MANY_FILES), or the space its most "
        "pieces (TOO_MANY_PIECES).",
        413: "The file is over the wallet's limit (FILE_TOO_LARGE), said as soon as it is "
        "known: the rest of the body is not read.",
        415: "The body is not multipart/form-data.",
        422: "A field is wrong (VALIDATION_FAILED, INVALID_PIECE, UNKNOWN_PIECE_TYPE), or the "
        "file is refused: FILE_EMPTY, FILE_TYPE_NOT_ALLOWED, FILE_TYPE_MISMATCH (the bytes are "
        "not the declared type), FILE_POLYGLOT, ARCHIVE_BOMB, ARCHIVE_PATH_TRAVERSAL, "
        "FILE_INFECTED, INVALID_FILE_NAME. Nothing is stored.",
        503: "The antivirus cannot be reached (SCANNER_UNAVAILABLE): nothing is stored unscanned.",
    }
)
NOT_FOUND = refusals({404: "No such piece, file or version in the acting context."})
DOWNLOAD = {
    200: {
        "description": "The content, streamed, with its stored type and `Content-Length`; "
        "`Content-Disposition: attachment` with the sanitized name (RFC 6266).",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "Content-Disposition": {"required": True, "schema": {"type": "string"}},
            "Repr-Digest": {
                "description": "sha-256 of the content (RFC 9530)",
                "schema": {"type": "string"},
            },
        },
    },
    **NOT_FOUND,
}


# --- uploads ----------------------------------------------------------------------------------


def upload_limit(request: Request, files: int = 1) -> int:
    """The most bytes a body carrying `files` files may have."""
    settings: GatewaySettings = request.app.state.settings
    return files * settings.wallet_max_file_bytes + BODY_OVERHEAD_BYTES


def checked_fields(model: type[BaseModel], fields: Mapping[str, str]) -> Any:
    try:
        return model.model_validate(dict(fields))
    except ValidationError as error:
        raise validation_problem(list(error.errors())) from error


async def fields_then_file(reader: MultipartReader) -> tuple[dict[str, str], FilePart]:
    """The text fields before the file, and the file (refused when missing)."""
    fields: dict[str, str] = {}
    while (part := await reader.next_part()) is not None:
        if isinstance(part, FilePart):
            if part.name != "file":
                raise malformed(_("The file's part is named file."), part.name, "unknown")
            return fields, part
        if part.name in fields:
            raise malformed(_("Give this field once."), part.name, "repeated")
        fields[part.name] = part.value
    raise malformed(_("Add the file, as the last part of the form."), "file", "missing")


@dataclass(frozen=True)
class FileToUpload:
    """A file part with what the wallet's header says of it."""

    part: FilePart
    file_name: str
    declared_size: int

    @classmethod
    def of(cls, part: FilePart, fields: _Fields) -> FileToUpload:
        return cls(part, fields.file_name or part.file_name, fields.size or 0)


async def upload(
    stubs: ServiceStubs,
    target: Mapping[str, Any],
    file: FileToUpload,
    *,
    reader: MultipartReader | None = None,
) -> pb.UploadFileResponse:
    """Stream one file to the wallet: `target` is the header's target (new_piece, piece_id or
    replaces_file_id). With `reader`, nothing may follow the file: anything after it cancels
    the upload."""
    header = pb.UploadHeader(
        file_name=file.file_name,
        declared_content_type=file.part.content_type,
        declared_size=file.declared_size,
        **target,
    )

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in file.part.chunks():
            yield chunk
        if reader is not None and await reader.next_part() is not None:
            # Before the stream ends: the wallet keeps nothing of a refused request.
            raise malformed(_("Send the text fields before the file."), "file", "order")

    reply: pb.UploadFileResponse = await stream_into(
        stubs.wallet_uploads.UploadFile.future,
        pb.UploadFileRequest(header=header),
        chunks(),
        lambda chunk: pb.UploadFileRequest(chunk=chunk),
    )
    return reply


def upload_out(reply: pb.UploadFileResponse) -> UploadOut:
    piece = piece_out(reply.piece)
    return UploadOut(
        piece=piece,
        file_id=reply.file_id,
        version=version_out(reply.piece.piece_id, reply.file_id, reply.version),
    )


def _reader(request: Request) -> MultipartReader:
    return open_upload(request, upload_limit(request))


# --- downloads --------------------------------------------------------------------------------

# Never in a shown name: controls, bidirectional overrides, path separators, quotes.
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069/\\\"]")
_NOT_PLAIN_ASCII = re.compile(r"[^A-Za-z0-9._()+ -]")


def content_disposition(name: str) -> str:
    """`attachment` with the name in UTF-8 (RFC 6266 / RFC 8187 `filename*`) and a plain ASCII
    fallback; nothing of the name can break out of the header or point to a folder."""
    shown = _UNSHOWABLE.sub("_", unicodedata.normalize("NFC", name)).strip(" .")
    shown = shown[-SHOWN_NAME_MAX_LENGTH:] or "document"
    fallback = unicodedata.normalize("NFKD", shown).encode("ascii", "ignore").decode()
    fallback = _NOT_PLAIN_ASCII.sub("_", fallback).strip(" .") or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(shown, safe='')}"


def _digest_header(sha256_hex: str) -> dict[str, str]:
    try:
        raw = bytes.fromhex(sha256_hex)
    except ValueError:
        return {}
    return {"Repr-Digest": f"sha-256=:{base64.b64encode(raw).decode()}:"} if raw else {}


async def download(stubs: ServiceStubs, piece_id: str, file_id: str, version_id: str) -> Response:
    """A stored version, streamed as the wallet reads it from MinIO. The wallet's refusal (not
    found, no mandate) comes with its first message, before any byte is sent."""
    call = stubs.wallet.DownloadFile(
        pb.DownloadFileRequest(piece_id=piece_id, file_id=file_id, version_id=version_id)
    )
    first, rest = await first_of_stream(call)
    if first.WhichOneof("part") != "header":
        call.cancel()
        raise Problem(502, "UPSTREAM_FAILED")
    header: pb.DownloadHeader = first.header

    async def content() -> AsyncIterator[bytes]:
        try:
            async for message in rest:
                yield message.chunk
        finally:
            # The client went away, or the stream ended: nothing is left running.
            call.cancel()

    return StreamingResponse(
        content(),
        media_type=header.content_type or "application/octet-stream",
        headers={
            "Content-Length": str(header.size),
            "Content-Disposition": content_disposition(header.file_name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            **_digest_header(header.sha256),
        },
    )


# --- routes -----------------------------------------------------------------------------------

PieceId = Annotated[UuidPath, Path(description="A piece of GET /api/v1/wallet/pieces")]
FileId = Annotated[UuidPath, Path(description="A file of the piece")]
VersionId = Annotated[UuidPath, Path(description="A version of the file")]


@router.get("/piece-types", response_model=list[PieceTypeOut], dependencies=[acts_in_context])
async def list_piece_types(
    calls: Calls, user: CurrentUser, language: LanguageDep
) -> list[PieceTypeOut]:
    """The catalogue of piece types (identity card, passport, payslip…), named in the caller's
    language, with the file types each accepts."""
    reply = await calls.wallet.ListPieceTypes(pb.ListPieceTypesRequest())
    return [piece_type_out(t) for t in reply.piece_types]


@router.get("/pieces", response_model=PiecesOut, dependencies=[acts_in_context])
async def list_pieces(calls: Calls, user: CurrentUser, language: LanguageDep) -> PiecesOut:
    """The pieces of the acting context with their current files, and how many it may hold."""
    reply = await calls.wallet.ListPieces(pb.ListPiecesRequest())
    items = [piece_out(piece) for piece in reply.pieces]
    return PiecesOut(items=items, total=len(items), max_pieces=reply.max_pieces)


@router.post(
    "/pieces",
    status_code=201,
    response_model=UploadOut,
    dependencies=[acts_in_context],
    openapi_extra={
        "requestBody": _multipart_body(NewPieceFields, "A new piece and its first file:")
    },
    responses={
        201: {
            "description": "Stored; `Location` is the new piece",
            "headers": {
                "Location": {"required": True, "schema": {"type": "string"}},
            },
        },
        **UPLOAD_REFUSALS,
    },
)
async def add_piece(
    request: Request, response: Response, calls: Calls, user: CurrentUser
) -> UploadOut:
    """Add a piece with its first file: `type`, and optionally `title`, `issued_on`,
    `expires_on`, `size`, `file_name`; then `file`. More files: POST …/pieces/{id}/files."""
    reader = _reader(request)
    fields, part = await fields_then_file(reader)
    checked: NewPieceFields = checked_fields(NewPieceFields, fields)
    new_piece = pb.NewPiece(
        type_code=checked.type,
        title=checked.title,
        issued_on=checked.issued_on or "",
        expires_on=checked.expires_on or "",
    )
    reply = await upload(
        calls, {"new_piece": new_piece}, FileToUpload.of(part, checked), reader=reader
    )
    response.headers["Location"] = f"/api/v1/wallet/pieces/{reply.piece.piece_id}"
    return upload_out(reply)


@router.get(
    "/pieces/{piece_id}",
    response_model=PieceOut,
    dependencies=[acts_in_context],
    responses=NOT_FOUND,
)
async def get_piece(piece_id: PieceId, calls: Calls, user: CurrentUser) -> PieceOut:
    """One piece, every version of every file."""
    reply = await calls.wallet.GetPiece(pb.GetPieceRequest(piece_id=piece_id))
    return piece_out(reply.piece)


@router.patch(
    "/pieces/{piece_id}",
    response_model=PieceOut,
    dependencies=[acts_in_context],
    responses=refusals(
        {
            404: "No such piece in the acting context.",
            422: "A field is wrong (VALIDATION_FAILED, INVALID_PIECE).",
        }
    ),
)
async def update_piece(
    piece_id: PieceId, body: UpdatePieceIn, calls: Calls, user: CurrentUser
) -> PieceOut:
    """Rename a piece or change its dates; what is left out stays, a date set to null goes."""
    current = (await calls.wallet.GetPiece(pb.GetPieceRequest(piece_id=piece_id))).piece
    given = body.model_fields_set
    reply = await calls.wallet.UpdatePiece(
        pb.UpdatePieceRequest(
            piece_id=piece_id,
            title=body.title if body.title is not None else current.title,
            issued_on=(body.issued_on or "") if "issued_on" in given else current.issued_on,
            expires_on=(body.expires_on or "") if "expires_on" in given else current.expires_on,
        )
    )
    return piece_out(reply.piece)


@router.delete(
    "/pieces/{piece_id}", status_code=204, dependencies=[acts_in_context], responses=NOT_FOUND
)
async def delete_piece(piece_id: PieceId, calls: Calls, user: CurrentUser) -> Response:
    """Delete a piece with every file and every version."""
    await calls.wallet.DeletePiece(pb.DeletePieceRequest(piece_id=piece_id))
    return Response(status_code=204)


@router.post(
    "/pieces/{piece_id}/files",
    status_code=201,
    response_model=UploadOut,
    dependencies=[acts_in_context],
    openapi_extra={"requestBody": _multipart_body(FileFields, "A file for the piece:")},
    responses=UPLOAD_REFUSALS,
)
async def add_file(
    piece_id: PieceId, request: Request, calls: Calls, user: CurrentUser
) -> UploadOut:
    """Add a file to a piece (at most 4 files a piece)."""
    reader = _reader(request)
    fields, part = await fields_then_file(reader)
    checked: FileFields = checked_fields(FileFields, fields)
    reply = await upload(
        calls, {"piece_id": piece_id}, FileToUpload.of(part, checked), reader=reader
    )
    return upload_out(reply)


async def file_of(stubs: ServiceStubs, piece_id: str, file_id: str) -> pb.PieceFile:
    """The file of the piece (404 when the piece has no such file)."""
    piece = (await stubs.wallet.GetPiece(pb.GetPieceRequest(piece_id=piece_id))).piece
    for piece_file in piece.files:
        if piece_file.file_id == file_id:
            return piece_file
    raise Problem(404, "FILE_NOT_FOUND")


@router.put(
    "/pieces/{piece_id}/files/{file_id}",
    response_model=UploadOut,
    dependencies=[acts_in_context],
    openapi_extra={"requestBody": _multipart_body(FileFields, "The file's new content:")},
    responses=UPLOAD_REFUSALS,
)
async def replace_file(
    piece_id: PieceId, file_id: FileId, request: Request, calls: Calls, user: CurrentUser
) -> UploadOut:
    """Store a new version of a file; the previous versions stay, listed and downloadable,
    until the piece is deleted."""
    reader = _reader(request)
    await file_of(calls, piece_id, file_id)
    fields, part = await fields_then_file(reader)
    checked: FileFields = checked_fields(FileFields, fields)
    reply = await upload(
        calls, {"replaces_file_id": file_id}, FileToUpload.of(part, checked), reader=reader
    )
    return upload_out(reply)


@router.delete(
    "/pieces/{piece_id}/files/{file_id}",
    response_model=PieceOut,
    dependencies=[acts_in_context],
    responses={
        **NOT_FOUND,
        **refusals({409: "The piece's only file (LAST_FILE_OF_PIECE): delete the piece instead."}),
    },
)
async def delete_file(
    piece_id: PieceId, file_id: FileId, calls: Calls, user: CurrentUser
) -> PieceOut:
    """Delete a file of a piece with all its versions; answers the piece as it is now."""
    reply = await calls.wallet.DeleteFile(pb.DeleteFileRequest(piece_id=piece_id, file_id=file_id))
    return piece_out(reply.piece)


@router.get(
    "/pieces/{piece_id}/files/{file_id}",
    response_class=Response,
    dependencies=[acts_in_context],
    responses=DOWNLOAD,
)
async def download_file(
    piece_id: PieceId, file_id: FileId, calls: Calls, user: CurrentUser
) -> Response:
    """Download the current version of a file."""
    return await download(calls, piece_id, file_id, "")


@router.get(
    "/pieces/{piece_id}/files/{file_id}/versions/{version_id}",
    response_class=Response,
    dependencies=[acts_in_context],
    responses=DOWNLOAD,
)
async def download_version(
    piece_id: PieceId, file_id: FileId, version_id: VersionId, calls: Calls, user: CurrentUser
) -> Response:
    """Download a version of a file (the current one or an earlier one)."""
    return await download(calls, piece_id, file_id, version_id)
