"""The citizen's side of requests: drafts pinned to a version, steps saved and re-evaluated,
submission once per idempotency key with its sealed proof, corrections answered, cancellation,
expiry of untouched drafts and the deletion of an account.

Every refusal raises before anything is written, inside the RPC's one transaction: a refused
call leaves the request as it was (the servicer's transaction rolls back on a refusal anyway).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from guichet_kit.auth import LevelOfAssurance, Principal, require_level
from guichet_kit.domain import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from guichet_kit.i18n import Catalog, Language, Text
from guichet_kit.outbox import add_event
from guichet_kit.seal import Sealer
from guichet_procedures.definitions.form import (
    Form,
    InvalidAnswers,
    StepNotApplicable,
    UnknownStep,
)
from guichet_procedures.definitions.model import Definition, Field, LocalText, Status
from guichet_procedures.requests import appointments, attachments, events, prefill, repository
from guichet_procedures.requests import signature as signatures
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import (
    ACTION_NEEDED,
    CANCELLED,
    DRAFT,
    EXPIRED,
    SUBMITTED,
    Procedure,
    Proof,
    Request,
)
from guichet_procedures.requests.proof import Applicant as ProofApplicant
from guichet_procedures.requests.proof import (
    ProofAnswer,
    ProofContent,
    ProofStep,
    answers_digest,
    render_proof,
    seal_proof,
)
from guichet_procedures.requests.quotas import check_can_start, consume, governing
from guichet_procedures.requests.references import generate_reference

_ = Catalog("guichet_procedures")

APPLICANT = "applicant"
# The actor of what the platform does by itself (a draft expiring).
PLATFORM = "platform"
LEVELS = {
    "low": LevelOfAssurance.LOW,
    "substantial": LevelOfAssurance.SUBSTANTIAL,
    "high": LevelOfAssurance.HIGH,
}

# Makes the sealed PDF of a (re)submission: (request, its definition, who submits) -> bytes.
ProofMaker = Callable[[Request, Definition, Principal], Awaitable[bytes]]


@dataclass(frozen=True)
class Acting:
    """Who acts and for whom: the signed-in person, the owner their context resolves to (checked
    by the mandates), and the kind of that context."""

    principal: Principal
    owner: str
    context: str  # private, company or relation


# ---- refusals ----


class ProcedureNotFound(NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(
            "PROCEDURE_NOT_FOUND", _("The catalogue has no procedure {code}.", code=code)
        )


class RequestNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("REQUEST_NOT_FOUND", _("You have no request with this id or reference."))


class VersionNotFound(NotFound):
    def __init__(self, code: str, version: int) -> None:
        super().__init__(
            "VERSION_NOT_FOUND",
            _("Procedure {code} has no published version {version}.", code=code, version=version),
        )


class ProofNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "PROOF_NOT_FOUND", _("This request has no proof of deposit: it was never submitted.")
        )


def as_text(message: LocalText | Text) -> Text:
    """An exit's message as a kit text (rendered in the caller's language)."""
    return message.as_text() if isinstance(message, LocalText) else message


def _not_a_draft() -> Conflict:
    return Conflict(
        "NOT_A_DRAFT", _("This request is no longer a draft: its answers cannot be changed.")
    )


# ---- helpers ----


def required_level(definition: Definition) -> LevelOfAssurance:
    return LEVELS[definition.access.level]


def _check_access(definition: Definition, acting: Acting) -> None:
    """The procedure's level of assurance, and its audience against the acting context."""
    require_level(acting.principal, required_level(definition))
    audience = set(definition.audience)
    if acting.context == "company" and "company" not in audience:
        raise Forbidden(
            "WRONG_AUDIENCE", _("This procedure is for citizens: it cannot be done for a company.")
        )
    if acting.context != "company" and "citizen" not in audience:
        raise Forbidden(
            "WRONG_AUDIENCE",
            _("This procedure is for companies: act for your company's space to start it."),
        )


def check_access(definition: Definition, acting: Acting) -> None:
    _check_access(definition, acting)


