"""/api/v1/messages: the signed-in person's exchanges with administrations (F60 to F62, F66) —
the topics to choose from (theme, subject, reason, with the online procedure that may do what
they write for), their threads with unread answers, one thread, a new message, read/unread marks
and hide/show. The messaging service applies the rules; refusals are RFC 9457 problems."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser
from guichet_gateway.fields import UuidPath
from guichet_gateway.openapi import refusals
from guichet_gateway.wire import timestamp

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])

# Far above the service's limits (750 and 120 characters), so that its own refusal, field by
# field, reaches the person; only a flood is cut here.
MAX_TEXT = 4000
MAX_KEY = 80


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
    file_id: str
    file_name: str
    content_type: str
    size: int


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
        attachments=[
            AttachmentOut(
                file_id=a.file_id, file_name=a.file_name, content_type=a.content_type, size=a.size
            )
            for a in message.attachments
        ],
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


@router.get("/threads", response_model=ThreadsOut)
async def get_threads(
    calls: Calls,
    user: CurrentUser,
    hidden: Annotated[bool, Query(description="The hidden threads instead of the shown")] = False,
) -> ThreadsOut:
    """The caller's threads, newest first, each with its unread answers."""
    reply = await calls.exchanges.ListMyThreads(pb.ListMyThreadsRequest(hidden=hidden))
    return ThreadsOut(threads=[thread_out(t) for t in reply.threads])


@router.post(
    "/threads",
    status_code=201,
    response_model=ThreadOut,
    responses=refusals(
        {
            422: "VALIDATION_FAILED with each wrong field: reason (no such theme, subject and "
            "reason), title (empty or over 120 characters), body (not 10 to 750 characters). "
            "Nothing is sent."
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
