"""The rules of exchanges: a person writes to the administration competent for a reason of the
taxonomy (10 to 750 characters, a subject line) or sends it a document; both sides read the
thread, the person marks it read or unread and hides or shows it; an administration lists, reads
and answers only the threads of its competence."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import messaging_pb2 as events
from guichet_kit.domain import Conflict, FieldErrors, Forbidden, NotFound
from guichet_kit.i18n import Catalog
from guichet_kit.outbox import add_event
from guichet_kit.references import Reference
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
MAX_REQUEST_TITLE = 200
# An upload no message carried within a day is no longer offered (the wallet's copy ends with its
# retention); a person has at most this many waiting.
UPLOAD_KEPT_FOR = timedelta(days=1)
MAX_WAITING_UPLOADS = 10


@dataclass(frozen=True)
class FileRef:
    """A file the wallet's FileService has taken (scanned, typed) for a message of the person."""

    file_id: str
    file_name: str
    content_type: str
    size: int
    sha256: str = ""


@dataclass(frozen=True)
class Draft:
    theme: str
    subject: str
    reason: str
    title: str
    body: str
    # Files uploaded before (their ids in exchanges).
    attachment_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequestFacts:
    """A submitted procedures request of the person, as procedures confirmed it."""

    reference: str
    title: str
    procedure_code: str
    administration: str


class DocumentReference(Reference):
    """A deposited document's acknowledgement: DP-XXXX-XXXX-C (the kit's reference scheme)."""

    __slots__ = ()
    PREFIX = "DP"


@dataclass(frozen=True)
class ThreadView:
    thread: Thread
    unread: int


@dataclass(frozen=True)
class Conversation:
    thread: Thread
    messages: list[tuple[Message, list[Attachment]]]


def _body_errors(errors: FieldErrors, body: str, *, optional: bool = False) -> None:
    length = len(body.strip())
    if optional and length > MAX_BODY:
        errors.add("body", "LENGTH", _("Write at most {max} characters.", max=MAX_BODY))
    elif not optional and not MIN_BODY <= length <= MAX_BODY:
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


def _file_errors(errors: FieldErrors, ids: tuple[str, ...], found: int | None) -> None:
    """`found`: how many of the ids are the person's files not sent yet (None: not looked up)."""
    if len(ids) > MAX_ATTACHMENTS:
        errors.add("attachment_ids", "TOO_MANY", _("Attach at most {n} files.", n=MAX_ATTACHMENTS))
    elif found is not None and found != len(ids):
        errors.add(
            "attachment_ids",
            "UNKNOWN_FILE",
            _("A file is not one you uploaded, or was sent already: upload it again."),
        )


def check(
    taxonomy: Taxonomy, draft: Draft, *, document: bool = False, files_found: int | None = None
) -> Reason:
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
    _body_errors(errors, draft.body, optional=document)
    if document and not draft.attachment_ids:
        errors.add("attachment_ids", "REQUIRED", _("Choose the document to send."))
    _file_errors(errors, draft.attachment_ids, files_found)
    errors.raise_if_any("VALIDATION_FAILED", _("The message cannot be sent as it is."))
    assert reason is not None
    return reason


# --- files uploaded before their message ---


async def check_upload_room(session: AsyncSession, owner: str, *, now: datetime) -> None:
    """A person has at most MAX_WAITING_UPLOADS files waiting for a message."""
    waiting = await session.scalar(
        select(func.count())
        .select_from(Attachment)
        .where(
            Attachment.owner == owner,
            Attachment.message.is_(None),
            Attachment.uploaded_at > now - UPLOAD_KEPT_FOR,
        )
    )
    if (waiting or 0) >= MAX_WAITING_UPLOADS:
        raise Conflict(
            "TOO_MANY_UPLOADS",
            _(
                "You have {n} files waiting for a message: send it, or remove some first.",
                n=MAX_WAITING_UPLOADS,
            ),
        )


async def record_upload(
    session: AsyncSession, owner: str, file: FileRef, *, now: datetime
) -> Attachment:
    """A file the pipeline took for the person, waiting for the message that will carry it."""
    await check_upload_room(session, owner, now=now)
    attachment = Attachment(
        id=uuid.uuid4(),
        owner=owner,
        message=None,
        file_id=file.file_id,
        file_name=file.file_name,
        content_type=file.content_type,
        size=file.size,
        sha256=file.sha256,
        uploaded_at=now,
    )
    session.add(attachment)
    await session.flush()
    return attachment


