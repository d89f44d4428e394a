"""Quotas and opening days of procedures (F33): whether a procedure takes requests now, and
taking one at submission.

The quota and days of the procedure's current version govern, whatever version a draft pinned:
an administration that closes a procedure or lowers its quota does so for every draft.

Race-free counting. The total and per-period limits are rows of `quota_counters` (the key "total"
or a calendar period of Europe/Luxembourg, "month:2025-03"), increased by one statement,
`INSERT … ON CONFLICT DO UPDATE SET used = used + 1 WHERE used < limit RETURNING used`:
PostgreSQL locks the row and re-reads its latest committed value before the WHERE, so of any
number of concurrent submissions exactly `limit` get a row back. The others are refused and
their transaction (the whole submission's) rolls back, a counter already increased in it too.
The per-person limit counts the owner's submitted requests of the procedure that are not
cancelled, under a transaction-scoped advisory lock on (procedure, owner): two submissions of one
owner cannot both see room for one. Locks are taken in one order (owner, total, period).

A cancellation gives nothing back to the total and per-period counters: they count the
submissions the administration received (its intake), and counters that only grow keep the check
one statement. A cancelled request no longer counts against its owner's per-person limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from babel.dates import format_date
from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_kit.domain import Conflict
from guichet_kit.i18n import LOCALES, LUXEMBOURG, Catalog, Language, Text, current_language
from guichet_procedures.definitions.model import Definition
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import (
    ACTION_NEEDED,
    CLOSED,
    SUBMITTED,
    QuotaCounter,
    Request,
)

_ = Catalog("guichet_procedures")

TOTAL = "total"
# The states of a request that count against its owner's per-person limit.
COUNTED_STATES = (SUBMITTED, ACTION_NEEDED, CLOSED)


@dataclass(frozen=True)
class DatedText(Text):
    """A text with a `{day}` written in the reader's language ("1 September 2025")."""

    day: date | None = None

    def render(self, language: Language | None = None) -> str:
        language = language or current_language()
        template = self.catalog.gettext(self.msgid, language) if self.catalog else self.msgid
        day = format_date(self.day, "long", locale=LOCALES[language]) if self.day else ""
        return template.format(**self.params, day=day)


def dated(text: Text, day: date) -> DatedText:
    return DatedText(text.msgid, text.params, text.catalog, day=day)


# ---- calendar periods and days ----


@dataclass(frozen=True)
class Window:
    """The calendar period a moment falls in: its counter key and the day the next one starts."""

    key: str
    reopens_on: date


def window(period: str, moment: datetime) -> Window:
    day = moment.astimezone(LUXEMBOURG).date()
    if period == "day":
        return Window(f"day:{day.isoformat()}", day + timedelta(days=1))
    if period == "week":  # ISO weeks: from Monday
        year, week, _weekday = day.isocalendar()
        return Window(f"week:{year}-W{week:02d}", day + timedelta(days=7 - day.weekday()))
    if period == "month":
        following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return Window(f"month:{day:%Y-%m}", following)
    if period == "year":
        return Window(f"year:{day.year}", date(day.year + 1, 1, 1))
    raise ValueError(f"unknown period {period!r}")  # the loader allows no other


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), LUXEMBOURG)


def opens_at(definition: Definition) -> datetime | None:
    """When requests are first taken: the start of opens_on in Luxembourg."""
    return _midnight(definition.opens_on) if definition.opens_on else None


def closes_at(definition: Definition) -> datetime | None:
    """When requests are no longer taken: the end of closes_on (its last day) in Luxembourg."""
    return _midnight(definition.closes_on + timedelta(days=1)) if definition.closes_on else None


def counter_keys(definition: Definition, now: datetime) -> list[str]:
    """The counters the definition's quota reads now (total first: the locking order)."""
    quota = definition.quota
    if quota is None:
        return []
    keys = [TOTAL] if quota.total is not None else []
    if quota.per_period is not None:
        keys.append(window(quota.per_period.period, now).key)
    return keys


# ---- refusals ----


def _period_message(period: str, limit: int) -> Text:
    # One whole sentence per period: the translators see each as it is read.
    if period == "day":
        return _(
            "This procedure has taken its {limit} requests for today: it takes requests again "
            "on {day}.",
            limit=limit,
        )
    if period == "week":
        return _(
            "This procedure has taken its {limit} requests for this week: it takes requests "
            "again on {day}.",
            limit=limit,
        )
    if period == "month":
        return _(
            "This procedure has taken its {limit} requests for this month: it takes requests "
            "again on {day}.",
            limit=limit,
        )
    return _(
        "This procedure has taken its {limit} requests for this year: it takes requests again "
        "on {day}.",
        limit=limit,
    )


def _days_refusal(definition: Definition, now: datetime) -> Conflict | None:
    opening, closing = opens_at(definition), closes_at(definition)
    if opening is not None and definition.opens_on is not None and now < opening:
        return Conflict(
            "PROCEDURE_NOT_OPEN",
            dated(_("This procedure takes requests from {day}."), definition.opens_on),
        )
    if closing is not None and definition.closes_on is not None and now >= closing:
        return Conflict(
            "PROCEDURE_CLOSED",
            dated(
                _("This procedure took requests until {day}: it is closed."), definition.closes_on
            ),
        )
    return None


def _total_refusal(limit: int) -> Conflict:
    return Conflict(
        "QUOTA_REACHED",
        _(
            "This procedure has taken the {limit} requests it could take in all: it takes no more.",
            limit=limit,
        ),
        metadata={"limit": "total"},
    )


