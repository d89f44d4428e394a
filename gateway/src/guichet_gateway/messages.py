"""/api/v1/messages: the signed-in person's exchanges with administrations (F60 to F62, F66) —
the topics to choose from (theme, subject, reason, with the online procedure that may do what
they write for), their threads with unread answers, one thread, a new message, a reply,
read/unread marks and hide/show; files uploaded for a message (through the wallet's file
pipeline), a document sent to an administration and acknowledged, the thread of a procedures
request. The messaging service applies the rules; refusals are RFC 9457 problems."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser, ServiceStubs
from guichet_gateway.fields import UUID_PATTERN, UuidPath
from guichet_gateway.openapi import refusals
from guichet_gateway.uploads import first_of_stream, malformed, open_upload, stream_into
from guichet_gateway.wallet import (
    FileFields,
    FileToUpload,
    _multipart_body,
    checked_fields,
    content_disposition,
    fields_then_file,
    upload_limit,
)
from guichet_gateway.wire import timestamp
from guichet_kit.i18n import Catalog
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])

# Far above the service's limits (750 and 120 characters), so that its own refusal, field by
# field, reaches the person; only a flood is cut here.
MAX_TEXT = 4000
MAX_KEY = 80
# The service takes three files per message; more ids are its refusal, a flood is cut here.
MAX_FILE_IDS = 20
# A request's reference as typed (PR-XXXX-XXXX-C, with or without dashes).
MAX_REFERENCE = 40

FileIds = Annotated[
    list[Annotated[str, Field(max_length=36, pattern=UUID_PATTERN)]],
    Field(
        max_length=MAX_FILE_IDS,
        description="Files uploaded with POST /api/v1/messages/files (at most three)",
    ),
]


class ReasonOut(BaseModel):
    key: str
    title: str
    # The competent administration's code.
    administration: str
    # An online procedure's code that may do what the person writes for; empty if none.
    procedure: str


class SubjectOut(BaseModel):
    key: str
    title: str
    reasons: list[ReasonOut]


class ThemeOut(BaseModel):
    key: str
    title: str
    subjects: list[SubjectOut]


class TopicsOut(BaseModel):
    themes: list[ThemeOut]


class ThreadOut(BaseModel):
    id: str
    administration: str
    # A deposited document's acknowledgement (DP-XXXX-XXXX-C); empty for other kinds.
    reference: str
    # The procedures request of a thread of kind "request"; empty for other kinds.
    request_reference: str
    kind: Literal["message", "document", "request"]
    theme: str
    subject: str
    reason: str
    reason_title: str
    title: str
    hidden: bool
    # Answers of the administration not read yet.
    unread: int
    created_at: datetime | None
    last_message_at: datetime | None


class AttachmentOut(BaseModel):
    id: str
    file_name: str
    content_type: str
    size: int
    sha256: str
    url: str = Field(description="Where its owner downloads it")


class MessageOut(BaseModel):
    id: str
    side: Literal["person", "administration"]
    body: str
    sent_at: datetime | None
    # When the other side read it; null while unread.
    read_at: datetime | None
    attachments: list[AttachmentOut]


class ConversationOut(BaseModel):
    thread: ThreadOut
    messages: list[MessageOut]


class ThreadsOut(BaseModel):
    threads: list[ThreadOut]


class MessageIn(BaseModel):
    theme: str = Field(max_length=MAX_KEY)
    subject: str = Field(max_length=MAX_KEY)
    reason: str = Field(max_length=MAX_KEY)
    # The subject line (1 to 120 characters).
    title: str = Field(max_length=MAX_TEXT)
    # The text (10 to 750 characters).
    body: str = Field(max_length=MAX_TEXT)
    attachment_ids: FileIds = []


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The text (10 to 750 characters).
    body: str = Field(max_length=MAX_TEXT)
    attachment_ids: FileIds = []


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    theme: str = Field(max_length=MAX_KEY)
    subject: str = Field(max_length=MAX_KEY)
    reason: str = Field(max_length=MAX_KEY)
    # The subject line (1 to 120 characters).
    title: str = Field(max_length=MAX_TEXT)
    # An optional note (at most 750 characters).
    body: str = Field("", max_length=MAX_TEXT)
    attachment_ids: FileIds


class DocumentReceiptOut(BaseModel):
    """The acknowledgement of a deposit: its reference, when it was received, its files."""

    reference: str
    thread: ThreadOut
    message: MessageOut


class RequestMessageOut(BaseModel):
    thread: ThreadOut
    message: MessageOut


class ReadIn(BaseModel):
    # True: the answers read; false: the last answer unread again.
    read: bool


class HiddenIn(BaseModel):
    hidden: bool


SIDES = {pb.SIDE_PERSON: "person", pb.SIDE_ADMINISTRATION: "administration"}


def thread_out(thread: pb.Thread) -> ThreadOut:
    return ThreadOut(
        id=thread.id,
        administration=thread.administration,
        reference=thread.reference,
        request_reference=thread.request_reference,
        kind=thread.kind,
        theme=thread.theme,
        subject=thread.subject,
        reason=thread.reason,
        reason_title=thread.reason_title,
        title=thread.title,
        hidden=thread.hidden,
        unread=thread.unread,
        created_at=timestamp(thread.created_at),
        last_message_at=timestamp(thread.last_message_at),
    )


def message_out(message: pb.Message) -> MessageOut:
    return MessageOut(
        id=message.id,
        side=SIDES[message.side],
        body=message.body,
        sent_at=timestamp(message.sent_at),
        read_at=timestamp(message.read_at) if message.HasField("read_at") else None,
        attachments=[attachment_out(a) for a in message.attachments],
    )


def attachment_out(attachment: pb.Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.id,
        file_name=attachment.file_name,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        url=f"{router.prefix}/files/{attachment.id}",
    )


def topics_out(reply: pb.ListTopicsResponse) -> TopicsOut:
    return TopicsOut(
        themes=[
            ThemeOut(
                key=theme.key,
                title=theme.title,
                subjects=[
                    SubjectOut(
                        key=subject.key,
                        title=subject.title,
                        reasons=[
                            ReasonOut(
                                key=r.key,
                                title=r.title,
                                administration=r.administration,
                                procedure=r.procedure,
                            )
                            for r in subject.reasons
                        ],
                    )
                    for subject in theme.subjects
                ],
            )
            for theme in reply.themes
        ]
    )


NO_SUCH_THREAD = {404: "No such thread of the caller's (NO_SUCH_THREAD)."}


@router.get("/topics", response_model=TopicsOut)
async def get_topics(calls: Calls, user: CurrentUser) -> TopicsOut:
    """What one may write about: theme, subject, reason (in the caller's language), each reason
    with its competent administration and the online procedure to suggest, if any."""
    return topics_out(await calls.exchanges.ListTopics(pb.ListTopicsRequest()))


@router.get(
    "/threads",
    response_model=ThreadsOut,
    responses=refusals(
        {404: "request_reference is not a request reference (NO_SUCH_REQUEST); nothing listed."}
    ),
)
async def get_threads(
    calls: Calls,
    user: CurrentUser,
    hidden: Annotated[bool, Query(description="The hidden threads instead of the shown")] = False,
    request_reference: Annotated[
        str,
        Query(
            max_length=MAX_REFERENCE,
            description="Only the thread of this procedures request (PR-XXXX-XXXX-C)",
        ),
    ] = "",
) -> ThreadsOut:
    """The caller's threads, newest first, each with its unread answers."""
    reply = await calls.exchanges.ListMyThreads(
        pb.ListMyThreadsRequest(hidden=hidden, request_reference=request_reference)
    )
    return ThreadsOut(threads=[thread_out(t) for t in reply.threads])


@router.post(
    "/threads",
    status_code=201,
    response_model=ThreadOut,
    responses=refusals(
        {
            422: "VALIDATION_FAILED with each wrong field: reason (no such theme, subject and "
            "reason), title (empty or over 120 characters), body (not 10 to 750 characters), "
            "attachment_ids (more than three, or not the caller's files waiting to be sent: "
            "UNKNOWN_FILE). Nothing is sent."
        }
    ),
)
async def send_message(body: MessageIn, calls: Calls, user: CurrentUser) -> ThreadOut:
    """Write to the administration competent for the reason: a new thread."""
    reply = await calls.exchanges.SendMessage(pb.SendMessageRequest(**body.model_dump()))
    return thread_out(reply.thread)


@router.get(
    "/threads/{thread_id}", response_model=ConversationOut, responses=refusals(NO_SUCH_THREAD)
)
async def get_thread(
    thread_id: Annotated[UuidPath, Path()], calls: Calls, user: CurrentUser
) -> ConversationOut:
    """A thread and its messages; the administration's answers become read."""
    reply = await calls.exchanges.GetMyThread(pb.GetMyThreadRequest(thread_id=thread_id))
    return ConversationOut(
        thread=thread_out(reply.thread), messages=[message_out(m) for m in reply.messages]
    )


@router.put(
    "/threads/{thread_id}/read",
    status_code=204,
    response_class=Response,
    responses=refusals(NO_SUCH_THREAD),
)
async def mark_thread(
    thread_id: Annotated[UuidPath, Path()], body: ReadIn, calls: Calls, user: CurrentUser
) -> Response:
    """Mark the answers read, or the last answer unread again."""
    await calls.exchanges.MarkMyThread(pb.MarkMyThreadRequest(thread_id=thread_id, read=body.read))
    return Response(status_code=204)


@router.put(
    "/threads/{thread_id}/hidden",
    status_code=204,
    response_class=Response,
    responses=refusals(NO_SUCH_THREAD),
)
async def hide_thread(
    thread_id: Annotated[UuidPath, Path()], body: HiddenIn, calls: Calls, user: CurrentUser
) -> Response:
    """Hide a thread from the list, or show it again (an answer shows it again too)."""
    await calls.exchanges.HideMyThread(
        pb.HideMyThreadRequest(thread_id=thread_id, hidden=body.hidden)
    )
    return Response(status_code=204)


_BAD_REPLY = (
    "VALIDATION_FAILED with each wrong field: body (not 10 to 750 characters), attachment_ids "
    "(more than three, or not the caller's files waiting to be sent). Nothing is sent."
)


@router.post(
    "/threads/{thread_id}/messages",
    status_code=201,
    response_model=MessageOut,
    responses=refusals({**NO_SUCH_THREAD, 422: _BAD_REPLY}),
)
async def reply_to_thread(
    thread_id: Annotated[UuidPath, Path()], body: ReplyIn, calls: Calls, user: CurrentUser
) -> MessageOut:
    """Write again in one of the caller's threads (a hidden one is shown again)."""
    reply = await calls.exchanges.ReplyToMyThread(
        pb.ReplyToMyThreadRequest(
            thread_id=thread_id, body=body.body, attachment_ids=body.attachment_ids
        )
    )
    return message_out(reply.message)


# --- files: uploaded first, then named by a message or a document -----------------------------

FileId = Annotated[UuidPath, Path(description="A file the caller uploaded or received")]
NO_SUCH_FILE = {404: "Not one of the caller's files (NO_SUCH_FILE)."}


@router.post(
    "/files",
    status_code=201,
    response_model=AttachmentOut,
    openapi_extra={"requestBody": _multipart_body(FileFields, "One file for a message:")},
    responses=refusals(
        {
            409: "Ten files already wait for a message (TOO_MANY_UPLOADS): send or remove some.",
            413: "The file is over the limit (FILE_TOO_LARGE, REQUEST_TOO_LARGE), said as soon "
            "as it is known: the rest of the body is not read.",
            415: "The body is not multipart/form-data.",
            422: "The file is refused by the file pipeline: FILE_EMPTY, FILE_TYPE_NOT_ALLOWED "
            "(PDF, JPEG or PNG), FILE_TYPE_MISMATCH, FILE_POLYGLOT, FILE_INFECTED, "
            "INVALID_FILE_NAME. Nothing is stored.",
            503: "The file pipeline or its antivirus cannot be reached (FILES_UNAVAILABLE, "
            "SCANNER_UNAVAILABLE): nothing is stored.",
        }
    ),
)
async def upload_file(request: Request, calls: Calls, user: CurrentUser) -> AttachmentOut:
    """Upload a file for a message or a document to send (optional `file_name`, `size`, then
    `file`): streamed through the wallet's file pipeline (scanned, its type found from its
    bytes); its `id` then goes in the message's `attachment_ids`. Unsent, it waits a day."""
    reader = open_upload(request, upload_limit(request))
    fields, part = await fields_then_file(reader)
    file = FileToUpload.of(part, checked_fields(FileFields, fields))
    header = pb.UploadMessageFileHeader(
        file_name=file.file_name,
        declared_content_type=part.content_type,
        declared_size=file.declared_size,
    )

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in part.chunks():
            yield chunk
        if await reader.next_part() is not None:
            # Before the stream ends: nothing is kept of a refused request.
            raise malformed(_("Send the text fields before the file."), "file", "order")

    reply: pb.UploadMessageFileResponse = await stream_into(
        calls.exchanges_uploads.UploadMessageFile.future,
        pb.UploadMessageFileRequest(header=header),
        chunks(),
        lambda chunk: pb.UploadMessageFileRequest(chunk=chunk),
    )
    return attachment_out(reply.attachment)


@router.delete(
    "/files/{file_id}",
    status_code=204,
    response_class=Response,
    responses=refusals(
        {**NO_SUCH_FILE, 409: "The file was sent with a message: it stays (FILE_SENT)."}
    ),
)
async def remove_file(file_id: FileId, calls: Calls, user: CurrentUser) -> Response:
    """Remove an uploaded file no message carries yet."""
    await calls.exchanges.RemoveMessageFile(pb.RemoveMessageFileRequest(attachment_id=file_id))
    return Response(status_code=204)


@router.get(
    "/files/{file_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The file, streamed, with its type, `Content-Length` and "
            "`Repr-Digest` (its SHA-256); `Content-Disposition: attachment`.",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        **refusals(NO_SUCH_FILE),
    },
)
async def download_file(file_id: FileId, calls: Calls, user: CurrentUser) -> Response:
    """One of the caller's files: uploaded by them, or in one of their threads."""
    return await file_response(calls, file_id)


