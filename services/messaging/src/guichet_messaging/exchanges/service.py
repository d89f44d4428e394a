"""The rules of exchanges: a person writes to the administration competent for a reason of the
taxonomy (10 to 750 characters, a subject line) or sends it a document; both sides read the
thread, the person marks it read or unread and hides or shows it; an administration lists, reads
and answers only the threads of its competence."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import messaging_pb2 as events
from guichet_kit.domain import FieldErrors, Forbidden, NotFound
from guichet_kit.i18n import Catalog
from guichet_kit.outbox import add_event
from guichet_messaging.exchanges.models import (
    ExchangeAttachment as Attachment,
)
from guichet_messaging.exchanges.models import (
    ExchangeMessage as Message,
)
from guichet_messaging.exchanges.models import (
    ExchangeThread as Thread,
)
from guichet_messaging.exchanges.models import (
    Side,
    ThreadKind,
)
from guichet_messaging.exchanges.taxonomy import Reason, Taxonomy

_ = Catalog("guichet_messaging")

MIN_BODY = 10
MAX_BODY = 750
MAX_TITLE = 120
MAX_ATTACHMENTS = 3


@dataclass(frozen=True)
class FileRef:
    """A file the wallet's FileService has taken (scanned, typed) for this message."""

    file_id: str
    file_name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Draft:
    theme: str
    subject: str
    reason: str
    title: str
    body: str
    attachments: list[FileRef] = field(default_factory=list)


@dataclass(frozen=True)
class ThreadView:
    thread: Thread
    unread: int


@dataclass(frozen=True)
class Conversation:
    thread: Thread
    messages: list[tuple[Message, list[Attachment]]]


def check(taxonomy: Taxonomy, draft: Draft, *, document: bool = False) -> Reason:
    """Every wrong field at once; the reason found when none is wrong."""
    errors = FieldErrors()
    reason = taxonomy.reason(draft.theme, draft.subject, draft.reason)
    if reason is None:
        errors.add("reason", "UNKNOWN_REASON", _("Choose a theme, a subject and a reason."))
    if not draft.title.strip():
        errors.add("title", "REQUIRED", _("Give your message a subject."))
    elif len(draft.title.strip()) > MAX_TITLE:
        errors.add(
            "title", "TOO_LONG", _("Write a subject of at most {n} characters.", n=MAX_TITLE)
        )
    length = len(draft.body.strip())
    if not document and not MIN_BODY <= length <= MAX_BODY:
        errors.add(
            "body",
            "LENGTH",
            _(
                "Write {min} to {max} characters (you wrote {n}).",
                min=MIN_BODY,
                max=MAX_BODY,
                n=length,
            ),
        )
    if document and length > MAX_BODY:
        errors.add("body", "LENGTH", _("Write at most {max} characters.", max=MAX_BODY))
    if document and not draft.attachments:
        errors.add("file", "REQUIRED", _("Choose the document to send."))
    if len(draft.attachments) > MAX_ATTACHMENTS:
        errors.add("file", "TOO_MANY", _("Attach at most {n} files.", n=MAX_ATTACHMENTS))
    errors.raise_if_any("VALIDATION_FAILED", _("The message cannot be sent as it is."))
    assert reason is not None
    return reason


async def send(
    session: AsyncSession,
    taxonomy: Taxonomy,
    *,
    owner: str,
    draft: Draft,
    now: datetime,
    document: bool = False,
) -> Thread:
    """A new thread with the person's first message (or document) to the competent one."""
    reason = check(taxonomy, draft, document=document)
    thread = Thread(
        id=uuid.uuid4(),
        owner=owner,
        administration=reason.administration,
        kind=(ThreadKind.DOCUMENT if document else ThreadKind.MESSAGE).value,
        theme=draft.theme,
        subject=draft.subject,
        reason=draft.reason,
        title=draft.title.strip(),
        hidden=False,
        created_at=now,
        last_message_at=now,
    )
    session.add(thread)
    await session.flush()
    await _add_message(session, thread, Side.PERSON, draft.body.strip(), draft.attachments, now)
    # For notifications: the administration is told of a new thread.
    add_event(
        session,
        subjects.MESSAGE_SENT,
        events.MessageSent(
            owner=f"person:{owner}",
            thread_id=str(thread.id),
            administration=thread.administration,
            kind=thread.kind,
            title=thread.title,
        ),
    )
    return thread


async def _add_message(
    session: AsyncSession,
    thread: Thread,
    side: Side,
    body: str,
    attachments: list[FileRef],
    now: datetime,
) -> Message:
    message = Message(id=uuid.uuid4(), thread=thread.id, side=side.value, body=body, sent_at=now)
    session.add(message)
    await session.flush()
    for ref in attachments:
        session.add(
            Attachment(
                message=message.id,
                file_id=ref.file_id,
                file_name=ref.file_name,
                content_type=ref.content_type,
                size=ref.size,
            )
        )
    thread.last_message_at = now
    await session.flush()
    return message


def _unread_by(side: Side) -> object:
    """Messages the given side has not read: those of the other side without read_at."""
    other = Side.ADMINISTRATION if side is Side.PERSON else Side.PERSON
    return (Message.side == other.value) & Message.read_at.is_(None)


