"""The condition language of definitions: a JSON tree, typed at publish, evaluated by the server.

    {"field": "id"}  "text" 12 true  {"today": {}}  {"age": {"field": "birth_date"}}
    {"count": {"field": "children"}}  {"eq"|"ne"|"gt"|"ge"|"lt"|"le": [a, b]}
    {"in": [a, [literal, ...]]}  {"has": [{"field": "multi"}, "value"]}  {"filled": {"field": "id"}}
    {"and": [c, ...]}  {"or": [c, ...]}  {"not": c}

`parse` reads the syntax, `bind` checks it against the fields in scope (types, choice options,
unknown and unreachable fields) and returns the typed tree that `evaluate` runs. A missing answer
(unanswered or hidden) makes every comparison false and `filled` false; a yes/no field used as a
condition is true only when answered yes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal, TypeAlias, cast

MAX_DEPTH = 16
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
Operator = Literal["eq", "ne", "gt", "ge", "lt", "le"]
_KINDS_OF_CONDITIONS = (
    "field, today, age, count, eq, ne, gt, ge, lt, le, in, has, filled, and, or, not"
)


class ValueKind(StrEnum):
    """What a value is to the condition language."""

    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    BOOL = "bool"
    SET = "set-of-strings"
    # Addresses, groups, attachments: only `filled` (and `count` for a group) apply.
    OTHER = "other"


@dataclass(frozen=True)
class FieldInfo:
    """A field as a condition sees it: its kind, a choice's option values, whether countable."""

    kind: ValueKind
    options: frozenset[str] | None = None
    countable: bool = False


@dataclass(frozen=True)
class Scope:
    """The fields a condition may use; `unavailable` says why a known field may not be used."""

    fields: Mapping[str, FieldInfo]
    unavailable: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldRef:
    field: str
    kind: ValueKind = ValueKind.OTHER  # set by `bind`


@dataclass(frozen=True)
class Constant:
    value: str | Decimal | bool | date


@dataclass(frozen=True)
class Today:
    pass


@dataclass(frozen=True)
class Age:
    of: FieldRef


@dataclass(frozen=True)
class Count:
    of: FieldRef


@dataclass(frozen=True)
class Comparison:
    operator: Operator
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Among:
    operand: Expression
    values: tuple[Constant, ...]


@dataclass(frozen=True)
class Has:
    operand: FieldRef
    value: Constant


@dataclass(frozen=True)
class Filled:
    of: FieldRef


@dataclass(frozen=True)
class AllOf:
    items: tuple[Expression, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Expression, ...]


@dataclass(frozen=True)
class Not:
    item: Expression


Expression: TypeAlias = (
    FieldRef
    | Constant
    | Today
    | Age
    | Count
    | Comparison
    | Among
    | Has
    | Filled
    | AllOf
    | AnyOf
    | Not
)


@dataclass(frozen=True)
class Condition:
    """A typed condition and the JSON it was written as (what clients and the proto get)."""

    root: Expression
    source: Any

    def dependencies(self) -> frozenset[str]:
        return dependencies(self.root)

    def evaluate(self, answers: Mapping[str, Any], today: date) -> bool:
        return evaluate(self.root, answers, today)


Report = Callable[[str, str], None]
"""Records a problem: (path suffix, message)."""


# --- syntax ---------------------------------------------------------------------------------


def parse(raw: Any, report: Report, path: str = "") -> Expression | None:
    """The tree of `raw`, or None after reporting every syntax problem in it."""
    return _parse(raw, report, path, 0)


