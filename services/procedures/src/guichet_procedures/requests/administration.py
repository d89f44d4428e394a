"""The administrations' side of requests: the incoming (re)submissions of their competence, and
their acts on them — moving the status along the procedure's graph, asking the citizen for a
correction, adding a message or a decision note.

Competence is the pinned version's administration (copied on the request when it was started):
another administration's request, a draft and a cancelled request are all "not found" — an
administration never learns that someone else's request exists. Every act states which version of
the request it saw (`expected_version`, except a note, which changes nothing the citizen filled):
an act on a stale version is refused before anything is written.

The cursor of the incoming list is the request's `incoming_sequence`, taken from a database
sequence at each (re)submission. Sequence values are handed out before their transaction commits,
so two submissions may commit in the other order; a reader that moved past a value still in
flight would never see it. `settled_horizon` finds the highest value no transaction in flight can
still commit, and the list never goes beyond it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from guichet_kit.domain import Aborted, Conflict, FieldError, InvalidInput, NotFound
from guichet_kit.i18n import Catalog, Language
from guichet_kit.outbox import add_event
from guichet_procedures.definitions.model import Definition, Status
from guichet_procedures.requests import events, repository
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import (
    ACTION_NEEDED,
    CLOSED,
    INCOMING_SEQUENCE,
    SUBMITTED,
    Appointment,
    Request,
)

_ = Catalog("guichet_procedures")

# What an administration may see: a request once submitted, until the citizen cancels it.
VISIBLE_STATES = (SUBMITTED, ACTION_NEEDED, CLOSED)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_COMMENT_LENGTH = 2000
MAX_CORRECTION_MESSAGE_LENGTH = 2000
MAX_NOTE_LENGTH = 4000
MAX_ASKED_FIELDS = 50
# How long a read waits for (re)submissions in flight to commit before answering without them.
SETTLE_PATIENCE_SECONDS = 5.0
SETTLE_PAUSE_SECONDS = 0.02

NoteKind = Literal["message", "decision"]


class IncomingNotFound(NotFound):
    def __init__(self, reference: str) -> None:
        super().__init__(
            "REQUEST_NOT_FOUND",
            _(
                "No submitted request of your competence has the reference {reference}.",
                reference=reference,
            ),
        )


class StaleVersion(Aborted):
    """The request changed since the administration read it; its `version` says how far."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            "STALE_VERSION",
            _(
                "The request changed since you read it (version {expected}, now {current}): "
                "read it again before acting on it.",
                expected=expected,
                current=current,
            ),
            metadata={"current_version": str(current)},
        )


def _transition_refused(current: str, target: str) -> Conflict:
    return Conflict(
        "STATUS_TRANSITION_NOT_ALLOWED",
        _(
            "The procedure does not allow moving from “{current}” to “{target}”.",
            current=current,
            target=target,
        ),
        metadata={"current_status": current, "status": target},
    )


@dataclass(frozen=True)
class Incoming:
    """A request as its administration handles it, with the definition it was filed on."""

    request: Request
    definition: Definition


def _status(definition: Definition, code: str | None) -> Status | None:
    return next((status for status in definition.statuses if status.code == code), None)


def status_text(definition: Definition, code: str | None, language: Language) -> str:
    """The status's citizen-facing text (empty for a draft's missing status)."""
    status = _status(definition, code)
    return status.text.text(language) if status is not None else ""


def _competent(administration: str) -> Select[Request]:
    return (
        select(Request)
        .options(
            selectinload(Request.history),
            selectinload(Request.appointment).selectinload(Appointment.slot),
            selectinload(Request.attachments),  # F25
        )
        .where(Request.administration == administration, Request.state.in_(VISIBLE_STATES))
    )


async def _definition(store: CatalogueStore, session: AsyncSession, request: Request) -> Definition:
    definition = await store.definition(session, request.procedure_code, request.procedure_version)
    if definition is None:  # versions are never deleted: a broken database
        raise RuntimeError(f"{request.procedure_code} v{request.procedure_version} is missing")
    return definition


async def incoming_request(
    session: AsyncSession,
    store: CatalogueStore,
    administration: str,
    reference: str,
    display: str,
    *,
    for_update: bool = False,
) -> Incoming:
    """The request with this canonical reference if it is of `administration`'s competence."""
    statement = _competent(administration).where(Request.reference == reference)
    if for_update:
        statement = statement.with_for_update(of=Request)
    request = (await session.scalars(statement)).one_or_none()
    if request is None:
        raise IncomingNotFound(display)
    return Incoming(request, await _definition(store, session, request))


# ---- the incoming list and its cursor ----


async def settled_horizon(
    session: AsyncSession,
    *,
    patience: float = SETTLE_PATIENCE_SECONDS,
    pause: float = SETTLE_PAUSE_SECONDS,
) -> int | None:
    """The highest cursor every (re)submission up to which has committed or rolled back; None
    when transactions of this database stay in flight longer than `patience`.

    A submission locks its request (which gives its transaction an id) before it takes its
    sequence value. So once the transactions holding an id when the sequence was read have all
    ended, every value up to it is either committed (and visible) or will never be.
    """
    last = await session.scalar(
        text(
            f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END "  # noqa: S608 (a constant)
            f"FROM {INCOMING_SEQUENCE.name}"
        )
    )
    in_flight = text(
        "SELECT pid, backend_xid::text FROM pg_stat_activity "
        "WHERE datname = current_database() AND backend_xid IS NOT NULL "
        "AND pid <> pg_backend_pid()"
    )
    waiting = {tuple(row) for row in await session.execute(in_flight)}
    deadline = time.monotonic() + patience
    while waiting:
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(pause)
        waiting &= {tuple(row) for row in await session.execute(in_flight)}
    return int(last or 0)


