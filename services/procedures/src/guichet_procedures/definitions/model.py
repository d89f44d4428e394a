"""A procedure definition as typed, frozen objects, read from the mapping of its YAML or JSON file.

`parse_definition` checks everything a version must satisfy before it is published (the format is
in the plan of the procedures service): names and values of every key, every text in fr/de/en,
unique ids, the conditions' types and the fields they may see, cycles among a step's conditions,
and the status graph. It raises one `DefinitionError` listing every problem with its path
(`steps[1].fields[2].visible.eq[1]: ...`; indexes from 0), so an author fixes them all at once.

Availability (F33), optional keys at the top level of a definition:
```yaml
quota:                           # how many requests the procedure takes; each key optional
  total: 500                     # in all, ever (counted at submission)
  per_period: {limit: 50, period: month}   # period: day | week | month | year, calendar
                                 # periods in Europe/Luxembourg (a week starts on Monday)
  per_person: 1                  # per owner (person or company): their submitted requests of
                                 # the procedure that are not cancelled
opens_on: 2025-09-01             # first day requests are taken (from 00:00, Europe/Luxembourg)
closes_on: 2025-12-31            # last day requests are taken (until 24:00); not before opens_on
```
Limits are whole numbers from 1 to 1,000,000. The quota and dates of the procedure's current
version apply, whatever version a draft pinned (`requests/quotas.py`). A cancellation gives
nothing back to `total` and `per_period`: they count the submissions an administration received.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from graphlib import CycleError, TopologicalSorter
from typing import Any, ClassVar

from guichet_kit.i18n import Language, Text, current_language
from guichet_procedures.definitions import conditions
from guichet_procedures.definitions.appointment import AppointmentOffer, parse_appointment
from guichet_procedures.definitions.conditions import Condition, FieldInfo, Scope, ValueKind
from guichet_procedures.definitions.sources import FieldSource, parse_source
from guichet_procedures.definitions.statuses import StatusGraph, graph_problems

CODE = re.compile(r"[a-z][a-z0-9-]{2,59}")
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{1,59}")  # field ids, step ids, status codes
OPTION_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}")
PAPER_FORM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,39}")
PIECE_TYPE = re.compile(r"[a-z][a-z0-9_]{1,59}")
ADMINISTRATIONS = ("acd", "ccss", "snca", "cae", "commune", "aed", "justice", "cedies")
AUDIENCES = ("citizen", "company")
LOGINS = ("required", "optional")
LEVELS = ("low", "substantial", "high")
CHANNELS = ("online", "paper")
FIELD_TYPES = (
    "text", "long_text", "number", "amount", "date", "choice", "multi_choice", "yes_no",
    "address", "iban", "national_id", "company_number", "email", "phone", "group", "attachment",
)  # fmt: skip
MAX_TEXT_LENGTH = 1000  # a one-line text field; longer is a long_text
MAX_LONG_TEXT_LENGTH = 10_000
MAX_GROUP_ITEMS = 20
MAX_ATTACHMENT_FILES = 4
MAX_WORDING = 4000  # labels, hints, messages of a definition
PERIODS = ("day", "week", "month", "year")
SIGNATURES = ("required",)
MAX_QUOTA = 1_000_000
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_BOUND = re.compile(r"today(?:([+-])(\d{1,3})([ymd]))?")


class DefinitionError(ValueError):
    """A definition that cannot be published; `problems` lists each one with its path."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class Problems:
    """Collects the problems of a definition, each with where it is."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(self.prefix + (f"{path}: {message}" if path else message))

    def raise_if_any(self) -> None:
        if self.items:
            raise DefinitionError(self.items)


@dataclass(frozen=True)
class LocalText:
    """A text of a definition in the platform's three languages."""

    fr: str
    de: str
    en: str

    def text(self, language: Language) -> str:
        return str(getattr(self, language.value))

    def as_text(self) -> Text:
        """As a kit `Text`, rendered in the caller's language like every other message."""
        return DefinitionText(self.en, local=self)

    def as_dict(self) -> dict[str, str]:
        return {"fr": self.fr, "de": self.de, "en": self.en}


@dataclass(frozen=True)
class DefinitionText(Text):
    """A `Text` whose words come from a definition, not from a message catalogue."""

    local: LocalText | None = None

    def render(self, language: Language | None = None) -> str:
        if self.local is None:  # pragma: no cover - always built by LocalText.as_text
            return self.msgid
        return self.local.text(language or current_language())


@dataclass(frozen=True)
class LocalWords:
    """Search keywords per language."""

    fr: tuple[str, ...] = ()
    de: tuple[str, ...] = ()
    en: tuple[str, ...] = ()

    def words(self, language: Language) -> tuple[str, ...]:
        words: tuple[str, ...] = getattr(self, language.value)
        return words