def after_attachment_change(
    request: Request, definition: Definition, now: datetime, draft_days: int
) -> None:
    """F25: a file came or went. A draft's steps are checked again (a required question left
    without files is no longer complete); after submission, the request changed."""
    if request.state == DRAFT:
        request.completed_steps = attachments.recheck_steps(definition, request)
        _touch(request, now, draft_days)
    else:
        request.version += 1
        request.updated_at = now


def _touch(request: Request, now: datetime, draft_days: int) -> None:
    """A change to a draft: its version, and a new full inactivity period before expiry."""
    request.version += 1
    request.updated_at = now
    request.expires_at = now + timedelta(days=draft_days)
    request.warned_at = None


async def pinned(store: CatalogueStore, session: AsyncSession, request: Request) -> Definition:
    definition = await store.definition(session, request.procedure_code, request.procedure_version)
    if definition is None:  # versions are never deleted: a broken database
        raise RuntimeError(f"{request.procedure_code} v{request.procedure_version} is missing")
    return definition


async def request_of(
    session: AsyncSession,
    owner: str,
    request_id: uuid.UUID | None = None,
    reference: str | None = None,
    *,
    for_update: bool = False,
) -> Request:
    request = await repository.request_of(
        session, owner, request_id=request_id, reference=reference, for_update=for_update
    )
    if request is None:
        raise RequestNotFound()
    return request


def status_of(definition: Definition, code: str | None) -> Status | None:
    return next((status for status in definition.statuses if status.code == code), None)


def cancellable(request: Request, definition: Definition) -> bool:
    if request.state == DRAFT:
        return True
    if request.state not in (SUBMITTED, ACTION_NEEDED):
        return False
    status = status_of(definition, request.status)
    return bool(status is not None and status.cancellable)


# ---- drafts ----


async def start_draft(
    session: AsyncSession,
    store: CatalogueStore,
    acting: Acting,
    code: str,
    language: str,
    *,
    now: datetime,
    draft_days: int,
) -> tuple[Request, Definition]:
    found = await store.current(session, code)
    if found is None:
        raise ProcedureNotFound(code)
    procedure, definition = found
    if definition.channel != "online":
        raise Conflict(
            "PAPER_PROCEDURE",
            _("This procedure is done on a paper form: follow it with eTracking."),
        )
    _check_access(definition, acting)
    # F33: not when it is closed, not open yet, or its quota (or the owner's) is full.
    await check_can_start(session, definition, acting.owner, now)
    request = Request(
        id=uuid.uuid4(),
        procedure_code=definition.code,
        procedure_version=definition.version,
        administration=definition.administration,
        owner=acting.owner,
        created_by=acting.principal.person,
        language=language,
        state=DRAFT,
        answers={},
        completed_steps=[],
        asked_fields=[],
        version=1,
        title=dict(procedure.titles),
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=draft_days),
        history=[],
    )
    session.add(request)
    await session.flush()
    return request, definition


def _reachable(form: Form, request: Request, step_id: str) -> None:
    """Every applicable step before `step_id` is complete, and `step_id` applies."""
    applicable = form.applicable_steps(request.answers)
    ids = [step.id for step in applicable]
    if step_id not in ids:
        raise StepNotApplicable(step_id)
    for step in applicable[: ids.index(step_id)]:
        if step.id not in request.completed_steps:
            exit_message = form.exit_message(request.answers, through_step=step.id)
            if exit_message is not None:
                raise Conflict("NOT_ELIGIBLE", as_text(exit_message))
            raise Conflict(
                "STEP_NOT_REACHABLE",
                _("Complete the earlier step “{step}” first.", step=step.id),
                metadata={"step": step.id},
            )


def _recheck_completed(form: Form, answers: Mapping[str, Any], completed: list[str]) -> list[str]:
    """Completed steps that still apply and whose answers still pass; others become incomplete
    (a step no longer applicable lost its answers to the prune already)."""
    applicable = {step.id: step for step in form.applicable_steps(answers)}
    still: list[str] = []
    for step_id in completed:
        step = applicable.get(step_id)
        if step is None:
            continue
        own = {f.id: answers[f.id] for f in step.fields if f.id in answers}
        try:
            form.check_step(step_id, own, answers)
        except InvalidAnswers:
            continue
        still.append(step_id)
    return still


