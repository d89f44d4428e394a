"""Translation between procedures' rows and definitions and the protobuf messages of
ProceduresService, texts in the requested language."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.i18n import Catalog, Language
from guichet_procedures.definitions.conditions import Condition
from guichet_procedures.definitions.model import (
    AddressField,
    AmountField,
    AttachmentField,
    ChoiceField,
    DateBound,
    DateField,
    Definition,
    Field,
    GroupField,
    LocalText,
    LongTextField,
    MultiChoiceField,
    NumberField,
    Status,
    Step,
    TextField,
    YesNoField,
)
from guichet_procedures.requests.models import (
    ACTION_NEEDED,
    CANCELLED,
    CLOSED,
    DRAFT,
    EXPIRED,
    HELD,
    SUBMITTED,
    Appointment,
    AppointmentSlot,
    Procedure,
    Request,
    RequestHistory,
)
from guichet_procedures.requests.proof import answers_digest
from guichet_procedures.requests.quotas import Availability
from guichet_procedures.requests.references import parse_reference

_ = Catalog("guichet_procedures")

STATES = {
    DRAFT: pb.REQUEST_STATE_DRAFT,
    SUBMITTED: pb.REQUEST_STATE_SUBMITTED,
    ACTION_NEEDED: pb.REQUEST_STATE_ACTION_NEEDED,
    CLOSED: pb.REQUEST_STATE_CLOSED,
    CANCELLED: pb.REQUEST_STATE_CANCELLED,
    EXPIRED: pb.REQUEST_STATE_EXPIRED,
}
AUDIENCES = {"citizen": pb.AUDIENCE_CITIZEN, "company": pb.AUDIENCE_COMPANY}
AUDIENCE_NAMES = {value: name for name, value in AUDIENCES.items()}
CHANNELS = {"online": pb.CHANNEL_ONLINE, "paper": pb.CHANNEL_PAPER}


def local(texts: Mapping[str, str] | LocalText | None, language: Language) -> str:
    if texts is None:
        return ""
    if isinstance(texts, LocalText):
        return texts.text(language)
    return texts.get(language.value) or texts.get("en") or ""


def display_reference(canonical: str | None) -> str:
    return parse_reference(canonical).display if canonical else ""


def _stamp(target: Any, moment: datetime | None) -> None:
    if moment is not None:
        target.FromDatetime(moment)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _condition(condition: Condition | bool | None) -> str:
    return _json(condition.source) if isinstance(condition, Condition) else ""


# ---- the catalogue ----


def _with_availability(
    summary: pb.ProcedureSummary, availability: Availability | None, language: Language
) -> pb.ProcedureSummary:
    """F33: whether requests are taken now, why not, and between which moments."""
    if availability is not None:
        summary.quota_reached = not availability.taken
        if availability.message is not None:
            summary.availability_message = availability.message.render(language)
        _stamp(summary.opens_at, availability.opens_at)
        _stamp(summary.closes_at, availability.closes_at)
    return summary


def summary_to_proto(
    procedure: Procedure,
    language: Language,
    theme_label: Callable[[str, str], str],
    availability: Availability | None = None,
    definition: Definition | None = None,
) -> pb.ProcedureSummary:
    """A catalogue entry; `definition` (its current version) tells the signature and prefill."""
    summary = pb.ProcedureSummary(
        code=procedure.code,
        version=procedure.current_version,
        title=local(procedure.titles, language),
        summary=local(procedure.summaries, language),
        theme=procedure.theme,
        theme_label=theme_label(procedure.theme, language.value),
        audiences=[AUDIENCES[name] for name in procedure.audience if name in AUDIENCES],
        login_required=procedure.login == "required",
        level=procedure.level,
        channel=CHANNELS.get(procedure.channel, pb.CHANNEL_UNSPECIFIED),
        paper_form_code=procedure.paper_form_code or "",
        administration=procedure.administration,
        appointment=procedure.appointment,
    )
    if definition is not None:
        summary.signature_required = definition.signature_required
        summary.prefill_offered = prefill_offered(definition)
    return _with_availability(summary, availability, language)


def prefill_offered(definition: Definition) -> bool:
    """F24: whether a field of the version names a source to prefill it from."""
    return any(field.source is not None for field in definition.fields.values())


def definition_summary(
    definition: Definition,
    language: Language,
    theme_label: Callable[[str, str], str],
    availability: Availability | None = None,
) -> pb.ProcedureSummary:
    summary = pb.ProcedureSummary(
        code=definition.code,
        version=definition.version,
        title=definition.title.text(language),
        summary=definition.summary.text(language),
        theme=definition.theme,
        theme_label=theme_label(definition.theme, language.value),
        audiences=[AUDIENCES[name] for name in definition.audience if name in AUDIENCES],
        login_required=definition.access.login == "required",
        level=definition.access.level,
        channel=CHANNELS.get(definition.channel, pb.CHANNEL_UNSPECIFIED),
        paper_form_code=definition.paper_form or "",
        administration=definition.administration,
        appointment=definition.appointment.mode if definition.appointment else "none",
        signature_required=definition.signature_required,
        prefill_offered=prefill_offered(definition),
    )
    return _with_availability(summary, availability, language)


def _bound(value: Decimal | DateBound | None, today: date) -> str:
    if value is None:
        return ""
    if isinstance(value, DateBound):
        return value.resolve(today).isoformat()
    return format(value, "f")


def field_to_proto(field: Field, language: Language, today: date) -> pb.Field:
    message = pb.Field(
        id=field.id,
        type=field.type,
        label=field.label.text(language),
        hint=field.hint.text(language) if field.hint else "",
        required=field.required is True,
        required_if_json=_condition(field.required),
        visible_json=_condition(field.visible),
    )
    if isinstance(field, TextField | LongTextField):
        message.max_length = field.max_length
    if isinstance(field, NumberField | AmountField | DateField):
        message.min = _bound(field.minimum, today)
        message.max = _bound(field.maximum, today)
    if isinstance(field, ChoiceField | MultiChoiceField):
        message.options.extend(
            pb.Option(value=option.value, label=option.label.text(language))
            for option in field.options
        )
    if isinstance(field, MultiChoiceField):
        message.min_items = field.min_items
        message.max_items = field.max_items or len(field.options)
    if isinstance(field, GroupField):
        message.min_items = field.min_items
        message.max_items = field.max_items
        message.fields.extend(field_to_proto(inner, language, today) for inner in field.fields)
    if isinstance(field, AttachmentField):
        message.max_items = field.max_files
    return message


def step_to_proto(step: Step, language: Language, today: date) -> pb.Step:
    return pb.Step(
        id=step.id,
        title=step.title.text(language),
        fields=[field_to_proto(field, language, today) for field in step.fields],
        when_json=_condition(step.when),
    )


def status_to_proto(status: Status, language: Language) -> pb.StatusDefinition:
    return pb.StatusDefinition(
        code=status.code,
        text=status.text.text(language),
        notify=status.notify,
        end=status.end,
        asks_citizen=status.asks_citizen,
        cancellable=status.cancellable,
        next=list(status.next),
    )


# ---- answers for people ----


def _yes_no(value: bool, language: Language) -> str:
    return (_("Yes") if value else _("No")).render(language)


def display(field: Field, value: Any, language: Language) -> str:
    """A value as a person reads it on a summary or a proof, in `language`."""
    if value is None:
        return ""
    if isinstance(field, YesNoField):
        return _yes_no(bool(value), language)
    if isinstance(field, ChoiceField):
        option = field.option(str(value))
        return option.label.text(language) if option else str(value)
    if isinstance(field, MultiChoiceField):
        labels = []
        for item in value if isinstance(value, list) else [value]:
            option = field.option(str(item))
            labels.append(option.label.text(language) if option else str(item))
        return ", ".join(labels)
    if isinstance(field, DateField):
        try:
            return format_date(date.fromisoformat(str(value)), "long", locale=language.value)
        except ValueError:
            return str(value)
    if isinstance(field, AmountField):
        return f"{value} EUR"
    if isinstance(field, AddressField) and isinstance(value, Mapping):
        street = " ".join(
            str(value.get(key) or "") for key in ("street", "house_number") if value.get(key)
        )
        town = " ".join(
            str(value.get(key) or "") for key in ("postcode", "locality") if value.get(key)
        )
        return ", ".join(part for part in (street, town, str(value.get("country") or "")) if part)
    if isinstance(field, GroupField) and isinstance(value, list):
        items = []
        for index, item in enumerate(value, start=1):
            parts = [
                f"{inner.label.text(language)}: {display(inner, item.get(inner.id), language)}"
                for inner in field.fields
                if isinstance(item, Mapping) and item.get(inner.id) is not None
            ]
            items.append(f"{index}. " + "; ".join(parts))
        return "\n".join(items)
    if isinstance(value, bool):
        return _yes_no(value, language)
    return str(value)


def step_answers(
    step: Step, answers: Mapping[str, Any], language: Language
) -> list[pb.FieldAnswer]:
    return [
        pb.FieldAnswer(
            field_id=field.id,
            label=field.label.text(language),
            display=display(field, answers[field.id], language),
        )
        for field in step.fields
        if field.id in answers
    ]


# ---- requests ----


def history_to_proto(
    entry: RequestHistory, definition: Definition | None, language: Language
) -> pb.HistoryEntry:
    status = (
        next((s for s in definition.statuses if s.code == entry.status), None)
        if definition is not None and entry.status
        else None
    )
    message = pb.HistoryEntry(
        kind=entry.kind,
        actor=entry.actor,
        status=entry.status or "",
        status_text=status.text.text(language) if status else "",
        text=entry.text,
        field_ids=list(entry.fields),
    )
    _stamp(message.occurred_at, entry.occurred_at)
    return message


def request_to_proto(
    request: Request,
    definition: Definition | None,
    language: Language,
    *,
    steps: Sequence[pb.StepState] = (),
    next_step: str = "",
    exit_message: str = "",
    cancellable: bool = False,
    newer_version_published: bool = False,
    full: bool = True,
    appointment: pb.Appointment | None = None,
) -> pb.Request:
    """`full`: with answers, steps and history (a list shows none of them)."""
    status = (
        next((s for s in definition.statuses if s.code == request.status), None)
        if definition is not None and request.status
        else None
    )
    message = pb.Request(
        id=str(request.id),
        reference=display_reference(request.reference),
        procedure_code=request.procedure_code,
        procedure_version=request.procedure_version,
        title=local(request.title, language),
        state=STATES.get(request.state, pb.REQUEST_STATE_UNSPECIFIED),
        status=request.status or "",
        status_text=status.text.text(language) if status else "",
        asked_field_ids=list(request.asked_fields),
        cancellable=cancellable,
        owner=request.owner or "",
        # F34: who started it, shown when someone acted for the owner.
        filed_by=(request.created_by or "").removeprefix("person:"),
        newer_version_published=newer_version_published,
        language=request.language,
        # F26: a complete draft shows the digest to sign (the one its submission will print).
        answers_sha256=request.answers_sha256
        or (
            answers_digest(request.answers)
            if full and request.state == DRAFT and not next_step and not exit_message
            else ""
        ),
        next_step=next_step,
        exit_message=exit_message,
    )
    if full:
        message.answers_json = _json(request.answers)
        message.steps.extend(steps)
        message.history.extend(
            history_to_proto(entry, definition, language) for entry in request.history
        )
    _stamp(message.created_at, request.created_at)
    _stamp(message.updated_at, request.updated_at)
    _stamp(message.submitted_at, request.submitted_at)
    if request.state == DRAFT:
        _stamp(message.expires_at, request.expires_at)
    if appointment is not None:
        message.appointment.CopyFrom(appointment)
    return message


# ---- appointments (F32) ----


def slot_to_proto(
    slot: AppointmentSlot,
    definition: Definition | None,
    language: Language,
    *,
    free: int = 0,
    booked: int = 0,
) -> pb.Slot:
    """A slot with its place as the definition names it, in `language`."""
    offer = definition.appointment if definition is not None else None
    place = offer.place(slot.place_code) if offer is not None else None
    message = pb.Slot(
        id=str(slot.id),
        place=pb.Place(
            code=slot.place_code,
            name=place.name.text(language) if place is not None else slot.place_code,
            address=place.address if place is not None else "",
        ),
        capacity=slot.capacity,
        free=free,
        booked=booked,
    )
    _stamp(message.starts_at, slot.starts_at)
    _stamp(message.ends_at, slot.ends_at)
    return message


def appointment_to_proto(
    appointment: Appointment | None, definition: Definition | None, language: Language
) -> pb.Appointment | None:
    if appointment is None:
        return None
    message = pb.Appointment(
        slot=slot_to_proto(appointment.slot, definition, language),
        state=appointment.state,
        reason=appointment.reason,
    )
    if appointment.state == HELD:
        _stamp(message.held_until, appointment.held_until)
    return message
