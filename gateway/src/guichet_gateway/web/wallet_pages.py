"""The wallet's pages ("My documents", F40 to F45): the pieces of the space the session acts for, a
piece with its files and their versions, adding a piece with up to 4 files, renaming it,
replacing, adding and deleting a file, deleting the piece; downloads.

The same wallet calls as the API (wallet.py). Every form works without JavaScript: the file
forms are plain multipart posts, streamed to the wallet as they arrive exactly as the API's
uploads are (no file is spooled here); with JavaScript on, static/js/wallet-upload.js sends the
same form with a progress bar. The session's CSRF token is the first field of a file form and is
checked before any byte of a file is read (`csrf_protected` would parse the whole body first);
the other forms use `csrf_protected`. A refusal of what was sent is shown next to its input with
the wallet's own words; a new piece whose second file is refused is removed again, so a refused
form stores nothing. POST-redirect-GET.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

import grpc
import structlog
from babel.dates import format_date
from babel.units import format_unit
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from google.protobuf.timestamp_pb2 import Timestamp

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet_gateway.deps import Calls, ServiceStubs
from guichet_gateway.settings import GatewaySettings
from guichet_gateway.uploads import (
    FilePart,
    MultipartReader,
    TextField,
    open_upload,
    refuse_declared_length,
)
from guichet_gateway.wallet import (
    PIECE_TITLE_MAX_LENGTH,
    PIECE_TYPE_MAX_LENGTH,
    FileToUpload,
    upload,
    upload_limit,
)
from guichet_gateway.wallet import download as stream_download
from guichet_gateway.web.forms import ABOUT_THE_INPUT, FormErrors
from guichet_gateway.web.pages import page, page_language
from guichet_gateway.web.relations_space import _acting_label
from guichet_gateway.web.session import CSRF_FIELD, SignedIn, WebSession, csrf_protected
from guichet_gateway.wire import timestamp
from guichet_kit.errors import read_rpc_failure
from guichet_kit.i18n import LOCALES, Catalog, Language, format_moment, render
from guichet_kit.problems import Problem

log = structlog.get_logger(__name__)
_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

SECTION = "wallet"
# The most files one piece holds: the form of a new piece takes as many.
MAX_FILES = 4
NEW_FIELDS = ("type", "title", "issued_on", "expires_on", "files")
RENAME_FIELDS = ("title", "issued_on", "expires_on")
KEPT = {
    "type": PIECE_TYPE_MAX_LENGTH,
    "title": PIECE_TITLE_MAX_LENGTH,
    "issued_on": 10,
    "expires_on": 10,
}
# The wallet's refusals about what was sent; NOT_FOUND (another person's piece) and
# UNAUTHENTICATED (step-up) are the error pages'.
ABOUT_THE_FORM = ABOUT_THE_INPUT | {
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.OUT_OF_RANGE,
}
# Refusals about the piece's fields rather than a file.
PIECE_REASONS = {"INVALID_PIECE", "UNKNOWN_PIECE_TYPE", "TOO_MANY_PIECES"}
_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# A browser's file name repeated in a message: never a control or direction character.
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
SHOWN_NAME_LENGTH = 80
# After a refusal the page still reads the rest of a form's body (a browser shows an answer
# more reliably once it has sent everything), up to this much; beyond, the connection closes.
DRAIN_LIMIT_FILES = MAX_FILES


def _own_id(text: str) -> str:
    # Any other text is as unknown as another person's piece.
    if not _ID.fullmatch(text):
        raise Problem(404, "PIECE_NOT_FOUND")
    return text


def _redirect(path: str, language: Language, **query: str) -> RedirectResponse:
    return RedirectResponse(
        f"{path}?{urlencode({'lang': language.value, **query})}", status_code=303
    )


def _day(text: str, language: Language) -> dict[str, str] | None:
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    if day is None:
        return None
    return {"text": format_date(day, "long", locale=LOCALES[language]), "iso": day.isoformat()}


def _size(size: int, language: Language) -> str:
    locale = LOCALES[language]
    if size >= 1_000_000:
        return format_unit(round(size / 1_000_000, 1), "digital-megabyte", "short", locale=locale)
    if size >= 1_000:
        return format_unit(round(size / 1_000, 1), "digital-kilobyte", "short", locale=locale)
    return format_unit(size, "digital-byte", "short", locale=locale)


def shown_name(name: str) -> str:
    name = _UNSHOWABLE.sub("", name)
    return name if len(name) <= SHOWN_NAME_LENGTH else name[: SHOWN_NAME_LENGTH - 1] + "…"


def _version(
    piece_id: str, file_id: str, version: pb.FileVersion, language: Language
) -> dict[str, Any]:
    base = f"/my/wallet/{piece_id}/files/{file_id}"
    return {
        "id": version.version_id,
        "number": version.number,
        "file_name": version.file_name,
        "content_type": version.content_type,
        "size": _size(version.size, language),
        "href": f"{base}/versions/{version.version_id}/download",
    }


def _piece(piece: pb.Piece, language: Language) -> dict[str, Any]:
    files = []
    for piece_file in piece.files:
        files.append(
            {
                "id": piece_file.file_id,
                "position": piece_file.position,
                "current": _version(
                    piece.piece_id, piece_file.file_id, piece_file.current, language
                ),
                "versions": [
                    _version(piece.piece_id, piece_file.file_id, v, language)
                    for v in piece_file.versions
                ],
                "href": f"/my/wallet/{piece.piece_id}/files/{piece_file.file_id}/download",
            }
        )
    return {
        "id": piece.piece_id,
        "type": piece.type.name or piece.type.code,
        "type_code": piece.type.code,
        "expires_type": piece.type.expires,
        "allowed": list(piece.type.allowed_content_types),
        "title": piece.title,
        "issued_on": _day(piece.issued_on, language),
        "expires_on": _day(piece.expires_on, language),
        "issued_on_iso": piece.issued_on,
        "expires_on_iso": piece.expires_on,
        "files": files,
        "full": len(files) >= MAX_FILES,
        # A document received from an administration keeps its file as it came.
        "sender": (piece.sender.administration_name or piece.sender.administration)
        if piece.HasField("sender")
        else None,
        "edocument": _edocument(piece, language) if piece.HasField("sender") else None,
    }


def _moment(stamp: Timestamp, language: Language) -> dict[str, str] | None:
    when = timestamp(stamp)
    if when is None:
        return None
    return {"text": format_moment(when, language), "iso": when.isoformat()}


def _edocument(piece: pb.Piece, language: Language) -> dict[str, Any]:
    """An eDocument's arrival and whether it was opened: opening its file (a download served
    whole) is what gives the sender its read receipt, through the wallet's event."""
    sender = piece.sender
    first = piece.files[0] if piece.files else None
    return {
        "signature_subject": sender.signature_subject,
        "received": _moment(sender.received_at, language),
        "opened": _moment(sender.opened_at, language),
        "href": (f"/my/wallet/{piece.piece_id}/files/{first.file_id}/download" if first else None),
    }


