"""/api/v1/procedures and /api/v1/me/requests: online procedures (F20, F22, F23, F27-F31).

The catalogue, a procedure's form and its JSON Schema, and the check of a proof of deposit are
public. Drafts and requests belong to the caller's acting context (`X-Acting-Context`): the
procedures service checks the mandate (procedures:read / procedures:write) and answers another
person's request as unknown (404).

Answers travel to and from the service as JSON text (`answers_json`); here they are JSON objects
(field id → value). The gateway checks only that they are one; every rule of the form (types,
conditions, steps, eligibility) is the service's, whose field errors come back with their paths
(`members[1].birth_date`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Base64Bytes, BaseModel, ConfigDict, Field
from starlette.types import Scope

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_gateway.deps import (
    Calls,
    CurrentUser,
    LanguageDep,
    ServiceStubs,
    acts_in_context,
    rate_limit,
)
from guichet_gateway.fields import (
    HUMAN_TEXT_PATTERN,
    UUID_EXAMPLE,
    UUID_PATTERN,
    Flag,
    UuidPath,
)
from guichet_gateway.openapi import refusals
from guichet_gateway.ratelimit import LOOKUPS
from guichet_gateway.uploads import (
    first_of_stream,
    malformed,
    open_upload,
    refuse_declared_length,
    stream_into,
    too_large,
)
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
from guichet_kit.errors import FieldError
from guichet_kit.i18n import Catalog
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")

router = APIRouter(tags=["procedures"])

CATALOGUE = "/api/v1/procedures"
MY_REQUESTS = "/api/v1/me/requests"
PDF = "application/pdf"
# A proof to check comes as the PDF it is, or as bytes from a client that cannot name them.
PROOF_MEDIA_TYPES = (PDF, "application/octet-stream")
SCHEMA_MEDIA_TYPE = "application/schema+json"

# The definitions' own syntax (services/procedures/catalogue): a code, a step's id, a theme.
CODE_PATTERN = r"^[a-z][a-z0-9-]{2,59}$"
CODE_MAX_LENGTH = 60
CODE_EXAMPLE = "change-of-address"
STEP_ID_PATTERN = r"^[a-z][a-z0-9_-]{0,59}$"
STEP_ID_MAX_LENGTH = 60
THEME_PATTERN = r"^[a-z][a-z0-9_-]{0,59}$"
THEME_MAX_LENGTH = 60
# A request: its id, or its reference as printed (PR-XXXX-XXXX-C) or without hyphens.
REFERENCE_PATTERN = r"[Pp][Rr](?:[ -]?[0-9A-Za-z]){9}"
REFERENCE_EXAMPLE = "PR-7K3M-9QX2-P"
REQUEST_OR_REFERENCE_PATTERN = rf"^(?:{UUID_PATTERN[1:-1]}|{REFERENCE_PATTERN})$"
QUERY_MAX_LENGTH = 200
PAGE_TOKEN_MAX_LENGTH = 200
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_VERSION = 2**31 - 1
# The Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header): a client's token for one
# submission attempt, printable ASCII, as a structured-field string ("…") or bare.
IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = r'^"?[\x21\x23-\x7e]{8,128}"?$'
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
# A proof of deposit to check: a sealed PDF of a few pages, far below this.
PROOF_MAX_BYTES = 2 * 1024 * 1024
VERIFICATION_PATH = f"{CATALOGUE}/proofs/verification"

_IN_CONTEXT = [acts_in_context]


# F25: a file uploaded to an attachment field of a request (API or page), streamed (uploads.py).
ATTACHMENT_UPLOADS = re.compile(
    rf"^(?:{MY_REQUESTS}|/my/requests)/{UUID_PATTERN[1:-1]}/fields/[a-z][a-z0-9_]{{0,59}}/files$"
)


def bounds_its_body(scope: Scope) -> bool:
    """Whether this request is a proof to check or a file upload, whose body the route bounds
    itself (the proof's limit, or the wallet's limit per file, above the bound for JSON)."""
    if scope.get("method") != "POST":
        return False
    path = scope.get("path", "")
    return path == VERIFICATION_PATH or bool(ATTACHMENT_UPLOADS.match(path))


# --- what the API answers ---------------------------------------------------------------------

AudienceWord = Literal["citizen", "company"]
ChannelWord = Literal["online", "paper"]
StateWord = Literal["draft", "submitted", "action_needed", "closed", "cancelled", "expired"]


class ThemeOut(BaseModel):
    code: str = Field(examples=["housing"])
    label: str = Field(description="In the caller's language")
    procedure_count: int


class ProcedureSummaryOut(BaseModel):
    code: str = Field(examples=[CODE_EXAMPLE])
    version: int = Field(description="The current published version")
    title: str
    summary: str
    theme: str
    theme_label: str
    audiences: list[AudienceWord]
    login_required: bool = Field(description="The padlock: a sign-in is needed to start it")
    level: str = Field(description="low, substantial or high: the sign-in needed to start it")
    channel: ChannelWord = Field(
        description="online: filled here; paper: a paper form, followed with eTracking"
    )
    paper_form_code: str = Field(description="For a paper procedure: its eTracking paper form")
    administration: str = Field(description="The competent administration's code")
    form_url: str
    quota_reached: bool = Field(
        description="No request is taken now: a quota is full, or it is not open yet or any more"
    )
    availability_message: str = Field(description="Why, in the caller's language; else empty")
    opens_at: datetime | None = Field(description="Requests are taken from then on, if set")
    closes_at: datetime | None = Field(description="Requests are taken until then, if set")
    appointment: Literal["none", "optional", "required"] = Field(
        default="none", description="F32: whether it offers appointments, or needs one to submit"
    )
    signature_required: bool = Field(
        default=False, description="F26: the submission carries the applicant's signature"
    )
    prefill_offered: bool = Field(
        default=False,
        description="F24: some answers can be prefilled from the person's data, with consent",
    )


class CatalogueOut(BaseModel):
    items: list[ProcedureSummaryOut]
    total: int = Field(description="How many procedures match, on every page")
    next_page_token: str = Field(description="For `page_token`; empty on the last page")


class OptionOut(BaseModel):
    value: str
    label: str


class FormFieldOut(BaseModel):
    id: str = Field(examples=["moving_date"])
    type: str = Field(
        description="text, long_text, number, amount, date, choice, multi_choice, yes_no, "
        "address, iban, national_id, company_number, email, phone, group or attachment"
    )
    label: str
    hint: str
    required: bool = Field(description="Always required (else see `required_if`)")
    required_if: Any = Field(
        None, description="A condition (JSON) making it required; for display only"
    )
    visible: Any = Field(
        None, description="A condition (JSON) showing it; the server evaluates it and decides"
    )
    options: list[OptionOut]
    fields: list[FormFieldOut] = Field(description="A group's fields")
    max_length: int
    min_items: int
    max_items: int
    min: str = Field(description="number, amount or date bound, as text")
    max: str


class StepOut(BaseModel):
    id: str
    title: str
    fields: list[FormFieldOut]
    when: Any = Field(None, description="The condition (JSON) applying this step, if any")


class StatusOut(BaseModel):
    code: str
    text: str
    notify: bool
    end: bool
    asks_citizen: bool
    cancellable: bool
    next: list[str]


class FormOut(BaseModel):
    """A published version of a procedure's form, in the caller's language."""

    procedure: ProcedureSummaryOut
    version: int = Field(description="This form's version")
    content_hash: str = Field(description="SHA-256 of the published definition")
    steps: list[StepOut]
    statuses: list[StatusOut]
    published_at: datetime | None
    schema_url: str = Field(description="The JSON Schema of this version's answers")


class FieldAnswerOut(BaseModel):
    field_id: str
    label: str
    display: str = Field(description="The value written for a person, in the request's language")


class StepStateOut(BaseModel):
    id: str
    title: str
    applicable: bool = Field(description="False when a condition excludes it with these answers")
    complete: bool
    answers: list[FieldAnswerOut] = Field(description="This step's answers, for the summary")


class HistoryEntryOut(BaseModel):
    kind: str = Field(
        description="submitted, status_changed, correction_asked, correction_answered, "
        "message, decision, cancelled or expired"
    )
    occurred_at: datetime | None
    actor: str = Field(description="applicant, or the administration's code")
    status: str
    status_text: str
    text: str = Field(description="The message, comment or decision note")
    field_ids: list[str] = Field(description="The fields a correction asked about or changed")


class RequestSummaryOut(BaseModel):
    id: str = Field(examples=[UUID_EXAMPLE])
    reference: str = Field(description="Empty for a draft", examples=[REFERENCE_EXAMPLE])
    procedure_code: str
    procedure_version: int
    title: str
    state: StateWord
    status: str = Field(description="The procedure's own status code (empty for a draft)")
    status_text: str
    cancellable: bool
    created_at: datetime | None
    updated_at: datetime | None
    submitted_at: datetime | None
    expires_at: datetime | None = Field(description="For a draft: when it expires if left alone")
    newer_version_published: bool = Field(
        description="A newer version of the procedure was published since this draft began; "
        "the draft keeps its own until submitted"
    )
    url: str


class PrefilledFieldOut(BaseModel):
    """F24: a field the form prefills, and its value at its source."""

    field_id: str
    label: str
    value_display: str = Field(description="The value as a person reads it; empty if none")
    value: Any = Field(description="The value as the answers would hold it; null if none")
    source: Literal["profile", "register"]
    source_name: str = Field(description="e.g. National register of natural persons")
    read_at: datetime | None = Field(description="When the source was read")
    locked: bool = Field(description="Once prefilled, the value cannot be changed")
    available: bool = Field(description="False: the source holds nothing; fill it by hand")


class PrefillOut(BaseModel):
    fields: list[PrefilledFieldOut] = Field(description="In the form's order; empty: none")


class PrefillConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept: Flag = Field(description="true: prefill (the sources are read again); false: by hand")


class AttachmentOut(BaseModel):
    """F25: a file given to an attachment field, kept immutable by the wallet's file pipeline."""

    id: str = Field(examples=[UUID_EXAMPLE])
    field_id: str
    file_name: str = Field(description="Sanitized by the wallet; for display only")
    content_type: str = Field(description="Found from the bytes")
    size: int
    sha256: str = Field(description="Hex SHA-256 of the file, as printed on the proof")
    source: Literal["upload", "wallet"]
    created_at: datetime | None
    submitted: bool = Field(description="A submission carried it: it can no longer be removed")
    url: str = Field(description="Where to download it")