@dataclass(frozen=True)
class DateBound:
    """A date limit: "today", "today-18y", "today+1m", "today-30d" or a date (YYYY-MM-DD)."""

    text: str

    @staticmethod
    def parse(raw: Any) -> DateBound | None:
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return DateBound(raw.isoformat())
        if not isinstance(raw, str):
            return None
        if _DATE_BOUND.fullmatch(raw):
            return DateBound(raw)
        try:
            date.fromisoformat(raw)
        except ValueError:
            return None
        return DateBound(raw) if len(raw) == 10 else None

    def resolve(self, today: date) -> date:
        match = _DATE_BOUND.fullmatch(self.text)
        if match is None:
            return date.fromisoformat(self.text)
        sign, amount, unit = match.groups()
        if sign is None:
            return today
        count = int(amount) * (1 if sign == "+" else -1)
        if unit == "d":
            return date.fromordinal(today.toordinal() + count)
        months = today.year * 12 + today.month - 1 + (count * 12 if unit == "y" else count)
        year, month = divmod(months, 12)
        return _clamped(year, month + 1, today.day)

    @property
    def absolute(self) -> date | None:
        return None if _DATE_BOUND.fullmatch(self.text) else date.fromisoformat(self.text)


def _clamped(year: int, month: int, day: int) -> date:
    """The day in that month, or its last day (29 February a year later is 28 February)."""
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


@dataclass(frozen=True)
class Option:
    value: str
    label: LocalText


@dataclass(frozen=True, kw_only=True)
class Field:
    """A question of a form. Each type is a subclass with its own limits."""

    type: ClassVar[str]
    kind: ClassVar[ValueKind] = ValueKind.STRING  # what the condition language sees

    id: str
    label: LocalText
    hint: LocalText | None = None
    # True, False, or a condition (required-if).
    required: bool | Condition = False
    visible: Condition | None = None
    # F24: where its prefilled value comes from, and whether that value may not change.
    source: FieldSource | None = None
    locked: bool = False

    def conditions(self) -> dict[str, Condition]:
        found = {"visible": self.visible, "required": self.required}
        return {key: value for key, value in found.items() if isinstance(value, Condition)}

    def info(self) -> FieldInfo:
        return FieldInfo(self.kind)


@dataclass(frozen=True, kw_only=True)
class TextField(Field):
    type = "text"
    max_length: int = 200


@dataclass(frozen=True, kw_only=True)
class LongTextField(Field):
    type = "long_text"
    max_length: int = 4000


@dataclass(frozen=True, kw_only=True)
class NumberField(Field):
    type = "number"
    kind = ValueKind.NUMBER
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    integer: bool = False


@dataclass(frozen=True, kw_only=True)
class AmountField(Field):
    """An amount in euros with 2 decimals; never negative unless its minimum says so."""

    type = "amount"
    kind = ValueKind.NUMBER
    minimum: Decimal | None = None
    maximum: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class DateField(Field):
    type = "date"
    kind = ValueKind.DATE
    minimum: DateBound | None = None
    maximum: DateBound | None = None


@dataclass(frozen=True, kw_only=True)
class ChoiceField(Field):
    type = "choice"
    options: tuple[Option, ...] = ()

    def info(self) -> FieldInfo:
        return FieldInfo(self.kind, frozenset(option.value for option in self.options))

    def option(self, value: str) -> Option | None:
        return next((option for option in self.options if option.value == value), None)


@dataclass(frozen=True, kw_only=True)
class MultiChoiceField(Field):
    type = "multi_choice"
    kind = ValueKind.SET
    options: tuple[Option, ...] = ()
    min_items: int = 0
    max_items: int | None = None

    def info(self) -> FieldInfo:
        return FieldInfo(self.kind, frozenset(option.value for option in self.options), True)

    def option(self, value: str) -> Option | None:
        return next((option for option in self.options if option.value == value), None)


@dataclass(frozen=True, kw_only=True)
class YesNoField(Field):
    type = "yes_no"
    kind = ValueKind.BOOL


@dataclass(frozen=True, kw_only=True)
class AddressField(Field):
    type = "address"
    kind = ValueKind.OTHER


@dataclass(frozen=True, kw_only=True)
class IbanField(Field):
    type = "iban"


@dataclass(frozen=True, kw_only=True)
class NationalIdField(Field):
    type = "national_id"


@dataclass(frozen=True, kw_only=True)
class CompanyNumberField(Field):
    type = "company_number"


@dataclass(frozen=True, kw_only=True)
class EmailField(Field):
    type = "email"


@dataclass(frozen=True, kw_only=True)
class PhoneField(Field):
    type = "phone"


