"""Whether a relation lets its actor act now: pure rules, evaluated at a given `now`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from guichet_identity.relations.rights import grants

MAJORITY_AGE = 18
MAX_MANDATE_YEARS = 5
# Birthdays fall at midnight where the register is kept, not at midnight UTC.
REGISTER_TIME_ZONE = ZoneInfo("Europe/Luxembourg")


class RelationKind(StrEnum):
    CHILD = "child"
    SPOUSE = "spouse"
    PARENT = "parent"
    OTHER_PERSON = "other_person"


# A child is declared (DeclareChild), never granted: the other kinds are what GrantMandate takes.
GRANTABLE_KINDS = frozenset({RelationKind.SPOUSE, RelationKind.PARENT, RelationKind.OTHER_PERSON})


class Refusal(StrEnum):
    NO_SUCH_CONTEXT = "NO_SUCH_CONTEXT"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"
    RIGHT_NOT_GRANTED = "RIGHT_NOT_GRANTED"


@dataclass(frozen=True)
class MandateTerms:
    """What CheckMandate needs of a stored relation."""

    actor_national_id: str
    rights: Sequence[str]
    expires_at: datetime
    revoked_at: datetime | None


def lapse(terms: MandateTerms, now: datetime) -> Refusal | None:
    """Why the relation lets its actor do nothing at `now` (revoked, expired), or None."""
    if terms.revoked_at is not None:
        return Refusal.REVOKED
    if terms.expires_at <= now:
        return Refusal.EXPIRED
    return None


def in_force(terms: MandateTerms, now: datetime) -> bool:
    """Neither revoked nor expired at `now`: a context its actor may be offered."""
    return lapse(terms, now) is None and bool(terms.rights)


def refusal(
    terms: MandateTerms | None, actor_national_id: str, right: str, now: datetime
) -> Refusal | None:
    """None when the actor may use `right` through this relation at `now`."""
    # Someone else's relation is reported as missing, so relation ids cannot be probed.
    if terms is None or terms.actor_national_id != actor_national_id:
        return Refusal.NO_SUCH_CONTEXT
    if (lapsed := lapse(terms, now)) is not None:
        return lapsed
    if not grants(terms.rights, right):
        return Refusal.RIGHT_NOT_GRANTED
    return None


def anniversary(born: date, years: int) -> date:
    """The date `years` after `born`; 29 February falls on 1 March in common years."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


def coming_of_age(born: date) -> datetime:
    """The instant (UTC) a child born on `born` turns 18: the end of a parent's mandate."""
    birthday = anniversary(born, MAJORITY_AGE)
    return datetime.combine(birthday, time(), REGISTER_TIME_ZONE).astimezone(UTC)


def is_minor(born: date, now: datetime) -> bool:
    return coming_of_age(born) > now


def latest_mandate_expiry(now: datetime) -> datetime:
    return datetime.combine(anniversary(now.date(), MAX_MANDATE_YEARS), now.timetz())


def mandate_expiry_problem(expires_at: datetime | None, now: datetime) -> str | None:
    """Why `expires_at` cannot end a new mandate: missing, past, or too far ahead."""
    if expires_at is None:
        return "required"
    if expires_at <= now:
        return "in_the_past"
    if expires_at > latest_mandate_expiry(now):
        return "too_far"
    return None