def _parse(raw: Any, report: Report, path: str, depth: int) -> Expression | None:
    if depth > MAX_DEPTH:
        report(path, f"a condition nests at most {MAX_DEPTH} levels deep")
        return None
    constant = _constant(raw)
    if constant is not None:
        return constant
    if not isinstance(raw, Mapping) or len(raw) != 1:
        report(
            path, f"a condition is a literal or an object with one key of: {_KINDS_OF_CONDITIONS}"
        )
        return None
    ((key, argument),) = raw.items()
    here = f"{path}.{key}"
    if key == "field":
        return _field_ref(raw, report, path)
    if key == "today":
        if argument not in ({}, None):
            report(here, "today takes no argument: {today: {}}")
            return None
        return Today()
    if key in ("age", "count", "filled"):
        ref = _field_ref(argument, report, here)
        if ref is None:
            return None
        return Age(ref) if key == "age" else Count(ref) if key == "count" else Filled(ref)
    if key in COMPARISONS:
        pair = _list(argument, report, here, size=2)
        if pair is None:
            return None
        left = _parse(pair[0], report, f"{here}[0]", depth + 1)
        right = _parse(pair[1], report, f"{here}[1]", depth + 1)
        if left is None or right is None:
            return None
        return Comparison(cast(Operator, key), left, right)
    if key == "in":
        pair = _list(argument, report, here, size=2)
        if pair is None:
            return None
        operand = _parse(pair[0], report, f"{here}[0]", depth + 1)
        choices = _list(pair[1], report, f"{here}[1]")
        if operand is None or choices is None:
            return None
        if not choices:
            report(f"{here}[1]", "in needs at least one value")
        values = [_constant(item) for item in choices]
        if any(value is None for value in values):
            report(f"{here}[1]", "in compares with a list of literals (strings, numbers, bools)")
            return None
        return Among(operand, tuple(value for value in values if value is not None))
    if key == "has":
        pair = _list(argument, report, here, size=2)
        if pair is None:
            return None
        ref = _field_ref(pair[0], report, f"{here}[0]")
        value = _constant(pair[1])
        if value is None:
            report(f"{here}[1]", "has looks for a literal value")
        if ref is None or value is None:
            return None
        return Has(ref, value)
    if key in ("and", "or"):
        items = _list(argument, report, here)
        if items is None:
            return None
        if not items:
            report(here, f"{key} needs at least one condition")
            return None
        parsed = [_parse(item, report, f"{here}[{i}]", depth + 1) for i, item in enumerate(items)]
        if any(item is None for item in parsed):
            return None
        children = tuple(item for item in parsed if item is not None)
        return AllOf(children) if key == "and" else AnyOf(children)
    if key == "not":
        item = _parse(argument, report, here, depth + 1)
        return None if item is None else Not(item)
    report(path, f"unknown condition {key!r}; use one of: {_KINDS_OF_CONDITIONS}")
    return None


def _constant(raw: Any) -> Constant | None:
    if isinstance(raw, bool | str):
        return Constant(raw)
    if isinstance(raw, int | float):
        number = Decimal(str(raw))
        return Constant(number) if number.is_finite() else None
    return None


def _field_ref(raw: Any, report: Report, path: str) -> FieldRef | None:
    if isinstance(raw, Mapping) and set(raw) == {"field"} and isinstance(raw["field"], str):
        return FieldRef(raw["field"])
    report(path, 'a field is named as {"field": "<field id>"}')
    return None


def _list(raw: Any, report: Report, path: str, size: int | None = None) -> list[Any] | None:
    if not isinstance(raw, list) or (size is not None and len(raw) != size):
        report(path, f"expected a list of {size} items" if size else "expected a list")
        return None
    return raw


# --- types ----------------------------------------------------------------------------------


def bind(expression: Expression, scope: Scope, report: Report, path: str = "") -> Expression:
    """`expression` typed against `scope`: every problem is reported; the result must be a bool."""
    bound, kind = _bind(expression, scope, report, path)
    if kind is not None and kind != ValueKind.BOOL:
        report(path, f"a condition must be true or false, not a {kind}")
    return bound