class RequestOut(RequestSummaryOut):
    """A draft or a request as its owner sees it."""

    answers: dict[str, Any] = Field(description="The answers: field id → value")
    steps: list[StepStateOut]
    next_step: str = Field(description="The first applicable step not complete; empty when none")
    exit_message: str = Field(description="Why the procedure ends here, when the answers say so")
    history: list[HistoryEntryOut]
    asked_field_ids: list[str] = Field(description="The fields to correct (action_needed)")
    owner: str = Field(description="person:<national id> or company:<space id>")
    filed_by: str = Field(
        default="", description="F34: national id of who started it (the owner or their agent)"
    )
    language: str
    answers_sha256: str = Field(description="SHA-256 of the answers, as printed on the proof")
    proof_url: str = Field(description="The proof of deposit, once submitted; else empty")
    prefilled: list[PrefilledFieldOut] = Field(
        default_factory=list, description="F24: prefilled answers, each with its source"
    )
    prefill_decision: Literal["", "accepted", "refused"] = Field(
        default="", description="F24: the decision on prefill; empty before it is taken"
    )
    attachments: list[AttachmentOut] = Field(
        default_factory=list,
        description="F25: its files; an attachment field's answer lists the ids of its files",
    )
    has_appointment: bool = Field(
        default=False, description="F32: a slot is held or booked for it (see /appointment)"
    )


class RequestsOut(BaseModel):
    items: list[RequestSummaryOut]
    total: int = Field(description="How many match the filter, on every page")
    next_page_token: str = Field(description="For `page_token`; empty on the last page")


class ProofVerificationOut(BaseModel):
    genuine: bool = Field(
        description="The seal is the platform's and covers the whole file, unchanged"
    )
    reason: str = Field(description="Why not, in the caller's language (empty when genuine)")
    reference: str
    procedure_code: str
    procedure_version: int
    procedure_title: str
    submitted_at: datetime | None
    answers_sha256: str


def form_url(code: str, version: int = 0) -> str:
    return f"{CATALOGUE}/{code}/versions/{version}" if version else f"{CATALOGUE}/{code}"


def request_url(request_id: str) -> str:
    return f"{MY_REQUESTS}/{request_id}"


_AUDIENCES: dict[pb.Audience.ValueType, AudienceWord] = {
    pb.AUDIENCE_CITIZEN: "citizen",
    pb.AUDIENCE_COMPANY: "company",
}
_STATES: dict[pb.RequestState.ValueType, StateWord] = {
    pb.REQUEST_STATE_DRAFT: "draft",
    pb.REQUEST_STATE_SUBMITTED: "submitted",
    pb.REQUEST_STATE_ACTION_NEEDED: "action_needed",
    pb.REQUEST_STATE_CLOSED: "closed",
    pb.REQUEST_STATE_CANCELLED: "cancelled",
    pb.REQUEST_STATE_EXPIRED: "expired",
}

_AUDIENCE_OF = {word: value for value, word in _AUDIENCES.items()}


