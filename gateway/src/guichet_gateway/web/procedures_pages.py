"""The procedures' pages (F20 to F31): the public catalogue with its themes and keyword search, a
procedure's page, the multi-step form of a draft with its summary step and submission, the
confirmation with the proof of deposit, "My requests" (filters, sort, paging, the archive), a
request's detail (answers, history, the correction asked, cancelling, extending a draft) and the
public check of a proof.

The same ProceduresService calls as the API; the service validates, evaluates every condition and
decides. Every form works without JavaScript: plain posts, POST-redirect-GET, the session's CSRF
token on each; a repeating group's rows are added and removed with submit buttons (the form comes
back with what was typed, nothing saved). What the service refuses is said next to the input it
is about (its field paths, e.g. `members[1].birth_date`), with a summary at the top, and what was
typed is kept. A condition is never evaluated here: a field shown under one says when it applies.
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

import grpc
from babel import Locale
from babel.units import format_unit
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.datastructures import FormData, UploadFile

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.wallet.v1 import wallet_pb2 as wallet_pb
from guichet_gateway.deps import Calls, rate_limit
from guichet_gateway.procedures import has_appointment
from guichet_gateway.ratelimit import LOOKUPS
from guichet_gateway.settings import GatewaySettings
from guichet_gateway.uploads import (
    FilePart,
    TextField,
    first_of_stream,
    open_upload,
    stream_into,
)
from guichet_gateway.wallet import content_disposition, upload_limit
from guichet_gateway.web.forms import ABOUT_THE_INPUT, anonymous_form_protected, form_page
from guichet_gateway.web.pages import PUBLIC_PAGE, page, page_language
from guichet_gateway.web.relations_space import _acting_label
from guichet_gateway.web.request_messages_pages import request_exchanges
from guichet_gateway.web.session import CSRF_FIELD, SignedIn, WebSession, csrf_protected
from guichet_kit.errors import read_rpc_failure
from guichet_kit.i18n import LOCALES, Catalog, Language, format_moment, render
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

SECTION = "requests"
CATALOGUE_PAGE_SIZE = 20
REQUESTS_PAGE_SIZE = 10
QUERY_MAX_LENGTH = 200
# What is kept of one typed value: beyond a field's own limit, so the service says it is too long.
TYPED_MAX_LENGTH = 10_000
# A form with more inputs than this is not one of ours.
MAX_INPUTS = 2_000
PAGE_TOKEN_MAX_LENGTH = 500
# A proof of deposit is a few hundred kilobytes; anything much larger is not one.
PROOF_MAX_BYTES = 10_000_000
_CODE = re.compile(r"[a-z][a-z0-9-]{2,59}")
_STEP = re.compile(r"[a-z][a-z0-9_]{1,59}")
_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_NOT_ANCHOR = re.compile(r"[^a-z0-9_]+")
ADDRESS_PARTS = ("street", "house_number", "postcode", "locality", "country")
DATE_PARTS = ("day", "month", "year")
DEFAULT_COUNTRY = "LU"
# Radio buttons up to this many options, a list beyond.
MAX_RADIOS = 6

STATES = {
    pb.REQUEST_STATE_DRAFT: ("draft", _("In preparation")),
    pb.REQUEST_STATE_SUBMITTED: ("submitted", _("Submitted")),
    pb.REQUEST_STATE_ACTION_NEEDED: ("action_needed", _("Action needed")),
    pb.REQUEST_STATE_CLOSED: ("closed", _("Closed")),
    pb.REQUEST_STATE_CANCELLED: ("cancelled", _("Cancelled")),
    pb.REQUEST_STATE_EXPIRED: ("expired", _("Expired")),
}
FILTERS = {
    "all": (pb.REQUEST_FILTER_UNSPECIFIED, _("All")),
    "in_preparation": (pb.REQUEST_FILTER_IN_PREPARATION, _("In preparation")),
    "submitted": (pb.REQUEST_FILTER_SUBMITTED, _("Submitted")),
    "action_needed": (pb.REQUEST_FILTER_ACTION_NEEDED, _("Action needed")),
    "closed": (pb.REQUEST_FILTER_CLOSED, _("Closed")),
    "archived": (pb.REQUEST_FILTER_ARCHIVED, _("Archive")),
}
SORTS = {
    "updated": (pb.REQUEST_SORT_UNSPECIFIED, _("Last update")),
    "name": (pb.REQUEST_SORT_NAME, _("Name of the procedure")),
    "reference": (pb.REQUEST_SORT_REFERENCE, _("Reference")),
}
LEVELS = {
    "low": _("password sign-in"),
    "substantial": _("sign-in with a code from your phone"),
    "high": _("sign-in with your eID card or certificate"),
}
AUDIENCES = {pb.AUDIENCE_CITIZEN: _("Citizens"), pb.AUDIENCE_COMPANY: _("Companies")}
HISTORY = {
    "submitted": _("Request submitted"),
    "status_changed": _("Status changed"),
    "correction_asked": _("Correction asked"),
    "correction_answered": _("Correction answered"),
    "message": _("Message from the administration"),
    "decision": _("Decision"),
    "cancelled": _("Request cancelled"),
    "expired": _("Draft expired"),
}
DONE = {
    "cancelled": _("The request was cancelled. It is kept in the archive."),
    "extended": _("The draft is kept longer."),
    "corrected": _("Your correction was sent to the administration."),
}
# The service's refusals about a form's answers; NOT_FOUND and UNAUTHENTICATED are the error
# pages' (another person's request, a stronger sign-in).
ABOUT_THE_ANSWERS = ABOUT_THE_INPUT | {grpc.StatusCode.OUT_OF_RANGE}


def _redirect(path: str, language: Language, **query: str) -> RedirectResponse:
    return RedirectResponse(
        f"{path}?{urlencode({'lang': language.value, **query})}", status_code=303
    )


def _request_id(text: str) -> str:
    # Any other text is as unknown as another person's request.
    if not _ID.fullmatch(text):
        raise Problem(404, "NOT_FOUND")
    return text


def _moment(stamp: Timestamp, language: Language) -> dict[str, str] | None:
    if not stamp.seconds and not stamp.nanos:
        return None
    moment = stamp.ToDatetime(tzinfo=UTC)
    return {"text": format_moment(moment, language), "iso": moment.isoformat()}


# --- the form's inputs ------------------------------------------------------------------------


def anchor(path: str) -> str:
    """The HTML id of a field path's input: `members[1].birth_date` → `f-members-1-birth_date`."""
    return "f-" + _NOT_ANCHOR.sub("-", path.lower()).strip("-")


def focus_of(path: str, kind: str) -> str:
    """The input the error summary leads to for a field of this type."""
    if kind == "date":
        return anchor(f"{path}.day")
    if kind == "address":
        return anchor(f"{path}.street")
    if kind in {"choice_radio", "multi_choice", "yes_no"}:
        return anchor(f"{path}.0")
    if kind == "group":
        return anchor(f"{path}.add")
    return anchor(path)