@dataclass(frozen=True, kw_only=True)
class GroupField(Field):
    """A repeating group: a list of items, each an object of its own fields."""

    type = "group"
    kind = ValueKind.OTHER
    fields: tuple[Field, ...] = ()
    min_items: int = 0
    max_items: int = MAX_GROUP_ITEMS

    def info(self) -> FieldInfo:
        return FieldInfo(self.kind, None, True)


@dataclass(frozen=True, kw_only=True)
class AttachmentField(Field):
    """Files of the request (F25): the value is the list of the ids of this request's
    attachments given to the field, at most `max_files`; the files themselves go through the
    wallet's file pipeline and are added or removed by their own calls, never in the answers."""

    type = "attachment"
    kind = ValueKind.OTHER
    piece_types: tuple[str, ...] = ()
    max_files: int = 1


FIELD_CLASSES: Mapping[str, type[Field]] = {
    cls.type: cls
    for cls in (
        TextField, LongTextField, NumberField, AmountField, DateField, ChoiceField,
        MultiChoiceField, YesNoField, AddressField, IbanField, NationalIdField,
        CompanyNumberField, EmailField, PhoneField, GroupField, AttachmentField,
    )
}  # fmt: skip


@dataclass(frozen=True)
class Exit:
    """An eligibility exit: when its condition holds, the procedure ends here with the message."""

    when: Condition
    message: LocalText


@dataclass(frozen=True)
class Step:
    id: str
    title: LocalText
    fields: tuple[Field, ...]
    when: Condition | None = None
    exits: tuple[Exit, ...] = ()

    @cached_property
    def evaluation_order(self) -> tuple[Field, ...]:
        """Its fields, each after the fields its conditions read (no cycles: checked at load)."""
        return _ordered(self.fields)


@dataclass(frozen=True)
class Status:
    code: str
    text: LocalText
    notify: bool = False
    end: bool = False
    asks_citizen: bool = False
    cancellable: bool = False
    next: tuple[str, ...] = ()


@dataclass(frozen=True)
class Access:
    login: str  # required | optional (anonymous allowed)
    level: str  # low | substantial | high


@dataclass(frozen=True)
class PeriodLimit:
    limit: int
    period: str  # day | week | month | year


@dataclass(frozen=True)
class Quota:
    """How many requests a procedure takes: in all, per calendar period, per owner."""

    total: int | None = None
    per_period: PeriodLimit | None = None
    per_person: int | None = None


@dataclass(frozen=True)
class Definition:
    code: str
    version: int
    administration: str
    theme: str
    audience: tuple[str, ...]
    access: Access
    channel: str
    title: LocalText
    summary: LocalText
    keywords: LocalWords
    statuses: tuple[Status, ...] = ()
    steps: tuple[Step, ...] = ()
    paper_form: str | None = None
    quota: Quota | None = None
    # F32: the appointment it offers or requires, and where (`definitions/appointment.py`).
    appointment: AppointmentOffer | None = None
    # Days in Europe/Luxembourg: requests are taken from opens_on through closes_on.
    opens_on: date | None = None
    closes_on: date | None = None
    # F26: the applicant must sign the answers with a certificate of the national CA.
    signature_required: bool = False

    @cached_property
    def status_graph(self) -> StatusGraph:
        return StatusGraph(self.statuses)

    @cached_property
    def fields(self) -> Mapping[str, Field]:
        """Every field by id, those inside groups included."""
        found: dict[str, Field] = {}
        for step in self.steps:
            for each in step.fields:
                found[each.id] = each
                if isinstance(each, GroupField):
                    found.update((inner.id, inner) for inner in each.fields)
        return found

    def step(self, step_id: str) -> Step | None:
        return next((step for step in self.steps if step.id == step_id), None)


_MISSING = LocalText("?", "?", "?")  # stands for a missing text while problems are collected


def group_order(group: GroupField) -> tuple[Field, ...]:
    """A group's fields, each after the sibling fields its conditions read."""
    return _ordered(group.fields)


def _ordered(fields: Sequence[Field]) -> tuple[Field, ...]:
    by_id = {each.id: each for each in fields}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for each in fields:
        reads = set().union(*(c.dependencies() for c in each.conditions().values()))
        sorter.add(each.id, *(name for name in reads if name in by_id))
    return tuple(by_id[name] for name in sorter.static_order())


# --- reading the mapping --------------------------------------------------------------------