def _file_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def _waiting_files(
    session: AsyncSession, owner: str, ids: tuple[str, ...], now: datetime
) -> list[Attachment]:
    """The person's uploads among `ids` that no message carries yet (locked for this one)."""
    wanted = {i for i in (_file_id(text) for text in ids) if i is not None}
    if not wanted or len(wanted) != len(ids):
        return []
    return list(
        (
            await session.scalars(
                select(Attachment)
                .where(
                    Attachment.id.in_(wanted),
                    Attachment.owner == owner,
                    Attachment.message.is_(None),
                    Attachment.uploaded_at > now - UPLOAD_KEPT_FOR,
                )
                .with_for_update()
            )
        ).all()
    )


async def remove_upload(session: AsyncSession, owner: str, attachment_id: str) -> None:
    """An upload no message carries goes (the wallet's copy ends with its retention)."""
    found = _file_id(attachment_id)
    attachment = await session.get(Attachment, found, with_for_update=True) if found else None
    if attachment is None or attachment.owner != owner:
        raise NotFound("NO_SUCH_FILE", _("There is no such file."))
    if attachment.message is not None:
        raise Conflict("FILE_SENT", _("This file was sent with a message: it stays with it."))
    await session.delete(attachment)


async def file_of_person(session: AsyncSession, owner: str, attachment_id: str) -> Attachment:
    """One of the person's files: uploaded by them, or in one of their threads."""
    found = _file_id(attachment_id)
    attachment = await session.get(Attachment, found) if found else None
    if attachment is not None and attachment.message is not None:
        thread_owner = await session.scalar(
            select(Thread.owner)
            .join(Message, Message.thread == Thread.id)
            .where(Message.id == attachment.message)
        )
        if thread_owner == owner:
            return attachment
    elif attachment is not None and attachment.owner == owner:
        return attachment
    raise NotFound("NO_SUCH_FILE", _("There is no such file."))


async def file_for_administration(
    session: AsyncSession, administration: str, thread_id: uuid.UUID, attachment_id: str
) -> Attachment:
    """A file sent in a thread of the administration's competence."""
    thread = await _competent(session, administration, thread_id, lock=False)
    found = _file_id(attachment_id)
    attachment = (
        await session.scalar(
            select(Attachment)
            .join(Message, Message.id == Attachment.message)
            .where(Attachment.id == found, Message.thread == thread.id)
        )
        if found
        else None
    )
    if attachment is None:
        raise NotFound("NO_SUCH_FILE", _("There is no such file."))
    return attachment


async def _sent(session: AsyncSession, thread: Thread, *, first: bool) -> None:
    # For notifications: the administration is told, the person acknowledged.
    add_event(
        session,
        subjects.MESSAGE_SENT,
        events.MessageSent(
            owner=f"person:{thread.owner}",
            thread_id=str(thread.id),
            administration=thread.administration,
            kind=thread.kind,
            title=thread.title,
            reference=thread.reference or "",
            request_reference=thread.request_reference or "",
            first=first,
        ),
    )


async def _new_reference(session: AsyncSession) -> str:
    # About 2^40 references: a collision is rare, and drawn again.
    while True:
        reference = DocumentReference.generate().display
        if await session.scalar(select(Thread.id).where(Thread.reference == reference)) is None:
            return reference


async def send(
    session: AsyncSession,
    taxonomy: Taxonomy,
    *,
    owner: str,
    draft: Draft,
    now: datetime,
    document: bool = False,
) -> Conversation:
    """A new thread with the person's first message (or document) to the competent one."""
    files = await _waiting_files(session, owner, draft.attachment_ids, now)
    reason = check(taxonomy, draft, document=document, files_found=len(files))
    thread = Thread(
        id=uuid.uuid4(),
        owner=owner,
        administration=reason.administration,
        kind=(ThreadKind.DOCUMENT if document else ThreadKind.MESSAGE).value,
        theme=draft.theme,
        subject=draft.subject,
        reason=draft.reason,
        title=draft.title.strip(),
        reference=await _new_reference(session) if document else None,
        hidden=False,
        created_at=now,
        last_message_at=now,
    )
    session.add(thread)
    await session.flush()
    message = await _add_message(session, thread, Side.PERSON, draft.body.strip(), files, now)
    await _sent(session, thread, first=True)
    return Conversation(thread, [(message, files)])


