"""A definition's form at work on a person's answers: which steps apply, what a step accepts,
whether an exit ends the procedure, and what is kept.

Answers are a flat JSON object, field id → value (a group's value is a list of objects of its
fields). Conditions are evaluated on the answers of visible fields of applicable steps only: a
hidden field's value is dropped, never stored, and reads as missing. Field paths in errors are
`id`, `group[index].id` (indexes from 0) and `address.part`.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from guichet_kit.domain import Conflict, FieldError, FieldErrors, InvalidInput, NotFound
from guichet_kit.i18n import Catalog, Text
from guichet_kit.national_id import LUXEMBOURG
from guichet_procedures.definitions.conditions import Condition
from guichet_procedures.definitions.fields import clean_value, is_empty
from guichet_procedures.definitions.model import (
    Definition,
    Field,
    GroupField,
    Step,
    group_order,
)

_ = Catalog("guichet_procedures")

Answers = Mapping[str, Any]


class InvalidAnswers(InvalidInput):
    """Answers refused, with every wrong field."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("INVALID_ANSWERS", _("Some answers need correcting."), errors)


class UnknownStep(NotFound):
    def __init__(self, step_id: str) -> None:
        super().__init__("STEP_NOT_FOUND", _("This form has no such step."))
        self.step_id = step_id


class StepNotApplicable(Conflict):
    """The step's condition excludes it with the current answers."""

    def __init__(self, step_id: str) -> None:
        super().__init__("STEP_NOT_APPLICABLE", _("This step does not apply to your answers."))
        self.step_id = step_id


@dataclass(frozen=True)
class StepResult:
    step: Step
    # The cleaned values of the step's visible fields (empty answers left out).
    values: dict[str, Any]
    # Paths of the values sent for hidden fields: dropped, never stored.
    dropped: tuple[str, ...] = ()


