"""The files of requests (F25): typed pieces of up to `max_files` files per attachment field,
uploaded from the computer or taken from the wallet, always through the wallet's one file
pipeline, which keeps each as an immutable, retained copy. Here: what may be added or removed
when, and the rows that name those copies.

An attachment field's answer is the list of the ids of its rows, kept by these rules: added to a
draft, or after submission to a field a correction asks about; removed only before a submission
carried it (a submitted file is part of the record). Checks are made twice: before the file is
streamed to the wallet (nothing is sent for a refused call), and again under the request's row
lock when the row is written (two uploads at once cannot pass the limit together).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from guichet_kit.domain import Conflict, FieldError, InvalidInput, NotFound
from guichet_kit.i18n import Catalog, Language
from guichet_procedures.definitions.form import Form
from guichet_procedures.definitions.model import (
    AttachmentField,
    Definition,
    Field,
    GroupField,
)
from guichet_procedures.requests.models import (
    ACTION_NEEDED,
    DRAFT,
    Attachment,
    Request,
)

_ = Catalog("guichet_procedures")

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
ZIP = "application/zip"
DOCUMENTS = frozenset({PDF, JPEG, PNG})
# The file types the wallet accepts for each piece type (its catalogue): a scan, a photo or a
# PDF for every type; "other" also takes office documents and archives.
WIDER_TYPES: Mapping[str, frozenset[str]] = {"other": DOCUMENTS | {DOCX, ODT, ZIP}}


@dataclass(frozen=True)
class CopyInfo:
    """An immutable copy as the wallet described it."""

    copy_id: uuid.UUID
    file_name: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Addition:
    """What a checked addition sends to the wallet: whose file, what for, which types."""

    request_id: uuid.UUID
    field: AttachmentField
    owner: str
    purpose: str
    allowed_content_types: frozenset[str]


# ---- refusals ----


class AttachmentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "ATTACHMENT_NOT_FOUND", _("This request has no attached file with this id.")
        )


def _not_an_attachment_field(field_id: str) -> InvalidInput:
    message = _("This form has no question taking files with this id.")
    return InvalidInput(
        "NOT_AN_ATTACHMENT_FIELD", message, [FieldError("field_id", "unknown", message)]
    )


def _closed(field_id: str) -> Conflict:
    return Conflict(
        "ATTACHMENTS_CLOSED",
        _(
            "Files can be added to a draft, or after submission only to a question the "
            "administration asks you to complete."
        ),
        [FieldError(field_id, "not_asked", _("The administration did not ask about this field."))],
    )


def _too_many(field: AttachmentField) -> Conflict:
    message = _("At most {count} files for this question.", count=field.max_files)
    return Conflict(
        "TOO_MANY_ATTACHMENTS", message, [FieldError(field.id, "too_many_files", message)]
    )


def type_not_accepted(field: AttachmentField, content_type: str) -> InvalidInput:
    message = _("This question does not take files of type {type}.", type=content_type or "?")
    return InvalidInput(
        "FILE_TYPE_NOT_ALLOWED", message, [FieldError(field.id, "type_not_allowed", message)]
    )


# ---- the definition's side ----


def attachment_field(definition: Definition, field_id: str) -> AttachmentField:
    """A top-level attachment field of the definition (files are given to those only)."""
    for step in definition.steps:
        for each in step.fields:
            if each.id == field_id and isinstance(each, AttachmentField):
                return each
    raise _not_an_attachment_field(field_id)


def allowed_content_types(field: AttachmentField) -> frozenset[str]:
    types: set[str] = set()
    for code in field.piece_types or ("other",):
        types |= WIDER_TYPES.get(code, DOCUMENTS)
    return frozenset(types)


def top_level_attachment_fields(definition: Definition) -> list[AttachmentField]:
    return [
        each
        for step in definition.steps
        for each in step.fields
        if isinstance(each, AttachmentField)
    ]


def _nested_attachment_fields(fields: Sequence[Field]) -> list[tuple[GroupField, Field]]:
    return [
        (group, member)
        for group in fields
        if isinstance(group, GroupField)
        for member in group.fields
        if isinstance(member, AttachmentField)
    ]


def purpose_of(request: Request) -> str:
    """What the wallet's copy serves: the request (its reference once it has one)."""
    return f"procedures:{request.reference or request.id}"