Typed = dict[str, list[str]]
"""What the person sent (or what is saved, as text): input name → its values."""


def read_typed(form: FormData) -> Typed:
    typed: Typed = {}
    for count, (name, value) in enumerate(form.multi_items()):
        if count >= MAX_INPUTS:
            break
        if isinstance(value, str) and len(name) <= 200:
            typed.setdefault(name, []).append(value[:TYPED_MAX_LENGTH])
    return typed


def _one(typed: Typed, name: str) -> str:
    values = typed.get(name)
    return values[0] if values else ""


def rows_of(typed: Typed, path: str) -> int:
    text = _one(typed, f"{path}.rows")
    shown = int(text) if text.isdigit() else 0
    prefix = f"{path}["
    for name in typed:
        if name.startswith(prefix):
            index = name[len(prefix) :].split("]", 1)[0]
            if index.isdigit():
                shown = max(shown, int(index) + 1)
    return min(shown, 50)


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def typed_from_answers(
    fields: Iterable[pb.Field], answers: Mapping[str, Any], prefix: str = ""
) -> Typed:
    """The saved answers as the inputs show them."""
    typed: Typed = {}
    for question in fields:
        path = prefix + question.id
        value = answers.get(question.id)
        if value is None:
            continue
        kind = question.type
        if kind == "date" and isinstance(value, str) and value.count("-") == 2:
            year, month, day = value.split("-")
            typed[f"{path}.day"] = [day.lstrip("0") or day]
            typed[f"{path}.month"] = [month.lstrip("0") or month]
            typed[f"{path}.year"] = [year]
        elif kind == "address" and isinstance(value, dict):
            for part in ADDRESS_PARTS:
                typed[f"{path}.{part}"] = [str(value.get(part) or "")]
        elif kind == "group" and isinstance(value, list):
            typed[f"{path}.rows"] = [str(len(value))]
            for index, row in enumerate(value):
                if isinstance(row, dict):
                    typed.update(typed_from_answers(question.fields, row, f"{path}[{index}]."))
        elif kind == "multi_choice" and isinstance(value, list):
            typed[path] = [str(v) for v in value]
        elif kind == "yes_no" and isinstance(value, bool):
            typed[path] = ["yes" if value else "no"]
        elif kind == "number":
            typed[path] = [_number_text(value)]
        else:
            typed[path] = [str(value)]
    return typed


def _row(typed: Typed, path: str, index: int) -> dict[str, list[str]]:
    prefix = f"{path}[{index}]."
    return {
        name[len(prefix) :]: values for name, values in typed.items() if name.startswith(prefix)
    }


def _set_rows(typed: Typed, path: str, rows: Sequence[Mapping[str, list[str]]], shown: int) -> None:
    for name in [n for n in typed if n.startswith(f"{path}[")]:
        del typed[name]
    for index, row in enumerate(rows):
        for name, values in row.items():
            typed[f"{path}[{index}].{name}"] = list(values)
    typed[f"{path}.rows"] = [str(max(shown, len(rows)))]


def _blank(row: Mapping[str, list[str]]) -> bool:
    # The country list always has a value: it alone does not make a row.
    return not any(
        value.strip()
        for name, values in row.items()
        if not name.endswith(".country")
        for value in values
    )


def compact_groups(fields: Iterable[pb.Field], typed: Typed) -> None:
    """Rows left blank are not answers: dropped before saving, the others numbered again (so the
    service's paths name the rows as shown)."""
    for question in fields:
        if question.type != "group":
            continue
        path = question.id
        rows = [_row(typed, path, i) for i in range(rows_of(typed, path))]
        kept = [row for row in rows if not _blank(row)]
        _set_rows(typed, path, kept, len(kept))


def change_rows(fields: Iterable[pb.Field], typed: Typed, action: str) -> bool:
    """`add:<group>` or `remove:<group>:<row>`: the rows shown change, nothing is saved. Whether
    the action was one of these."""
    parts = action.split(":")
    groups = {q.id: q for q in fields if q.type == "group"}
    if len(parts) < 2 or parts[0] not in {"add", "remove"} or parts[1] not in groups:
        return False
    question = groups[parts[1]]
    path = question.id
    count = max(rows_of(typed, path), question.min_items, 1)
    rows = [_row(typed, path, i) for i in range(count)]
    if parts[0] == "add":
        limit = question.max_items or 20
        _set_rows(typed, path, rows, min(count + 1, limit))
        return True
    if len(parts) == 3 and parts[2].isdigit() and int(parts[2]) < len(rows):
        del rows[int(parts[2])]
        _set_rows(typed, path, rows, len(rows))
        return True
    return False


@dataclass
class Collected:
    answers: dict[str, Any] = field(default_factory=dict)
    # The page's own words about an input it could read no value from (a date).
    problems: dict[str, str] = field(default_factory=dict)


def _amount(text: str) -> str:
    compact = text.replace(" ", "").replace("\u202f", "").replace("\xa0", "").replace("€", "")
    if compact.count(",") == 1 and "." not in compact:
        compact = compact.replace(",", ".")
    return compact


def _number(text: str) -> Any:
    compact = _amount(text)
    try:
        number = Decimal(compact)
    except InvalidOperation:
        return text  # the service says it is not a number
    if not number.is_finite():
        return text
    return (
        int(number)
        if number == number.to_integral_value() and "." not in compact
        else float(number)
    )


def _date(typed: Typed, path: str, language: Language, found: Collected) -> str | None:
    day, month, year = (_one(typed, f"{path}.{p}").strip() for p in DATE_PARTS)
    if not (day or month or year):
        return None
    try:
        if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
            raise ValueError
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        found.problems[path] = _(
            "Enter a real date: day, month and year, for example 27 3 2007."
        ).render(language)
        # Sent as it is: the service refuses it too, so nothing of the step is saved.
        return f"{year}-{month}-{day}"


def collect(
    fields: Iterable[pb.Field],
    typed: Typed,
    language: Language,
    prefix: str = "",
    found: Collected | None = None,
) -> Collected:
    """The answers of these fields as the service takes them (JSON values); an input left empty
    is not sent (the service says whether it was required)."""
    found = found if found is not None else Collected()
    answers: dict[str, Any] = {}
    for question in fields:
        path = prefix + question.id
        kind = question.type
        text = _one(typed, path)
        if kind == "attachment":
            continue  # F25: its files are added and removed by their own forms, kept by the service
        if kind == "group":
            rows = []
            for index in range(rows_of(typed, path)):
                row = collect(question.fields, typed, language, f"{path}[{index}].", Collected())
                found.problems.update(row.problems)
                if row.answers:
                    rows.append(row.answers)
            if rows:
                answers[question.id] = rows
        elif kind == "date":
            value = _date(typed, path, language, found)
            if value is not None:
                answers[question.id] = value
        elif kind == "address":
            address = {part: _one(typed, f"{path}.{part}").strip() for part in ADDRESS_PARTS}
            if any(address[part] for part in ADDRESS_PARTS if part != "country"):
                answers[question.id] = address
        elif kind == "multi_choice":
            chosen = [v for v in typed.get(path, []) if v]
            if chosen:
                answers[question.id] = chosen
        elif kind == "yes_no":
            if text in {"yes", "no"}:
                answers[question.id] = text == "yes"
        elif kind == "number":
            if text.strip():
                answers[question.id] = _number(text.strip())
        elif kind == "amount":
            if text.strip():
                answers[question.id] = _amount(text.strip())
        elif kind == "long_text":
            if text.strip():
                answers[question.id] = text.replace("\r\n", "\n")
        elif text.strip():
            answers[question.id] = text.strip()
    found.answers.update(answers)
    return found