def _condition(text: str) -> Any:
    """A condition of the form, as the JSON it is (None when there is none)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def summary_out(procedure: pb.ProcedureSummary) -> ProcedureSummaryOut:
    return ProcedureSummaryOut(
        code=procedure.code,
        version=procedure.version,
        title=procedure.title,
        summary=procedure.summary,
        theme=procedure.theme,
        theme_label=procedure.theme_label,
        audiences=[_AUDIENCES[a] for a in procedure.audiences if a in _AUDIENCES],
        login_required=procedure.login_required,
        level=procedure.level,
        channel="paper" if procedure.channel == pb.CHANNEL_PAPER else "online",
        paper_form_code=procedure.paper_form_code,
        administration=procedure.administration,
        form_url=form_url(procedure.code),
        quota_reached=procedure.quota_reached,
        availability_message=procedure.availability_message,
        opens_at=timestamp(procedure.opens_at),
        closes_at=timestamp(procedure.closes_at),
        appointment=_APPOINTMENTS.get(procedure.appointment, "none"),
        signature_required=procedure.signature_required,
        prefill_offered=procedure.prefill_offered,
    )


_APPOINTMENTS: dict[str, Literal["none", "optional", "required"]] = {
    "optional": "optional",
    "required": "required",
}


def field_out(field: pb.Field) -> FormFieldOut:
    return FormFieldOut(
        id=field.id,
        type=field.type,
        label=field.label,
        hint=field.hint,
        required=field.required,
        required_if=_condition(field.required_if_json),
        visible=_condition(field.visible_json),
        options=[OptionOut(value=o.value, label=o.label) for o in field.options],
        fields=[field_out(f) for f in field.fields],
        max_length=field.max_length,
        min_items=field.min_items,
        max_items=field.max_items,
        min=field.min,
        max=field.max,
    )


def form_out(form: pb.ProcedureForm) -> FormOut:
    procedure = form.procedure
    return FormOut(
        procedure=summary_out(procedure),
        version=procedure.version,
        content_hash=form.content_hash,
        steps=[
            StepOut(
                id=step.id,
                title=step.title,
                fields=[field_out(f) for f in step.fields],
                when=_condition(step.when_json),
            )
            for step in form.steps
        ],
        statuses=[
            StatusOut(
                code=s.code,
                text=s.text,
                notify=s.notify,
                end=s.end,
                asks_citizen=s.asks_citizen,
                cancellable=s.cancellable,
                next=list(s.next),
            )
            for s in form.statuses
        ],
        published_at=timestamp(form.published_at),
        schema_url=f"{form_url(procedure.code, procedure.version)}/schema",
    )


def _state(request: pb.Request) -> StateWord:
    return _STATES.get(request.state, "draft")


def _summary_fields(request: pb.Request) -> dict[str, Any]:
    return {
        "id": request.id,
        "reference": request.reference,
        "procedure_code": request.procedure_code,
        "procedure_version": request.procedure_version,
        "title": request.title,
        "state": _state(request),
        "status": request.status,
        "status_text": request.status_text,
        "cancellable": request.cancellable,
        "created_at": timestamp(request.created_at),
        "updated_at": timestamp(request.updated_at),
        "submitted_at": timestamp(request.submitted_at),
        "expires_at": timestamp(request.expires_at),
        "newer_version_published": request.newer_version_published,
        "url": request_url(request.id),
    }


def request_summary_out(request: pb.Request) -> RequestSummaryOut:
    return RequestSummaryOut(**_summary_fields(request))


def answers_of(answers_json: str) -> dict[str, Any]:
    """The service's answers as the object they are."""
    answers = json.loads(answers_json) if answers_json else {}
    return answers if isinstance(answers, dict) else {}


def request_out(request: pb.Request) -> RequestOut:
    submitted = bool(request.reference)
    return RequestOut(
        **_summary_fields(request),
        answers=answers_of(request.answers_json),
        steps=[
            StepStateOut(
                id=s.id,
                title=s.title,
                applicable=s.applicable,
                complete=s.complete,
                answers=[
                    FieldAnswerOut(field_id=a.field_id, label=a.label, display=a.display)
                    for a in s.answers
                ],
            )
            for s in request.steps
        ],
        next_step=request.next_step,
        exit_message=request.exit_message,
        history=[
            HistoryEntryOut(
                kind=h.kind,
                occurred_at=timestamp(h.occurred_at),
                actor=h.actor,
                status=h.status,
                status_text=h.status_text,
                text=h.text,
                field_ids=list(h.field_ids),
            )
            for h in request.history
        ],
        asked_field_ids=list(request.asked_field_ids),
        owner=request.owner,
        filed_by=request.filed_by,
        language=request.language,
        answers_sha256=request.answers_sha256,
        proof_url=f"{request_url(request.id)}/proof" if submitted else "",
        prefilled=[prefilled_out(f) for f in request.prefilled],
        prefill_decision=request.prefill_decision,
        attachments=[attachment_out(request.id, a) for a in request.attachments],
        has_appointment=has_appointment(request),
    )


def has_appointment(request: pb.Request) -> bool:
    """F32: a slot held or booked for the request (a cancelled one is none)."""
    return request.HasField("appointment") and request.appointment.state in ("held", "booked")


def attachment_out(request_id: str, attachment: pb.Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.id,
        field_id=attachment.field_id,
        file_name=attachment.file_name,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        source="wallet" if attachment.source == "wallet" else "upload",
        created_at=timestamp(attachment.created_at),
        submitted=attachment.submitted,
        url=f"{request_url(request_id)}/files/{attachment.id}",
    )


def prefilled_out(field: pb.PrefilledField) -> PrefilledFieldOut:
    return PrefilledFieldOut(
        field_id=field.field_id,
        label=field.label,
        value_display=field.value_display,
        value=json.loads(field.value_json) if field.value_json else None,
        source=field.source,
        source_name=field.source_name,
        read_at=timestamp(field.read_at),
        locked=field.locked,
        available=field.available,
    )


# --- what the API takes -----------------------------------------------------------------------

CodePath = Annotated[
    str,
    Path(
        max_length=CODE_MAX_LENGTH,
        pattern=CODE_PATTERN,
        description="A procedure's code (GET /api/v1/procedures)",
        examples=[CODE_EXAMPLE],
    ),
]
VersionPath = Annotated[
    int, Path(ge=1, le=MAX_VERSION, description="A published version", examples=[1])
]
RequestId = Annotated[UuidPath, Path(description="A draft or request of GET /api/v1/me/requests")]
RequestIdOrReference = Annotated[
    str,
    Path(
        max_length=40,
        pattern=REQUEST_OR_REFERENCE_PATTERN,
        description="A draft or request's id, or a request's reference (PR-XXXX-XXXX-C)",
        examples=[UUID_EXAMPLE, REFERENCE_EXAMPLE],
    ),
]
StepIdPath = Annotated[
    str,
    Path(
        max_length=STEP_ID_MAX_LENGTH,
        pattern=STEP_ID_PATTERN,
        description="A step's id (`steps` of the form)",
        examples=["move"],
    ),
]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="How many per page")]
PageToken = Annotated[
    str, Query(max_length=PAGE_TOKEN_MAX_LENGTH, description="next_page_token of the last page")
]
Answers = Annotated[
    dict[str, Any],
    Body(
        description="A JSON object: field id → value (a string, number, true/false, a list or "
        "an object, by the field's type; see the form and its JSON Schema). The whole body is "
        "bounded by the gateway's limit.",
        examples=[{"move_kind": "within", "moving_date": "2030-05-02"}],
    ),
]