def _bind(
    expression: Expression, scope: Scope, report: Report, path: str
) -> tuple[Expression, ValueKind | None]:
    """The typed expression and its kind (None: already reported as wrong)."""
    match expression:
        case Constant(value=bool()):
            return expression, ValueKind.BOOL
        case Constant(value=str()):
            return expression, ValueKind.STRING
        case Constant(value=Decimal()):
            return expression, ValueKind.NUMBER
        case Constant():
            return expression, ValueKind.DATE
        case Today():
            return expression, ValueKind.DATE
        case FieldRef():
            info = _lookup(expression, scope, report, path)
            if info is None:
                return expression, None
            return FieldRef(expression.field, info.kind), info.kind
        case Age(of=ref):
            info = _lookup(ref, scope, report, f"{path}.age")
            if info is not None and info.kind != ValueKind.DATE:
                report(f"{path}.age", f"age needs a date field; {ref.field!r} is a {info.kind}")
            kind = info.kind if info else ValueKind.OTHER
            return Age(FieldRef(ref.field, kind)), ValueKind.NUMBER
        case Count(of=ref):
            info = _lookup(ref, scope, report, f"{path}.count")
            if info is not None and not info.countable:
                report(
                    f"{path}.count", f"count needs a group or multiple choice; {ref.field!r} is not"
                )
            kind = info.kind if info else ValueKind.OTHER
            return Count(FieldRef(ref.field, kind)), ValueKind.NUMBER
        case Filled(of=ref):
            info = _lookup(ref, scope, report, f"{path}.filled")
            kind = info.kind if info else ValueKind.OTHER
            return Filled(FieldRef(ref.field, kind)), ValueKind.BOOL
        case Comparison(operator=operator, left=left, right=right):
            here = f"{path}.{operator}"
            left, left_kind = _bind(left, scope, report, f"{here}[0]")
            right, right_kind = _bind(right, scope, report, f"{here}[1]")
            if left_kind is None or right_kind is None:
                return Comparison(operator, left, right), ValueKind.BOOL
            left, left_kind = _as_date(left, left_kind, right_kind, report, f"{here}[0]")
            right, right_kind = _as_date(right, right_kind, left_kind, report, f"{here}[1]")
            if left_kind is None or right_kind is None:
                return Comparison(operator, left, right), ValueKind.BOOL
            allowed = (
                (ValueKind.STRING, ValueKind.NUMBER, ValueKind.DATE, ValueKind.BOOL)
                if operator in ("eq", "ne")
                else (ValueKind.NUMBER, ValueKind.DATE)
            )
            if left_kind != right_kind:
                report(here, f"{operator} compares a {left_kind} with a {right_kind}")
            elif left_kind not in allowed:
                report(here, f"{operator} cannot compare {left_kind} values")
            else:
                _check_options(left, right, scope, report, here)
                _check_options(right, left, scope, report, here)
            return Comparison(operator, left, right), ValueKind.BOOL
        case Among(operand=operand, values=values):
            here = f"{path}.in"
            operand, operand_kind = _bind(operand, scope, report, f"{here}[0]")
            if operand_kind is None:
                return Among(operand, values), ValueKind.BOOL
            if operand_kind not in (ValueKind.STRING, ValueKind.NUMBER, ValueKind.DATE):
                report(here, f"in cannot look for a {operand_kind} value")
                return Among(operand, values), ValueKind.BOOL
            typed: list[Constant] = []
            for index, value in enumerate(values):
                item_path = f"{here}[1][{index}]"
                item_kind = _bind(value, scope, report, item_path)[1]
                item, item_kind = _as_date(value, item_kind, operand_kind, report, item_path)
                if item_kind is None:
                    pass  # reported by _as_date
                elif item_kind != operand_kind:
                    report(item_path, f"in compares a {operand_kind} with a {item_kind}")
                else:
                    _check_options(operand, item, scope, report, item_path)
                typed.append(item if isinstance(item, Constant) else value)
            return Among(operand, tuple(typed)), ValueKind.BOOL
        case Has(operand=ref, value=value):
            here = f"{path}.has"
            info = _lookup(ref, scope, report, f"{here}[0]")
            if info is not None:
                if info.kind != ValueKind.SET:
                    report(
                        f"{here}[0]", f"has needs a multiple choice; {ref.field!r} is a {info.kind}"
                    )
                elif not isinstance(value.value, str):
                    report(f"{here}[1]", "has looks for one of the field's option values")
                elif info.options is not None and value.value not in info.options:
                    report(f"{here}[1]", _not_an_option(ref.field, value.value, info.options))
            return Has(
                FieldRef(ref.field, info.kind if info else ValueKind.OTHER), value
            ), ValueKind.BOOL
        case AllOf(items=items) | AnyOf(items=items):
            key = "and" if isinstance(expression, AllOf) else "or"
            bound = tuple(
                _bool_item(item, scope, report, f"{path}.{key}[{i}]")
                for i, item in enumerate(items)
            )
            return (AllOf(bound) if key == "and" else AnyOf(bound)), ValueKind.BOOL
        case Not(item=item):
            return Not(_bool_item(item, scope, report, f"{path}.not")), ValueKind.BOOL
    raise AssertionError(f"unexpected condition node {expression!r}")  # pragma: no cover


def _bool_item(item: Expression, scope: Scope, report: Report, path: str) -> Expression:
    bound, kind = _bind(item, scope, report, path)
    if kind is not None and kind != ValueKind.BOOL:
        report(path, f"expected a condition (true or false), not a {kind}")
    return bound


def _lookup(ref: FieldRef, scope: Scope, report: Report, path: str) -> FieldInfo | None:
    info = scope.fields.get(ref.field)
    if info is None:
        why = scope.unavailable.get(ref.field)
        report(path, f"field {ref.field!r} {why}" if why else f"unknown field {ref.field!r}")
    return info


