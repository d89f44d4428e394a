"""ProceduresService: the catalogue and proof verification (public), drafts and requests of the
caller's acting context (themselves, a company space, or a relation they hold a mandate for).

Whose requests is never taken from the request: it is the owner the acting context resolves to
(`MandateChecker`, procedures:read to read, procedures:write to change). Another owner's request
is NOT_FOUND, never FORBIDDEN: its existence is not told.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc
from guichet_kit.db import transaction
from guichet_kit.domain import FieldError, InvalidInput
from guichet_kit.i18n import Catalog, Language
from guichet_kit.mandates import MandateChecker
from guichet_kit.seal import TrustRoot
from guichet_kit.servicers import (
    ANY_CONTEXT,
    Call,
    Db,
    DeclaredServicer,
    citizen,
    public,
    request_language,
    rpc,
    rpc_stream,
)
from guichet_procedures.api import files_wire, prefill_wire, signature_wire, wire
from guichet_procedures.api.files import WalletFiles, files_unavailable
from guichet_procedures.definitions.form import Form
from guichet_procedures.definitions.model import Definition
from guichet_procedures.requests import (
    appointments,
    attachments,
    prefill,
    quotas,
    repository,
    service,
)
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import DRAFT, FROM_WALLET, UPLOADED, Request
from guichet_procedures.requests.proof import verify_proof
from guichet_procedures.requests.references import InvalidRequestReference, parse_reference
from guichet_procedures.requests.service import Acting, ProofMaker
from guichet_procedures.requests.signature import SignatureVerifier

_ = Catalog("guichet_procedures")

# The answers of one call: refused before parsing above this (a step is never near it).
MAX_ANSWERS_BYTES = 256 * 1024
DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_IDEMPOTENCY_KEY = 100
LUXEMBOURG = ZoneInfo("Europe/Luxembourg")

FILTERS: dict[int, repository.ListFilter] = {
    pb.REQUEST_FILTER_UNSPECIFIED: "active",
    pb.REQUEST_FILTER_IN_PREPARATION: "draft",
    pb.REQUEST_FILTER_SUBMITTED: "submitted",
    pb.REQUEST_FILTER_ACTION_NEEDED: "action_needed",
    pb.REQUEST_FILTER_CLOSED: "closed",
    pb.REQUEST_FILTER_ARCHIVED: "archived",
}
SORTS: dict[int, repository.ListSort] = {
    pb.REQUEST_SORT_UNSPECIFIED: "updated",
    pb.REQUEST_SORT_NAME: "name",
    pb.REQUEST_SORT_REFERENCE: "reference",
}


@dataclass(frozen=True)
class RequestRules:
    """What the request RPCs need besides the database."""

    draft_days: int
    make_proof: ProofMaker
    trust_roots: Sequence[TrustRoot]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # F26: checks applicants' signatures against the national CA (None: none can be checked).
    signatures: SignatureVerifier | None = None
    # F24: the profile and the registers prefill is read from (None: none can be read).
    prefill_sources: prefill.Sources | None = None
    # F25: the wallet's file pipeline (None: no file can be attached).
    files: WalletFiles | None = None


def luxembourg_today() -> date:
    return datetime.now(LUXEMBOURG).date()


# ---- reading the request messages ----


# The kit's reading of a request's language field (api/anonymous.py imports this name too).
_language = request_language


def _request_id(text: str, field: str = "request_id") -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as error:
        message = _("Give the id of one of your requests.")
        raise InvalidInput(
            "INVALID_REQUEST_ID", message, [FieldError(field, "invalid", message)]
        ) from error


def _id_or_reference(text: str) -> tuple[uuid.UUID | None, str | None]:
    try:
        return uuid.UUID(text), None
    except ValueError:
        pass
    try:
        return None, parse_reference(text).canonical
    except InvalidRequestReference as error:
        message = _("Give the id or the reference (PR-XXXX-XXXX-C) of one of your requests.")
        raise InvalidInput(
            "INVALID_REQUEST_ID", message, [FieldError("request_id", error.reason, error.message)]
        ) from error


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_answers(text: str, field: str = "answers_json") -> dict[str, Any]:
    """A JSON object of field id -> value; refused above 256 KiB before it is parsed."""
    if len(text) > MAX_ANSWERS_BYTES or len(text.encode("utf-8")) > MAX_ANSWERS_BYTES:
        message = _(
            "The answers are too large (at most {size} KiB at once).",
            size=MAX_ANSWERS_BYTES // 1024,
        )
        raise InvalidInput("ANSWERS_TOO_LARGE", message, [FieldError(field, "too_large", message)])
    try:
        value = json.loads(text or "{}", parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        message = _("The answers must be a JSON object of field ids and values.")
        raise InvalidInput(
            "INVALID_ANSWERS_JSON", message, [FieldError(field, "not_json", message)]
        ) from error
    if not isinstance(value, dict):
        message = _("The answers must be a JSON object of field ids and values.")
        raise InvalidInput(
            "INVALID_ANSWERS_JSON", message, [FieldError(field, "not_object", message)]
        )
    return value


def _idempotency_key(text: str) -> str:
    if not text or len(text) > MAX_IDEMPOTENCY_KEY or not all(33 <= ord(c) <= 126 for c in text):
        message = _(
            "Give an idempotency key: 1 to {length} visible ASCII characters, new for each "
            "submission attempt.",
            length=MAX_IDEMPOTENCY_KEY,
        )
        raise InvalidInput(
            "INVALID_IDEMPOTENCY_KEY", message, [FieldError("idempotency_key", "invalid", message)]
        )
    return text


def _page(page_size: int, page_token: str) -> tuple[int, int]:
    """(offset, limit) from the request's paging; the token is opaque to clients."""
    errors: list[FieldError] = []
    if page_size < 0 or page_size > MAX_PAGE:
        errors.append(
            FieldError(
                "page_size", "out_of_range", _("Ask for 1 to {most} at once.", most=MAX_PAGE)
            )
        )
    offset = 0
    if page_token:
        try:
            decoded = base64.b64decode(page_token, altchars=b"-_", validate=True).decode("ascii")
            if not decoded.startswith("o:") or not decoded[2:].isdigit() or len(decoded) > 12:
                raise ValueError(decoded)
            offset = int(decoded[2:])
        except (ValueError, UnicodeError, binascii.Error):
            errors.append(
                FieldError("page_token", "invalid", _("Use the page token of the previous page."))
            )
    if errors:
        raise InvalidInput("INVALID_PAGE_REQUEST", _("The page request has errors."), errors)
    return offset, page_size or DEFAULT_PAGE