class _Object:
    """One mapping of the file: typed reads of its keys, and a problem for any key left over."""

    def __init__(self, raw: Any, path: str, problems: Problems, allowed: Collection[str]) -> None:
        self.path = path
        self.problems = problems
        self.allowed = allowed
        if isinstance(raw, Mapping):
            self.raw: Mapping[Any, Any] = raw
        else:
            problems.add(path, "expected a mapping of keys to values")
            self.raw = {}
        for key in self.raw:
            if key not in allowed:
                problems.add(
                    self.at(str(key)), f"unknown key; expected one of {', '.join(allowed)}"
                )

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str) -> Any:
        return self.raw.get(key)

    def string(
        self,
        key: str,
        pattern: re.Pattern[str] | None = None,
        choices: Sequence[str] | None = None,
        required: bool = True,
    ) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                self.problems.add(self.at(key), "missing")
            return None
        if not isinstance(value, str):
            self.problems.add(self.at(key), "expected a text")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.problems.add(self.at(key), f"{value!r} does not match {pattern.pattern}")
            return None
        if choices is not None and value not in choices:
            self.problems.add(self.at(key), f"{value!r} is not one of {', '.join(choices)}")
            return None
        return value

    def integer(self, key: str, default: int | None, low: int, high: int) -> int | None:
        value = self.raw.get(key, default)
        if value is None:
            if default is None and key not in self.raw:
                return None
            self.problems.add(self.at(key), "missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.add(self.at(key), "expected a whole number")
            return None
        if not low <= value <= high:
            self.problems.add(self.at(key), f"expected a number from {low} to {high}")
            return None
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.problems.add(self.at(key), "expected true or false")
            return default
        return value

    def decimal(self, key: str) -> Decimal | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.problems.add(self.at(key), "expected a number")
            return None
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            number = Decimal("NaN")
        if not number.is_finite():
            self.problems.add(self.at(key), "expected a number")
            return None
        return number

    def local(self, key: str, required: bool = True) -> LocalText | None:
        if key not in self.raw:
            if required:
                self.problems.add(self.at(key), "missing (a text in fr, de and en)")
            return None
        return local_text(self.raw[key], self.at(key), self.problems)

    def items(self, key: str, required: bool = True) -> list[Any]:
        value = self.raw.get(key)
        if value is None:
            if required:
                self.problems.add(self.at(key), "missing")
            return []
        if not isinstance(value, list):
            self.problems.add(self.at(key), "expected a list")
            return []
        return value

    def words(self, key: str) -> tuple[str, ...]:
        found = []
        for index, item in enumerate(self.items(key, required=False)):
            if isinstance(item, str) and item.strip() and _printable(item):
                found.append(item.strip())
            else:
                self.problems.add(f"{self.at(key)}[{index}]", "expected a non-empty text")
        return tuple(found)


def local_text(raw: Any, path: str, problems: Problems) -> LocalText | None:
    """A {fr, de, en} mapping of non-empty texts."""
    if not isinstance(raw, Mapping):
        problems.add(path, "expected a text in each language: {fr: ..., de: ..., en: ...}")
        return None
    texts: dict[str, str] = {}
    for language in ("fr", "de", "en"):
        value = raw.get(language)
        if not isinstance(value, str) or not value.strip():
            problems.add(path, f"missing the {language} text")
        elif len(value) > MAX_WORDING:
            problems.add(f"{path}.{language}", f"at most {MAX_WORDING} characters")
        elif not _printable(value):
            problems.add(f"{path}.{language}", "contains control characters")
        else:
            texts[language] = value.strip()
    for key in raw:
        if key not in ("fr", "de", "en"):
            problems.add(f"{path}.{key}", "unknown language; the languages are fr, de and en")
    return LocalText(**texts) if len(texts) == 3 else None


def _printable(text: str) -> bool:
    return not any(unicodedata.category(c) == "Cc" and c != "\n" for c in text)


def _condition(raw: Any, path: str, problems: Problems) -> Condition | None:
    before = len(problems.items)
    root = conditions.parse(raw, lambda where, message: problems.add(path + where, message))
    if root is None or len(problems.items) > before:
        return None
    return Condition(root, raw)


_COMMON_KEYS = ("id", "type", "label", "hint", "required", "visible", "source", "locked")
_TYPE_KEYS: Mapping[str, tuple[str, ...]] = {
    "text": ("max_length",),
    "long_text": ("max_length",),
    "number": ("min", "max", "integer"),
    "amount": ("min", "max"),
    "date": ("min", "max"),
    "choice": ("options",),
    "multi_choice": ("options", "min_items", "max_items"),
    "group": ("fields", "min_items", "max_items"),
    "attachment": ("piece_types", "max_files"),
}


def _field(raw: Any, path: str, problems: Problems, in_group: bool) -> Field | None:
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind not in FIELD_TYPES:
        problems.add(
            f"{path}.type", f"{kind!r} is not a field type; one of {', '.join(FIELD_TYPES)}"
        )
        return None
    assert isinstance(kind, str)
    node = _Object(raw, path, problems, _COMMON_KEYS + _TYPE_KEYS.get(kind, ()))
    field_id = node.string("id", IDENTIFIER)
    label = node.local("label")
    hint = node.local("hint", required=False)
    required: bool | Condition = False
    if isinstance(node.get("required"), bool) or not node.has("required"):
        required = node.boolean("required")
    else:
        required = _condition(node.get("required"), node.at("required"), problems) or False
    visible = None
    if node.has("visible"):
        visible = _condition(node.get("visible"), node.at("visible"), problems)
    extra: dict[str, Any] = {}
    if kind in ("text", "long_text"):
        default, limit = (200, MAX_TEXT_LENGTH) if kind == "text" else (4000, MAX_LONG_TEXT_LENGTH)
        extra["max_length"] = node.integer("max_length", default, 1, limit) or default
    elif kind in ("number", "amount"):
        extra["minimum"], extra["maximum"] = node.decimal("min"), node.decimal("max")
        if kind == "number":
            extra["integer"] = node.boolean("integer")
        elif any(b is not None and b != b.quantize(Decimal("0.01")) for b in extra.values()):
            problems.add(node.path, "an amount's limits have at most 2 decimals")
        _check_order(extra["minimum"], extra["maximum"], node, problems)
    elif kind == "date":
        for key, name in (("min", "minimum"), ("max", "maximum")):
            if node.has(key):
                extra[name] = DateBound.parse(node.get(key))
                if extra[name] is None:
                    problems.add(
                        node.at(key), 'expected "today", "today-18y", "today+1y", ... or YYYY-MM-DD'
                    )
        low, high = extra.get("minimum"), extra.get("maximum")
        _check_order(low and low.absolute, high and high.absolute, node, problems)
    elif kind in ("choice", "multi_choice"):
        extra["options"] = _options(node, problems)
        if kind == "multi_choice":
            count = len(extra["options"])
            extra["min_items"] = node.integer("min_items", 0, 0, max(count, 0)) or 0
            extra["max_items"] = node.integer("max_items", None, 1, max(count, 1))
            _check_order(extra["min_items"], extra["max_items"], node, problems)
    elif kind == "group":
        if in_group:
            problems.add(node.path, "a group cannot hold another group")
        members = [
            _field(item, f"{node.at('fields')}[{index}]", problems, in_group=True)
            for index, item in enumerate(node.items("fields"))
        ]
        if not members and node.has("fields"):
            problems.add(node.at("fields"), "a group needs at least one field")
        extra["fields"] = tuple(member for member in members if member is not None)
        extra["min_items"] = node.integer("min_items", 0, 0, MAX_GROUP_ITEMS) or 0
        extra["max_items"] = node.integer("max_items", MAX_GROUP_ITEMS, 1, MAX_GROUP_ITEMS) or 1
        _check_order(extra["min_items"], extra["max_items"], node, problems)
    elif kind == "attachment":
        types = []
        for index, item in enumerate(node.items("piece_types")):
            if isinstance(item, str) and PIECE_TYPE.fullmatch(item):
                types.append(item)
            else:
                problems.add(f"{node.at('piece_types')}[{index}]", "expected a piece type code")
        extra["piece_types"] = tuple(types)
        extra["max_files"] = node.integer("max_files", 1, 1, MAX_ATTACHMENT_FILES) or 1
    source = None
    if node.has("source"):
        source = parse_source(
            node.get("source"), kind, node.at("source"), problems.add, in_group=in_group
        )
    extra["locked"] = node.boolean("locked")
    if extra["locked"] and not node.has("source"):
        problems.add(node.at("locked"), "a locked field needs a source to take its value from")
    if field_id is None:
        return None
    # Kept with a stand-in label when that is missing, so conditions reading it are still checked.
    return FIELD_CLASSES[kind](
        id=field_id,
        label=label or _MISSING,
        hint=hint,
        required=required,
        visible=visible,
        source=source,
        **extra,
    )


def _check_order(low: Any, high: Any, node: _Object, problems: Problems) -> None:
    if low is not None and high is not None and low > high:
        problems.add(node.path, "its minimum is above its maximum")


def _options(node: _Object, problems: Problems) -> tuple[Option, ...]:
    options: list[Option] = []
    raw_options = node.items("options")
    if not raw_options and node.has("options"):
        problems.add(node.at("options"), "a choice needs at least one option")
    for index, raw in enumerate(raw_options):
        item = _Object(raw, f"{node.at('options')}[{index}]", problems, ("value", "label"))
        value = item.string("value", OPTION_VALUE)
        label = item.local("label")
        if value is not None and any(option.value == value for option in options):
            problems.add(item.at("value"), f"duplicate option {value!r}")
        elif value is not None and label is not None:
            options.append(Option(value, label))
    return tuple(options)


def _step(raw: Any, path: str, problems: Problems) -> Step | None:
    node = _Object(raw, path, problems, ("id", "title", "when", "fields", "exits"))
    step_id = node.string("id", IDENTIFIER)
    title = node.local("title")
    when = _condition(node.get("when"), node.at("when"), problems) if node.has("when") else None
    raw_fields = node.items("fields")
    if not raw_fields and node.has("fields"):
        problems.add(node.at("fields"), "a step needs at least one field")
    fields = [
        _field(item, f"{node.at('fields')}[{index}]", problems, in_group=False)
        for index, item in enumerate(raw_fields)
    ]
    exits = []
    for index, item in enumerate(node.items("exits", required=False)):
        exit_node = _Object(item, f"{node.at('exits')}[{index}]", problems, ("when", "message"))
        message = exit_node.local("message")
        if not exit_node.has("when"):
            problems.add(exit_node.at("when"), "missing")
            continue
        exit_when = _condition(exit_node.get("when"), exit_node.at("when"), problems)
        if exit_when is not None:
            exits.append(Exit(exit_when, message or _MISSING))
    if step_id is None:
        return None
    found = tuple(each for each in fields if each is not None)
    return Step(step_id, title or _MISSING, found, when, tuple(exits))


def _status(raw: Any, path: str, problems: Problems) -> Status | None:
    allowed = ("code", "text", "notify", "end", "asks_citizen", "cancellable", "next")
    node = _Object(raw, path, problems, allowed)
    code = node.string("code", IDENTIFIER)
    text = node.local("text")
    moves = []
    for index, item in enumerate(node.items("next", required=False)):
        if isinstance(item, str):
            moves.append(item)
        else:
            problems.add(f"{node.at('next')}[{index}]", "expected a status code")
    flags = {key: node.boolean(key) for key in ("notify", "end", "asks_citizen", "cancellable")}
    if code is None or text is None:
        return None
    return Status(code, text, next=tuple(moves), **flags)


def parse_definition(raw: Any, *, themes: Collection[str] | None = None) -> Definition:
    """The definition in `raw` (the mapping of a file), or `DefinitionError` with every problem.

    `themes`: the theme keys of the catalogue, when known (the loader passes them)."""
    problems = Problems()
    node = _Object(
        raw,
        "",
        problems,
        (
            "code", "version", "administration", "theme", "audience", "access", "channel",
            "paper_form", "title", "summary", "keywords", "statuses", "steps", "quota",
            "opens_on", "closes_on", "appointment", "signature",
        ),
    )  # fmt: skip
    code = node.string("code", CODE)
    version = node.integer("version", None, 1, 1_000_000)
    if version is None and not node.has("version"):
        problems.add("version", "missing")
    administration = node.string("administration", choices=ADMINISTRATIONS)
    theme = node.string("theme")
    if theme is not None and themes is not None and theme not in themes:
        problems.add("theme", f"{theme!r} is not a theme of themes.yaml")
    audience = []
    for index, item in enumerate(node.items("audience")):
        if item not in AUDIENCES or item in audience:
            problems.add(
                f"audience[{index}]", f"expected each of {', '.join(AUDIENCES)} at most once"
            )
        else:
            audience.append(item)
    if node.has("audience") and not audience:
        problems.add("audience", "name who may use it: citizen and/or company")
    access_node = _Object(node.get("access"), "access", problems, ("login", "level"))
    login = access_node.string("login", choices=LOGINS)
    level = access_node.string("level", choices=LEVELS)
    if login == "optional" and level not in (None, "low"):
        problems.add("access.level", "a procedure open without login has the level low")
    channel = node.string("channel", choices=CHANNELS)
    title = node.local("title")
    summary = node.local("summary")
    keywords_node = _Object(node.get("keywords") or {}, "keywords", problems, ("fr", "de", "en"))
    keywords = LocalWords(*(keywords_node.words(language) for language in ("fr", "de", "en")))
    paper_form = node.string("paper_form", PAPER_FORM, required=channel == "paper")
    raw_statuses = node.items("statuses", required=channel == "online")
    statuses = tuple(
        status
        for index, item in enumerate(raw_statuses)
        if (status := _status(item, f"statuses[{index}]", problems)) is not None
    )
    raw_steps = node.items("steps", required=channel == "online")
    steps = tuple(
        step
        for index, item in enumerate(raw_steps)
        if (step := _step(item, f"steps[{index}]", problems)) is not None
    )
    if channel == "paper" and (raw_steps or raw_statuses):
        problems.add("", "a paper procedure has no steps or statuses: its form is on paper")
    elif channel == "online":
        if node.has("paper_form"):
            problems.add("paper_form", "only a paper procedure names a paper form")
        if node.has("statuses") and len(statuses) == len(raw_statuses):
            graph_problems(statuses, problems.add)
        if node.has("steps") and not raw_steps:
            problems.add("steps", "an online procedure needs at least one step")
    steps = _bound_steps(steps, problems)
    if audience != ["citizen"] and any(
        each.source is not None and each.source.kind == "register"
        for step in steps
        for each in step.fields
    ):
        problems.add(
            "audience", "a register is read about the person: register sources only for citizens"
        )
    quota = _quota(node, problems) if node.has("quota") else None
    opens_on, closes_on = _day(node, "opens_on", problems), _day(node, "closes_on", problems)
    if opens_on is not None and closes_on is not None and closes_on < opens_on:
        problems.add("closes_on", f"{closes_on} is before opens_on ({opens_on})")
    if channel == "paper" and (quota is not None or opens_on or closes_on):
        problems.add("", "a paper procedure takes no requests here: no quota or opening dates")
    appointment = (
        parse_appointment(node.get("appointment"), problems) if node.has("appointment") else None
    )
    if channel == "paper" and node.has("appointment"):
        problems.add("appointment", "a paper procedure takes no appointment here")
    # F26: `signature: required` — the applicant signs the answers' digest (requests/signature.py).
    signature = node.string("signature", choices=SIGNATURES, required=False)
    if channel == "paper" and node.has("signature"):
        problems.add("signature", "a paper procedure is signed on paper")
    problems.raise_if_any()
    assert code and version and administration and theme and login and level and channel
    assert title and summary
    return Definition(
        code=code,
        version=version,
        administration=administration,
        theme=theme,
        audience=tuple(audience),
        access=Access(login, level),
        channel=channel,
        title=title,
        summary=summary,
        keywords=keywords,
        statuses=statuses,
        steps=steps,
        paper_form=paper_form,
        quota=quota,
        opens_on=opens_on,
        closes_on=closes_on,
        appointment=appointment,
        signature_required=signature == "required",
    )


def _quota(node: _Object, problems: Problems) -> Quota | None:
    quota = _Object(node.get("quota"), "quota", problems, ("total", "per_period", "per_person"))
    if not quota.raw:
        if isinstance(node.get("quota"), Mapping):
            problems.add("quota", "name at least one limit: total, per_period or per_person")
        return None
    per_period = None
    if quota.has("per_period"):
        period_node = _Object(
            quota.get("per_period"), "quota.per_period", problems, ("limit", "period")
        )
        limit = period_node.integer("limit", None, 1, MAX_QUOTA)
        if limit is None and not period_node.has("limit"):
            problems.add("quota.per_period.limit", "missing")
        period = period_node.string("period", choices=PERIODS)
        if limit is not None and period is not None:
            per_period = PeriodLimit(limit, period)
    return Quota(
        total=quota.integer("total", None, 1, MAX_QUOTA),
        per_period=per_period,
        per_person=quota.integer("per_person", None, 1, MAX_QUOTA),
    )


def _day(node: _Object, key: str, problems: Problems) -> date | None:
    """A date of the file: YAML's unquoted date, or its YYYY-MM-DD text once made JSON."""
    raw = node.get(key)
    if raw is None and not node.has(key):
        return None
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str) and _ISO_DAY.fullmatch(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    problems.add(node.at(key), "expected a date, YYYY-MM-DD")
    return None


# --- conditions against the fields they may see ----------------------------------------------


def _bound_steps(steps: tuple[Step, ...], problems: Problems) -> tuple[Step, ...]:
    """The steps with typed conditions; reports duplicate ids, references out of reach, cycles."""
    where: dict[str, tuple[int, str | None]] = {}  # field id -> (step index, its group)
    infos: dict[str, FieldInfo] = {}
    step_ids: set[str] = set()
    for step_index, step in enumerate(steps):
        if step.id in step_ids:
            problems.add(f"steps[{step_index}].id", f"duplicate step id {step.id!r}")
        step_ids.add(step.id)
        for field_index, each in enumerate(step.fields):
            members = each.fields if isinstance(each, GroupField) else ()
            for member_index, found in [(None, each), *enumerate(members)]:
                path = f"steps[{step_index}].fields[{field_index}]"
                if member_index is not None:
                    path += f".fields[{member_index}]"
                if found.id in where:
                    problems.add(f"{path}.id", f"duplicate field id {found.id!r}")
                    continue
                where[found.id] = (step_index, each.id if member_index is not None else None)
                infos[found.id] = found.info()

    def scope(step_index: int, *, own_step: bool, group: str | None = None) -> Scope:
        visible: dict[str, FieldInfo] = {}
        unavailable: dict[str, str] = {}
        for name, (index, inside) in where.items():
            if inside is not None and inside != group:
                unavailable[name] = (
                    f"is inside the group {inside!r}: only its own fields may use it"
                )
            elif index < step_index or (index == step_index and own_step):
                visible[name] = infos[name]
            elif index == step_index:
                unavailable[name] = (
                    "is in this same step: a step's condition uses earlier steps only"
                )
            else:
                unavailable[name] = f"is in a later step ({steps[index].id!r})"
        return Scope(visible, unavailable)

    bound_steps = []
    for step_index, step in enumerate(steps):
        path = f"steps[{step_index}]"
        when = _bind(step.when, scope(step_index, own_step=False), f"{path}.when", problems)
        step_scope = scope(step_index, own_step=True)
        fields = []
        for field_index, each in enumerate(step.fields):
            field_path = f"{path}.fields[{field_index}]"
            each = _bind_field(each, step_scope, field_path, problems)
            if isinstance(each, GroupField):
                inner_scope = scope(step_index, own_step=True, group=each.id)
                members = tuple(
                    _bind_field(member, inner_scope, f"{field_path}.fields[{index}]", problems)
                    for index, member in enumerate(each.fields)
                )
                each = replace(each, fields=members)
                _check_cycles(members, f"{field_path}.fields", problems)
            fields.append(each)
        _check_cycles(fields, f"{path}.fields", problems)
        exits = tuple(
            replace(item, when=_bind(item.when, step_scope, f"{path}.exits[{i}].when", problems))
            for i, item in enumerate(step.exits)
        )
        bound_steps.append(replace(step, when=when, fields=tuple(fields), exits=exits))
    return tuple(bound_steps)


def _bind(condition: Any, scope: Scope, path: str, problems: Problems) -> Any:
    if not isinstance(condition, Condition):
        return condition
    root = conditions.bind(condition.root, scope, lambda at, text: problems.add(path + at, text))
    return Condition(root, condition.source)


def _bind_field(each: Field, scope: Scope, path: str, problems: Problems) -> Field:
    return replace(
        each,
        visible=_bind(each.visible, scope, f"{path}.visible", problems),
        required=_bind(each.required, scope, f"{path}.required", problems),
    )


def _check_cycles(fields: Sequence[Field], path: str, problems: Problems) -> None:
    """Visibility and required-if of one step's (or group's) fields must not read in a loop."""
    ids = {each.id for each in fields}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for each in fields:
        reads = set().union(*(c.dependencies() for c in each.conditions().values()))
        sorter.add(each.id, *(reads & ids))
    try:
        sorter.prepare()
    except CycleError as error:
        loop = " → ".join(error.args[1])
        problems.add(path, f"the conditions of these fields read each other in a loop: {loop}")


# --- the file's mapping as JSON -------------------------------------------------------------


def plain_json(raw: Any, problems: Problems, path: str = "") -> Any:
    """`raw` with YAML's extra types made JSON (an unquoted date becomes YYYY-MM-DD); other
    non-JSON values (keys that are not texts, timestamps, infinite numbers) are problems."""
    if isinstance(raw, Mapping):
        result = {}
        for key, value in raw.items():
            where = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str):
                problems.add(where, f"a key must be a text (quote {key!r})")
                continue
            result[key] = plain_json(value, problems, where)
        return result
    if isinstance(raw, list):
        return [plain_json(item, problems, f"{path}[{index}]") for index, item in enumerate(raw)]
    if isinstance(raw, datetime):
        problems.add(path, "a moment is not a value of a definition; quote it as a text")
        return None
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, float) and not math.isfinite(raw):
        problems.add(path, "not a finite number")
        return None
    if raw is None or isinstance(raw, str | int | float | bool):
        return raw
    problems.add(path, f"a {type(raw).__name__} is not a JSON value")
    return None


__all__ = [
    "PERIODS",
    "Access",
    "AddressField",
    "AmountField",
    "AttachmentField",
    "ChoiceField",
    "CompanyNumberField",
    "DateBound",
    "DateField",
    "Definition",
    "DefinitionError",
    "DefinitionText",
    "EmailField",
    "Exit",
    "Field",
    "GroupField",
    "IbanField",
    "LocalText",
    "LocalWords",
    "LongTextField",
    "MultiChoiceField",
    "NationalIdField",
    "NumberField",
    "Option",
    "PeriodLimit",
    "PhoneField",
    "Problems",
    "Quota",
    "Status",
    "Step",
    "TextField",
    "YesNoField",
    "group_order",
    "parse_definition",
    "plain_json",
]