async def save_step(
    session: AsyncSession,
    store: CatalogueStore,
    acting: Acting,
    request_id: uuid.UUID,
    step_id: str,
    submitted: Mapping[str, Any],
    *,
    now: datetime,
    draft_days: int,
) -> tuple[Request, Definition]:
    request = await request_of(session, acting.owner, request_id, for_update=True)
    if request.state != DRAFT:
        raise _not_a_draft()
    definition = await pinned(store, session, request)
    _check_access(definition, acting)
    form = Form(definition)
    if definition.step(step_id) is None:
        raise UnknownStep(step_id)
    _reachable(form, request, step_id)
    # F24: locked prefilled values keep their source's value.
    submitted = prefill.with_locked(definition, step_id, submitted, request)
    # F25: an attachment field's answer is its files, added and removed by their own calls.
    submitted = attachments.with_attachments(
        definition,
        definition.step(step_id).fields,  # type: ignore[union-attr]
        submitted,
        await attachments.attachments_of(session, request.id),
    )
    result = form.check_step(step_id, submitted, request.answers)
    prefill.check_locked(result.values, request)
    step = next(step for step in definition.steps if step.id == step_id)
    own = {f.id for f in step.fields}
    merged = {k: v for k, v in request.answers.items() if k not in own}
    merged.update(result.values)
    answers = form.prune(merged)
    # Earlier steps cannot depend on later ones (checked at publish): only those after change.
    later = [s for s in request.completed_steps if s != step_id]
    completed = _recheck_completed(form, answers, later)
    # A step whose answers end the procedure (an exit) is saved but not complete.
    if form.exit_message(answers, through_step=step_id) is None:
        completed.append(step_id)
    order = [s.id for s in definition.steps]
    request.answers = answers
    request.completed_steps = sorted(set(completed), key=order.index)
    _touch(request, now, draft_days)
    return request, definition


async def extend_draft(
    session: AsyncSession, acting: Acting, request_id: uuid.UUID, *, now: datetime, draft_days: int
) -> Request:
    request = await request_of(session, acting.owner, request_id, for_update=True)
    if request.state != DRAFT:
        raise Conflict("NOT_A_DRAFT", _("Only a draft can be extended."))
    _touch(request, now, draft_days)
    return request


# ---- submission ----


def _completeness(form: Form, request: Request, answers: Mapping[str, Any]) -> None:
    exit_message = form.exit_message(answers)
    if exit_message is not None:
        raise Conflict("NOT_ELIGIBLE", as_text(exit_message))
    missing = [
        step.id for step in form.applicable_steps(answers) if step.id not in request.completed_steps
    ]
    if missing:
        raise Conflict(
            "REQUEST_INCOMPLETE",
            _("Complete every step before submitting."),
            [FieldError(step, "incomplete", _("This step is not complete.")) for step in missing],
        )
    try:
        form.check_all(answers)
    except InvalidAnswers as error:
        raise Conflict(
            "REQUEST_INCOMPLETE",
            _("Some answers are missing or no longer valid: check them before submitting."),
            error.fields,
        ) from error


async def _free_reference(session: AsyncSession) -> str:
    # About 2^40 references: a clash is rare, and the unique constraint still guards a race.
    while True:
        reference = generate_reference().canonical
        if not await repository.reference_taken(session, reference):
            return reference


async def _issue_proof(
    session: AsyncSession,
    request: Request,
    definition: Definition,
    principal: Principal,
    make_proof: ProofMaker,
) -> None:
    # F32: the proof names the booked appointment (read here: the relationship never loads).
    appointments.load_for_proof(request, await appointments.appointment_of(session, request.id))
    # F25: the proof lists each file the answers carry, with its SHA-256.
    await attachments.load_for_proof(session, request)
    pdf = await make_proof(request, definition, principal)
    session.add(
        Proof(
            request_id=request.id,
            pdf=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            answers_sha256=request.answers_sha256 or "",
        )
    )