async def _space_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    template: str,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    language = page_language(request)
    return page(
        request,
        template,
        status,
        section=SECTION,
        acting_label=await _acting_label(calls, session, language),
        **values,
    )


def _counted(listed: pb.ListPiecesResponse) -> int:
    """The pieces that count toward the limit (a received document does not)."""
    return sum(1 for piece in listed.pieces if not piece.HasField("sender"))


def _accept(types: list[pb.PieceType]) -> str:
    """The file input's `accept`: every type some piece type allows."""
    allowed = sorted({t for piece_type in types for t in piece_type.allowed_content_types})
    return ",".join(allowed)


# --- the list ---------------------------------------------------------------------------------

DONE = {
    "added": _("The document was added."),
    "deleted": _("The document was deleted."),
}


@router.get("/my/wallet", response_class=HTMLResponse)
async def wallet_page(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.wallet.ListPieces(pb.ListPiecesRequest())
    done = DONE.get(request.query_params.get("done", ""))
    return await _space_page(
        request,
        calls,
        session,
        "my/wallet.html",
        pieces=[_piece(piece, language) for piece in reply.pieces if not piece.HasField("sender")],
        # Received from administrations (F44), the newest first, the unread ones marked.
        edocuments=sorted(
            (_piece(piece, language) for piece in reply.pieces if piece.HasField("sender")),
            key=lambda shown: (
                shown["edocument"]["received"]["iso"] if shown["edocument"]["received"] else ""
            ),
            reverse=True,
        ),
        count=_counted(reply),
        max_pieces=reply.max_pieces,
        full=_counted(reply) >= reply.max_pieces > 0,
        done=done.render(language) if done else "",
    )


# --- a new piece ------------------------------------------------------------------------------


@dataclass
class Typed:
    """What the person sent in the text fields, cut to their bounds, shown again."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def keep(self, part: TextField) -> None:
        if part.name in KEPT:
            self.values[part.name] = part.value[: KEPT[part.name]]


async def _new_piece_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    typed: Typed,
    errors: FormErrors,
    status: int = 0,
) -> HTMLResponse:
    types = (await calls.wallet.ListPieceTypes(pb.ListPieceTypesRequest())).piece_types
    listed = await calls.wallet.ListPieces(pb.ListPiecesRequest())
    return await _space_page(
        request,
        calls,
        session,
        "my/wallet_new.html",
        status or (422 if errors else 200),
        types=list(types),
        accept=_accept(list(types)),
        typed=typed,
        errors=errors.messages,
        summary=errors.summary(),
        count=_counted(listed),
        max_pieces=listed.max_pieces,
        full=_counted(listed) >= listed.max_pieces > 0,
        max_files=MAX_FILES,
        kept=KEPT,
    )


@router.get("/my/wallet/new", response_class=HTMLResponse)
async def new_piece_form(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    return await _new_piece_page(request, calls, session, Typed(), FormErrors(NEW_FIELDS))


def _announced_too_large(request: Request, files: int, errors: FormErrors, input_name: str) -> int:
    """413 (with the file input's error) when the form's announced length is beyond what its
    files may weigh; the body is then not read. 0 otherwise."""
    try:
        refuse_declared_length(request.headers.get("content-length"), upload_limit(request, files))
    except Problem as refused:
        if refused.status != 413:
            raise
        settings: GatewaySettings = request.app.state.settings
        maximum = f"{settings.wallet_max_file_bytes / 1e6:g}"
        message = _("Too large: each file may weigh at most {maximum} MB.", maximum=maximum)
        errors.add(input_name, message.render(page_language(request)))
        return 413
    return 0


async def _form_reader(request: Request, session: WebSession, files: int) -> MultipartReader:
    """The form's body, streamed; its first field must be the session's CSRF token."""
    reader = open_upload(request, upload_limit(request, files))
    first = await reader.next_part()
    if (
        not isinstance(first, TextField)
        or first.name != CSRF_FIELD
        or not hmac.compare_digest(first.value.encode(), session.csrf_token.encode())
    ):
        raise Problem(403, "CSRF_TOKEN_INVALID")
    return reader


def _file_refused(
    failed: grpc.aio.AioRpcError,
    errors: FormErrors,
    language: Language,
    input_name: str,
    file_name: str,
) -> bool:
    """Whether the wallet refused what was sent; its words go next to the input they are
    about (the piece's fields, or the file input, naming the file)."""
    failure = read_rpc_failure(failed)
    about_the_type = failure.reason == "UNKNOWN_PIECE_TYPE"
    if failure.code not in ABOUT_THE_FORM and not about_the_type:
        return False
    if failure.reason in PIECE_REASONS:
        errors.add_field_errors(failure.field_errors, language, fallback="type")
        if not failure.field_errors:
            errors.add("type" if about_the_type else errors.order[0], failure.message)
        return True
    messages = [render(e.message, language) for e in failure.field_errors] or [failure.message]
    errors.add(
        input_name,
        _("{file}: {message}", file=shown_name(file_name), message=messages[0]).render(language),
    )
    return True


def _check_new_piece(typed: Typed, errors: FormErrors, language: Language) -> None:
    # Said here, before any file is read: the form's own required inputs.
    if not typed.get("type"):
        errors.add("type", _("Choose the type of document.").render(language))


async def _after_refusal(reader: MultipartReader, request: Request, files: int) -> None:
    await reader.drain(upload_limit(request, files))


@router.post("/my/wallet/new", response_class=HTMLResponse)
async def add_piece(request: Request, calls: Calls, session: SignedIn) -> Response:
    language = page_language(request)
    typed = Typed()
    errors = FormErrors(NEW_FIELDS)
    if too_large := _announced_too_large(request, MAX_FILES, errors, "files"):
        return await _new_piece_page(request, calls, session, typed, errors, too_large)
    reader = await _form_reader(request, session, MAX_FILES)
    piece_id = ""
    try:
        while (part := await reader.next_part()) is not None:
            if isinstance(part, TextField):
                typed.keep(part)
                continue
            if part.name != "files" or not part.file_name:
                continue  # an empty file input: nothing chosen there
            if not piece_id:
                _check_new_piece(typed, errors, language)
                if errors:
                    break
            try:
                piece_id = await _upload_one(calls, typed, part, piece_id)
            except grpc.aio.AioRpcError as failed:
                if not _file_refused(failed, errors, language, "files", part.file_name):
                    raise
                break
        else:
            if not piece_id:
                _check_new_piece(typed, errors, language)
                errors.add("files", _("Choose at least one file.").render(language))
    except BaseException:
        await _undo(calls, piece_id)
        raise
    if errors:
        # A refused form stores nothing: the piece its first files made goes again.
        await _undo(calls, piece_id)
        await _after_refusal(reader, request, MAX_FILES)
        return await _new_piece_page(request, calls, session, typed, errors)
    return _redirect(f"/my/wallet/{piece_id}", language, done="added")


async def _upload_one(calls: ServiceStubs, typed: Typed, part: FilePart, piece_id: str) -> str:
    if piece_id:
        target: dict[str, Any] = {"piece_id": piece_id}
    else:
        target = {
            "new_piece": pb.NewPiece(
                type_code=typed.get("type"),
                title=typed.get("title").strip(),
                issued_on=typed.get("issued_on").strip(),
                expires_on=typed.get("expires_on").strip(),
            )
        }
    reply = await upload(calls, target, FileToUpload(part, part.file_name, 0))
    return reply.piece.piece_id


async def _undo(calls: ServiceStubs, piece_id: str) -> None:
    """Remove the piece a refused or broken form began (its first files were stored)."""
    if not piece_id:
        return
    try:
        await calls.wallet.DeletePiece(pb.DeletePieceRequest(piece_id=piece_id))
    except grpc.aio.AioRpcError as error:
        # The original failure is the one to answer; the wallet's sweep has nothing to do
        # here (the piece is a complete one), so say it loudly.
        log.error("web.wallet.undo_failed", piece_id=piece_id, error=repr(error))


# --- one piece --------------------------------------------------------------------------------

PIECE_DONE = {
    "added": _("The document was added."),
    "renamed": _("The changes were saved."),
    "replaced": _("The new version was stored; the previous one is kept below."),
    "file_added": _("The file was added."),
    "file_deleted": _("The file was deleted."),
}


async def _piece_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    piece_id: str,
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    status: int = 0,
) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.wallet.GetPiece(pb.GetPieceRequest(piece_id=_own_id(piece_id)))
    piece = _piece(reply.piece, language)
    done = PIECE_DONE.get(request.query_params.get("done", ""))
    shown = errors or FormErrors(RENAME_FIELDS)
    return await _space_page(
        request,
        calls,
        session,
        "my/wallet_piece.html",
        status or (422 if shown else 200),
        piece=piece,
        accept=",".join(piece["allowed"]),
        typed=typed
        or {
            "title": reply.piece.title,
            "issued_on": reply.piece.issued_on,
            "expires_on": reply.piece.expires_on,
        },
        errors=shown.messages,
        summary=shown.summary(),
        done=done.render(language) if done else "",
        kept=KEPT,
        max_files=MAX_FILES,
    )


@router.get("/my/wallet/{piece_id}", response_class=HTMLResponse)
async def piece_page(
    request: Request, piece_id: str, calls: Calls, session: SignedIn
) -> HTMLResponse:
    return await _piece_page(request, calls, session, piece_id)


@router.post("/my/wallet/{piece_id}", response_class=HTMLResponse, dependencies=[csrf_protected])
async def rename_piece(
    request: Request, piece_id: str, calls: Calls, session: SignedIn
) -> Response:
    language = page_language(request)
    form = await request.form()
    typed = {
        name: value[: KEPT[name]]
        for name in RENAME_FIELDS
        if isinstance(value := form.get(name, ""), str)
    }
    errors = FormErrors(RENAME_FIELDS)
    if not typed.get("title", "").strip():
        errors.add("title", _("Give the document a title.").render(language))
    else:
        try:
            await calls.wallet.UpdatePiece(
                pb.UpdatePieceRequest(
                    piece_id=_own_id(piece_id),
                    title=typed["title"].strip(),
                    issued_on=typed.get("issued_on", "").strip(),
                    expires_on=typed.get("expires_on", "").strip(),
                )
            )
        except grpc.aio.AioRpcError as failed:
            failure = read_rpc_failure(failed)
            if failure.code not in ABOUT_THE_FORM:
                raise
            errors.add_field_errors(failure.field_errors, language, fallback="title")
            if not failure.field_errors:
                errors.add("title", failure.message)
    if errors:
        return await _piece_page(request, calls, session, piece_id, errors, typed)
    return _redirect(f"/my/wallet/{piece_id}", language, done="renamed")


async def _one_file_form(
    request: Request,
    calls: Calls,
    session: WebSession,
    piece_id: str,
    target: dict[str, Any],
    input_name: str,
    done: str,
) -> Response:
    """A form of one file (add or replace): streamed to the wallet like the API's."""
    language = page_language(request)
    _own_id(piece_id)
    errors = FormErrors(("title", "issued_on", "expires_on", input_name))
    if too_large := _announced_too_large(request, 1, errors, input_name):
        return await _piece_page(request, calls, session, piece_id, errors, status=too_large)
    reader = await _form_reader(request, session, 1)
    chosen: FilePart | None = None
    while (part := await reader.next_part()) is not None:
        if isinstance(part, FilePart) and part.file_name:
            chosen = part
            break
    if chosen is None:
        errors.add(input_name, _("Choose a file.").render(language))
    else:
        try:
            await upload(calls, target, FileToUpload(chosen, chosen.file_name, 0))
        except grpc.aio.AioRpcError as failed:
            if not _file_refused(failed, errors, language, input_name, chosen.file_name):
                raise
    if errors:
        await _after_refusal(reader, request, 1)
        return await _piece_page(request, calls, session, piece_id, errors)
    return _redirect(f"/my/wallet/{piece_id}", language, done=done)


@router.post("/my/wallet/{piece_id}/files", response_class=HTMLResponse)
async def add_file(request: Request, piece_id: str, calls: Calls, session: SignedIn) -> Response:
    return await _one_file_form(
        request, calls, session, piece_id, {"piece_id": piece_id}, "add-file", "file_added"
    )


@router.post("/my/wallet/{piece_id}/files/{file_id}", response_class=HTMLResponse)
async def replace_file(
    request: Request, piece_id: str, file_id: str, calls: Calls, session: SignedIn
) -> Response:
    # The file must be the piece's: the wallet's header names the file only.
    piece = (await calls.wallet.GetPiece(pb.GetPieceRequest(piece_id=_own_id(piece_id)))).piece
    if file_id not in {f.file_id for f in piece.files}:
        raise Problem(404, "FILE_NOT_FOUND")
    return await _one_file_form(
        request,
        calls,
        session,
        piece_id,
        {"replaces_file_id": file_id},
        f"replace-{file_id}",
        "replaced",
    )


# --- deleting, with a confirmation -----------------------------------------------------------


@router.get("/my/wallet/{piece_id}/delete", response_class=HTMLResponse)
async def delete_piece_confirmation(
    request: Request, piece_id: str, calls: Calls, session: SignedIn
) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.wallet.GetPiece(pb.GetPieceRequest(piece_id=_own_id(piece_id)))
    return await _space_page(
        request,
        calls,
        session,
        "my/wallet_delete.html",
        piece=_piece(reply.piece, language),
        file=None,
    )


@router.post(
    "/my/wallet/{piece_id}/delete", response_class=HTMLResponse, dependencies=[csrf_protected]
)
async def delete_piece(
    request: Request, piece_id: str, calls: Calls, session: SignedIn
) -> Response:
    await calls.wallet.DeletePiece(pb.DeletePieceRequest(piece_id=_own_id(piece_id)))
    return _redirect("/my/wallet", page_language(request), done="deleted")


def _file_in(piece: dict[str, Any], file_id: str) -> dict[str, Any]:
    for piece_file in piece["files"]:
        if piece_file["id"] == file_id:
            return dict(piece_file)
    raise Problem(404, "FILE_NOT_FOUND")


@router.get("/my/wallet/{piece_id}/files/{file_id}/delete", response_class=HTMLResponse)
async def delete_file_confirmation(
    request: Request, piece_id: str, file_id: str, calls: Calls, session: SignedIn
) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.wallet.GetPiece(pb.GetPieceRequest(piece_id=_own_id(piece_id)))
    piece = _piece(reply.piece, language)
    return await _space_page(
        request,
        calls,
        session,
        "my/wallet_delete.html",
        piece=piece,
        file=_file_in(piece, file_id),
    )


@router.post(
    "/my/wallet/{piece_id}/files/{file_id}/delete",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def delete_file(
    request: Request, piece_id: str, file_id: str, calls: Calls, session: SignedIn
) -> Response:
    await calls.wallet.DeleteFile(
        pb.DeleteFileRequest(piece_id=_own_id(piece_id), file_id=_own_id(file_id))
    )
    return _redirect(f"/my/wallet/{piece_id}", page_language(request), done="file_deleted")


# --- downloads --------------------------------------------------------------------------------


@router.get("/my/wallet/{piece_id}/files/{file_id}/download")
async def download_file(
    request: Request, piece_id: str, file_id: str, calls: Calls, session: SignedIn
) -> Response:
    return await stream_download(calls, _own_id(piece_id), _own_id(file_id), "")


@router.get("/my/wallet/{piece_id}/files/{file_id}/versions/{version_id}/download")
async def download_version(
    request: Request,
    piece_id: str,
    file_id: str,
    version_id: str,
    calls: Calls,
    session: SignedIn,
) -> Response:
    return await stream_download(calls, _own_id(piece_id), _own_id(file_id), _own_id(version_id))