def _as_date(
    expression: Expression,
    kind: ValueKind | None,
    other: ValueKind | None,
    report: Report,
    path: str,
) -> tuple[Expression, ValueKind | None]:
    """A string literal compared with a date is a date written YYYY-MM-DD."""
    if (
        other == ValueKind.DATE
        and isinstance(expression, Constant)
        and isinstance(expression.value, str)
    ):
        try:
            return Constant(date.fromisoformat(expression.value)), ValueKind.DATE
        except ValueError:
            report(path, f"{expression.value!r} is not a date (YYYY-MM-DD)")
            return expression, None
    return expression, kind


def _check_options(
    ref: Expression, other: Expression, scope: Scope, report: Report, path: str
) -> None:
    """A choice is compared only with the values of its options."""
    if not isinstance(ref, FieldRef) or not isinstance(other, Constant):
        return
    info = scope.fields.get(ref.field)
    options = info.options if info is not None else None
    if options is not None and isinstance(other.value, str) and other.value not in options:
        report(path, _not_an_option(ref.field, other.value, options))


def _not_an_option(field_id: str, value: str, options: frozenset[str]) -> str:
    return f"{value!r} is not an option of {field_id!r} ({', '.join(sorted(options))})"


# --- use ------------------------------------------------------------------------------------


def dependencies(expression: Expression) -> frozenset[str]:
    """The ids of the fields `expression` reads."""
    match expression:
        case FieldRef(field=name):
            return frozenset({name})
        case Age(of=ref) | Count(of=ref) | Filled(of=ref) | Has(operand=ref):
            return frozenset({ref.field})
        case Comparison(left=left, right=right):
            return dependencies(left) | dependencies(right)
        case Among(operand=operand):
            return dependencies(operand)
        case AllOf(items=items) | AnyOf(items=items):
            return frozenset().union(*(dependencies(item) for item in items))
        case Not(item=item):
            return dependencies(item)
    return frozenset()


def evaluate(expression: Expression, answers: Mapping[str, Any], today: date) -> bool:
    """Whether `expression` holds for `answers` (stored JSON values of the visible fields)."""
    return _value(expression, answers, today) is True


def _value(expression: Expression, answers: Mapping[str, Any], today: date) -> Any:
    """The value of a node; None is a missing answer."""
    match expression:
        case Constant(value=value):
            return value
        case Today():
            return today
        case FieldRef(field=name, kind=kind):
            return _typed(answers.get(name), kind)
        case Age(of=ref):
            born = _typed(answers.get(ref.field), ValueKind.DATE)
            if born is None:
                return None
            had_birthday = (today.month, today.day) >= (born.month, born.day)
            return Decimal(today.year - born.year - (0 if had_birthday else 1))
        case Count(of=ref):
            counted = answers.get(ref.field)
            return Decimal(len(counted) if isinstance(counted, list) else 0)
        case Filled(of=ref):
            return _filled(answers.get(ref.field))
        case Comparison(operator=operator, left=left, right=right):
            a, b = _value(left, answers, today), _value(right, answers, today)
            if a is None or b is None:
                return False
            return _compare(operator, a, b)
        case Among(operand=operand, values=values):
            found = _value(operand, answers, today)
            return found is not None and any(found == item.value for item in values)
        case Has(operand=ref, value=value):
            chosen = _typed(answers.get(ref.field), ValueKind.SET)
            return chosen is not None and value.value in chosen
        case AllOf(items=items):
            return all(_value(item, answers, today) is True for item in items)
        case AnyOf(items=items):
            return any(_value(item, answers, today) is True for item in items)
        case Not(item=item):
            return _value(item, answers, today) is not True
    raise AssertionError(f"unexpected condition node {expression!r}")  # pragma: no cover


def _compare(operator: Operator, a: Any, b: Any) -> bool:
    try:
        if operator == "eq":
            return bool(a == b)
        if operator == "ne":
            return bool(a != b)
        if operator == "gt":
            return bool(a > b)
        if operator == "ge":
            return bool(a >= b)
        if operator == "lt":
            return bool(a < b)
        return bool(a <= b)
    except TypeError:  # a stored value of another type than bound: treated as missing
        return False


def _typed(raw: Any, kind: ValueKind) -> Any:
    """A stored JSON value as the condition language sees it; None when missing or unreadable."""
    if raw is None:
        return None
    if kind == ValueKind.STRING:
        return raw if isinstance(raw, str) and raw else None
    if kind == ValueKind.BOOL:
        return raw if isinstance(raw, bool) else None
    if kind == ValueKind.NUMBER:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            return None
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    if kind == ValueKind.DATE:
        try:
            return date.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            return None
    if kind == ValueKind.SET:
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return frozenset(raw)
        return None
    return raw


def _filled(raw: Any) -> bool:
    return raw is not None and raw != "" and raw != [] and raw != {}
