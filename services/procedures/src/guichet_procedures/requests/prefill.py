"""Prefill with provenance and consent (F24).

A definition's fields may name a source (`definitions/sources.py`): the person's profile
(identity, read in the caller's own name) or a register field of authentic data (read by
procedures with its service certificate, for the purpose `procedures:prefill:<code>`, so the read
is in the person's access log). The person first sees what would be filled, from which source and
when it was read (`preview`: nothing is written to the draft), then decides (`decide`): accepted,
the values are read again and written into the draft's answers; refused, nothing is filled and
the form is filled by hand. The decision is recorded on the request (`Request.prefill`: who,
when, and for each prefilled field its source, when it was read and the value).

Locked fields keep the source's value once accepted: a step saved with another value is refused
(`FIELD_LOCKED`, nothing changed), and submission checks them again. A procedure with locked
fields needs the decision before it is submitted (`PREFILL_CONSENT_MISSING`): accepted, or refused
and filled by hand — refusing never closes the procedure to the person, and the proof and the
administration then see those values as typed, without a source.

Profile values are read only when the person acts in their own name: in a company's or a
relation's context the signed-in person's profile is not the owner's, and those fields are left to
fill by hand. Register values are read about the person the request is for (its owner).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from guichet_kit.auth import Principal, require_level
from guichet_kit.domain import Conflict, FieldError, FieldErrors, InvalidInput, Unavailable
from guichet_kit.i18n import Catalog, Language, Text, format_moment
from guichet_procedures.definitions.fields import clean_value, is_empty
from guichet_procedures.definitions.form import Form
from guichet_procedures.definitions.model import Definition, Field, LocalText, Step
from guichet_procedures.definitions.sources import FieldSource
from guichet_procedures.requests import service
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import DRAFT, Request

if TYPE_CHECKING:
    from guichet_procedures.requests.service import Acting

_ = Catalog("guichet_procedures")

ACCEPTED = "accepted"
REFUSED = "refused"
PROFILE_SOURCE = "profile"  # the source code of the profile


def purpose_of(code: str) -> str:
    """The purpose authentic data grants procedures for prefilling this procedure."""
    return f"procedures:prefill:{code}"


def read_reference(request_id: uuid.UUID) -> str:
    """The request a register read serves, as the person's access log names it."""
    return f"procedures:{request_id}"


# ---- what the sources answer ----


@dataclass(frozen=True)
class SourcedValue:
    """One value as a source gave it, already in the answers' JSON form (an address as
    {street, house_number, postcode, locality, country}, a date as YYYY-MM-DD)."""

    value: Any | None  # None: the source holds nothing for this person
    read_at: datetime
    source_code: str  # "profile", or the register's code (e.g. "national-register")
    source_name: str  # how the source names itself (shown for a register this list lacks)


class Sources(Protocol):
    """The profile and the registers (`api/registers.py` calls them over gRPC)."""

    async def profile(self, names: Sequence[str]) -> Mapping[str, SourcedValue]: ...

    async def register(
        self, purpose: str, national_id: str, names: Sequence[str], reference: str
    ) -> Mapping[str, SourcedValue]: ...


def registers_unavailable() -> Unavailable:
    return Unavailable(
        "REGISTERS_UNAVAILABLE",
        _(
            "The registers cannot be reached to prefill this form; nothing was filled. Try again "
            "shortly, or fill it by hand."
        ),
    )


def profile_unavailable() -> Unavailable:
    return Unavailable(
        "PROFILE_UNAVAILABLE",
        _(
            "Your profile cannot be read to prefill this form; nothing was filled. Try again "
            "shortly, or fill it by hand."
        ),
    )


# ---- names of the sources, in the reader's language ----

_SOURCE_NAMES: Mapping[str, Text] = {
    PROFILE_SOURCE: _("Your profile"),
    "national-register": _("National register of natural persons"),
}


def source_label(code: str, fallback: str, language: Language) -> str:
    known = _SOURCE_NAMES.get(code)
    return known.render(language) if known is not None else (fallback or code)


# ---- the offer: what would be prefilled ----


@dataclass(frozen=True)
class Offer:
    """A field that names a source, and what the source holds for it now."""

    field: Field
    source: FieldSource
    value: Any | None
    read_at: datetime
    source_code: str
    source_name: str

    @property
    def available(self) -> bool:
        return self.value is not None


def sourced_fields(definition: Definition) -> list[tuple[Step, Field]]:
    return [
        (step, each) for step in definition.steps for each in step.fields if each.source is not None
    ]


def has_locked(definition: Definition) -> bool:
    return any(each.locked for _step, each in sourced_fields(definition))