async def _views(session: AsyncSession, where: object, reader: Side) -> list[ThreadView]:
    unread = (
        select(func.count())
        .where(Message.thread == Thread.id, _unread_by(reader))  # type: ignore[arg-type]
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Thread, unread).where(where).order_by(Thread.last_message_at.desc())  # type: ignore[arg-type]
    )
    return [ThreadView(thread, count) for thread, count in rows.all()]


async def threads_of(
    session: AsyncSession, owner: str, *, hidden: bool = False
) -> list[ThreadView]:
    """The person's threads, newest first, with their unread answers; hidden ones apart."""
    return await _views(session, (Thread.owner == owner) & (Thread.hidden == hidden), Side.PERSON)


async def _own(session: AsyncSession, owner: str, thread_id: uuid.UUID) -> Thread:
    thread = await session.get(Thread, thread_id, with_for_update=True)
    # Another person's thread is not found: its existence is not theirs to know.
    if thread is None or thread.owner != owner:
        raise NotFound("NO_SUCH_THREAD", _("There is no such conversation."))
    return thread


async def _conversation(session: AsyncSession, thread: Thread) -> Conversation:
    messages = list(
        (
            await session.scalars(
                select(Message).where(Message.thread == thread.id).order_by(Message.number)
            )
        ).all()
    )
    files = (
        await session.scalars(
            select(Attachment).where(Attachment.message.in_([m.id for m in messages]))
        )
    ).all()
    return Conversation(thread, [(m, [a for a in files if a.message == m.id]) for m in messages])


async def read(
    session: AsyncSession, owner: str, thread_id: uuid.UUID, *, now: datetime
) -> Conversation:
    """The person's conversation; opening it marks the administration's answers read."""
    thread = await _own(session, owner, thread_id)
    await _mark(session, thread, Side.PERSON, now)
    return await _conversation(session, thread)


async def _mark(session: AsyncSession, thread: Thread, reader: Side, now: datetime | None) -> None:
    other = Side.ADMINISTRATION if reader is Side.PERSON else Side.PERSON
    await session.execute(
        update(Message)
        .where(Message.thread == thread.id, Message.side == other.value)
        .values(read_at=now)
    )


async def mark_unread(session: AsyncSession, owner: str, thread_id: uuid.UUID) -> None:
    """The person wants the thread shown unread again: its last answer becomes unread."""
    thread = await _own(session, owner, thread_id)
    last = await session.scalar(
        select(Message)
        .where(Message.thread == thread.id, Message.side == Side.ADMINISTRATION.value)
        .order_by(Message.number.desc())
        .limit(1)
    )
    if last is not None:
        last.read_at = None


async def mark_read(
    session: AsyncSession, owner: str, thread_id: uuid.UUID, *, now: datetime
) -> None:
    await _mark(session, await _own(session, owner, thread_id), Side.PERSON, now)


async def set_hidden(
    session: AsyncSession, owner: str, thread_id: uuid.UUID, *, hidden: bool
) -> None:
    (await _own(session, owner, thread_id)).hidden = hidden


# --- the administration's side ---


async def threads_for(session: AsyncSession, administration: str) -> list[ThreadView]:
    """The threads of the administration's competence, newest first, with unread messages."""
    return await _views(session, Thread.administration == administration, Side.ADMINISTRATION)


async def _competent(session: AsyncSession, administration: str, thread_id: uuid.UUID) -> Thread:
    thread = await session.get(Thread, thread_id, with_for_update=True)
    if thread is None:
        raise NotFound("NO_SUCH_THREAD", _("There is no such conversation."))
    if thread.administration != administration:
        raise Forbidden(
            "OUTSIDE_COMPETENCE",
            _("This conversation is for another administration: only it may read and answer it."),
        )
    return thread


async def read_as_administration(
    session: AsyncSession, administration: str, thread_id: uuid.UUID, *, now: datetime
) -> Conversation:
    thread = await _competent(session, administration, thread_id)
    await _mark(session, thread, Side.ADMINISTRATION, now)
    return await _conversation(session, thread)


async def answer(
    session: AsyncSession,
    administration: str,
    thread_id: uuid.UUID,
    body: str,
    *,
    now: datetime,
) -> Message:
    """The administration's answer, unread for the person until they open the thread."""
    thread = await _competent(session, administration, thread_id)
    length = len(body.strip())
    if not MIN_BODY <= length <= MAX_BODY:
        errors = FieldErrors()
        errors.add(
            "body",
            "LENGTH",
            _(
                "Write {min} to {max} characters (you wrote {n}).",
                min=MIN_BODY,
                max=MAX_BODY,
                n=length,
            ),
        )
        errors.raise_if_any("VALIDATION_FAILED", _("The message cannot be sent as it is."))
    # An answer shows the thread again to a person who had hidden it.
    thread.hidden = False
    message = await _add_message(session, thread, Side.ADMINISTRATION, body.strip(), [], now)
    # For notifications: the person is told there is an answer.
    add_event(
        session,
        subjects.MESSAGE_ANSWERED,
        events.MessageAnswered(
            owner=f"person:{thread.owner}",
            thread_id=str(thread.id),
            administration=thread.administration,
            title=thread.title,
        ),
    )
    return message