async def submit(
    session: AsyncSession,
    store: CatalogueStore,
    acting: Acting,
    request_id: uuid.UUID,
    idempotency_key: str,
    make_proof: ProofMaker,
    *,
    now: datetime,
    signature: signatures.SignatureInput | None = None,
    verifier: signatures.SignatureVerifier | None = None,
    email: str = "",
    follow_up_url: str = "",
) -> tuple[Request, Definition]:
    """`email`, `follow_up_url`: a request filed without an account, told in its event."""
    # The row lock serialises a double click: the second sees the first's submission.
    request = await request_of(session, acting.owner, request_id, for_update=True)
    definition = await pinned(store, session, request)
    if request.idempotency_key is not None:
        if request.idempotency_key == idempotency_key:
            return request, definition
        raise Conflict("ALREADY_SUBMITTED", _("This request was already submitted."))
    if request.state != DRAFT:
        raise _not_a_draft()
    _check_access(definition, acting)
    form = Form(definition)
    _completeness(form, request, request.answers)
    prefill.check_at_submit(request, definition)
    # F26: the applicant's signature over these answers, when the procedure requires it.
    signed = await signatures.check_submission(
        definition, signature, verifier, acting.principal, answers_digest(request.answers), now
    )
    # F32: the held slot becomes a booking (a required appointment needs a live hold); before
    # the quota, so a refused booking never waits on the procedure's counter.
    await appointments.book_on_submit(session, request, definition, now=now)
    # F33: one taken from the current version's quota; refused, the transaction rolls back.
    await consume(session, await governing(session, store, definition), acting.owner, now)
    first = definition.statuses[0]
    request.reference = await _free_reference(session)
    request.state = SUBMITTED
    request.status = first.code
    request.idempotency_key = idempotency_key
    request.answers_sha256 = answers_digest(request.answers)
    request.signature = signed.stored() if signed is not None else None
    request.incoming_sequence = await repository.next_incoming_sequence(session)
    request.submitted_at = now
    request.updated_at = now
    request.expires_at = None
    request.warned_at = None
    request.version += 1
    if acting.owner == acting.principal.person:
        request.applicant_name = acting.principal.name
    repository.add_history(request, "submitted", APPLICANT, now, status=first.code)
    await attachments.at_submission(session, request, now)
    await session.flush()
    add_event(
        session,
        events.REQUEST_SUBMITTED,
        events.request_submitted(
            request, resubmitted=False, email=email, follow_up_url=follow_up_url
        ),
    )
    await _issue_proof(session, request, definition, acting.principal, make_proof)
    return request, definition