async def reply(
    session: AsyncSession,
    owner: str,
    thread_id: uuid.UUID,
    body: str,
    attachment_ids: tuple[str, ...],
    *,
    now: datetime,
) -> tuple[Message, list[Attachment]]:
    """The person writes again in one of their threads (shown again if hidden)."""
    thread = await _own(session, owner, thread_id)
    files = await _waiting_files(session, owner, attachment_ids, now)
    errors = FieldErrors()
    _body_errors(errors, body)
    _file_errors(errors, attachment_ids, len(files))
    errors.raise_if_any("VALIDATION_FAILED", _("The message cannot be sent as it is."))
    thread.hidden = False
    message = await _add_message(session, thread, Side.PERSON, body.strip(), files, now)
    await _sent(session, thread, first=False)
    return message, files


async def write_about_request(
    session: AsyncSession,
    owner: str,
    request: RequestFacts,
    body: str,
    attachment_ids: tuple[str, ...],
    *,
    now: datetime,
) -> tuple[Thread, Message, list[Attachment]]:
    """The person's message in the one thread of their request (made by its first message), to
    the administration of the request's procedure."""
    files = await _waiting_files(session, owner, attachment_ids, now)
    errors = FieldErrors()
    _body_errors(errors, body)
    _file_errors(errors, attachment_ids, len(files))
    errors.raise_if_any("VALIDATION_FAILED", _("The message cannot be sent as it is."))
    # Two first messages at once make one thread: the unique index decides, both then lock it.
    await session.execute(
        pg_insert(Thread)
        .values(
            id=uuid.uuid4(),
            owner=owner,
            administration=request.administration,
            kind=ThreadKind.REQUEST.value,
            theme="",
            subject=request.procedure_code,
            reason="",
            request_reference=request.reference,
            title=request.title[:MAX_REQUEST_TITLE],
            hidden=False,
            created_at=now,
            last_message_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=["owner", "request_reference"],
            index_where=Thread.request_reference.is_not(None),
        )
    )
    thread = (
        await session.scalars(
            select(Thread)
            .where(Thread.owner == owner, Thread.request_reference == request.reference)
            .with_for_update()
        )
    ).one()
    first = (
        await session.scalar(select(Message.id).where(Message.thread == thread.id).limit(1)) is None
    )
    thread.hidden = False
    message = await _add_message(session, thread, Side.PERSON, body.strip(), files, now)
    await _sent(session, thread, first=first)
    return thread, message, files


async def _add_message(
    session: AsyncSession,
    thread: Thread,
    side: Side,
    body: str,
    files: list[Attachment],
    now: datetime,
) -> Message:
    message = Message(id=uuid.uuid4(), thread=thread.id, side=side.value, body=body, sent_at=now)
    session.add(message)
    await session.flush()
    for attachment in files:
        attachment.message = message.id
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
    session: AsyncSession, owner: str, *, hidden: bool = False, request_reference: str = ""
) -> list[ThreadView]:
    """The person's threads, newest first, with their unread answers; hidden ones apart; or the
    thread of one procedures request."""
    if request_reference:
        where = (Thread.owner == owner) & (Thread.request_reference == request_reference)
    else:
        where = (Thread.owner == owner) & (Thread.hidden == hidden)
    return await _views(session, where, Side.PERSON)


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


async def threads_for(
    session: AsyncSession, administration: str, *, kind: str = ""
) -> list[ThreadView]:
    """The threads of the administration's competence (of one kind), newest first, with unread
    messages."""
    where = Thread.administration == administration
    if kind:
        where = where & (Thread.kind == kind)
    return await _views(session, where, Side.ADMINISTRATION)


async def _competent(
    session: AsyncSession, administration: str, thread_id: uuid.UUID, *, lock: bool = True
) -> Thread:
    thread = await session.get(Thread, thread_id, with_for_update=lock)
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
    errors = FieldErrors()
    _body_errors(errors, body)
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
