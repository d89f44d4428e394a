"""Quotas and opening days (F33) on the real PostgreSQL: exactly the limit taken under concurrent
submissions, the rest refused with nothing changed; periods reopening; the per-person limit;
opening and closing days; the catalogue saying so in each language."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.auth import ActingContext, set_caller
from guichet_kit.errors import ServiceError
from guichet_kit.i18n import LUXEMBOURG, Language, render
from guichet_kit.national_id import make_national_id
from guichet_procedures.api.citizen import ProceduresServicer
from guichet_procedures.publishing import publish_directory
from guichet_procedures.requests.models import QuotaCounter

from .conftest import (
    ANNE,
    BOB,
    DEFINITIONS,
    NO_CONTEXT,
    Clock,
    _variant,
    citizen,
    outbox,
    stored_request,
    write_catalogue,
)
from .test_drafts import save, start

pytestmark = pytest.mark.asyncio

QUOTA_DEFINITIONS = [
    _variant("test-quota", quota={"total": 10}),
    _variant("test-monthly", quota={"per_period": {"limit": 2, "period": "month"}}),
    _variant("test-weekly", quota={"total": 3, "per_period": {"limit": 1, "period": "week"}}),
    _variant("test-one-each", quota={"per_person": 1}),
    _variant("test-dated", opens_on="2030-01-10", closes_on="2030-01-20"),
]
ABOUT = {"name": "Anne", "has_children": False}


@pytest.fixture(autouse=True)
async def quota_catalogue(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    directory = write_catalogue(tmp_path / "catalogue", [*DEFINITIONS, *QUOTA_DEFINITIONS])
    await publish_directory(sessions, directory)


def person(number: int) -> str:
    return make_national_id(date(1990, 1, 1), number).value


def act_as(national_id: str) -> None:
    set_caller(citizen(national_id), ActingContext.parse("private"))


def luxembourg(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A moment on Luxembourg's clock, as the rules' clock gives it (UTC)."""
    return datetime(year, month, day, hour, minute, tzinfo=LUXEMBOURG).astimezone(UTC)


async def ready_draft(procedures: ProceduresServicer, national_id: str, code: str) -> str:
    act_as(national_id)
    draft = await start(procedures, code)
    await save(procedures, draft.id, "about", ABOUT)
    return draft.id


async def submit(procedures: ProceduresServicer, request_id: str, key: str = "k1") -> pb.Request:
    reply = await procedures.SubmitRequest(
        pb.SubmitRequestRequest(request_id=request_id, idempotency_key=key, language="en"),
        NO_CONTEXT,
    )
    return reply.request


async def refused(call: Awaitable[object], language: Language = Language.EN) -> tuple[str, str]:
    """The reason of a refusal and its message as a person reading `language` sees it."""
    with pytest.raises(ServiceError) as error:
        await call
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
    return error.value.reason, render(error.value.message, language)


async def used(sessions: async_sessionmaker[AsyncSession], code: str) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(QuotaCounter.period_key, QuotaCounter.used).where(
                QuotaCounter.procedure_code == code
            )
        )
        return {key: value for key, value in rows}


async def summary(procedures: ProceduresServicer, code: str, language: str) -> pb.ProcedureSummary:
    reply = await procedures.GetProcedure(
        pb.GetProcedureRequest(code=code, language=language), NO_CONTEXT
    )
    return reply.form.procedure