def _period_refusal(definition: Definition, now: datetime) -> Conflict:
    per_period = definition.quota.per_period if definition.quota else None
    assert per_period is not None
    reopens = window(per_period.period, now).reopens_on
    return Conflict(
        "QUOTA_REACHED",
        dated(_period_message(per_period.period, per_period.limit), reopens),
        metadata={"limit": per_period.period, "reopens_on": reopens.isoformat()},
    )


def _person_refusal(limit: int) -> Conflict:
    return Conflict(
        "QUOTA_REACHED",
        _(
            "Each applicant may have at most {limit} submitted request(s) of this procedure, "
            "and you have reached that limit (a cancelled request no longer counts).",
            limit=limit,
        ),
        metadata={"limit": "per_person"},
    )


def _counter_refusal(
    definition: Definition, used: Mapping[str, int], now: datetime
) -> Conflict | None:
    """The refusal the counters give now, as read (no lock: for display and StartDraft)."""
    quota = definition.quota
    if quota is None:
        return None
    if quota.total is not None and used.get(TOTAL, 0) >= quota.total:
        return _total_refusal(quota.total)
    if quota.per_period is not None:
        key = window(quota.per_period.period, now).key
        if used.get(key, 0) >= quota.per_period.limit:
            return _period_refusal(definition, now)
    return None


# ---- reading and taking ----


async def governing(session: AsyncSession, store: CatalogueStore, pinned: Definition) -> Definition:
    """The definition whose quota and days apply: the procedure's current version."""
    found = await store.current(session, pinned.code)
    return found[1] if found is not None else pinned


async def counters(
    session: AsyncSession, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """(procedure code, key) -> used, in one query."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = await session.execute(
        select(QuotaCounter.procedure_code, QuotaCounter.period_key, QuotaCounter.used).where(
            tuple_(QuotaCounter.procedure_code, QuotaCounter.period_key).in_(wanted)
        )
    )
    return {(code, key): used for code, key, used in rows}


async def submitted_by(session: AsyncSession, code: str, owner: str) -> int:
    """The owner's requests of the procedure that count against the per-person limit."""
    count = await session.scalar(
        select(func.count())
        .select_from(Request)
        .where(
            Request.owner == owner,
            Request.procedure_code == code,
            Request.state.in_(COUNTED_STATES),
        )
    )
    return int(count or 0)


async def check_can_start(
    session: AsyncSession, definition: Definition, owner: str, now: datetime
) -> None:
    """StartDraft: refused when no request of the owner could be taken now. A read, no lock:
    the submission decides."""
    refusal = _days_refusal(definition, now)
    if refusal is None and definition.quota is not None:
        keys = counter_keys(definition, now)
        found = await counters(session, [(definition.code, key) for key in keys])
        used = {key: found.get((definition.code, key), 0) for key in keys}
        refusal = _counter_refusal(definition, used, now)
        per_person = definition.quota.per_person
        if (
            refusal is None
            and per_person is not None
            and await submitted_by(session, definition.code, owner) >= per_person
        ):
            refusal = _person_refusal(per_person)
    if refusal is not None:
        raise refusal


async def _take(session: AsyncSession, code: str, key: str, limit: int) -> bool:
    """One more on the counter unless it is at `limit`; False: refused (nothing changed)."""
    first = insert(QuotaCounter).values(procedure_code=code, period_key=key, used=1)
    statement = first.on_conflict_do_update(
        index_elements=[QuotaCounter.procedure_code, QuotaCounter.period_key],
        set_={"used": QuotaCounter.used + 1},
        where=QuotaCounter.used < limit,
    ).returning(QuotaCounter.used)
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def consume(session: AsyncSession, definition: Definition, owner: str, now: datetime) -> None:
    """Take one request against `definition`'s days and quota in the submission's transaction,
    or raise (`PROCEDURE_NOT_OPEN`, `PROCEDURE_CLOSED`, `QUOTA_REACHED`); the caller's
    transaction must roll back on the refusal (the servicer's does)."""
    refusal = _days_refusal(definition, now)
    if refusal is not None:
        raise refusal
    quota = definition.quota
    if quota is None:
        return
    if quota.per_person is not None:
        lock = f"quota:{definition.code}:{owner}"
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(lock, 0))))
        if await submitted_by(session, definition.code, owner) >= quota.per_person:
            raise _person_refusal(quota.per_person)
    if quota.total is not None and not await _take(session, definition.code, TOTAL, quota.total):
        raise _total_refusal(quota.total)
    if quota.per_period is not None:
        key = window(quota.per_period.period, now).key
        if not await _take(session, definition.code, key, quota.per_period.limit):
            raise _period_refusal(definition, now)


# ---- the catalogue ----


def _message(refusal: Conflict | None) -> Text | None:
    if refusal is None:
        return None
    message = refusal.message
    assert isinstance(message, Text)  # every refusal of this module carries a Text
    return message


@dataclass(frozen=True)
class Availability:
    """Whether a procedure takes requests now, and why not (for anyone: no per-person limit)."""

    taken: bool
    message: Text | None
    opens_at: datetime | None
    closes_at: datetime | None


async def availabilities(
    session: AsyncSession, definitions: Sequence[Definition], now: datetime
) -> dict[str, Availability]:
    """Each definition's availability; the counters of the whole page in one query."""
    keys = {d.code: counter_keys(d, now) for d in definitions}
    found = await counters(session, [(code, key) for code, each in keys.items() for key in each])
    result: dict[str, Availability] = {}
    for definition in definitions:
        used = {key: found.get((definition.code, key), 0) for key in keys[definition.code]}
        refusal = _days_refusal(definition, now) or _counter_refusal(definition, used, now)
        result[definition.code] = Availability(
            taken=refusal is None,
            message=_message(refusal),
            opens_at=opens_at(definition),
            closes_at=closes_at(definition),
        )
    return result