# Base64 of at most 16 KiB (a certificate) and of 1 KiB (a signature value).
_Certificate64 = Annotated[Base64Bytes, Field(max_length=22_000)]


class SignatureIn(BaseModel):
    """F26: the applicant's signature of the answers' digest (`answers_sha256` of the complete
    draft): the message signed is the digest's 32 bytes, hashed once more by the algorithm."""

    certificate: _Certificate64 = Field(
        description="The signer's certificate of the national CA, base64 of DER or PEM; its "
        "subject's serialNumber is the signer's national id"
    )
    chain: list[_Certificate64] = Field(
        default_factory=list, max_length=4, description="Intermediate certificates, base64"
    )
    value: Base64Bytes = Field(
        max_length=1_400, description="The signature value, base64 (ECDSA: DER-encoded)"
    )
    algorithm: Literal["rsa-pss-sha256", "rsa-pkcs1v15-sha256", "ecdsa-sha256"]


class SignedCorrectionIn(BaseModel):
    """F26: a correction of a procedure that must be signed: the new answers and the applicant's
    signature of the corrected answers' digest (the digest `/correction` refuses with)."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, Any] = Field(description="The asked fields' new values, as for /correction")
    signature: SignatureIn


class SubmissionIn(BaseModel):
    signature: SignatureIn | None = Field(
        default=None, description="Required when the procedure asks for a signature, else absent"
    )


def answers_json(answers: dict[str, Any]) -> str:
    """The answers as JSON text for the service: only what JSON can say (no NaN or Infinity,
    which Python's reader lets through)."""
    try:
        return json.dumps(answers, ensure_ascii=False, allow_nan=False)
    except ValueError as error:
        message = _("Give numbers as JSON numbers; NaN and Infinity are not numbers.")
        raise Problem(422, "VALIDATION_FAILED", "", [FieldError("body", "number", message)]) from (
            error
        )


async def idempotency_key(request: Request) -> str:
    """The client's Idempotency-Key: required on a submission (400 without it)."""
    given = request.headers.get(IDEMPOTENCY_KEY)
    if given is None:
        message = _("Give an Idempotency-Key header: one new value for each submission attempt.")
        raise Problem(
            400, "VALIDATION_FAILED", "", [FieldError(IDEMPOTENCY_KEY, "missing", message)]
        )
    if not _IDEMPOTENCY_KEY.fullmatch(given):
        message = _("An Idempotency-Key has 8 to 128 printable characters, without spaces.")
        raise Problem(
            422, "VALIDATION_FAILED", "", [FieldError(IDEMPOTENCY_KEY, "format", message)]
        )
    return given.strip('"')


IdempotencyKey = Annotated[str, Depends(idempotency_key)]
_IDEMPOTENCY_KEY_PARAMETER = {
    "name": IDEMPOTENCY_KEY,
    "in": "header",
    "required": True,
    "description": "One new value for each submission attempt (e.g. a UUID), sent again "
    "unchanged on a retry: the request is submitted once, and the retry gets the same answer. "
    "Missing: 400.",
    "schema": {
        "type": "string",
        "pattern": IDEMPOTENCY_KEY_PATTERN,
        "maxLength": 130,
        "examples": [UUID_EXAMPLE],
    },
}


async def proof_body(request: Request) -> bytes:
    """The PDF sent to be checked, read up to the proof's limit."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in PROOF_MEDIA_TYPES:
        message = _("Send the proof of deposit as application/pdf.")
        raise Problem(
            415, "VALIDATION_FAILED", "", [FieldError("Content-Type", "media_type", message)]
        )
    refuse_declared_length(request.headers.get("content-length"), PROOF_MAX_BYTES)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > PROOF_MAX_BYTES:
            raise too_large(PROOF_MAX_BYTES)
    if not body:
        message = _("Send the proof of deposit's PDF file as the body.")
        raise Problem(422, "VALIDATION_FAILED", "", [FieldError("body", "missing", message)])
    return bytes(body)


# --- refusals, as the OpenAPI document tells them -------------------------------------------

_UNKNOWN_PROCEDURE = (
    "No published procedure has this code (PROCEDURE_NOT_FOUND), or not this version "
    "(VERSION_NOT_FOUND)."
)
_UNKNOWN_REQUEST = (
    "No draft or request with this id in the acting context (REQUEST_NOT_FOUND): another "
    "person's is unknown here too."
)
_MANDATE = "No `procedures:read` / `procedures:write` mandate or role for the acting context."
FORM_REFUSALS = refusals({404: _UNKNOWN_PROCEDURE})
READ_REFUSALS = refusals({403: _MANDATE, 404: _UNKNOWN_REQUEST})
ANSWER_REFUSALS = refusals(
    {
        403: _MANDATE,
        404: f"{_UNKNOWN_REQUEST} Or a step the form does not have (STEP_NOT_FOUND).",
        409: "Not a draft any more (NOT_A_DRAFT), an earlier step not complete or this step "
        "not applying with the answers so far (STEP_NOT_REACHABLE), or answers that end the "
        "procedure (NOT_ELIGIBLE, with the exit message).",
        422: "Wrong answers (INVALID_ANSWERS): `errors` names each field by its path (e.g. "
        "`members[1].birth_date`, counted from 0) with why; nothing is saved. A body that is "
        "not a JSON object (VALIDATION_FAILED).",
    }
)


def _json_document(
    description: str, media_type: str = "application/json"
) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {media_type: {"schema": {}}}}}


_PDF_CONTENT = {PDF: {"schema": {"type": "string", "format": "binary"}}}

# --- the catalogue (public) -------------------------------------------------------------------


@router.get(f"{CATALOGUE}/themes", response_model=list[ThemeOut])
async def list_themes(calls: Calls, language: LanguageDep) -> list[ThemeOut]:
    """The catalogue's themes, named in the caller's language, with how many procedures each
    holds."""
    reply = await calls.procedures.ListThemes(pb.ListThemesRequest(language=language))
    return [
        ThemeOut(code=t.code, label=t.label, procedure_count=t.procedure_count)
        for t in reply.themes
    ]


@router.get(
    CATALOGUE,
    response_model=CatalogueOut,
    responses=refusals({422: "A page token that is not one of this search's."}),
)
async def search_catalogue(
    calls: Calls,
    language: LanguageDep,
    q: Annotated[
        str,
        Query(
            max_length=QUERY_MAX_LENGTH,
            pattern=HUMAN_TEXT_PATTERN,
            description="Keywords, in the caller's language (accents do not matter); "
            "left out: every procedure, by title",
            examples=["déménagement"],
        ),
    ] = "",
    theme: Annotated[
        str,
        Query(
            max_length=THEME_MAX_LENGTH,
            pattern=rf"^(?:{THEME_PATTERN[1:-1]})?$",
            description="A theme's code (GET /api/v1/procedures/themes)",
            examples=["housing"],
        ),
    ] = "",
    audience: Annotated[
        AudienceWord | None, Query(description="Procedures for citizens or for companies")
    ] = None,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
    page_token: PageToken = "",
) -> CatalogueOut:
    """F20: find a procedure by keywords (full text in the caller's language, ranked), theme
    and audience. Each says whether it needs a sign-in (the padlock) and at which level, and
    whether it is filled online or on paper (followed with eTracking)."""
    reply = await calls.procedures.SearchCatalogue(
        pb.SearchCatalogueRequest(
            query=q,
            theme=theme,
            audience=_AUDIENCE_OF[audience] if audience else pb.AUDIENCE_UNSPECIFIED,
            language=language,
            page_size=page_size,
            page_token=page_token,
        )
    )
    return CatalogueOut(
        items=[summary_out(p) for p in reply.procedures],
        total=reply.total,
        next_page_token=reply.next_page_token,
    )


async def _form(calls: Calls, code: str, version: int, language: str) -> pb.ProcedureForm:
    reply = await calls.procedures.GetProcedure(
        pb.GetProcedureRequest(code=code, version=version, language=language)
    )
    return reply.form


@router.get(f"{CATALOGUE}/{{code}}", response_model=FormOut, responses=FORM_REFUSALS)
async def get_procedure(code: CodePath, calls: Calls, language: LanguageDep) -> FormOut:
    """A procedure's current form: its steps and fields (labels, hints, options, bounds, the
    conditions for display), its statuses, in the caller's language."""
    return form_out(await _form(calls, code, 0, language))


@router.get(
    f"{CATALOGUE}/{{code}}/versions/{{version}}", response_model=FormOut, responses=FORM_REFUSALS
)
async def get_procedure_version(
    code: CodePath, version: VersionPath, calls: Calls, language: LanguageDep
) -> FormOut:
    """A published version of a procedure's form (a draft keeps the version it began with)."""
    return form_out(await _form(calls, code, version, language))


def _schema_response(form: pb.ProcedureForm) -> Response:
    return Response(form.json_schema, media_type=SCHEMA_MEDIA_TYPE)


_SCHEMA_DOCUMENT: dict[int | str, dict[str, Any]] = {
    **_json_document(
        "The JSON Schema (2020-12) of the answers of this version, for clients: what the "
        "service checks, less what a schema cannot say (conditions, dates relative to today).",
        SCHEMA_MEDIA_TYPE,
    ),
    **FORM_REFUSALS,
}


@router.get(f"{CATALOGUE}/{{code}}/schema", response_class=Response, responses=_SCHEMA_DOCUMENT)
async def get_procedure_schema(code: CodePath, calls: Calls, language: LanguageDep) -> Response:
    """The JSON Schema of the current version's answers (`application/schema+json`)."""
    return _schema_response(await _form(calls, code, 0, language))


@router.get(
    f"{CATALOGUE}/{{code}}/versions/{{version}}/schema",
    response_class=Response,
    responses=_SCHEMA_DOCUMENT,
)
async def get_procedure_version_schema(
    code: CodePath, version: VersionPath, calls: Calls, language: LanguageDep
) -> Response:
    """The JSON Schema of a published version's answers (`application/schema+json`)."""
    return _schema_response(await _form(calls, code, version, language))


@router.post(
    VERIFICATION_PATH,
    response_model=ProofVerificationOut,
    dependencies=[rate_limit(LOOKUPS)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": f"The proof of deposit, the PDF file itself (at most "
            f"{PROOF_MAX_BYTES} bytes), as application/pdf (or application/octet-stream).",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in PROOF_MEDIA_TYPES
            },
        }
    },
    responses=refusals(
        {
            413: f"The file is over {PROOF_MAX_BYTES} bytes.",
            415: "The body is neither application/pdf nor application/octet-stream.",
            422: "No file was sent, or it is not a PDF.",
        }
    ),
)
async def verify_proof(
    request: Request, calls: Calls, language: LanguageDep
) -> ProofVerificationOut:
    """Public: whether a proof of deposit is genuine — sealed by the platform and unchanged —
    and which request it is (its reference, procedure and time of submission)."""
    pdf = await proof_body(request)
    reply = await calls.procedures.VerifyProof(pb.VerifyProofRequest(pdf=pdf, language=language))
    return ProofVerificationOut(
        genuine=reply.genuine,
        reason=reply.reason,
        reference=reply.reference,
        procedure_code=reply.procedure_code,
        procedure_version=reply.procedure_version,
        procedure_title=reply.procedure_title,
        submitted_at=timestamp(reply.submitted_at),
        answers_sha256=reply.answers_sha256,
    )