async def test_of_50_concurrent_submissions_exactly_the_10_of_the_quota_are_taken(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    owners = [person(number) for number in range(1, 51)]
    drafts = [await ready_draft(procedures, owner, "test-quota") for owner in owners]
    before = {draft: await stored_request(sessions, draft) for draft in drafts}
    rows_before = await counts()

    async def submit_as(owner: str, draft: str) -> pb.Request:
        act_as(owner)  # each task has its own caller (a copy of the context)
        return await submit(procedures, draft)

    results = await asyncio.gather(
        *(submit_as(owner, draft) for owner, draft in zip(owners, drafts, strict=True)),
        return_exceptions=True,
    )

    taken = [r for r in results if isinstance(r, pb.Request)]
    refusals = [r for r in results if isinstance(r, ServiceError)]
    assert len(taken) == 10 and len(refusals) == 40, results
    assert all(r.state == pb.REQUEST_STATE_SUBMITTED for r in taken)
    assert {(r.code, r.reason) for r in refusals} == {
        (grpc.StatusCode.FAILED_PRECONDITION, "QUOTA_REACHED")
    }
    assert "10 requests it could take in all" in str(refusals[0].message)
    assert await used(sessions, "test-quota") == {"total": 10}
    # The refused requests are the drafts they were; only the 10 submissions wrote anything.
    for draft, result in zip(drafts, results, strict=True):
        if isinstance(result, ServiceError):
            assert await stored_request(sessions, draft) == before[draft]
    rows = await counts()
    assert rows["proofs"] == rows_before["proofs"] + 10
    assert rows["request_history"] == rows_before["request_history"] + 10
    assert rows["quota_counters"] == rows_before["quota_counters"] + 1
    events = [subject for subject, _ in await outbox(sessions)]
    assert events == ["procedures.request.submitted.v1"] * 10

    # Full: a new draft is refused at once, in the person's language; the catalogue says so.
    act_as(ANNE)
    reason, message = await refused(start(procedures, "test-quota"), Language.FR)
    assert reason == "QUOTA_REACHED" and "10 demandes" in message
    shown = await summary(procedures, "test-quota", "en")
    assert shown.quota_reached
    assert shown.availability_message == (
        "This procedure has taken the 10 requests it could take in all: it takes no more."
    )

    # A cancellation gives nothing back: the counter counts what the administration received.
    owner, cancelled = next(
        (owner, result)
        for owner, result in zip(owners, results, strict=True)
        if isinstance(result, pb.Request)
    )
    act_as(owner)
    await procedures.CancelRequest(pb.CancelRequestRequest(request_id=cancelled.id), NO_CONTEXT)
    assert await used(sessions, "test-quota") == {"total": 10}
    assert (await summary(procedures, "test-quota", "en")).quota_reached


async def test_a_period_quota_opens_again_with_the_next_period(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    clock.moment = luxembourg(2031, 3, 31, 23, 0)  # the last hour of March in Luxembourg
    first = [await ready_draft(procedures, person(n), "test-monthly") for n in (1, 2, 3)]
    for number, draft in zip((1, 2), first, strict=False):
        act_as(person(number))
        await submit(procedures, draft)
    assert await used(sessions, "test-monthly") == {"month:2031-03": 2}

    act_as(person(3))
    draft_before, rows_before = await stored_request(sessions, first[2]), await counts()
    reason, message = await refused(submit(procedures, first[2]), Language.DE)
    assert reason == "QUOTA_REACHED" and "2 Anträge" in message and "1. April 2031" in message
    assert await stored_request(sessions, first[2]) == draft_before
    assert await counts() == rows_before
    shown = await summary(procedures, "test-monthly", "en")
    assert shown.quota_reached and "again on 1 April 2031" in shown.availability_message

    # Midnight in Luxembourg (still 31 March in UTC): April's quota takes it.
    clock.moment = luxembourg(2031, 4, 1, 0, 0)
    assert clock.moment.day == 31
    assert not (await summary(procedures, "test-monthly", "en")).quota_reached
    act_as(person(3))
    assert (await submit(procedures, first[2])).state == pb.REQUEST_STATE_SUBMITTED
    assert await used(sessions, "test-monthly") == {"month:2031-03": 2, "month:2031-04": 1}


async def test_total_and_week_limits_together_and_a_refused_period_takes_nothing_from_the_total(
    procedures: ProceduresServicer, sessions: async_sessionmaker[AsyncSession], clock: Clock
) -> None:
    clock.moment = luxembourg(2031, 6, 4, 12, 0)  # a Wednesday
    drafts = [await ready_draft(procedures, person(n), "test-weekly") for n in range(1, 6)]
    act_as(person(1))
    await submit(procedures, drafts[0])
    act_as(person(2))
    reason, message = await refused(submit(procedures, drafts[1]))
    assert reason == "QUOTA_REACHED"
    assert "for this week: it takes requests again on 9 June 2031" in message
    # The total taken in that refused submission was given back with its transaction.
    assert await used(sessions, "test-weekly") == {"total": 1, "week:2031-W23": 1}
    for week, number in ((9, 2), (16, 3)):
        clock.moment = luxembourg(2031, 6, week, 9, 0)
        act_as(person(number))
        await submit(procedures, drafts[number - 1])
    clock.moment = luxembourg(2031, 6, 23, 9, 0)
    act_as(person(4))
    reason, message = await refused(submit(procedures, drafts[3]))
    assert reason == "QUOTA_REACHED" and "3 requests it could take in all" in message
    assert (await used(sessions, "test-weekly"))["total"] == 3


async def test_one_request_per_person_and_a_cancelled_one_no_longer_counts(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    first = await ready_draft(procedures, ANNE, "test-one-each")
    second = await ready_draft(procedures, ANNE, "test-one-each")  # before the first is in
    await submit(procedures, first)
    # Another person is not limited by Anne's request.
    bob_draft = await ready_draft(procedures, BOB, "test-one-each")
    assert (await submit(procedures, bob_draft)).state == pb.REQUEST_STATE_SUBMITTED

    act_as(ANNE)
    before, rows_before = await stored_request(sessions, second), await counts()
    reason, message = await refused(submit(procedures, second))
    assert reason == "QUOTA_REACHED"
    assert "at most 1 submitted request(s) of this procedure" in message
    assert await stored_request(sessions, second) == before and await counts() == rows_before
    assert (await refused(start(procedures, "test-one-each")))[0] == "QUOTA_REACHED"
    # Saving a step of a draft is still possible: only starting and submitting are limited.
    await save(procedures, second, "about", {"name": "Anne M", "has_children": False})
    # The catalogue is for everyone: one person's limit does not close it.
    assert not (await summary(procedures, "test-one-each", "en")).quota_reached

    await procedures.CancelRequest(pb.CancelRequestRequest(request_id=first), NO_CONTEXT)
    assert (await submit(procedures, second)).state == pb.REQUEST_STATE_SUBMITTED


async def test_two_submissions_of_one_person_at_once_take_one_place(
    procedures: ProceduresServicer,
) -> None:
    drafts = [await ready_draft(procedures, ANNE, "test-one-each") for _ in range(4)]

    async def submit_one(draft: str) -> pb.Request:
        act_as(ANNE)
        return await submit(procedures, draft)

    results = await asyncio.gather(*(submit_one(d) for d in drafts), return_exceptions=True)
    assert sum(isinstance(r, pb.Request) for r in results) == 1, results
    assert [r.reason for r in results if isinstance(r, ServiceError)] == ["QUOTA_REACHED"] * 3


async def test_requests_are_taken_from_the_opening_day_through_the_closing_day(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    act_as(ANNE)
    clock.moment = luxembourg(2030, 1, 9, 23, 59)
    rows_before = await counts()
    reason, message = await refused(start(procedures, "test-dated"), Language.FR)
    assert reason == "PROCEDURE_NOT_OPEN" and "10 janvier 2030" in message
    assert await counts() == rows_before
    shown = await summary(procedures, "test-dated", "de")
    assert shown.quota_reached and "10. Januar 2030" in shown.availability_message
    assert shown.opens_at.ToDatetime(UTC) == luxembourg(2030, 1, 10, 0, 0)
    assert shown.closes_at.ToDatetime(UTC) == luxembourg(2030, 1, 21, 0, 0)

    clock.moment = luxembourg(2030, 1, 10, 0, 0)
    assert not (await summary(procedures, "test-dated", "en")).quota_reached
    late = await ready_draft(procedures, ANNE, "test-dated")
    in_time = await ready_draft(procedures, ANNE, "test-dated")
    clock.moment = luxembourg(2030, 1, 20, 23, 59)
    assert (await submit(procedures, in_time)).state == pb.REQUEST_STATE_SUBMITTED

    clock.moment = luxembourg(2030, 1, 21, 0, 0)
    # A draft can still be saved after the closing; it cannot be submitted or started.
    await save(procedures, late, "about", {"name": "Anne late", "has_children": False})
    before, rows_before = await stored_request(sessions, late), await counts()
    reason, message = await refused(submit(procedures, late))
    assert reason == "PROCEDURE_CLOSED" and "until 20 January 2030" in message
    assert await stored_request(sessions, late) == before and await counts() == rows_before
    assert (await refused(start(procedures, "test-dated")))[0] == "PROCEDURE_CLOSED"


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", ("10", "demandes")),
        ("de", ("10", "Anträge")),
        ("en", ("10", "requests")),
    ],
)
async def test_the_catalogue_search_shows_a_full_quota_in_each_language(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    language: str,
    words: tuple[str, ...],
) -> None:
    async with sessions() as session, session.begin():
        session.add(QuotaCounter(procedure_code="test-quota", period_key="total", used=10))
    found = await procedures.SearchCatalogue(
        pb.SearchCatalogueRequest(language=language, page_size=100), NO_CONTEXT
    )
    by_code = {each.code: each for each in found.procedures}
    full = by_code["test-quota"]
    assert full.quota_reached and all(word in full.availability_message for word in words)
    assert not full.HasField("opens_at") and not full.HasField("closes_at")
    # Open ones say nothing; a paper procedure has no quota here.
    for code in ("test-form", "test-monthly", "test-paper"):
        assert not by_code[code].quota_reached and by_code[code].availability_message == ""
    others: dict[str, Any] = {
        each: (await summary(procedures, "test-quota", each)).availability_message
        for each in ("fr", "de", "en")
        if each != language
    }
    assert full.availability_message not in others.values()