class Form:
    """The rules of one definition's form. `today` is fixed for tests; by default, the day in
    Luxembourg at each call."""

    def __init__(self, definition: Definition, *, today: date | None = None) -> None:
        self.definition = definition
        self._fixed_today = today

    @property
    def today(self) -> date:
        return self._fixed_today or datetime.now(LUXEMBOURG).date()

    def applicable_steps(self, answers: Answers) -> list[Step]:
        today = self.today
        context: dict[str, Any] = {}
        found = []
        for step in self.definition.steps:
            if _holds(step.when, context, today):
                found.append(step)
                self._visible(step.evaluation_order, answers, context, today)
        return found

    def prune(self, answers: Answers) -> dict[str, Any]:
        """`answers` without those of hidden fields, inapplicable steps or unknown fields."""
        today = self.today
        context: dict[str, Any] = {}
        for step in self.definition.steps:
            if _holds(step.when, context, today):
                self._visible(step.evaluation_order, answers, context, today)
        return context

    def exit_message(self, answers: Answers, *, through_step: str | None = None) -> Text | None:
        """The message of the first exit that holds, in step order (only up to `through_step`
        when given, so that a later step's unanswered questions end nothing yet)."""
        today = self.today
        context: dict[str, Any] = {}
        for step in self.definition.steps:
            if _holds(step.when, context, today):
                self._visible(step.evaluation_order, answers, context, today)
                for way_out in step.exits:
                    if way_out.when.evaluate(context, today):
                        return way_out.message.as_text()
            if step.id == through_step:
                break
        return None

    def check_step(self, step_id: str, submitted: Answers, answers: Answers) -> StepResult:
        """`submitted` (this step's field id → value) checked in the light of `answers` (the
        stored answers of the other steps). Raises `InvalidAnswers` with every wrong field,
        `UnknownStep`, or `StepNotApplicable`."""
        step = self.definition.step(step_id)
        if step is None:
            raise UnknownStep(step_id)
        today = self.today
        context: dict[str, Any] = {}
        for earlier in self.definition.steps:
            if earlier.id == step_id:
                break
            if _holds(earlier.when, context, today):
                self._visible(earlier.evaluation_order, answers, context, today)
        if not _holds(step.when, context, today):
            raise StepNotApplicable(step_id)
        errors = FieldErrors()
        _object(submitted, errors)
        known = {each.id for each in step.fields}
        _unknown_keys(submitted, known, "", errors, _("This question is not part of this step."))
        dropped: list[str] = []
        values = self._check(step.evaluation_order, submitted, context, "", errors, dropped)
        if errors:
            raise InvalidAnswers(errors.errors)
        return StepResult(step, values, tuple(dropped))

    def check_all(self, answers: Answers) -> dict[str, Any]:
        """Every applicable step checked at once (submission): the cleaned, pruned answers, or
        `InvalidAnswers`. Exits are not checked here: see `exit_message`."""
        today = self.today
        errors = FieldErrors()
        _object(answers, errors)
        known = {each.id for step in self.definition.steps for each in step.fields}
        _unknown_keys(answers, known, "", errors, _("This form has no such question."))
        context: dict[str, Any] = {}
        dropped: list[str] = []
        for step in self.definition.steps:
            if _holds(step.when, context, today):
                values = self._check(step.evaluation_order, answers, context, "", errors, dropped)
                context.update(values)
        if errors:
            raise InvalidAnswers(errors.errors)
        return context

    # --- inside ---

    def _check(
        self,
        fields: Sequence[Field],
        source: Answers,
        context: Mapping[str, Any],
        prefix: str,
        errors: FieldErrors,
        dropped: list[str],
    ) -> dict[str, Any]:
        """The cleaned values of `fields` (in evaluation order) from `source`; each field's
        conditions see the earlier steps (`context`) and the values already cleaned here."""
        today = self.today
        values: dict[str, Any] = {}
        scope = ChainMap(values, dict(context))
        for each in fields:
            path = f"{prefix}{each.id}"
            raw = source.get(each.id) if isinstance(source, Mapping) else None
            if not _holds(each.visible, scope, today):
                if not is_empty(raw):
                    dropped.append(path)
                continue
            if isinstance(each, GroupField):
                value = self._check_group(each, raw, path, scope, errors, dropped)
            else:
                value = clean_value(each, raw, path, errors, today=today)
            if value is not None:
                values[each.id] = value
            elif is_empty(raw) and self._required(each, scope, today):
                errors.add(path, "required", _("Answer this question."))
        return values

    def _check_group(
        self,
        group: GroupField,
        raw: Any,
        path: str,
        scope: Mapping[str, Any],
        errors: FieldErrors,
        dropped: list[str],
    ) -> list[dict[str, Any]] | None:
        if is_empty(raw):
            return None
        if not isinstance(raw, list):
            errors.add(path, "invalid", _("Give the entries as a list."))
            return None
        if len(raw) > group.max_items:
            errors.add(path, "too_many", _("At most {count} entries.", count=group.max_items))
            return None
        before = len(errors.errors)
        if len(raw) < group.min_items:
            errors.add(path, "too_few", _("Add at least {count} entries.", count=group.min_items))
        members = group_order(group)
        known = {member.id for member in group.fields}
        items = []
        for index, item in enumerate(raw):
            item_path = f"{path}[{index}]"
            if not isinstance(item, Mapping):
                errors.add(item_path, "invalid", _("Each entry is a set of answers."))
                continue
            _unknown_keys(
                item, known, f"{item_path}.", errors, _("This entry has no such question.")
            )
            items.append(self._check(members, item, scope, f"{item_path}.", errors, dropped))
        return items if len(errors.errors) == before else None

    @staticmethod
    def _required(field: Field, scope: Mapping[str, Any], today: date) -> bool:
        if isinstance(field.required, Condition):
            return field.required.evaluate(scope, today)
        return field.required

    def _visible(
        self,
        fields: Sequence[Field],
        source: Answers,
        context: MutableMapping[str, Any],
        today: date,
    ) -> None:
        """Adds to `context` the non-empty values of the visible `fields` (stored answers)."""
        for each in fields:
            if not _holds(each.visible, context, today):
                continue
            value = source.get(each.id) if isinstance(source, Mapping) else None
            if is_empty(value):
                continue
            if isinstance(each, GroupField) and isinstance(value, list):
                members = group_order(each)
                kept = []
                for item in value:
                    if isinstance(item, Mapping):
                        inner: dict[str, Any] = {}
                        self._visible(members, item, ChainMap(inner, dict(context)), today)
                        kept.append(inner)
                value = kept
            context[each.id] = value


def _holds(condition: Condition | None, answers: Mapping[str, Any], today: date) -> bool:
    return condition is None or condition.evaluate(answers, today)


def _object(answers: Any, errors: FieldErrors) -> None:
    if not isinstance(answers, Mapping):
        errors.add("", "invalid", _("The answers are an object of question ids and values."))
        raise InvalidAnswers(errors.errors)


def _unknown_keys(
    source: Mapping[Any, Any], known: set[str], prefix: str, errors: FieldErrors, message: Text
) -> None:
    for key in source:
        if key not in known:
            errors.add(f"{prefix}{str(key)[:64]}", "unknown", message)