# --- drafts and requests (the acting context's) -----------------------------------------------


@router.post(
    f"{CATALOGUE}/{{code}}/drafts",
    status_code=201,
    response_model=RequestOut,
    dependencies=_IN_CONTEXT,
    responses={
        201: {
            "description": "The draft, pinned to the procedure's current version; `Location` "
            "is the draft",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        },
        **refusals(
            {
                401: "The procedure needs a stronger sign-in than the token's "
                "(INSUFFICIENT_USER_AUTHENTICATION, with the level in `acr_values`).",
                403: _MANDATE,
                404: _UNKNOWN_PROCEDURE,
                409: "A paper procedure (PAPER_PROCEDURE), or one not open to the acting "
                "context's audience (WRONG_AUDIENCE: a company's procedure for a person, or "
                "the reverse).",
            }
        ),
    },
)
async def start_draft(
    code: CodePath, calls: Calls, user: CurrentUser, language: LanguageDep, response: Response
) -> RequestOut:
    """F22: start a procedure: a draft in the acting context, in the caller's language (that of
    its texts, proof and notifications). It keeps its version until submitted and expires after
    a while untouched (`expires_at`; POST …/extension pushes it back)."""
    reply = await calls.procedures.StartDraft(
        pb.StartDraftRequest(procedure_code=code, language=language)
    )
    response.headers["Location"] = request_url(reply.request.id)
    return request_out(reply.request)


FilterWord = Literal["all", "in_preparation", "submitted", "action_needed", "closed", "archived"]
SortWord = Literal["updated", "name", "reference"]
_FILTERS: dict[str, pb.RequestFilter.ValueType] = {
    "all": pb.REQUEST_FILTER_UNSPECIFIED,
    "in_preparation": pb.REQUEST_FILTER_IN_PREPARATION,
    "submitted": pb.REQUEST_FILTER_SUBMITTED,
    "action_needed": pb.REQUEST_FILTER_ACTION_NEEDED,
    "closed": pb.REQUEST_FILTER_CLOSED,
    "archived": pb.REQUEST_FILTER_ARCHIVED,
}
_SORTS: dict[str, pb.RequestSort.ValueType] = {
    "updated": pb.REQUEST_SORT_UNSPECIFIED,
    "name": pb.REQUEST_SORT_NAME,
    "reference": pb.REQUEST_SORT_REFERENCE,
}