def _subject(owner: str | None) -> str | None:
    """The national id whose register entry prefills a request of this owner (a person)."""
    if owner is None or not owner.startswith("person:"):
        return None
    return owner.removeprefix("person:")


def _cleaned(field: Field, value: Any, today: date) -> Any:
    """The value as the field stores it (a national id in its canonical form); a value the
    field's rules refuse is offered as the source gave it, and the step then says what is wrong."""
    errors = FieldErrors()
    cleaned = clean_value(field, value, field.id, errors, today=today)
    return value if errors.errors or cleaned is None else cleaned


async def read_offers(
    sources: Sources,
    definition: Definition,
    request: Request,
    principal: Principal,
    *,
    now: datetime,
    today: date,
) -> list[Offer]:
    """Reads every source the definition names, for this request (each register read is in
    the owner's access log)."""
    fields = sourced_fields(definition)
    wanted: dict[str, list[str]] = {"profile": [], "register": []}
    for _step, each in fields:
        assert each.source is not None
        if each.source.name not in wanted[each.source.kind]:
            wanted[each.source.kind].append(each.source.name)
    found: dict[str, Mapping[str, SourcedValue]] = {"profile": {}, "register": {}}
    subject = _subject(request.owner)
    if wanted["register"] and subject is not None:
        found["register"] = await sources.register(
            purpose_of(definition.code), subject, wanted["register"], read_reference(request.id)
        )
    if wanted["profile"] and request.owner == principal.person:
        found["profile"] = await sources.profile(wanted["profile"])
    offers = []
    for _step, each in fields:
        assert each.source is not None
        value = found[each.source.kind].get(each.source.name)
        offers.append(
            Offer(
                field=each,
                source=each.source,
                value=_cleaned(each, value.value, today)
                if value is not None and not is_empty(value.value)
                else None,
                read_at=value.read_at if value is not None else now,
                source_code=value.source_code if value is not None else each.source.kind,
                source_name=value.source_name if value is not None else "",
            )
        )
    return offers


# ---- the decision ----


def _not_a_draft() -> Conflict:
    return Conflict(
        "NOT_A_DRAFT", _("This request is no longer a draft: it cannot be prefilled any more.")
    )


async def _draft(
    session: AsyncSession,
    store: CatalogueStore,
    acting: Acting,
    request_id: uuid.UUID,
    *,
    for_update: bool,
) -> tuple[Request, Definition]:
    request = await service.request_of(session, acting.owner, request_id, for_update=for_update)
    if request.state != DRAFT:
        raise _not_a_draft()
    definition = await service.pinned(store, session, request)
    require_level(acting.principal, service.required_level(definition))
    return request, definition


async def preview(
    session: AsyncSession,
    store: CatalogueStore,
    sources: Sources,
    acting: Acting,
    request_id: uuid.UUID,
    *,
    now: datetime,
    today: date,
) -> list[Offer]:
    """What would be prefilled now, from which source, read when; nothing is written."""
    request, definition = await _draft(session, store, acting, request_id, for_update=False)
    return await read_offers(sources, definition, request, acting.principal, now=now, today=today)


def _record(
    decision: str, principal: Principal, offers: Sequence[Offer], now: datetime
) -> dict[str, Any]:
    return {
        "decision": decision,
        "decided_by": principal.person,
        "decided_at": now.isoformat(),
        "fields": [
            {
                "field": offer.field.id,
                "source": offer.source.kind,
                "name": offer.source.name,
                "source_code": offer.source_code,
                "source_name": offer.source_name,
                "read_at": offer.read_at.isoformat(),
                "locked": offer.field.locked,
                "value": offer.value,
            }
            for offer in offers
            if offer.available
        ],
    }


async def decide(
    session: AsyncSession,
    store: CatalogueStore,
    sources: Sources,
    acting: Acting,
    request_id: uuid.UUID,
    accept: bool,
    *,
    now: datetime,
    today: date,
    draft_days: int,
) -> tuple[Request, Definition]:
    """Accepted: the sources are read again and their values written into the answers.
    Refused: nothing is read or filled. Either way the decision is recorded on the request."""
    request, definition = await _draft(session, store, acting, request_id, for_update=True)
    if not sourced_fields(definition):
        raise Conflict("NOTHING_TO_PREFILL", _("This procedure has nothing to prefill."))
    offers: list[Offer] = []
    if accept:
        # Read before anything changes: an outage refuses the call with nothing written.
        offers = await read_offers(
            sources, definition, request, acting.principal, now=now, today=today
        )
        form = Form(definition)
        answers = dict(request.answers)
        answers.update({offer.field.id: offer.value for offer in offers if offer.available})
        answers = form.prune(answers)
        request.completed_steps = service._recheck_completed(
            form, answers, list(request.completed_steps)
        )
        request.answers = answers
    request.prefill = _record(ACCEPTED if accept else REFUSED, acting.principal, offers, now)
    request.version += 1
    request.updated_at = now
    request.expires_at = now + timedelta(days=draft_days)
    request.warned_at = None
    return request, definition


