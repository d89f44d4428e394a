"""What the rules raise when they refuse: a stable reason, a message, field errors.

No transport here (rules modules import no gRPC): the kit maps a `DomainError` to a gRPC status in
one place (`guichet_kit.errors.service_error`) and the gateway maps that status to problem JSON in
one place (`guichet_kit.problems`). Messages are `Text`s, translated into the caller's language
when they leave the service; every reason has a title in the catalogue (`guichet_kit.reasons`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from guichet_kit.i18n import Text


class Refusal(Enum):
    """What kind of refusal: the kit turns it into a gRPC status code."""

    INVALID = "invalid"  # the input is wrong; nothing was done
    NOT_FOUND = "not_found"  # no such thing (or the caller may not know it exists)
    FORBIDDEN = "forbidden"  # the caller may know it exists but may not do this
    CONFLICT = "conflict"  # not possible in the current state
    ABORTED = "aborted"  # a concurrent change came first: read again, then retry
    ALREADY_EXISTS = "already_exists"
    UNAUTHENTICATED = "unauthenticated"  # sign in, or sign in at a higher level
    EXHAUSTED = "exhausted"  # a limit or quota is reached
    UNAVAILABLE = "unavailable"  # a dependency is down; try again


@dataclass(frozen=True)
class FieldError:
    """One wrong field: its path, a short machine reason, and a message for the person."""

    field: str
    reason: str
    message: Text | str


class DomainError(Exception):
    """Base of every refusal of the rules. Subclasses fix `refusal`; `reason` is stable."""

    refusal: ClassVar[Refusal] = Refusal.INVALID

    def __init__(
        self,
        reason: str,
        message: Text | str,
        fields: Sequence[FieldError] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.fields = list(fields)
        self.metadata = dict(metadata or {})


class InvalidInput(DomainError):
    refusal = Refusal.INVALID


class NotFound(DomainError):
    refusal = Refusal.NOT_FOUND


class Forbidden(DomainError):
    refusal = Refusal.FORBIDDEN


class Conflict(DomainError):
    refusal = Refusal.CONFLICT


class Aborted(DomainError):
    refusal = Refusal.ABORTED


class AlreadyExists(DomainError):
    refusal = Refusal.ALREADY_EXISTS


class Unauthenticated(DomainError):
    refusal = Refusal.UNAUTHENTICATED


class Exhausted(DomainError):
    refusal = Refusal.EXHAUSTED


class Unavailable(DomainError):
    refusal = Refusal.UNAVAILABLE


class FieldErrors:
    """Collects every wrong field of a request, so the person sees all of them at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, reason: str, message: Text | str) -> None:
        self.errors.append(FieldError(field, reason, message))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, reason: str, message: Text | str) -> None:
        if self.errors:
            raise InvalidInput(reason, message, self.errors)