# ---- reading ----


async def attachments_of(session: AsyncSession, request_id: uuid.UUID) -> list[Attachment]:
    rows = await session.scalars(
        select(Attachment).where(Attachment.request_id == request_id).order_by(Attachment.number)
    )
    return list(rows)


async def attachment_of(
    session: AsyncSession, request_id: uuid.UUID, attachment_id: uuid.UUID
) -> Attachment:
    row = await session.scalar(
        select(Attachment).where(
            Attachment.request_id == request_id, Attachment.id == attachment_id
        )
    )
    if row is None:
        raise AttachmentNotFound()
    return row


def listed(answers: Mapping[str, Any], rows: Sequence[Attachment]) -> list[Attachment]:
    """The rows the answers name, in the answers' order (what a submission carries)."""
    by_id = {str(row.id): row for row in rows}
    found: list[Attachment] = []
    for value in answers.values():
        if isinstance(value, list):
            found.extend(by_id[item] for item in value if isinstance(item, str) and item in by_id)
    return found


async def load_for_proof(session: AsyncSession, request: Request) -> None:
    """The request's files set on it for the proof (`ProofIssuer` reads `request.attachments`)."""
    set_committed_value(request, "attachments", await attachments_of(session, request.id))


def proof_rows(
    request: Request, definition: Definition, language: Language
) -> list[tuple[str, str, str]]:
    """(question, file name, SHA-256) of each file the answers carry."""
    rows: Sequence[Attachment] = request.__dict__.get("attachments") or ()
    labels = {
        each.id: each.label.text(language) for each in top_level_attachment_fields(definition)
    }
    return [
        (labels.get(row.field_id, row.field_id), row.file_name, row.sha256)
        for row in listed(request.answers, rows)
    ]


# ---- the rules of adding and removing ----


def _may_change(request: Request, field_id: str) -> None:
    if request.state == DRAFT:
        return
    if request.state == ACTION_NEEDED and field_id in request.asked_fields:
        return
    raise _closed(field_id)


def _ids(rows: Sequence[Attachment], field_id: str) -> list[str]:
    return [str(row.id) for row in rows if row.field_id == field_id]


async def check_addition(
    session: AsyncSession, request: Request, definition: Definition, field_id: str
) -> Addition:
    """Whether a file may be added to `field_id` now; what the wallet is then told."""
    field = attachment_field(definition, field_id)
    _may_change(request, field.id)
    rows = await attachments_of(session, request.id)
    if len(_ids(rows, field.id)) >= field.max_files:
        raise _too_many(field)
    return Addition(
        request.id,
        field,
        request.owner or "",
        purpose_of(request),
        allowed_content_types(field),
    )


def _set_answer(request: Request, field_id: str, ids: list[str]) -> None:
    answers = dict(request.answers)
    if ids:
        answers[field_id] = ids
    else:
        answers.pop(field_id, None)
    request.answers = answers