async def list_requests(
    calls: ServiceStubs,
    language: str,
    *,
    filter: FilterWord = "all",
    sort: SortWord = "updated",
    page_size: int = DEFAULT_PAGE_SIZE,
    page_token: str = "",
    deadline: float | None = None,
) -> pb.ListMyRequestsResponse:
    """The acting context's drafts and requests (the caller is set for this request); the
    dashboard reads the latest few under its own `deadline` (seconds)."""
    reply: pb.ListMyRequestsResponse = await calls.procedures.ListMyRequests(
        pb.ListMyRequestsRequest(
            filter=_FILTERS[filter],
            sort=_SORTS[sort],
            page_size=page_size,
            page_token=page_token,
            language=language,
        ),
        timeout=deadline,
    )
    return reply


@router.get(
    MY_REQUESTS,
    response_model=RequestsOut,
    dependencies=_IN_CONTEXT,
    responses=refusals({403: _MANDATE, 422: "A page token that is not one of this list's."}),
)
async def list_my_requests(
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
    filter: Annotated[
        FilterWord,
        Query(
            description="all (but the archive), in_preparation (drafts), submitted, "
            "action_needed, closed, or archived (cancelled requests and expired drafts)"
        ),
    ] = "all",
    sort: Annotated[
        SortWord, Query(description="updated (newest first), name or reference")
    ] = "updated",
    page_size: PageSize = DEFAULT_PAGE_SIZE,
    page_token: PageToken = "",
) -> RequestsOut:
    """F28: the acting context's drafts and requests, filtered, sorted and paged."""
    reply = await list_requests(
        calls, language, filter=filter, sort=sort, page_size=page_size, page_token=page_token
    )
    return RequestsOut(
        items=[request_summary_out(r) for r in reply.requests],
        total=reply.total,
        next_page_token=reply.next_page_token,
    )


@router.get(
    f"{MY_REQUESTS}/{{request_id}}",
    response_model=RequestOut,
    dependencies=_IN_CONTEXT,
    responses=READ_REFUSALS,
)
async def get_my_request(
    request_id: RequestIdOrReference,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
) -> RequestOut:
    """F29: a draft or a request: its answers, its steps (each with its answers, for the
    summary), the next step to fill, its status and history, what a correction asks for."""
    reply = await calls.procedures.GetRequest(
        pb.GetRequestRequest(request_id=request_id, language=language)
    )
    return request_out(reply.request)


@router.put(
    f"{MY_REQUESTS}/{{request_id}}/steps/{{step_id}}",
    response_model=RequestOut,
    dependencies=_IN_CONTEXT,
    responses=ANSWER_REFUSALS,
)
async def save_step(
    request_id: RequestId,
    step_id: StepIdPath,
    answers: Answers,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
) -> RequestOut:
    """F23: save one step of a draft — its answers replace the step's earlier ones. Checked
    field by field, conditions evaluated again: a hidden field's value is dropped, never kept.
    Any earlier step may be saved again; a step after one not complete is refused."""
    reply = await calls.procedures.SaveStep(
        pb.SaveStepRequest(
            request_id=request_id,
            step_id=step_id,
            answers_json=answers_json(answers),
            language=language,
        )
    )
    return request_out(reply.request)


@router.post(
    f"{MY_REQUESTS}/{{request_id}}/extension",
    response_model=RequestOut,
    dependencies=_IN_CONTEXT,
    responses=refusals({403: _MANDATE, 404: _UNKNOWN_REQUEST, 409: "Not a draft (NOT_A_DRAFT)."}),
)
async def extend_draft(
    request_id: RequestId, calls: Calls, user: CurrentUser, language: LanguageDep
) -> RequestOut:
    """Keep a draft: its expiry is pushed back by the whole period of inactivity."""
    reply = await calls.procedures.ExtendDraft(
        pb.ExtendDraftRequest(request_id=request_id, language=language)
    )
    return request_out(reply.request)


@router.post(
    f"{MY_REQUESTS}/{{request_id}}/submission",
    response_model=RequestOut,
    dependencies=_IN_CONTEXT,
    openapi_extra={"parameters": [_IDEMPOTENCY_KEY_PARAMETER]},
    responses=refusals(
        {
            400: "No Idempotency-Key header.",
            403: _MANDATE,
            404: _UNKNOWN_REQUEST,
            409: "The draft is not complete (REQUEST_INCOMPLETE), its answers end the "
            "procedure (NOT_ELIGIBLE), or it was submitted with another key "
            "(ALREADY_SUBMITTED) or is not a draft (NOT_A_DRAFT); the procedure must be "
            "signed (SIGNATURE_REQUIRED).",
            422: "A malformed Idempotency-Key (VALIDATION_FAILED), or answers no longer valid "
            "(INVALID_ANSWERS, e.g. a date past its bound since): `errors` names them. A "
            "signature that does not verify over the answers (SIGNATURE_INVALID), of a "
            "certificate not of the national CA (SIGNATURE_CERTIFICATE_UNTRUSTED), expired "
            "(SIGNATURE_CERTIFICATE_EXPIRED), not for signing (SIGNATURE_CERTIFICATE_USAGE), "
            "or for a procedure that asks none (SIGNATURE_NOT_EXPECTED). 403 also when the "
            "certificate is not the caller's (SIGNER_NOT_APPLICANT).",
        }
    ),
)
async def submit_request(
    request_id: RequestId,
    key: IdempotencyKey,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
    submission: Annotated[SubmissionIn | None, Body()] = None,
) -> RequestOut:
    """F27: submit a complete draft. Everything is checked again on the version it began with;
    it gets its reference (PR-XXXX-XXXX-C) and its sealed proof of deposit (`proof_url`), and
    goes to the competent administration. A retry with the same Idempotency-Key (a double
    click, a lost answer) submits nothing again and gets the same request."""
    message = pb.SubmitRequestRequest(request_id=request_id, idempotency_key=key, language=language)
    if submission is not None and submission.signature is not None:
        given = submission.signature
        message.signature.CopyFrom(
            pb.Signature(
                certificate=given.certificate,
                chain=given.chain,
                value=given.value,
                algorithm=given.algorithm,
            )
        )
    reply = await calls.procedures.SubmitRequest(message)
    return request_out(reply.request)


@router.post(
    f"{MY_REQUESTS}/{{request_id}}/correction",
    response_model=RequestOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE,
            404: _UNKNOWN_REQUEST,
            409: "The administration asks for no correction (NO_CORRECTION_ASKED), or the "
            "procedure must be signed (SIGNATURE_REQUIRED: the detail gives the corrected "
            "answers' digest to sign; send them to /signed-correction).",
            422: "A field that was not asked about (FIELD_NOT_ASKED) or wrong answers "
            "(INVALID_ANSWERS): `errors` names each; nothing changes.",
        }
    ),
)
async def answer_correction(
    request_id: RequestId,
    answers: Answers,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
) -> RequestOut:
    """F30: answer the administration's correction: new values of the asked fields
    (`asked_field_ids`), and only those; the request is submitted again."""
    reply = await calls.procedures.AnswerCorrection(
        pb.AnswerCorrectionRequest(
            request_id=request_id, answers_json=answers_json(answers), language=language
        )
    )
    return request_out(reply.request)