# ---- locked fields ----


def locked_values(request: Request) -> dict[str, Any]:
    """Field id -> the value the person accepted, for locked fields that were prefilled."""
    record = request.prefill or {}
    if record.get("decision") != ACCEPTED:
        return {}
    return {item["field"]: item["value"] for item in record.get("fields", ()) if item["locked"]}


def _field_locked(field_ids: Sequence[str]) -> InvalidInput:
    message = _("This value comes from its source and cannot be changed.")
    return InvalidInput(
        "FIELD_LOCKED",
        _("Some prefilled values are locked: they keep their source's value."),
        [FieldError(field_id, "locked", message) for field_id in field_ids],
    )


def with_locked(
    definition: Definition, step_id: str, submitted: Mapping[str, Any], request: Request
) -> Mapping[str, Any]:
    """A step's answers as sent, with each locked value the client left out put back; a locked
    value sent empty is a change, refused."""
    locked = locked_values(request)
    step = definition.step(step_id)
    if not locked or step is None:
        return submitted
    own = [each.id for each in step.fields if each.id in locked]
    cleared = [
        field_id for field_id in own if field_id in submitted and is_empty(submitted[field_id])
    ]
    if cleared:
        raise _field_locked(cleared)
    return {**{field_id: locked[field_id] for field_id in own}, **submitted}


def check_locked(values: Mapping[str, Any], request: Request) -> None:
    """The cleaned values of a step (or a correction) keep every locked value."""
    locked = locked_values(request)
    changed = [key for key, value in values.items() if key in locked and value != locked[key]]
    if changed:
        raise _field_locked(sorted(changed))


def check_at_submit(request: Request, definition: Definition) -> None:
    """A person's request of a procedure with locked fields needs the decision on prefill,
    and its locked values must be those accepted."""
    if request.prefill is None and has_locked(definition) and _subject(request.owner):
        raise Conflict(
            "PREFILL_CONSENT_MISSING",
            _(
                "Some answers of this procedure come from your data: accept the prefill, or "
                "refuse it and fill them by hand, before submitting."
            ),
        )
    locked = locked_values(request)
    changed = [
        key
        for key, value in locked.items()
        if key in request.answers and request.answers[key] != value
    ]
    if changed:
        raise Conflict(
            "FIELD_LOCKED",
            _("Some prefilled values are locked: they keep their source's value."),
            [
                FieldError(
                    key, "locked", _("This value comes from its source and cannot be changed.")
                )
                for key in sorted(changed)
            ],
        )


# ---- provenance: on the request, on the proof ----


@dataclass(frozen=True)
class Provenance:
    """Where a prefilled answer came from."""

    field_id: str
    label: LocalText
    value: Any
    source: str  # profile or register
    source_code: str
    source_name: str
    read_at: datetime
    locked: bool

    def source_label(self, language: Language) -> str:
        return source_label(self.source_code, self.source_name, language)


def provenance(request: Request, definition: Definition) -> list[Provenance]:
    """The accepted prefilled fields still in the answers with the value their source gave."""
    record = request.prefill or {}
    if record.get("decision") != ACCEPTED:
        return []
    fields = definition.fields
    found = []
    for item in record.get("fields", ()):
        field = fields.get(item["field"])
        if field is None or request.answers.get(field.id) != item["value"]:
            continue  # changed by hand since (it was not locked), or hidden: no longer prefilled
        found.append(
            Provenance(
                field_id=field.id,
                label=field.label,
                value=item["value"],
                source=item["source"],
                source_code=item["source_code"],
                source_name=item["source_name"],
                read_at=datetime.fromisoformat(item["read_at"]),
                locked=bool(item["locked"]),
            )
        )
    return found


def proof_rows(
    request: Request, definition: Definition, language: Language
) -> list[tuple[str, str]]:
    """(field label, its source and when it was read) of each prefilled answer, for the proof."""
    rows = []
    for item in provenance(request, definition):
        source, moment = item.source_label(language), format_moment(item.read_at, language)
        text = (
            _("{source}, read on {moment} (locked)", source=source, moment=moment)
            if item.locked
            else _("{source}, read on {moment}", source=source, moment=moment)
        )
        rows.append((item.label.text(language), text.render(language)))
    return rows