async def record_addition(
    session: AsyncSession,
    request: Request,
    definition: Definition,
    addition: Addition,
    copy: CopyInfo,
    source: str,
    *,
    now: datetime,
) -> Attachment:
    """The row of a copy the wallet made, checked again under the request's row lock (the
    caller holds it); the field's answer names it. A draft's steps are checked again by the
    caller (`service.touch_draft`)."""
    field = addition.field
    _may_change(request, field.id)
    if copy.content_type not in addition.allowed_content_types:
        raise type_not_accepted(field, copy.content_type)
    rows = await attachments_of(session, request.id)
    ids = _ids(rows, field.id)
    if len(ids) >= field.max_files:
        raise _too_many(field)
    row = Attachment(
        id=uuid.uuid4(),
        request_id=request.id,
        field_id=field.id,
        copy_id=copy.copy_id,
        file_name=copy.file_name[:255],
        content_type=copy.content_type,
        size=copy.size,
        sha256=copy.sha256,
        source=source,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    _set_answer(request, field.id, [*ids, str(row.id)])
    return row


async def remove(session: AsyncSession, request: Request, attachment_id: uuid.UUID) -> Attachment:
    """A file not yet carried by a submission leaves the request (the wallet's copy stays until
    its retention ends: it is immutable)."""
    row = await attachment_of(session, request.id, attachment_id)
    _may_change(request, row.field_id)
    if row.submitted_at is not None:
        raise Conflict(
            "ATTACHMENT_SUBMITTED",
            _("This file was submitted with the request: it stays part of it."),
        )
    await session.delete(row)
    await session.flush()
    rows = await attachments_of(session, request.id)
    _set_answer(request, row.field_id, _ids(rows, row.field_id))
    return row


# ---- the answers' side: SaveStep, submission, correction ----


def with_attachments(
    definition: Definition,
    step_fields: Sequence[Field],
    submitted: Mapping[str, Any],
    rows: Sequence[Attachment],
) -> dict[str, Any]:
    """`submitted` with each attachment field's value taken from its files: a client may send
    it back as it read it, never another list (files are added and removed by their calls)."""
    errors: list[FieldError] = []
    values = dict(submitted)
    for field in step_fields:
        if not isinstance(field, AttachmentField):
            continue
        ids = _ids(rows, field.id)
        sent = submitted.get(field.id)
        if sent not in (None, [], ids) and not (
            isinstance(sent, list) and sorted(map(str, sent)) == sorted(ids)
        ):
            errors.append(
                FieldError(
                    field.id,
                    "not_attached",
                    _("Add or remove files with the question's file buttons, not in the answers."),
                )
            )
        if ids:
            values[field.id] = ids
        else:
            values.pop(field.id, None)
    for group, member in _nested_attachment_fields(step_fields):
        items = submitted.get(group.id)
        if isinstance(items, list) and any(
            isinstance(item, Mapping) and item.get(member.id) not in (None, []) for item in items
        ):
            errors.append(
                FieldError(
                    group.id,
                    "not_attached",
                    _("Files cannot be given inside a list of entries yet."),
                )
            )
    if errors:
        raise InvalidInput("INVALID_ANSWERS", _("Some answers need correcting."), errors)
    return values


async def at_submission(session: AsyncSession, request: Request, now: datetime) -> None:
    """The files the answers carry become part of the record; those of a question that is no
    longer asked (hidden by a later answer) leave the request."""
    rows = await attachments_of(session, request.id)
    carried = {row.id for row in listed(request.answers, rows)}
    for row in rows:
        if row.id in carried:
            if row.submitted_at is None:
                row.submitted_at = now
        elif row.submitted_at is None:
            await session.execute(delete(Attachment).where(Attachment.id == row.id))
    await session.flush()


def recheck_steps(definition: Definition, request: Request) -> list[str]:
    """The completed steps of a draft that still pass once a file came or went."""
    form = Form(definition)
    applicable = {step.id for step in form.applicable_steps(request.answers)}
    still = []
    for step_id in request.completed_steps:
        if step_id not in applicable:
            continue
        step = definition.step(step_id)
        if step is None:
            continue
        own = {f.id: request.answers[f.id] for f in step.fields if f.id in request.answers}
        try:
            form.check_step(step_id, own, request.answers)
        except InvalidInput:
            continue
        still.append(step_id)
    return still


def in_correction(
    definition: Definition,
    request: Request,
    changes: Mapping[str, Any],
    rows: Sequence[Attachment],
) -> dict[str, Any]:
    """A correction's changes with each asked attachment field's files: a field whose files
    changed is a changed answer even when the client did not send it."""
    asked = [
        field
        for field in top_level_attachment_fields(definition)
        if field.id in request.asked_fields
    ]
    asked_ids = {field.id for field in asked}
    sent = {key: value for key, value in changes.items() if key in asked_ids}
    values = with_attachments(definition, asked, sent, rows)
    updated = {key: value for key, value in changes.items() if key not in asked_ids}
    for field in asked:
        ids = values.get(field.id, [])
        if ids != request.answers.get(field.id, []) or field.id in changes:
            updated[field.id] = ids or None
    return updated