@router.post(
    f"{MY_REQUESTS}/{{request_id}}/signed-correction",
    response_model=RequestOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE + " Or the certificate is not the caller's (SIGNER_NOT_APPLICANT).",
            404: _UNKNOWN_REQUEST,
            409: "The administration asks for no correction (NO_CORRECTION_ASKED).",
            422: "A field that was not asked about (FIELD_NOT_ASKED), wrong answers "
            "(INVALID_ANSWERS), a signature that does not verify over the corrected answers "
            "(SIGNATURE_INVALID) or whose certificate is refused, or a procedure that asks no "
            "signature (SIGNATURE_NOT_EXPECTED); nothing changes.",
        }
    ),
)
async def answer_signed_correction(
    request_id: RequestId,
    correction: SignedCorrectionIn,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
) -> RequestOut:
    """F26 with F30: answer a correction of a procedure that must be signed. `/correction`
    refuses such an answer without a signature (409 SIGNATURE_REQUIRED) and its detail gives the
    SHA-256 digest of the corrected answers; sign it as for the submission and send both here."""
    given = correction.signature
    message = pb.AnswerCorrectionRequest(
        request_id=request_id, answers_json=answers_json(correction.answers), language=language
    )
    message.signature.CopyFrom(
        pb.Signature(
            certificate=given.certificate,
            chain=given.chain,
            value=given.value,
            algorithm=given.algorithm,
        )
    )
    reply = await calls.procedures.AnswerCorrection(message)
    return request_out(reply.request)


@router.post(
    f"{MY_REQUESTS}/{{request_id}}/cancellation",
    response_model=RequestOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE,
            404: _UNKNOWN_REQUEST,
            409: "Its status does not allow cancelling it, or it is closed or cancelled "
            "already (NOT_CANCELLABLE; see `cancellable`).",
        }
    ),
)
async def cancel_request(
    request_id: RequestId, calls: Calls, user: CurrentUser, language: LanguageDep
) -> RequestOut:
    """F31: cancel a draft, or a submitted request where its status allows it (the
    administration is told); it moves to the archive."""
    reply = await calls.procedures.CancelRequest(
        pb.CancelRequestRequest(request_id=request_id, language=language)
    )
    return request_out(reply.request)


@router.get(
    f"{MY_REQUESTS}/{{request_id}}/proof",
    response_class=Response,
    dependencies=_IN_CONTEXT,
    responses={
        200: {
            "description": "The proof of deposit: a PDF sealed by the platform (PAdES), in the "
            "request's language, with every answer and their SHA-256",
            "content": _PDF_CONTENT,
            "headers": {
                "Content-Disposition": {"required": True, "schema": {"type": "string"}},
            },
        },
        **refusals(
            {
                403: _MANDATE,
                404: "No such request in the acting context (REQUEST_NOT_FOUND), or a draft, "
                "which has no proof yet (PROOF_NOT_FOUND).",
            }
        ),
    },
)
async def download_proof(request_id: RequestId, calls: Calls, user: CurrentUser) -> Response:
    """The sealed proof of deposit of a submitted request; anyone can check it at POST
    /api/v1/procedures/proofs/verification."""
    reply = await calls.procedures.GetProof(pb.GetProofRequest(request_id=request_id))
    return Response(
        reply.pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": content_disposition(reply.filename or "proof.pdf"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


# --- prefill with provenance and consent (F24) ---------------------------------------------------


@router.get(
    f"{MY_REQUESTS}/{{request_id}}/prefill",
    response_model=PrefillOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE,
            404: _UNKNOWN_REQUEST,
            409: "Not a draft (NOT_A_DRAFT).",
            503: "The registers or the profile cannot be read now (REGISTERS_UNAVAILABLE, "
            "PROFILE_UNAVAILABLE).",
        }
    ),
)
async def preview_prefill(
    request_id: RequestId, calls: Calls, user: CurrentUser, language: LanguageDep
) -> PrefillOut:
    """F24: what the form would be prefilled with, from which source, read when — before the
    person decides. The registers are read for this procedure's purpose and the read is in the
    person's access log; nothing is written to the draft."""
    reply = await calls.procedures.PreviewPrefill(
        pb.PreviewPrefillRequest(request_id=request_id, language=language)
    )
    return PrefillOut(fields=[prefilled_out(f) for f in reply.fields])


@router.post(
    f"{MY_REQUESTS}/{{request_id}}/prefill-consent",
    response_model=RequestOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE,
            404: _UNKNOWN_REQUEST,
            409: "Not a draft (NOT_A_DRAFT), or the procedure prefills nothing "
            "(NOTHING_TO_PREFILL).",
            422: 'The body is not {"accept": true|false} (VALIDATION_FAILED).',
            503: "The registers or the profile cannot be read now (REGISTERS_UNAVAILABLE, "
            "PROFILE_UNAVAILABLE): nothing was filled.",
        }
    ),
)
async def consent_prefill(
    request_id: RequestId,
    body: PrefillConsentIn,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
) -> RequestOut:
    """F24: the person's decision, recorded on the request. Accepted, the sources are read
    again and their values written into the answers (`prefilled` says where each came from;
    locked ones then keep their value, checked again at submission). Refused, nothing is
    filled: the form is filled by hand. A procedure with locked fields needs this decision
    before it is submitted (409 PREFILL_CONSENT_MISSING)."""
    reply = await calls.procedures.ConsentPrefill(
        pb.ConsentPrefillRequest(request_id=request_id, accept=body.accept, language=language)
    )
    return request_out(reply.request)


# --- attachments (F25): files through the wallet's one file pipeline ---------------------------

FieldIdPath = Annotated[
    str,
    Path(
        max_length=STEP_ID_MAX_LENGTH,
        pattern=r"^[a-z][a-z0-9_]{0,59}$",
        description="An attachment field of the request's form",
    ),
]
AttachmentId = Annotated[UuidPath, Path(description="A file of the request (its `attachments`)")]


class AttachmentUploadOut(BaseModel):
    request: RequestOut
    attachment: AttachmentOut


class WalletPieceIn(BaseModel):
    """A version of one of the acting context's wallet pieces (GET /api/v1/wallet/pieces)."""

    model_config = ConfigDict(extra="forbid")

    piece_id: Annotated[str, Field(max_length=36, pattern=UUID_PATTERN, examples=[UUID_EXAMPLE])]
    file_id: Annotated[str, Field(max_length=36, pattern=UUID_PATTERN, examples=[UUID_EXAMPLE])]
    version_id: Annotated[str, Field(max_length=36, pattern=UUID_PATTERN)] | None = Field(
        None, description="Empty: the file's current version"
    )


class WalletCopyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Annotated[
        str, Field(max_length=64, pattern=r"^[a-z][a-z0-9_]{1,63}$", examples=["payslip"])
    ]
    title: Annotated[str, Field(max_length=200, pattern=HUMAN_TEXT_PATTERN)] = Field(
        "", description="Empty: the piece is named after its type"
    )


class WalletCopyOut(BaseModel):
    piece_id: str
    url: str = Field(description="The new piece of the wallet")