# --- what a form shows ------------------------------------------------------------------------


@dataclass
class Errors:
    """A form's wrong inputs by field path, each with its message; in the order of the form."""

    messages: dict[str, str] = field(default_factory=dict)
    # field path → the input the summary leads to
    focus: dict[str, str] = field(default_factory=dict)
    # field path → its label, for the summary
    labels: dict[str, str] = field(default_factory=dict)
    general: str = ""

    def __bool__(self) -> bool:
        return bool(self.messages) or bool(self.general)

    def add(self, path: str, message: str) -> None:
        self.messages.setdefault(path, message)

    def get(self, path: str) -> str:
        return self.messages.get(path, "")

    def summary(self, first_input: str) -> list[tuple[str, str]]:
        """(input id, "Label: message") in the order of the form; the service's words name no
        field, so the summary says which one."""
        order = list(self.focus)
        shown = sorted(
            self.messages.items(),
            key=lambda item: order.index(item[0]) if item[0] in order else len(order),
        )
        lines = [
            (self._nearest(self.focus, path, first_input), self._labelled(path, message))
            for path, message in shown
        ]
        if self.general:
            lines.insert(0, (first_input, self.general))
        return lines

    def _labelled(self, path: str, message: str) -> str:
        label = self._nearest(self.labels, path, "")
        return f"{label}: {message}" if label else message

    @staticmethod
    def _nearest(known: Mapping[str, str], path: str, default: str) -> str:
        # `new_address.postcode` or `members[1]`: the closest field the form has.
        while path:
            if path in known:
                return known[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return default


@dataclass
class Labels:
    """Every field's label and options, to say when a conditional field applies."""

    fields: dict[str, pb.Field] = field(default_factory=dict)

    @classmethod
    def of(cls, steps: Iterable[pb.Step]) -> Labels:
        labels = cls()
        for step in steps:
            for question in step.fields:
                labels.fields[question.id] = question
                for inner in question.fields:
                    labels.fields.setdefault(inner.id, inner)
        return labels

    def _answer(self, field_id: str, value: Any, language: Language) -> str:
        question = self.fields.get(field_id)
        if isinstance(value, bool):
            return (_("Yes") if value else _("No")).render(language)
        if question is not None:
            for option in question.options:
                if option.value == value:
                    return option.label
        return str(value)

    def when(self, condition_json: str, language: Language) -> str:
        """When a field applies, said from its condition's usual shapes (display only: the
        service decides)."""
        if not condition_json:
            return ""
        try:
            condition = json.loads(condition_json)
        except ValueError:
            condition = None
        said = self._say(condition, language)
        return said or _("Answer only if it applies to you.").render(language)

    def _say(self, condition: Any, language: Language) -> str:
        if not isinstance(condition, dict) or len(condition) != 1:
            return ""
        ((operator, operands),) = condition.items()
        if operator == "field" and self._label(operands):
            return self._answered(operands, [True], language)
        inner = operands.get("field") if isinstance(operands, dict) else None
        if operator == "not" and isinstance(inner, str) and self._label(inner):
            return self._answered(inner, [False], language)
        if operator in {"eq", "in"} and isinstance(operands, list) and len(operands) == 2:
            left, right = operands
            if isinstance(left, dict) and set(left) == {"field"} and self._label(left["field"]):
                values = right if operator == "in" and isinstance(right, list) else [right]
                if all(isinstance(v, str | bool | int | float) for v in values):
                    return self._answered(left["field"], values, language)
        return ""

    def _label(self, field_id: Any) -> str:
        question = self.fields.get(field_id) if isinstance(field_id, str) else None
        return question.label if question is not None else ""

    def _answered(self, field_id: str, values: list[Any], language: Language) -> str:
        answers = (
            _(" or ")
            .render(language)
            .join(f"“{self._answer(field_id, v, language)}”" for v in values)
        )
        return _(
            "Only if you answered {answers} to “{question}”.",
            answers=answers,
            question=self._label(field_id),
        ).render(language)


def _countries(language: Language) -> list[tuple[str, str]]:
    names = Locale.parse(LOCALES[language]).territories
    shown = [(code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()]
    return sorted(shown, key=lambda item: item[1].casefold())


COUNTRIES = {language: _countries(language) for language in Language}


def controls(
    fields: Iterable[pb.Field],
    typed: Typed,
    errors: Errors,
    labels: Labels,
    language: Language,
    prefix: str = "",
) -> list[dict[str, Any]]:
    """What the template shows for each field: its input kind, names, ids, values and error."""
    shown = []
    for question in fields:
        path = prefix + question.id
        kind = question.type
        if kind == "choice":
            kind = "choice_radio" if len(question.options) <= MAX_RADIOS else "choice_select"
        control: dict[str, Any] = {
            "kind": kind,
            "path": path,
            "id": anchor(path),
            "label": question.label,
            "hint": question.hint,
            "when": labels.when(question.visible_json, language),
            "required": question.required,
            "required_if": labels.when(question.required_if_json, language)
            if question.required_if_json
            else "",
            "error": errors.get(path),
            "value": _one(typed, path),
            "values": typed.get(path, []),
            "options": [{"value": o.value, "label": o.label} for o in question.options],
            "max_length": question.max_length or None,
            "min": question.min,
            "max": question.max,
        }
        control["optional"] = not question.required and not question.required_if_json
        control["describedby"] = " ".join(
            f"{control['id']}-{name}"
            for name, shown_text in (
                ("hint", question.hint),
                ("when", control["when"]),
                ("required-if", control["required_if"]),
                ("error", control["error"]),
            )
            if shown_text
        )
        errors.focus.setdefault(path, focus_of(path, kind))
        errors.labels.setdefault(path, question.label)
        if kind == "date":
            control["parts"] = {p: _one(typed, f"{path}.{p}") for p in DATE_PARTS}
        elif kind == "address":
            control["parts"] = {
                p: _one(typed, f"{path}.{p}") or (DEFAULT_COUNTRY if p == "country" else "")
                for p in ADDRESS_PARTS
            }
            control["part_errors"] = {p: errors.get(f"{path}.{p}") for p in ADDRESS_PARTS}
            for part in ADDRESS_PARTS:
                errors.focus.setdefault(f"{path}.{part}", anchor(f"{path}.{part}"))
            control["countries"] = COUNTRIES[language]
        elif kind == "group":
            count = max(rows_of(typed, path), question.min_items, 1 if question.required else 0)
            control["rows"] = [
                controls(question.fields, typed, errors, labels, language, f"{path}[{i}].")
                for i in range(count)
            ]
            limit = question.max_items or 20
            control["can_add"] = count < limit
            control["max_items"] = limit
            control["min_items"] = question.min_items
        shown.append(control)
    return shown


# --- the catalogue (public) -------------------------------------------------------------------


def _summary(procedure: pb.ProcedureSummary, language: Language) -> dict[str, Any]:
    paper = procedure.channel == pb.CHANNEL_PAPER
    return {
        "code": procedure.code,
        "title": procedure.title,
        "summary": procedure.summary,
        "theme": procedure.theme_label or procedure.theme,
        "padlock": procedure.login_required,
        "level": procedure.level,
        "level_text": render(LEVELS[procedure.level], language)
        if procedure.level in LEVELS
        else "",
        "paper": paper,
        "audiences": [
            render(AUDIENCES[a], language) for a in procedure.audiences if a in AUDIENCES
        ],
        "href": f"/procedures/{procedure.code}?lang={language.value}",
        "paper_href": "/etracking/new?"
        + urlencode({"lang": language.value, "paper_form_code": procedure.paper_form_code}),
        "administration": procedure.administration,
        # F33: the service says when no request is taken now (quota full, not open) and why.
        "closed": procedure.quota_reached,
        "availability": procedure.availability_message,
        # What the request's pages offer: appointments (F32), a signature (F26), prefill (F24).
        "appointment": procedure.appointment or "none",
        "signature_required": procedure.signature_required,
        "prefill_offered": procedure.prefill_offered,
    }


@router.get("/procedures", response_class=HTMLResponse, dependencies=PUBLIC_PAGE)
async def catalogue(
    request: Request, calls: Calls, q: str = "", theme: str = "", page_token: str = ""
) -> HTMLResponse:
    language = page_language(request)
    query = q[:QUERY_MAX_LENGTH]
    theme = theme if _CODE.fullmatch(theme) else ""
    themes = (await calls.procedures.ListThemes(pb.ListThemesRequest(language=language))).themes
    found = await calls.procedures.SearchCatalogue(
        pb.SearchCatalogueRequest(
            query=query.strip(),
            theme=theme,
            language=language,
            page_size=CATALOGUE_PAGE_SIZE,
            page_token=page_token[:PAGE_TOKEN_MAX_LENGTH],
        )
    )
    base = {"lang": language.value, "q": query, "theme": theme}
    return page(
        request,
        "procedures/catalogue.html",
        query=query,
        theme=theme,
        themes=[
            {
                "code": t.code,
                "label": t.label,
                "count": t.procedure_count,
                "href": "/procedures?" + urlencode({"lang": language.value, "theme": t.code}),
            }
            for t in themes
        ],
        theme_label=next((t.label for t in themes if t.code == theme), ""),
        procedures=[_summary(p, language) for p in found.procedures],
        total=found.total,
        searched=bool(query.strip() or theme),
        next_href="/procedures?" + urlencode({**base, "page_token": found.next_page_token})
        if found.next_page_token
        else "",
        first_href="/procedures?" + urlencode(base) if page_token else "",
    )


# --- checking a proof of deposit (public) -----------------------------------------------------


@router.get("/procedures/verify", response_class=HTMLResponse, dependencies=PUBLIC_PAGE)
async def verify_form(request: Request) -> HTMLResponse:
    return form_page(request, "procedures/verify.html", result=None, error="")


@router.post(
    "/procedures/verify",
    response_class=HTMLResponse,
    dependencies=[*PUBLIC_PAGE, anonymous_form_protected, rate_limit(LOOKUPS)],
)
async def verify_proof(request: Request, calls: Calls) -> HTMLResponse:
    language = page_language(request)
    sent = (await request.form()).get("proof")
    data = b""
    if isinstance(sent, UploadFile) and sent.filename:
        data = await sent.read(PROOF_MAX_BYTES + 1)
    if not data:
        error = _("Choose the proof of deposit (PDF) to check.").render(language)
        return form_page(request, "procedures/verify.html", 422, result=None, error=error)
    if len(data) > PROOF_MAX_BYTES:
        error = _("This file is too large to be a proof of deposit.").render(language)
        return form_page(request, "procedures/verify.html", 422, result=None, error=error)
    try:
        reply = await calls.procedures.VerifyProof(
            pb.VerifyProofRequest(pdf=data, language=language)
        )
    except grpc.aio.AioRpcError as failed:
        failure = read_rpc_failure(failed)
        if failure.code not in ABOUT_THE_INPUT:
            raise
        # Not a PDF the service can read: not a proof either.
        reply = pb.VerifyProofResponse(genuine=False, reason=failure.message)
    result = {
        "genuine": reply.genuine,
        "reason": reply.reason,
        "reference": reply.reference,
        "title": reply.procedure_title,
        "code": reply.procedure_code,
        "version": reply.procedure_version,
        "submitted": _moment(reply.submitted_at, language),
        "sha256": reply.answers_sha256,
    }
    return form_page(request, "procedures/verify.html", result=result, error="")


# --- a procedure (public) and starting it ---------------------------------------------------


def _code(text: str) -> str:
    if not _CODE.fullmatch(text):
        raise Problem(404, "NOT_FOUND")
    return text


@router.get("/procedures/{code}", response_class=HTMLResponse, dependencies=PUBLIC_PAGE)
async def procedure_page(request: Request, calls: Calls, code: str) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.procedures.GetProcedure(
        pb.GetProcedureRequest(code=_code(code), language=language)
    )
    form = reply.form
    return page(
        request,
        "procedures/procedure.html",
        procedure=_summary(form.procedure, language),
        steps=[step.title for step in form.steps],
        has_attachments=any(
            question.type == "attachment" for step in form.steps for question in step.fields
        ),
        sign_in_href="/signin?"
        + urlencode(
            {
                "return_to": f"/procedures/{code}?lang={language.value}",
                "lang": language.value,
                **({"acr": form.procedure.level} if form.procedure.level != "low" else {}),
            }
        ),
    )


@router.get("/procedures/{code}/start")
async def start_again(request: Request, code: str) -> RedirectResponse:
    # Where a sign-in (or a stronger one) asked at the start comes back to.
    return _redirect(f"/procedures/{_code(code)}", page_language(request))


@router.post("/procedures/{code}/start", dependencies=[csrf_protected])
async def start(request: Request, calls: Calls, session: SignedIn, code: str) -> Response:
    language = page_language(request)
    reply = await calls.procedures.StartDraft(
        pb.StartDraftRequest(procedure_code=_code(code), language=language)
    )
    draft = reply.request
    # F24: with fields to prefill, the person first sees their values and sources and decides.
    if (await _form(calls, draft, language)).procedure.prefill_offered:
        return _redirect(f"/my/requests/{draft.id}/prefill", language)
    first = draft.next_step or next((s.id for s in draft.steps if s.applicable), "")
    if not first:
        return _redirect(f"/my/requests/{draft.id}/summary", language)
    return _redirect(f"/my/requests/{draft.id}/steps/{first}", language)


# --- a draft's steps ------------------------------------------------------------------------


async def _space_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    template: str,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    language = page_language(request)
    return page(
        request,
        template,
        status,
        section=SECTION,
        acting_label=await _acting_label(calls, session, language),
        **values,
    )


async def _request(calls: Calls, request_id: str, language: Language) -> pb.Request:
    reply = await calls.procedures.GetRequest(
        pb.GetRequestRequest(request_id=_request_id(request_id), language=language)
    )
    return reply.request


async def _form(calls: Calls, draft: pb.Request, language: Language) -> pb.ProcedureForm:
    reply = await calls.procedures.GetProcedure(
        pb.GetProcedureRequest(
            code=draft.procedure_code, version=draft.procedure_version, language=language
        )
    )
    return reply.form


def _answers(draft: pb.Request) -> dict[str, Any]:
    try:
        answers = json.loads(draft.answers_json or "{}")
    except ValueError:
        return {}
    return answers if isinstance(answers, dict) else {}


def _indicator(draft: pb.Request, current: str) -> dict[str, Any]:
    """The step indicator: the applicable steps, then the summary."""
    segments = [
        {"id": s.id, "title": s.title, "complete": s.complete, "current": s.id == current}
        for s in draft.steps
        if s.applicable
    ]
    segments.append(
        {"id": "summary", "title": "", "complete": False, "current": current == "summary"}
    )
    position = next((i for i, s in enumerate(segments) if s["current"]), 0)
    return {"segments": segments, "position": position + 1, "total": len(segments)}


def _refusal(failed: grpc.aio.AioRpcError, errors: Errors, language: Language) -> bool:
    """Whether the service refused the answers: its words go next to the inputs they are about
    (a refusal naming no field above the form). Anything else is the error pages'."""
    failure = read_rpc_failure(failed)
    if failure.code not in ABOUT_THE_ANSWERS:
        return False
    for refused in failure.field_errors:
        errors.add(refused.field, render(refused.message, language))
    if not failure.field_errors:
        errors.general = failure.message
    return True


async def _step_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    draft: pb.Request,
    form: pb.ProcedureForm,
    step: pb.Step,
    typed: Typed,
    errors: Errors,
    status: int = 200,
) -> HTMLResponse:
    language = page_language(request)
    labels = Labels.of(form.steps)
    shown = controls(step.fields, typed, errors, labels, language)
    await _with_files(calls, draft, step, shown, language)  # F25
    applicable = [s.id for s in draft.steps if s.applicable]
    index = applicable.index(step.id) if step.id in applicable else -1
    previous = applicable[index - 1] if index > 0 else ""
    first_input = shown[0]["id"] if shown else "step-form"
    back_to = request.query_params.get("from", "")
    return await _space_page(
        request,
        calls,
        session,
        "procedures/step.html",
        status,
        draft=_draft(draft, language),
        procedure_title=form.procedure.title,
        step={"id": step.id, "title": step.title},
        controls=shown,
        errors=errors,
        summary=errors.summary(first_input),
        indicator=_indicator(draft, step.id),
        previous_href=f"/my/requests/{draft.id}/steps/{previous}?lang={language.value}"
        if previous
        else "",
        exit_message=draft.exit_message,
        from_summary=back_to == "summary",
    )


def _draft(draft: pb.Request, language: Language) -> dict[str, Any]:
    state, state_text = STATES.get(draft.state, ("draft", _("In preparation")))
    return {
        "id": draft.id,
        "reference": draft.reference,
        "title": draft.title,
        "code": draft.procedure_code,
        "version": draft.procedure_version,
        "state": state,
        "state_text": state_text.render(language),
        "status_text": draft.status_text,
        "updated": _moment(draft.updated_at, language),
        "created": _moment(draft.created_at, language),
        "submitted": _moment(draft.submitted_at, language),
        "expires": _moment(draft.expires_at, language),
        "cancellable": draft.cancellable,
        "newer_version": draft.newer_version_published,
        "next_step": draft.next_step,
        "href": f"/my/requests/{draft.id}?lang={language.value}",
        # F34: shown when someone acting for the owner (mandate, company space) started it.
        "filed_by": draft.filed_by if draft.owner != f"person:{draft.filed_by}" else "",
        "has_appointment": has_appointment(draft),
    }


def _find_step(form: pb.ProcedureForm, step_id: str) -> pb.Step:
    if _STEP.fullmatch(step_id):
        for step in form.steps:
            if step.id == step_id:
                return step
    raise Problem(404, "NOT_FOUND")


def _step_order_ok(draft: pb.Request, step_id: str) -> bool:
    """A step may be opened when it applies and no earlier applicable step is left undone."""
    for state in draft.steps:
        if not state.applicable:
            if state.id == step_id:
                return False
            continue
        if state.id == step_id:
            return True
        if not state.complete:
            return False
    return False


@router.get("/my/requests/{request_id}/steps/{step_id}", response_class=HTMLResponse)
async def step_page(
    request: Request, calls: Calls, session: SignedIn, request_id: str, step_id: str
) -> Response:
    language = page_language(request)
    draft = await _request(calls, request_id, language)
    if draft.state != pb.REQUEST_STATE_DRAFT:
        return _redirect(f"/my/requests/{draft.id}", language)
    form = await _form(calls, draft, language)
    step = _find_step(form, step_id)
    if not _step_order_ok(draft, step.id):
        target = draft.next_step
        if target and target != step.id:
            return _redirect(f"/my/requests/{draft.id}/steps/{target}", language)
        return _redirect(f"/my/requests/{draft.id}/summary", language)
    typed = typed_from_answers(step.fields, _answers(draft))
    return await _step_page(request, calls, session, draft, form, step, typed, Errors())


def _after_step(draft: pb.Request, step_id: str, from_summary: bool) -> str:
    """Where the person goes once a step is saved: the next applicable step, else (or back from
    the summary with nothing left undone) the summary."""
    applicable = [s for s in draft.steps if s.applicable]
    if from_summary and not draft.next_step:
        return "summary"
    ids = [s.id for s in applicable]
    if step_id in ids:
        after = ids[ids.index(step_id) + 1 :]
        if after:
            return after[0]
    return draft.next_step or "summary"


@router.post(
    "/my/requests/{request_id}/steps/{step_id}",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def save_step(
    request: Request, calls: Calls, session: SignedIn, request_id: str, step_id: str
) -> Response:
    language = page_language(request)
    draft = await _request(calls, request_id, language)
    if draft.state != pb.REQUEST_STATE_DRAFT:
        return _redirect(f"/my/requests/{draft.id}", language)
    form = await _form(calls, draft, language)
    step = _find_step(form, step_id)
    typed = read_typed(await request.form())
    action = _one(typed, "action")
    if change_rows(step.fields, typed, action):
        # Rows added or removed: the step comes back as typed, nothing saved yet.
        return await _step_page(request, calls, session, draft, form, step, typed, Errors())
    compact_groups(step.fields, typed)
    found = collect(step.fields, typed, language)
    errors = Errors()
    try:
        reply = await calls.procedures.SaveStep(
            pb.SaveStepRequest(
                request_id=draft.id,
                step_id=step.id,
                answers_json=json.dumps(found.answers, ensure_ascii=False),
                language=language,
            )
        )
    except grpc.aio.AioRpcError as failed:
        if not _refusal(failed, errors, language):
            raise
        failure = read_rpc_failure(failed)
        if failure.reason == "NOT_ELIGIBLE":
            draft.exit_message = failure.message
            errors.general = ""
        for path, message in found.problems.items():
            errors.messages[path] = message  # the page's words for what it could not read
        status = 200 if not errors else 422
        return await _step_page(request, calls, session, draft, form, step, typed, errors, status)
    saved = reply.request
    if saved.exit_message:
        # The answers end the procedure here: the step says why.
        return _redirect(f"/my/requests/{saved.id}/steps/{step.id}", language)
    target = _after_step(saved, step.id, _one(typed, "from") == "summary")
    if target == "summary":
        return _redirect(f"/my/requests/{saved.id}/summary", language)
    return _redirect(f"/my/requests/{saved.id}/steps/{target}", language)


# --- the summary, submission and its confirmation --------------------------------------------


def _answered_steps(
    draft: pb.Request, language: Language, changeable: bool
) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "title": s.title,
            "complete": s.complete,
            "answers": [
                {"label": a.label, "display": a.display, "id": a.field_id} for a in s.answers
            ],
            "change_href": f"/my/requests/{draft.id}/steps/{s.id}?"
            + urlencode({"lang": language.value, "from": "summary"})
            if changeable
            else "",
        }
        for s in draft.steps
        if s.applicable
    ]