async def answer_correction(
    session: AsyncSession,
    store: CatalogueStore,
    acting: Acting,
    request_id: uuid.UUID,
    changes: Mapping[str, Any],
    make_proof: ProofMaker,
    *,
    now: datetime,
    signature: signatures.SignatureInput | None = None,
    verifier: signatures.SignatureVerifier | None = None,
) -> tuple[Request, Definition]:
    request = await request_of(session, acting.owner, request_id, for_update=True)
    if request.state != ACTION_NEEDED:
        raise Conflict(
            "NO_CORRECTION_ASKED", _("The administration has not asked for a correction.")
        )
    definition = await pinned(store, session, request)
    # F25: the files added to an asked attachment field are its changed answer.
    changes = attachments.in_correction(
        definition, request, changes, await attachments.attachments_of(session, request.id)
    )
    not_asked = [key for key in changes if key not in request.asked_fields]
    if not_asked:
        raise InvalidInput(
            "FIELD_NOT_ASKED",
            _("Only the fields the administration asked about can be changed."),
            [
                FieldError(key, "not_asked", _("The administration did not ask about this field."))
                for key in not_asked
            ],
        )
    prefill.check_locked(changes, request)
    form = Form(definition)
    merged = dict(request.answers)
    merged.update(changes)
    # Each step holding a changed field is validated as a whole, as when it was saved.
    errors: list[FieldError] = []
    cleaned = dict(merged)
    for step in form.applicable_steps(merged):
        ids = {f.id for f in step.fields}
        if not ids & set(changes):
            continue
        own = {key: value for key, value in merged.items() if key in ids}
        try:
            result = form.check_step(step.id, own, cleaned)
        except InvalidAnswers as error:
            errors.extend(error.fields)
            continue
        for key in ids:
            cleaned.pop(key, None)
        cleaned.update(result.values)
    if errors:
        raise InvalidInput("INVALID_ANSWERS", _("Some answers are not valid."), errors)
    answers = form.prune(cleaned)
    answers = form.check_all(answers)
    exit_message = form.exit_message(answers)
    if exit_message is not None:
        raise Conflict("NOT_ELIGIBLE", as_text(exit_message))
    # F26: the corrected answers are not the ones signed: a procedure requiring a signature
    # needs a new one over their digest (refused without it, the digest to sign is told).
    digest = answers_digest(answers)
    signed = await signatures.check_correction(
        definition, signature, verifier, acting.principal, digest, now
    )
    request.answers = answers
    request.completed_steps = [step.id for step in form.applicable_steps(answers)]
    request.state = SUBMITTED
    request.status = request.status_before_correction or definition.statuses[0].code
    request.status_before_correction = None
    changed = sorted(changes)
    request.asked_fields = []
    request.answers_sha256 = digest
    if signed is not None:
        request.signature = signed.stored()
    request.incoming_sequence = await repository.next_incoming_sequence(session)
    request.updated_at = now
    request.version += 1
    repository.add_history(
        request, "correction_answered", APPLICANT, now, status=request.status, fields=changed
    )
    await attachments.at_submission(session, request, now)
    await session.flush()
    add_event(
        session, events.REQUEST_SUBMITTED, events.request_submitted(request, resubmitted=True)
    )
    await _issue_proof(session, request, definition, acting.principal, make_proof)
    return request, definition


async def cancel(
    session: AsyncSession,
    store: CatalogueStore,
    acting: Acting,
    request_id: uuid.UUID,
    *,
    now: datetime,
) -> tuple[Request, Definition]:
    request = await request_of(session, acting.owner, request_id, for_update=True)
    definition = await pinned(store, session, request)
    if not cancellable(request, definition):
        raise Conflict(
            "NOT_CANCELLABLE",
            _("This request can no longer be cancelled: contact the administration."),
        )
    submitted = request.state != DRAFT
    request.state = CANCELLED
    request.cancelled_at = now
    request.updated_at = now
    request.expires_at = None
    request.warned_at = None
    request.version += 1
    repository.add_history(request, "cancelled", APPLICANT, now, status=request.status)
    if submitted:
        add_event(session, events.REQUEST_CANCELLED, events.request_cancelled(request))
    return request, definition


# ---- reading ----


async def proof_of(
    session: AsyncSession, owner: str, request_id: uuid.UUID
) -> tuple[Request, Proof]:
    request = await request_of(session, owner, request_id)
    proof = await repository.latest_proof(session, request.id)
    if proof is None:
        raise ProofNotFound()
    return request, proof


@dataclass(frozen=True)
class Page:
    requests: Sequence[Request]
    total: int
    next_offset: int | None


async def list_requests(
    session: AsyncSession,
    owner: str,
    *,
    list_filter: repository.ListFilter,
    sort: repository.ListSort,
    language: str,
    offset: int,
    limit: int,
) -> Page:
    rows, total = await repository.list_requests(
        session,
        owner,
        states=repository.STATES_OF[list_filter],
        sort=sort,
        language=language,
        offset=offset,
        limit=limit,
    )
    more = offset + len(rows) < total and len(rows) == limit
    return Page(rows, total, offset + limit if more else None)


def newer_version_published(request: Request, procedure: Procedure | None) -> bool:
    return (
        request.state == DRAFT
        and procedure is not None
        and procedure.current_version > request.procedure_version
    )