_ATTACH_REFUSALS = {
    403: _MANDATE,
    404: f"{_UNKNOWN_REQUEST} From the wallet: no such piece, file or version in the acting "
    "context's wallet — another person's piece is unknown (PIECE_NOT_FOUND, FILE_NOT_FOUND, "
    "VERSION_NOT_FOUND).",
    409: "The field has its most files already (TOO_MANY_ATTACHMENTS), or files can no longer "
    "be added: after submission, only to a field a correction asks about (ATTACHMENTS_CLOSED).",
    422: "Not an attachment field (NOT_AN_ATTACHMENT_FIELD), or the file is refused by the "
    "file pipeline: FILE_EMPTY, FILE_TYPE_NOT_ALLOWED (not a type of the field's pieces), "
    "FILE_TYPE_MISMATCH, FILE_POLYGLOT, ARCHIVE_BOMB, FILE_INFECTED, INVALID_FILE_NAME. "
    "Nothing is stored.",
    503: "The file pipeline or its antivirus cannot be reached (FILES_UNAVAILABLE, "
    "SCANNER_UNAVAILABLE): nothing is stored.",
}


@router.post(
    f"{MY_REQUESTS}/{{request_id}}/fields/{{field_id}}/files",
    status_code=201,
    response_model=AttachmentUploadOut,
    dependencies=_IN_CONTEXT,
    openapi_extra={
        "requestBody": _multipart_body(FileFields, "One file for the attachment field:")
    },
    responses=refusals(
        {
            **_ATTACH_REFUSALS,
            413: "The file is over the limit per file (FILE_TOO_LARGE, REQUEST_TOO_LARGE), "
            "said as soon as it is known: the rest of the body is not read.",
            415: "The body is not multipart/form-data.",
        }
    ),
)
async def upload_attachment(
    request: Request,
    request_id: RequestId,
    field_id: FieldIdPath,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
) -> AttachmentUploadOut:
    """F25: add a file from the computer to an attachment field of a draft (or of a request
    whose correction asks about that field): optional `file_name`, `size`, then `file`. It is
    streamed through the wallet's file pipeline (scanned, its type found from its bytes) into an
    immutable copy; the field's answer then lists it."""
    reader = open_upload(request, upload_limit(request))
    fields, part = await fields_then_file(reader)
    checked: FileFields = checked_fields(FileFields, fields)
    file = FileToUpload.of(part, checked)
    header = pb.UploadAttachmentHeader(
        request_id=request_id,
        field_id=field_id,
        file_name=file.file_name,
        declared_content_type=part.content_type,
        declared_size=file.declared_size,
        language=language,
    )

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in part.chunks():
            yield chunk
        if await reader.next_part() is not None:
            # Before the stream ends: nothing is kept of a refused request.
            raise malformed(_("Send the text fields before the file."), "file", "order")

    reply: pb.UploadAttachmentResponse = await stream_into(
        calls.procedures_uploads.UploadAttachment.future,
        pb.UploadAttachmentRequest(header=header),
        chunks(),
        lambda chunk: pb.UploadAttachmentRequest(chunk=chunk),
    )
    return AttachmentUploadOut(
        request=request_out(reply.request),
        attachment=attachment_out(reply.request.id, reply.attachment),
    )


@router.post(
    f"{MY_REQUESTS}/{{request_id}}/fields/{{field_id}}/files/from-wallet",
    status_code=201,
    response_model=AttachmentUploadOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(_ATTACH_REFUSALS),
)
async def attach_wallet_piece(
    request_id: RequestId,
    field_id: FieldIdPath,
    body: WalletPieceIn,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
) -> AttachmentUploadOut:
    """F25: attach a version of one of the acting context's wallet pieces; the wallet checks
    it is theirs and keeps an immutable copy for the request (the piece may change later)."""
    reply = await calls.procedures.AttachWalletPiece(
        pb.AttachWalletPieceRequest(
            request_id=request_id,
            field_id=field_id,
            piece_id=body.piece_id,
            file_id=body.file_id,
            version_id=body.version_id or "",
            language=language,
        )
    )
    return AttachmentUploadOut(
        request=request_out(reply.request),
        attachment=attachment_out(reply.request.id, reply.attachment),
    )


@router.delete(
    f"{MY_REQUESTS}/{{request_id}}/files/{{attachment_id}}",
    response_model=RequestOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE,
            404: f"{_UNKNOWN_REQUEST} Or no such file (ATTACHMENT_NOT_FOUND).",
            409: "A submitted file stays (ATTACHMENT_SUBMITTED), or the request is no longer a "
            "draft and no correction asks about the field (ATTACHMENTS_CLOSED).",
        }
    ),
)
async def remove_attachment(
    request_id: RequestId,
    attachment_id: AttachmentId,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
) -> RequestOut:
    """F25: remove a file no submission carried yet (its field's answer no longer lists it)."""
    reply = await calls.procedures.RemoveAttachment(
        pb.RemoveAttachmentRequest(
            request_id=request_id, attachment_id=attachment_id, language=language
        )
    )
    return request_out(reply.request)


@router.get(
    f"{MY_REQUESTS}/{{request_id}}/files/{{attachment_id}}",
    response_class=Response,
    dependencies=_IN_CONTEXT,
    responses={
        200: {
            "description": "The file, streamed, with its type, `Content-Length` and "
            "`Repr-Digest` (its SHA-256); `Content-Disposition: attachment`.",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        **refusals({403: _MANDATE, 404: f"{_UNKNOWN_REQUEST} Or no such file."}),
    },
)
async def download_attachment(
    request_id: RequestId, attachment_id: AttachmentId, calls: Calls, user: CurrentUser
) -> Response:
    """F25: one of the request's files, as the wallet keeps it."""
    call = calls.procedures.DownloadAttachment(
        pb.DownloadAttachmentRequest(request_id=request_id, attachment_id=attachment_id)
    )
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


@router.post(
    f"{MY_REQUESTS}/{{request_id}}/files/{{attachment_id}}/wallet-copy",
    status_code=201,
    response_model=WalletCopyOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE,
            404: f"{_UNKNOWN_REQUEST} Or no such file.",
            409: "The wallet holds its most pieces already (TOO_MANY_PIECES).",
            422: "Not a piece type people file (UNKNOWN_PIECE_TYPE), or the file's type is not "
            "one of that piece type's (FILE_TYPE_NOT_ALLOWED).",
        }
    ),
)
async def copy_attachment_to_wallet(
    request_id: RequestId,
    attachment_id: AttachmentId,
    body: WalletCopyIn,
    response: Response,
    calls: Calls,
    user: CurrentUser,
) -> WalletCopyOut:
    """F25: keep one of the request's files as a new piece of the acting context's wallet."""
    reply = await calls.procedures.CopyAttachmentToWallet(
        pb.CopyAttachmentToWalletRequest(
            request_id=request_id,
            attachment_id=attachment_id,
            type_code=body.type,
            title=body.title,
        )
    )
    url = f"/api/v1/wallet/pieces/{reply.piece_id}"
    response.headers["Location"] = url
    return WalletCopyOut(piece_id=reply.piece_id, url=url)