async def _summary_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    draft: pb.Request,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    language = page_language(request)
    form = await _form(calls, draft, language)
    return await _space_page(
        request,
        calls,
        session,
        "procedures/summary.html",
        status,
        draft=_draft(draft, language),
        procedure=_summary(form.procedure, language),
        steps=_answered_steps(draft, language, True),
        indicator=_indicator(draft, "summary"),
        # One key per showing of the summary: a double click or a retry submits once.
        idempotency_key=str(uuid.uuid4()),
        exit_message=draft.exit_message,
        error=error,
        incomplete_href=f"/my/requests/{draft.id}/steps/{draft.next_step}?lang={language.value}"
        if draft.next_step
        else "",
    )


@router.get("/my/requests/{request_id}/summary", response_class=HTMLResponse)
async def summary_page(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    draft = await _request(calls, request_id, language)
    if draft.state != pb.REQUEST_STATE_DRAFT:
        return _redirect(f"/my/requests/{draft.id}", language)
    return await _summary_page(request, calls, session, draft)


@router.post(
    "/my/requests/{request_id}/submit", response_class=HTMLResponse, dependencies=[csrf_protected]
)
async def submit(request: Request, calls: Calls, session: SignedIn, request_id: str) -> Response:
    language = page_language(request)
    key = (await request.form()).get("idempotency_key")
    key = key if isinstance(key, str) and _ID.fullmatch(key) else str(uuid.uuid4())
    try:
        reply = await calls.procedures.SubmitRequest(
            pb.SubmitRequestRequest(
                request_id=_request_id(request_id), idempotency_key=key, language=language
            )
        )
    except grpc.aio.AioRpcError as failed:
        failure = read_rpc_failure(failed)
        if failure.code not in ABOUT_THE_ANSWERS:
            raise
        draft = await _request(calls, request_id, language)
        if draft.state != pb.REQUEST_STATE_DRAFT:
            return _redirect(f"/my/requests/{draft.id}/submitted", language)
        return await _summary_page(request, calls, session, draft, failure.message, 422)
    return _redirect(f"/my/requests/{reply.request.id}/submitted", language)


@router.get("/my/requests/{request_id}/submitted", response_class=HTMLResponse)
async def submitted_page(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    sent = await _request(calls, request_id, language)
    if sent.state == pb.REQUEST_STATE_DRAFT:
        return _redirect(f"/my/requests/{sent.id}/summary", language)
    return await _space_page(
        request,
        calls,
        session,
        "procedures/submitted.html",
        draft=_draft(sent, language),
        proof_href=f"/my/requests/{sent.id}/proof",
    )


@router.get("/my/requests/{request_id}/proof")
async def proof(request: Request, calls: Calls, session: SignedIn, request_id: str) -> Response:
    reply = await calls.procedures.GetProof(pb.GetProofRequest(request_id=_request_id(request_id)))
    name = reply.filename or "proof-of-deposit.pdf"
    return Response(
        reply.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- my requests ------------------------------------------------------------------------------


@router.get("/my/requests", response_class=HTMLResponse)
async def my_requests(
    request: Request,
    calls: Calls,
    session: SignedIn,
    filter: str = "all",
    sort: str = "updated",
    page_token: str = "",
) -> HTMLResponse:
    language = page_language(request)
    chosen = filter if filter in FILTERS else "all"
    order = sort if sort in SORTS else "updated"
    listed = await calls.procedures.ListMyRequests(
        pb.ListMyRequestsRequest(
            filter=FILTERS[chosen][0],
            sort=SORTS[order][0],
            page_size=REQUESTS_PAGE_SIZE,
            page_token=page_token[:PAGE_TOKEN_MAX_LENGTH],
            language=language,
        )
    )
    base = {"lang": language.value, "filter": chosen, "sort": order}
    done = DONE.get(request.query_params.get("done", ""))
    return await _space_page(
        request,
        calls,
        session,
        "procedures/mine.html",
        requests=[_draft(r, language) for r in listed.requests],
        total=listed.total,
        filters=[
            {
                "key": key,
                "label": label.render(language),
                "href": "/my/requests?" + urlencode({**base, "filter": key}),
                "current": key == chosen,
            }
            for key, (_value, label) in FILTERS.items()
        ],
        chosen=chosen,
        chosen_label=FILTERS[chosen][1].render(language),
        sorts=[{"key": k, "label": label.render(language)} for k, (_v, label) in SORTS.items()],
        order=order,
        next_href="/my/requests?" + urlencode({**base, "page_token": listed.next_page_token})
        if listed.next_page_token
        else "",
        first_href="/my/requests?" + urlencode(base) if page_token else "",
        done=done.render(language) if done else "",
    )


# --- one request ------------------------------------------------------------------------------


def _history(draft: pb.Request, labels: Labels, language: Language) -> list[dict[str, Any]]:
    entries = []
    for entry in draft.history:
        kind = HISTORY.get(entry.kind)
        entries.append(
            {
                "kind": entry.kind,
                "what": kind.render(language) if kind else entry.kind,
                "when": _moment(entry.occurred_at, language),
                "status_text": entry.status_text,
                "text": entry.text,
                "fields": [
                    labels.fields[f].label if f in labels.fields else f for f in entry.field_ids
                ],
                "by_applicant": entry.actor == "applicant",
            }
        )
    return entries


def _asked_fields(form: pb.ProcedureForm, draft: pb.Request) -> list[pb.Field]:
    asked = set(draft.asked_field_ids)
    return [q for step in form.steps for q in step.fields if q.id in asked]


def _applicant(session: WebSession, draft: pb.Request, acting_label: str) -> str:
    if draft.owner == session.principal.person:
        return f"{session.principal.name} ({session.principal.national_id})"
    return acting_label or draft.owner


async def _detail_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    draft: pb.Request,
    typed: Typed | None = None,
    errors: Errors | None = None,
    status: int = 200,
) -> HTMLResponse:
    language = page_language(request)
    form = await _form(calls, draft, language)
    labels = Labels.of(form.steps)
    errors = errors or Errors()
    asked = _asked_fields(form, draft) if draft.state == pb.REQUEST_STATE_ACTION_NEEDED else []
    shown = controls(
        asked,
        typed if typed is not None else typed_from_answers(asked, _answers(draft)),
        errors,
        labels,
        language,
    )
    corrections = [e for e in draft.history if e.kind == "correction_asked"]
    acting_label = await _acting_label(calls, session, language)
    done = DONE.get(request.query_params.get("done", ""))
    return page(
        request,
        "procedures/detail.html",
        status,
        section=SECTION,
        acting_label=acting_label,
        draft=_draft(draft, language),
        procedure=_summary(form.procedure, language),
        applicant=_applicant(session, draft, acting_label),
        steps=_answered_steps(draft, language, False),
        history=_history(draft, labels, language),
        correction_message=corrections[-1].text if corrections else "",
        controls=shown,
        errors=errors,
        summary=errors.summary(shown[0]["id"] if shown else "correction-form"),
        answers_sha256=draft.answers_sha256,
        done=done.render(language) if done else "",
        continue_href=f"/my/requests/{draft.id}/steps/{draft.next_step}?lang={language.value}"
        if draft.next_step
        else f"/my/requests/{draft.id}/summary?lang={language.value}",
        proof_href=f"/my/requests/{draft.id}/proof" if draft.reference else "",
        exchanges=await request_exchanges(calls, session, draft, language),
    )


@router.get("/my/requests/{request_id}", response_class=HTMLResponse)
async def request_page(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> HTMLResponse:
    language = page_language(request)
    draft = await _request(calls, request_id, language)
    return await _detail_page(request, calls, session, draft)


@router.post(
    "/my/requests/{request_id}/correction",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def answer_correction(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    draft = await _request(calls, request_id, language)
    if draft.state != pb.REQUEST_STATE_ACTION_NEEDED:
        return _redirect(f"/my/requests/{draft.id}", language)
    form = await _form(calls, draft, language)
    asked = _asked_fields(form, draft)
    typed = read_typed(await request.form())
    if change_rows(asked, typed, _one(typed, "action")):
        return await _detail_page(request, calls, session, draft, typed)
    compact_groups(asked, typed)
    found = collect(asked, typed, language)
    errors = Errors()
    try:
        await calls.procedures.AnswerCorrection(
            pb.AnswerCorrectionRequest(
                request_id=draft.id,
                answers_json=json.dumps(found.answers, ensure_ascii=False),
                language=language,
            )
        )
    except grpc.aio.AioRpcError as failed:
        if not _refusal(failed, errors, language):
            raise
        errors.messages.update(found.problems)
        return await _detail_page(request, calls, session, draft, typed, errors, 422)
    return _redirect(f"/my/requests/{draft.id}", language, done="corrected")


@router.get("/my/requests/{request_id}/cancel", response_class=HTMLResponse)
async def cancel_confirmation(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    draft = await _request(calls, request_id, language)
    if not draft.cancellable:
        return _redirect(f"/my/requests/{draft.id}", language)
    return await _space_page(
        request, calls, session, "procedures/cancel.html", draft=_draft(draft, language)
    )


@router.post(
    "/my/requests/{request_id}/cancel", response_class=HTMLResponse, dependencies=[csrf_protected]
)
async def cancel(request: Request, calls: Calls, session: SignedIn, request_id: str) -> Response:
    language = page_language(request)
    await calls.procedures.CancelRequest(
        pb.CancelRequestRequest(request_id=_request_id(request_id), language=language)
    )
    return _redirect(f"/my/requests/{request_id}", language, done="cancelled")


@router.post(
    "/my/requests/{request_id}/extend", response_class=HTMLResponse, dependencies=[csrf_protected]
)
async def extend(request: Request, calls: Calls, session: SignedIn, request_id: str) -> Response:
    language = page_language(request)
    await calls.procedures.ExtendDraft(
        pb.ExtendDraftRequest(request_id=_request_id(request_id), language=language)
    )
    return _redirect(f"/my/requests/{request_id}", language, done="extended")


# --- attachments (F25): files of a draft, from the computer or from the wallet ----------------
# The step page's file inputs belong (by their `form` attribute) to small forms placed before the
# step's own form: the CSRF token comes first in the body, checked before any byte of a file is
# read, and the file is streamed to procedures as the API's uploads are (nothing spooled here).


async def _wallet_choices(calls: Calls, language: Language) -> list[dict[str, str]]:
    """The acting context's wallet files a person may attach (their current versions)."""
    try:
        reply = await calls.wallet.ListPieces(wallet_pb.ListPiecesRequest())
    except grpc.aio.AioRpcError:
        return []  # the wallet unreachable: the computer's files still can be given
    return [
        {
            "value": f"{piece.piece_id}:{each.file_id}",
            "label": f"{piece.title or piece.type.name}: {each.current.file_name}",
        }
        for piece in reply.pieces
        for each in piece.files
    ]


async def _with_files(
    calls: Calls,
    draft: pb.Request,
    step: pb.Step,
    shown: list[dict[str, Any]],
    language: Language,
) -> None:
    questions = {q.id: q for q in step.fields if q.type == "attachment"}
    if not questions:
        return
    choices = await _wallet_choices(calls, language)
    for control in shown:
        question = questions.get(control["path"])
        if question is None:
            continue
        given = [a for a in draft.attachments if a.field_id == question.id]
        control["files"] = [
            {
                "id": a.id,
                "name": a.file_name,
                "size": _file_size(a.size, language),
                "href": f"/my/requests/{draft.id}/files/{a.id}",
                "submitted": a.submitted,
            }
            for a in given
        ]
        control["max_files"] = question.max_items or 1
        control["can_add"] = len(given) < control["max_files"]
        control["pieces"] = choices
        control["upload_form"] = f"upload-{control['id']}"
        control["wallet_form"] = f"wallet-{control['id']}"
        control["upload_action"] = (
            f"/my/requests/{draft.id}/fields/{question.id}/files?"
            + urlencode({"lang": language.value, "step": step.id})
        )
        control["wallet_action"] = (
            f"/my/requests/{draft.id}/fields/{question.id}/files/from-wallet?"
            + urlencode({"lang": language.value, "step": step.id})
        )


def _file_size(size: int, language: Language) -> str:
    locale = LOCALES[language]
    if size >= 1_000_000:
        return format_unit(round(size / 1_000_000, 1), "digital-megabyte", "short", locale=locale)
    if size >= 1_000:
        return format_unit(round(size / 1_000, 1), "digital-kilobyte", "short", locale=locale)
    return format_unit(size, "digital-byte", "short", locale=locale)


def _field_id(text: str) -> str:
    if not _STEP.fullmatch(text):
        raise Problem(404, "NOT_FOUND")
    return text


async def _files_step(
    request: Request,
    calls: Calls,
    session: WebSession,
    request_id: str,
    step_id: str,
    field_id: str,
    message: str,
    status: int,
) -> Response:
    """The step page again with `message` next to the attachment field."""
    language = page_language(request)
    draft = await _request(calls, request_id, language)
    form = await _form(calls, draft, language)
    step = _find_step(form, step_id)
    errors = Errors()
    errors.add(field_id, message)
    typed = typed_from_answers(step.fields, _answers(draft))
    return await _step_page(request, calls, session, draft, form, step, typed, errors, status)


def _refused_file(failed: grpc.aio.AioRpcError, language: Language) -> str | None:
    """The service's words about a refused file (or None when it is not about what was sent)."""
    failure = read_rpc_failure(failed)
    if failure.code not in ABOUT_THE_ANSWERS | {grpc.StatusCode.NOT_FOUND} or (
        failure.reason == "REQUEST_NOT_FOUND"
    ):
        return None
    details = [render(e.message, language) for e in failure.field_errors]
    return details[0] if details else failure.message


@router.post("/my/requests/{request_id}/fields/{field_id}/files", response_class=HTMLResponse)
async def upload_file(
    request: Request, calls: Calls, session: SignedIn, request_id: str, field_id: str
) -> Response:
    language = page_language(request)
    request_id, field_id = _request_id(request_id), _field_id(field_id)
    step_id = request.query_params.get("step", "")
    reader = open_upload(request, upload_limit(request))
    try:
        first = await reader.next_part()
        if (
            not isinstance(first, TextField)
            or first.name != CSRF_FIELD
            or not hmac.compare_digest(first.value.encode(), session.csrf_token.encode())
        ):
            raise Problem(403, "CSRF_TOKEN_INVALID")
        part = await reader.next_part()
    except Problem as refused:
        if refused.status != 413:
            raise
        return await _too_large(request, calls, session, request_id, step_id, field_id)
    if not isinstance(part, FilePart) or not part.file_name:
        message = _("Choose a file to add.").render(language)
        await reader.drain(upload_limit(request))
        return await _files_step(
            request, calls, session, request_id, step_id, field_id, message, 422
        )
    header = pb.UploadAttachmentHeader(
        request_id=request_id,
        field_id=field_id,
        file_name=part.file_name,
        declared_content_type=part.content_type,
        language=language.value,
    )
    try:
        await stream_into(
            calls.procedures_uploads.UploadAttachment.future,
            pb.UploadAttachmentRequest(header=header),
            part.chunks(),
            lambda chunk: pb.UploadAttachmentRequest(chunk=chunk),
        )
    except Problem as refused:
        if refused.status != 413:
            raise
        return await _too_large(request, calls, session, request_id, step_id, field_id)
    except grpc.aio.AioRpcError as failed:
        message_text = _refused_file(failed, language)
        if message_text is None:
            raise
        await reader.drain(upload_limit(request))
        shown = _("{file}: {message}", file=part.file_name[:100], message=message_text)
        return await _files_step(
            request, calls, session, request_id, step_id, field_id, shown.render(language), 422
        )
    await reader.drain(upload_limit(request))
    return _redirect(f"/my/requests/{request_id}/steps/{step_id}", language)


async def _too_large(
    request: Request,
    calls: Calls,
    session: WebSession,
    request_id: str,
    step_id: str,
    field_id: str,
) -> Response:
    settings: GatewaySettings = request.app.state.settings
    maximum = f"{settings.wallet_max_file_bytes / 1e6:g}"
    message = _("Too large: each file may weigh at most {maximum} MB.", maximum=maximum)
    return await _files_step(
        request,
        calls,
        session,
        request_id,
        step_id,
        field_id,
        message.render(page_language(request)),
        413,
    )


@router.post(
    "/my/requests/{request_id}/fields/{field_id}/files/from-wallet",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def attach_from_wallet(
    request: Request, calls: Calls, session: SignedIn, request_id: str, field_id: str
) -> Response:
    language = page_language(request)
    request_id, field_id = _request_id(request_id), _field_id(field_id)
    step_id = request.query_params.get("step", "")
    chosen = str((await request.form()).get("piece") or "")
    piece_id, _sep, file_id = chosen.partition(":")
    if not (_ID.fullmatch(piece_id) and _ID.fullmatch(file_id)):
        message = _("Choose one of your documents.").render(language)
        return await _files_step(
            request, calls, session, request_id, step_id, field_id, message, 422
        )
    try:
        await calls.procedures.AttachWalletPiece(
            pb.AttachWalletPieceRequest(
                request_id=request_id,
                field_id=field_id,
                piece_id=piece_id,
                file_id=file_id,
                language=language.value,
            )
        )
    except grpc.aio.AioRpcError as failed:
        message_text = _refused_file(failed, language)
        if message_text is None:
            raise
        return await _files_step(
            request, calls, session, request_id, step_id, field_id, message_text, 422
        )
    return _redirect(f"/my/requests/{request_id}/steps/{step_id}", language)


@router.post(
    "/my/requests/{request_id}/files/removal",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def remove_file(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    request_id = _request_id(request_id)
    step_id = request.query_params.get("step", "")
    attachment_id = str((await request.form()).get("attachment") or "")
    if not _ID.fullmatch(attachment_id):
        raise Problem(404, "NOT_FOUND")
    await calls.procedures.RemoveAttachment(
        pb.RemoveAttachmentRequest(
            request_id=request_id, attachment_id=attachment_id, language=language.value
        )
    )
    return _redirect(f"/my/requests/{request_id}/steps/{step_id}", language)


@router.get("/my/requests/{request_id}/files/{attachment_id}")
async def download_file(
    request: Request, calls: Calls, session: SignedIn, request_id: str, attachment_id: str
) -> Response:
    if not _ID.fullmatch(attachment_id):
        raise Problem(404, "NOT_FOUND")
    call = calls.procedures.DownloadAttachment(
        pb.DownloadAttachmentRequest(
            request_id=_request_id(request_id), attachment_id=attachment_id
        )
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

    return StreamingResponse(
        content(),
        media_type=header.content_type or "application/octet-stream",
        headers={
            "Content-Length": str(header.size),
            "Content-Disposition": content_disposition(header.file_name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