def page_token(offset: int | None) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode() if offset else ""


# ---- the servicer ----


class ProceduresServicer(DeclaredServicer, pb_grpc.ProceduresServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: CatalogueStore,
        mandates: MandateChecker,
        rules: RequestRules,
        events_written: Callable[[], None],
    ) -> None:
        super().__init__(sessions, events_written)
        self._store = store
        self._mandates = mandates
        self._rules = rules

    async def _acting(self, call: Call, right: str, act: str) -> Acting:
        principal = call.person
        # An act for someone else goes to their audit; reading one's own does not.
        owner = await self._mandates.owner(
            principal, call.acting, right, act="" if call.acting.kind == "private" else act
        )
        return Acting(principal, owner, call.acting.kind)

    async def _reply(
        self, session: AsyncSession, request: Request, definition: Definition, language: Language
    ) -> pb.Request:
        """A request with its steps, answers, history, as its owner sees it."""
        form = Form(definition)
        applicable = {step.id for step in form.applicable_steps(request.answers)}
        steps = [
            pb.StepState(
                id=step.id,
                title=step.title.text(language),
                applicable=step.id in applicable,
                complete=step.id in request.completed_steps,
                answers=wire.step_answers(step, request.answers, language),
            )
            for step in definition.steps
        ]
        next_step = ""
        exit_message = ""
        newer = False
        if request.state == DRAFT:
            next_step = next(
                (
                    step.id
                    for step in definition.steps
                    if step.id in applicable and step.id not in request.completed_steps
                ),
                "",
            )
            found = form.exit_message(request.answers)
            exit_message = service.as_text(found).render(language) if found is not None else ""
            procedure = await repository.find_procedure(session, request.procedure_code)
            newer = service.newer_version_published(request, procedure)
        reply = wire.request_to_proto(
            request,
            definition,
            language,
            steps=steps,
            next_step=next_step,
            exit_message=exit_message,
            cancellable=service.cancellable(request, definition),
            newer_version_published=newer,
            appointment=wire.appointment_to_proto(
                await appointments.appointment_of(session, request.id), definition, language
            ),
        )
        # F24: where each prefilled answer came from, and the decision on prefill.
        prefill_wire.add_provenance(reply, request, definition, language)
        # F25: its files.
        reply.attachments.extend(
            files_wire.attachment_to_proto(row)
            for row in await attachments.attachments_of(session, request.id)
        )
        return reply

    # ---- the catalogue ----

    async def _availability(
        self, session: AsyncSession, keys: Sequence[tuple[str, int]]
    ) -> dict[str, quotas.Availability]:
        """F33 for these (code, current version): a page's counters read in one query."""
        definitions = await self._store.definitions(session, keys)
        online = [each for each in definitions.values() if each.channel == "online"]
        return await quotas.availabilities(session, online, self._rules.clock())

    @rpc(public(), db=Db.READ)
    async def ListThemes(self, request: pb.ListThemesRequest, call: Call) -> pb.ListThemesResponse:
        language = _language(request.language)
        counts = await repository.theme_counts(call.session)
        return pb.ListThemesResponse(
            themes=[
                pb.Theme(
                    code=code,
                    label=self._store.theme_label(code, language.value),
                    procedure_count=counts.get(code, 0),
                )
                for code in self._store.themes
            ]
        )

    @rpc(public(), db=Db.READ)
    async def SearchCatalogue(
        self, request: pb.SearchCatalogueRequest, call: Call
    ) -> pb.SearchCatalogueResponse:
        language = _language(request.language)
        offset, limit = _page(request.page_size, request.page_token)
        errors: list[FieldError] = []
        query = request.query.strip()
        if len(query) > 200 or "\x00" in query:
            errors.append(FieldError("query", "too_long", _("Search with at most 200 characters.")))
        if request.theme and request.theme not in self._store.themes:
            errors.append(FieldError("theme", "unknown", _("Choose a theme of the catalogue.")))
        audience = wire.AUDIENCE_NAMES.get(request.audience, "")
        if request.audience and not audience:
            errors.append(FieldError("audience", "unknown", _("Choose citizen or company.")))
        if errors:
            raise InvalidInput("INVALID_SEARCH", _("The search has errors."), errors)
        found, total = await repository.search(
            call.session,
            query=query,
            language=language.value,
            theme=request.theme,
            audience=audience,
            offset=offset,
            limit=limit,
        )
        more = offset + len(found) < total and len(found) == limit
        current = [(procedure.code, procedure.current_version) for procedure in found]
        available = await self._availability(call.session, current)
        definitions = await self._store.definitions(call.session, current)
        return pb.SearchCatalogueResponse(
            procedures=[
                wire.summary_to_proto(
                    procedure,
                    language,
                    self._store.theme_label,
                    available.get(procedure.code),
                    definitions.get((procedure.code, procedure.current_version)),
                )
                for procedure in found
            ],
            next_page_token=page_token(offset + limit if more else None),
            total=total,
        )

    @rpc(public(), db=Db.READ)
    async def GetProcedure(
        self, request: pb.GetProcedureRequest, call: Call
    ) -> pb.GetProcedureResponse:
        language = _language(request.language)
        if request.version < 0:
            message = _("Give a version number, or 0 for the current one.")
            raise InvalidInput(
                "INVALID_VERSION", message, [FieldError("version", "negative", message)]
            )
        procedure = await repository.find_procedure(call.session, request.code)
        if procedure is None:
            raise service.ProcedureNotFound(request.code)
        version = request.version or procedure.current_version
        row = await repository.find_version(call.session, request.code, version)
        definition = await self._store.definition(call.session, request.code, version)
        if row is None or definition is None:
            raise service.VersionNotFound(request.code, version)
        today = luxembourg_today()
        # Whatever version is shown, the current one's quota and days say if requests are taken.
        available = await self._availability(
            call.session, [(procedure.code, procedure.current_version)]
        )
        form = pb.ProcedureForm(
            procedure=wire.definition_summary(
                definition, language, self._store.theme_label, available.get(procedure.code)
            ),
            content_hash=row.content_hash,
            steps=[wire.step_to_proto(step, language, today) for step in definition.steps],
            statuses=[wire.status_to_proto(status, language) for status in definition.statuses],
            json_schema=json.dumps(answers_schema(definition, language), ensure_ascii=False),
        )
        form.published_at.FromDatetime(row.published_at)
        return pb.GetProcedureResponse(form=form)

    # ---- drafts ----

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def StartDraft(self, request: pb.StartDraftRequest, call: Call) -> pb.StartDraftResponse:
        language = _language(request.language)
        acting = await self._acting(
            call, "procedures:write", f"started the procedure {request.procedure_code}"
        )
        draft, definition = await service.start_draft(
            call.session,
            self._store,
            acting,
            request.procedure_code,
            language.value,
            now=self._rules.clock(),
            draft_days=self._rules.draft_days,
        )
        return pb.StartDraftResponse(
            request=await self._reply(call.session, draft, definition, language)
        )

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def SaveStep(self, request: pb.SaveStepRequest, call: Call) -> pb.SaveStepResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        answers = parse_answers(request.answers_json)
        acting = await self._acting(call, "procedures:write", "saved a step of a request")
        saved, definition = await service.save_step(
            call.session,
            self._store,
            acting,
            request_id,
            request.step_id,
            answers,
            now=self._rules.clock(),
            draft_days=self._rules.draft_days,
        )
        return pb.SaveStepResponse(
            request=await self._reply(call.session, saved, definition, language)
        )

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def GetRequest(self, request: pb.GetRequestRequest, call: Call) -> pb.GetRequestResponse:
        language = _language(request.language)
        request_id, reference = _id_or_reference(request.request_id)
        acting = await self._acting(call, "procedures:read", "read a request")
        found = await service.request_of(call.session, acting.owner, request_id, reference)
        definition = await self._store.definition(
            call.session, found.procedure_code, found.procedure_version
        )
        if definition is None:  # pragma: no cover - versions are never deleted
            raise service.VersionNotFound(found.procedure_code, found.procedure_version)
        return pb.GetRequestResponse(
            request=await self._reply(call.session, found, definition, language)
        )

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListMyRequests(
        self, request: pb.ListMyRequestsRequest, call: Call
    ) -> pb.ListMyRequestsResponse:
        language = _language(request.language)
        offset, limit = _page(request.page_size, request.page_token)
        list_filter = FILTERS.get(request.filter)
        sort = SORTS.get(request.sort)
        if list_filter is None or sort is None:
            message = _("Choose a filter and a sort of the list.")
            field = "filter" if list_filter is None else "sort"
            raise InvalidInput(
                "INVALID_PAGE_REQUEST", message, [FieldError(field, "unknown", message)]
            )
        acting = await self._acting(call, "procedures:read", "listed the requests")
        page = await service.list_requests(
            call.session,
            acting.owner,
            list_filter=list_filter,
            sort=sort,
            language=language.value,
            offset=offset,
            limit=limit,
        )
        current = await repository.current_versions(
            call.session, sorted({row.procedure_code for row in page.requests})
        )
        replies = []
        for row in page.requests:
            definition = await self._store.definition(
                call.session, row.procedure_code, row.procedure_version
            )
            replies.append(
                wire.request_to_proto(
                    row,
                    definition,
                    language,
                    cancellable=definition is not None and service.cancellable(row, definition),
                    newer_version_published=row.state == DRAFT
                    and current.get(row.procedure_code, 0) > row.procedure_version,
                    full=False,
                )
            )
        return pb.ListMyRequestsResponse(
            requests=replies, next_page_token=page_token(page.next_offset), total=page.total
        )

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def ExtendDraft(
        self, request: pb.ExtendDraftRequest, call: Call
    ) -> pb.ExtendDraftResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        acting = await self._acting(call, "procedures:write", "extended a draft")
        draft = await service.extend_draft(
            call.session,
            acting,
            request_id,
            now=self._rules.clock(),
            draft_days=self._rules.draft_days,
        )
        definition = await service.pinned(self._store, call.session, draft)
        return pb.ExtendDraftResponse(
            request=await self._reply(call.session, draft, definition, language)
        )

    # ---- submission, correction, cancellation ----

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def SubmitRequest(
        self, request: pb.SubmitRequestRequest, call: Call
    ) -> pb.SubmitRequestResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        key = _idempotency_key(request.idempotency_key)
        acting = await self._acting(call, "procedures:write", "submitted a request")
        submitted, definition = await service.submit(
            call.session,
            self._store,
            acting,
            request_id,
            key,
            self._rules.make_proof,
            now=self._rules.clock(),
            signature=signature_wire.signature_input(request),
            verifier=self._rules.signatures,
        )
        return pb.SubmitRequestResponse(
            request=await self._reply(call.session, submitted, definition, language)
        )

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def AnswerCorrection(
        self, request: pb.AnswerCorrectionRequest, call: Call
    ) -> pb.AnswerCorrectionResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        changes = parse_answers(request.answers_json)
        acting = await self._acting(call, "procedures:write", "answered a correction")
        corrected, definition = await service.answer_correction(
            call.session,
            self._store,
            acting,
            request_id,
            changes,
            self._rules.make_proof,
            now=self._rules.clock(),
            signature=signature_wire.signature_input(request),
            verifier=self._rules.signatures,
        )
        return pb.AnswerCorrectionResponse(
            request=await self._reply(call.session, corrected, definition, language)
        )

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def CancelRequest(
        self, request: pb.CancelRequestRequest, call: Call
    ) -> pb.CancelRequestResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        acting = await self._acting(call, "procedures:write", "cancelled a request")
        cancelled, definition = await service.cancel(
            call.session, self._store, acting, request_id, now=self._rules.clock()
        )
        return pb.CancelRequestResponse(
            request=await self._reply(call.session, cancelled, definition, language)
        )

    # ---- proofs ----

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def GetProof(self, request: pb.GetProofRequest, call: Call) -> pb.GetProofResponse:
        request_id = _request_id(request.request_id)
        acting = await self._acting(call, "procedures:read", "downloaded a proof of deposit")
        found, proof = await service.proof_of(call.session, acting.owner, request_id)
        reference = wire.display_reference(found.reference)
        return pb.GetProofResponse(pdf=proof.pdf, filename=f"proof-{reference}.pdf")

    @rpc(public(), db=Db.READ)
    async def VerifyProof(
        self, request: pb.VerifyProofRequest, call: Call
    ) -> pb.VerifyProofResponse:
        language = _language(request.language)
        if not request.pdf:
            message = _("Send the proof of deposit as a PDF file.")
            raise InvalidInput("INVALID_PROOF", message, [FieldError("pdf", "missing", message)])
        check = await verify_proof(request.pdf, self._rules.trust_roots)
        if not check.genuine or check.reference is None:
            reason = check.message
            return pb.VerifyProofResponse(
                genuine=False, reason=reason.render(language) if reason is not None else ""
            )
        canonical = parse_reference(check.reference).canonical
        found = await repository.request_by_reference(call.session, canonical)
        issued = (
            await repository.proof_issued(
                call.session, found.id, hashlib.sha256(request.pdf).hexdigest()
            )
            if found is not None
            else None
        )
        if found is None or issued is None or issued.answers_sha256 != check.digest:
            return pb.VerifyProofResponse(
                genuine=False,
                reason=_(
                    "This proof names a request the platform does not hold with these answers."
                ).render(language),
            )
        reply = pb.VerifyProofResponse(
            genuine=True,
            reference=wire.display_reference(found.reference),
            procedure_code=found.procedure_code,
            procedure_version=found.procedure_version,
            procedure_title=wire.local(found.title, language),
            answers_sha256=issued.answers_sha256,
        )
        reply.submitted_at.FromDatetime(issued.created_at)
        return reply

    # ---- appointments (F32) ----

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListFreeSlots(
        self, request: pb.ListFreeSlotsRequest, call: Call
    ) -> pb.ListFreeSlotsResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        start, end = slot_window(request)
        acting = await self._acting(call, "procedures:read", "listed appointment slots")
        views, definition = await appointments.free_slots(
            call.session,
            self._store,
            acting.owner,
            request_id,
            request.place_code,
            start,
            end,
            now=self._rules.clock(),
        )
        return pb.ListFreeSlotsResponse(
            slots=[
                wire.slot_to_proto(view.slot, definition, language, free=view.free)
                for view in views
            ]
        )

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def HoldSlot(self, request: pb.HoldSlotRequest, call: Call) -> pb.HoldSlotResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        slot_id = parse_slot_id(request.slot_id)
        acting = await self._acting(call, "procedures:write", "held an appointment slot")
        held, definition = await appointments.hold(
            call.session, self._store, acting, request_id, slot_id, now=self._rules.clock()
        )
        return pb.HoldSlotResponse(
            request=await self._reply(call.session, held, definition, language)
        )

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def ChangeAppointment(
        self, request: pb.ChangeAppointmentRequest, call: Call
    ) -> pb.ChangeAppointmentResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        slot_id = parse_slot_id(request.slot_id)
        acting = await self._acting(call, "procedures:write", "changed an appointment")
        changed, definition = await appointments.change(
            call.session, self._store, acting, request_id, slot_id, now=self._rules.clock()
        )
        return pb.ChangeAppointmentResponse(
            request=await self._reply(call.session, changed, definition, language)
        )

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def CancelAppointment(
        self, request: pb.CancelAppointmentRequest, call: Call
    ) -> pb.CancelAppointmentResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        acting = await self._acting(call, "procedures:write", "cancelled an appointment")
        cancelled, definition = await appointments.cancel(
            call.session, self._store, acting, request_id, now=self._rules.clock()
        )
        return pb.CancelAppointmentResponse(
            request=await self._reply(call.session, cancelled, definition, language)
        )

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def GetAppointmentCalendar(
        self, request: pb.GetAppointmentCalendarRequest, call: Call
    ) -> pb.GetAppointmentCalendarResponse:
        request_id = _request_id(request.request_id)
        language = _language(request.language) if request.language else None
        acting = await self._acting(call, "procedures:read", "downloaded an appointment")
        found, definition, booked = await appointments.booked_of(
            call.session, self._store, acting.owner, request_id
        )
        ics = appointments.icalendar(
            found,
            definition,
            booked,
            language or Language(found.language),
            now=self._rules.clock(),
        )
        reference = wire.display_reference(found.reference)
        return pb.GetAppointmentCalendarResponse(ics=ics, filename=f"appointment-{reference}.ics")

    # ---- prefill (F24) ----

    def _sources(self) -> prefill.Sources:
        if self._rules.prefill_sources is None:
            raise prefill.registers_unavailable()
        return self._rules.prefill_sources

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def PreviewPrefill(
        self, request: pb.PreviewPrefillRequest, call: Call
    ) -> pb.PreviewPrefillResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        acting = await self._acting(call, "procedures:write", "looked at what would be prefilled")
        offers = await prefill.preview(
            call.session,
            self._store,
            self._sources(),
            acting,
            request_id,
            now=self._rules.clock(),
            today=luxembourg_today(),
        )
        return pb.PreviewPrefillResponse(fields=prefill_wire.offers_to_proto(offers, language))

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def ConsentPrefill(
        self, request: pb.ConsentPrefillRequest, call: Call
    ) -> pb.ConsentPrefillResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        act = "accepted prefilling a request" if request.accept else "refused prefilling a request"
        acting = await self._acting(call, "procedures:write", act)
        decided, definition = await prefill.decide(
            call.session,
            self._store,
            self._sources(),
            acting,
            request_id,
            request.accept,
            now=self._rules.clock(),
            today=luxembourg_today(),
            draft_days=self._rules.draft_days,
        )
        return pb.ConsentPrefillResponse(
            request=await self._reply(call.session, decided, definition, language)
        )

    # ---- attachments (F25): files through the wallet's one file pipeline ----

    def _files(self) -> WalletFiles:
        if self._rules.files is None:
            raise files_unavailable()
        return self._rules.files

    async def _addition(
        self, acting: Acting, request_id: uuid.UUID, field_id: str
    ) -> attachments.Addition:
        """Checked before any byte goes to the wallet: a refused call sends nothing."""
        async with self.read_sessions()() as session:
            found = await service.request_of(session, acting.owner, request_id)
            definition = await service.pinned(self._store, session, found)
            service.check_access(definition, acting)
            return await attachments.check_addition(session, found, definition, field_id)

    async def _record(
        self,
        acting: Acting,
        addition: attachments.Addition,
        copy: attachments.CopyInfo,
        source: str,
        language: Language,
    ) -> tuple[pb.Request, pb.Attachment]:
        """The copy's row, under the request's lock, in one transaction of its own."""
        assert self.sessions is not None  # given at construction
        async with transaction(self.sessions) as session:
            found = await service.request_of(
                session, acting.owner, addition.request_id, for_update=True
            )
            definition = await service.pinned(self._store, session, found)
            now = self._rules.clock()
            row = await attachments.record_addition(
                session, found, definition, addition, copy, source, now=now
            )
            service.after_attachment_change(found, definition, now, self._rules.draft_days)
            return (
                await self._reply(session, found, definition, language),
                files_wire.attachment_to_proto(row),
            )

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.NONE)
    async def UploadAttachment(
        self, request: AsyncIterator[pb.UploadAttachmentRequest], call: Call
    ) -> pb.UploadAttachmentResponse:
        messages = aiter(request)
        first = await anext(messages, None)
        if first is None or first.WhichOneof("part") != "header":
            raise files_wire.header_missing()
        header = first.header
        language = _language(header.language)
        request_id = _request_id(header.request_id)
        acting = await self._acting(call, "procedures:write", "attached a file to a request")
        addition = await self._addition(acting, request_id, header.field_id)
        copy = await self._files().ingest(
            addition,
            header.file_name,
            header.declared_content_type,
            header.declared_size,
            files_wire.chunks_after_header(messages),
        )
        reply, attachment = await self._record(acting, addition, copy, UPLOADED, language)
        return pb.UploadAttachmentResponse(request=reply, attachment=attachment)

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.NONE)
    async def AttachWalletPiece(
        self, request: pb.AttachWalletPieceRequest, call: Call
    ) -> pb.AttachWalletPieceResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        acting = await self._acting(
            call, "procedures:write", "attached a wallet piece to a request"
        )
        addition = await self._addition(acting, request_id, request.field_id)
        # The wallet checks that the piece is the owner's: another person's is not found.
        copy = await self._files().copy_piece(
            addition.owner,
            request.piece_id,
            request.file_id,
            request.version_id,
            addition.purpose,
        )
        reply, attachment = await self._record(acting, addition, copy, FROM_WALLET, language)
        return pb.AttachWalletPieceResponse(request=reply, attachment=attachment)

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def RemoveAttachment(
        self, request: pb.RemoveAttachmentRequest, call: Call
    ) -> pb.RemoveAttachmentResponse:
        language = _language(request.language)
        request_id = _request_id(request.request_id)
        attachment_id = files_wire.attachment_id(request.attachment_id)
        acting = await self._acting(call, "procedures:write", "removed a file from a request")
        found = await service.request_of(call.session, acting.owner, request_id, for_update=True)
        definition = await service.pinned(self._store, call.session, found)
        service.check_access(definition, acting)
        await attachments.remove(call.session, found, attachment_id)
        now = self._rules.clock()
        service.after_attachment_change(found, definition, now, self._rules.draft_days)
        return pb.RemoveAttachmentResponse(
            request=await self._reply(call.session, found, definition, language)
        )

    @rpc_stream(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def DownloadAttachment(
        self, request: pb.DownloadAttachmentRequest, call: Call
    ) -> AsyncIterator[pb.DownloadAttachmentResponse]:
        request_id = _request_id(request.request_id)
        attachment_id = files_wire.attachment_id(request.attachment_id)
        acting = await self._acting(call, "procedures:read", "downloaded a file of a request")
        found = await service.request_of(call.session, acting.owner, request_id)
        row = await attachments.attachment_of(call.session, found.id, attachment_id)
        files = self._files()
        yield pb.DownloadAttachmentResponse(header=files_wire.attachment_to_proto(row))
        async for chunk in files.read(row.copy_id):
            yield pb.DownloadAttachmentResponse(chunk=chunk)

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def CopyAttachmentToWallet(
        self, request: pb.CopyAttachmentToWalletRequest, call: Call
    ) -> pb.CopyAttachmentToWalletResponse:
        request_id = _request_id(request.request_id)
        attachment_id = files_wire.attachment_id(request.attachment_id)
        acting = await self._acting(call, "procedures:write", "copied a file into the wallet")
        found = await service.request_of(call.session, acting.owner, request_id)
        row = await attachments.attachment_of(call.session, found.id, attachment_id)
        piece = await self._files().copy_to_wallet(
            row.copy_id, acting.owner, request.type_code, request.title
        )
        return pb.CopyAttachmentToWalletResponse(piece_id=piece.piece_id)

    # ---- export (F13) ----

    @rpc(citizen(), db=Db.READ)
    async def ExportRequests(
        self, request: pb.ExportRequestsRequest, call: Call
    ) -> pb.ExportRequestsResponse:
        rows = await repository.all_of(call.session, call.person.person)
        booked = await appointments.of_requests(call.session, [row.id for row in rows])
        document = {
            "requests": [export_of(row, appointments.exported(booked.get(row.id))) for row in rows]
        }
        return pb.ExportRequestsResponse(
            document=json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        )


def parse_slot_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as error:
        message = _("Give the id of one of the slots offered.")
        raise InvalidInput(
            "INVALID_SLOT_ID", message, [FieldError("slot_id", "invalid", message)]
        ) from error


def slot_window(request: Any) -> tuple[datetime | None, datetime | None]:
    """The optional from_time / to_time of a slot list; from must come before to."""
    start = request.from_time.ToDatetime(tzinfo=UTC) if request.HasField("from_time") else None
    end = request.to_time.ToDatetime(tzinfo=UTC) if request.HasField("to_time") else None
    if start is not None and end is not None and end <= start:
        message = _("The end of the period comes after its start.")
        raise InvalidInput(
            "INVALID_SLOT_WINDOW", message, [FieldError("to_time", "before_start", message)]
        )
    return start, end


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_of(request: Request, appointment: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": str(request.id),
        "reference": wire.display_reference(request.reference) or None,
        "procedure_code": request.procedure_code,
        "procedure_version": request.procedure_version,
        "title": request.title,
        "state": request.state,
        "status": request.status,
        "language": request.language,
        "answers": request.answers,
        "completed_steps": list(request.completed_steps),
        "asked_fields": list(request.asked_fields),
        "answers_sha256": request.answers_sha256,
        "created_at": _moment(request.created_at),
        "updated_at": _moment(request.updated_at),
        "submitted_at": _moment(request.submitted_at),
        "expires_at": _moment(request.expires_at),
        "cancelled_at": _moment(request.cancelled_at),
        "closed_at": _moment(request.closed_at),
        "history": [
            {
                "kind": entry.kind,
                "actor": entry.actor,
                "status": entry.status,
                "text": entry.text,
                "fields": list(entry.fields),
                "occurred_at": _moment(entry.occurred_at),
            }
            for entry in request.history
        ],
        # F32: its slot held, booked or cancelled (times in UTC), or None.
        "appointment": appointment,
    }


def answers_schema(definition: Definition, language: Language) -> dict[str, Any]:
    from guichet_procedures.definitions.schema import json_schema

    return json_schema(definition, language)