async def incoming_after(
    session: AsyncSession,
    store: CatalogueStore,
    administration: str,
    after: int,
    limit: int,
    procedure_code: str = "",
) -> list[Incoming]:
    """The (re)submissions of `administration`'s competence after the cursor `after`, oldest
    first; a request resubmitted after a correction comes again, at its new cursor."""
    horizon = await settled_horizon(session)
    if horizon is None or horizon <= after:
        return []
    statement = _competent(administration).where(
        Request.incoming_sequence > after, Request.incoming_sequence <= horizon
    )
    if procedure_code:
        statement = statement.where(Request.procedure_code == procedure_code)
    rows = await session.scalars(statement.order_by(Request.incoming_sequence).limit(limit))
    return [Incoming(request, await _definition(store, session, request)) for request in rows]


# ---- acts ----


def _check_version(request: Request, expected: int) -> None:
    if request.version != expected:
        raise StaleVersion(expected, request.version)


def _bump(request: Request, now: datetime) -> None:
    request.version += 1
    request.updated_at = now


async def change_status(
    session: AsyncSession,
    store: CatalogueStore,
    administration: str,
    reference: str,
    display: str,
    target: str,
    expected_version: int,
    comment: str,
    *,
    now: datetime,
) -> Incoming:
    """Move the request to `target` if its definition allows it from the current status; an end
    status closes it. Leaving the correction status withdraws the question asked."""
    incoming = await incoming_request(
        session, store, administration, reference, display, for_update=True
    )
    request, graph = incoming.request, incoming.definition.status_graph
    if target not in graph:
        message = _("The procedure has no status “{status}”.", status=target)
        raise InvalidInput("UNKNOWN_STATUS", message, [FieldError("status", "unknown", message)])
    _check_version(request, expected_version)
    previous = request.status or ""
    if not graph.can_move(previous, target):
        raise _transition_refused(previous, target)
    if graph.asks_citizen(target):
        raise Conflict(
            "CORRECTION_NEEDS_QUESTION",
            _(
                "To ask the citizen for a correction, use AskCorrection with the fields and a "
                "message."
            ),
        )
    request.status = target
    request.asked_fields = []
    request.status_before_correction = None
    if graph.is_end(target):
        request.state = CLOSED
        request.closed_at = now
    else:
        request.state = SUBMITTED
    _bump(request, now)
    repository.add_history(
        request, "status_changed", administration, now, status=target, text=comment
    )
    await session.flush()
    add_event(
        session,
        events.REQUEST_STATUS_CHANGED,
        events.request_status_changed(
            request,
            previous,
            notify=bool(getattr(_status(incoming.definition, target), "notify", False)),
            status_text=status_text(incoming.definition, target, Language(request.language)),
            comment=comment,
            email=await repository.anonymous_address(session, request),
        ),
    )
    return incoming


def _unknown_fields(definition: Definition, field_ids: Sequence[str]) -> list[FieldError]:
    message = _("This procedure's form has no such field.")
    return [
        FieldError(f"field_ids[{index}]", "unknown", message)
        for index, field_id in enumerate(field_ids)
        if field_id not in definition.fields
    ]


async def ask_correction(
    session: AsyncSession,
    store: CatalogueStore,
    administration: str,
    reference: str,
    display: str,
    field_ids: Sequence[str],
    message: str,
    expected_version: int,
    *,
    now: datetime,
) -> Incoming:
    """Put the request in the procedure's correction status, waiting for the citizen to change
    the asked fields (none: a document or an explanation the message asks for) and resubmit."""
    incoming = await incoming_request(
        session, store, administration, reference, display, for_update=True
    )
    request, definition = incoming.request, incoming.definition
    unknown = _unknown_fields(definition, field_ids)
    if unknown:
        raise InvalidInput(
            "UNKNOWN_FIELD", _("Some fields asked about are not in this procedure's form."), unknown
        )
    _check_version(request, expected_version)
    graph = definition.status_graph
    correction = graph.correction
    if correction is None:
        raise Conflict(
            "CORRECTION_NOT_OFFERED",
            _("This procedure has no correction status: the citizen cannot be asked to change it."),
        )
    previous = request.status or ""
    if not graph.can_move(previous, correction):
        raise _transition_refused(previous, correction)
    request.status_before_correction = previous
    request.status = correction
    request.state = ACTION_NEEDED
    request.asked_fields = list(field_ids)
    _bump(request, now)
    repository.add_history(
        request,
        "correction_asked",
        administration,
        now,
        status=correction,
        text=message,
        fields=field_ids,
    )
    await session.flush()
    add_event(
        session,
        events.CORRECTION_ASKED,
        events.correction_asked(
            request,
            list(field_ids),
            message,
            email=await repository.anonymous_address(session, request),
        ),
    )
    return incoming


async def add_note(
    session: AsyncSession,
    store: CatalogueStore,
    administration: str,
    reference: str,
    display: str,
    kind: NoteKind,
    note: str,
    *,
    now: datetime,
) -> Incoming:
    """A message or a decision note in the request's history, seen by the citizen; the status
    does not move (a note may follow a closing decision)."""
    incoming = await incoming_request(
        session, store, administration, reference, display, for_update=True
    )
    request = incoming.request
    _bump(request, now)
    repository.add_history(request, kind, administration, now, text=note)
    await session.flush()
    return incoming