# ---- the upkeep and account deletion ----


async def warn_expiring(
    session: AsyncSession, *, now: datetime, warning_days: int, limit: int
) -> int:
    """DraftExpiring once per expiry for drafts expiring within `warning_days`."""
    drafts = await repository.drafts_to_warn(
        session, now, now + timedelta(days=warning_days), limit
    )
    for draft in drafts:
        draft.warned_at = now
        add_event(session, events.DRAFT_EXPIRING, events.draft_expiring(draft, now))
    return len(drafts)


async def expire_drafts(session: AsyncSession, *, now: datetime, limit: int) -> int:
    """Drafts past their expiry become tombstones: answers gone, `expired` in the list. Whether
    the warning went out does not matter."""
    drafts = await repository.drafts_expired(session, now, limit)
    for draft in drafts:
        draft.state = EXPIRED
        draft.answers = {}
        draft.completed_steps = []
        draft.updated_at = now
        draft.version += 1
        repository.add_history(draft, "expired", PLATFORM, now)
    return len(drafts)


async def purge_detached(
    session: AsyncSession, *, now: datetime, retention_days: int, limit: int
) -> int:
    return await repository.purge_detached(session, now - timedelta(days=retention_days), limit)


async def purge_account(
    session: AsyncSession, deletion_id: str, national_id: str, *, now: datetime
) -> tuple[int, int]:
    """F8 in the consumed event's transaction: the person's drafts deleted, their submitted
    requests detached (kept for the administration), their name removed from requests they
    filed for others; confirmed in the same transaction."""
    person = f"person:{national_id}"
    deleted = await repository.delete_unsubmitted(session, person)
    detached = await repository.detach(session, person, now)
    await repository.forget_creator(session, person)
    add_event(session, events.ACCOUNT_PURGED, events.account_purged(deletion_id))
    return deleted, detached


# ---- the proof of deposit ----


class ProofIssuer:
    """Draws the proof of a (re)submission in the request's language and seals it.

    `sealer` None (benchmarks only, refused in production by the settings): the proof is stored
    unsealed and never verifies. `display` turns a value into what a person reads."""

    def __init__(
        self,
        sealer: Sealer | None,
        verify_url: str,
        display: Callable[[Field, Any, Language], str],
    ) -> None:
        self._sealer = sealer
        self._verify_url = verify_url
        self._display = display

    def content(
        self, request: Request, definition: Definition, principal: Principal
    ) -> ProofContent:
        language = Language(request.language)
        form = Form(definition)
        steps = [
            ProofStep(
                step.title.text(language),
                [
                    ProofAnswer(
                        field.label.text(language),
                        self._display(field, request.answers[field.id], language),
                    )
                    for field in step.fields
                    if field.id in request.answers
                ],
            )
            for step in form.applicable_steps(request.answers)
        ]
        owner_id = (request.owner or "").removeprefix("person:")
        national_id = owner_id if request.owner and request.owner.startswith("person:") else None
        return ProofContent(
            reference=request.reference or "",
            submitted_at=request.updated_at,
            procedure_code=definition.code,
            procedure_version=definition.version,
            procedure_title=definition.title.text(language),
            applicant=ProofApplicant(name=principal.name, national_id=national_id),
            steps=steps,
            answers_sha256=request.answers_sha256 or "",
            verify_url=self._verify_url,
            signer=signatures.signer_of_answers(request.signature, request.answers_sha256),
            appointment=appointments.proof_line(request, definition, language),
            prefilled=prefill.proof_rows(request, definition, language),
            attachments=attachments.proof_rows(request, definition, language),
        )

    async def __call__(
        self, request: Request, definition: Definition, principal: Principal
    ) -> bytes:
        language = Language(request.language)
        content = self.content(request, definition, principal)
        # Drawing is CPU work too: off the event loop, like the seal.
        pdf = await asyncio.to_thread(render_proof, content, language)
        if self._sealer is None:
            return pdf
        return await seal_proof(self._sealer, pdf, language)