async def file_response(calls: ServiceStubs, file_id: str) -> Response:
    """The file streamed as messaging reads it from the wallet (also for the web pages); a
    refusal (not the caller's file) comes before any byte."""
    call = calls.exchanges.DownloadMessageFile(pb.DownloadMessageFileRequest(attachment_id=file_id))
    first, rest = await first_of_stream(call)
    if first.WhichOneof("part") != "header":
        call.cancel()
        raise Problem(502, "UPSTREAM_FAILED")
    header: pb.Attachment = first.header

    async def content() -> AsyncIterator[bytes]:
        try:
            async for message in rest:
                yield message.chunk
        finally:
            call.cancel()

    digest = base64.b64encode(bytes.fromhex(header.sha256)).decode() if header.sha256 else ""
    return StreamingResponse(
        content(),
        media_type=header.content_type or "application/octet-stream",
        headers={
            "Content-Length": str(header.size),
            "Content-Disposition": content_disposition(header.file_name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            **({"Repr-Digest": f"sha-256=:{digest}:"} if digest else {}),
        },
    )


# --- F66: a document sent to an administration ------------------------------------------------


@router.post(
    "/documents",
    status_code=201,
    response_model=DocumentReceiptOut,
    responses=refusals(
        {
            422: "VALIDATION_FAILED with each wrong field: reason, title (empty or over 120 "
            "characters), body (over 750 characters), attachment_ids (none, more than three, "
            "or not the caller's files waiting to be sent). Nothing is sent."
        }
    ),
)
async def send_document(body: DocumentIn, calls: Calls, user: CurrentUser) -> DocumentReceiptOut:
    """Send uploaded files to the administration competent for the reason (theme, subject,
    reason as for a message): acknowledged with a reference, the time and each file's SHA-256."""
    reply = await calls.exchanges.SendDocument(pb.SendDocumentRequest(**body.model_dump()))
    return DocumentReceiptOut(
        reference=reply.thread.reference,
        thread=thread_out(reply.thread),
        message=message_out(reply.message),
    )


# --- F60: the thread of a procedures request --------------------------------------------------


@router.post(
    "/requests/{reference}/messages",
    status_code=201,
    response_model=RequestMessageOut,
    responses=refusals(
        {
            404: "No submitted request of the caller's with this reference (NO_SUCH_REQUEST).",
            422: _BAD_REPLY,
            503: "Procedures cannot be reached (PROCEDURES_UNAVAILABLE): nothing is sent.",
        }
    ),
)
async def write_about_request(
    reference: Annotated[
        str, Path(max_length=MAX_REFERENCE, description="The request's reference")
    ],
    body: ReplyIn,
    calls: Calls,
    user: CurrentUser,
) -> RequestMessageOut:
    """Write to the administration handling one of the caller's submitted requests: every
    message about the request goes in its one thread."""
    reply = await calls.exchanges.WriteAboutRequest(
        pb.WriteAboutRequestRequest(
            request_reference=reference, body=body.body, attachment_ids=body.attachment_ids
        )
    )
    return RequestMessageOut(thread=thread_out(reply.thread), message=message_out(reply.message))
