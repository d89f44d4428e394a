"""My requests: filters, sorts, paging; drafts' extension, warning and expiry with a moved clock;
an account's deletion; the export."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import identity_pb2 as identity_events
from guichet.events.v1 import procedures_pb2 as events_pb
from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_procedures.api.citizen import ProceduresServicer
from guichet_procedures.requests import upkeep
from guichet_procedures.requests.models import Request
from guichet_procedures.requests.purge import AccountPurge

from .conftest import ANNE, BOB, NO_CONTEXT, Clock, outbox, refusal, stored_request
from .test_drafts import save, start
from .test_submission import complete_draft, submit

pytestmark = pytest.mark.asyncio


async def listed(procedures: ProceduresServicer, **fields: Any) -> pb.ListMyRequestsResponse:
    return await procedures.ListMyRequests(
        pb.ListMyRequestsRequest(language="en", **fields), NO_CONTEXT
    )


def ids(reply: pb.ListMyRequestsResponse) -> list[str]:
    return [request.id for request in reply.requests]


async def test_filters_sorts_and_pages(
    procedures: ProceduresServicer, signed_in: Callable[..., Any], clock: Clock
) -> None:
    signed_in(ANNE)
    drafts = []
    for _ in range(3):
        clock.advance(minutes=1)
        drafts.append(await start(procedures))
    clock.advance(minutes=1)
    done = await complete_draft(procedures)
    clock.advance(minutes=1)
    await submit(procedures, done.id, "k")
    clock.advance(minutes=1)
    await procedures.CancelRequest(pb.CancelRequestRequest(request_id=drafts[0].id), NO_CONTEXT)

    everything = await listed(procedures)
    # Newest change first; the cancelled draft is in the archive only.
    assert [r.id for r in everything.requests] == [done.id, drafts[2].id, drafts[1].id]
    assert everything.total == 3 and not everything.requests[0].answers_json
    in_preparation = await listed(procedures, filter=pb.REQUEST_FILTER_IN_PREPARATION)
    assert ids(in_preparation) == [drafts[2].id, drafts[1].id]
    assert ids(await listed(procedures, filter=pb.REQUEST_FILTER_SUBMITTED)) == [done.id]
    assert ids(await listed(procedures, filter=pb.REQUEST_FILTER_ARCHIVED)) == [drafts[0].id]
    assert (await listed(procedures, filter=pb.REQUEST_FILTER_CLOSED)).total == 0
    by_reference = await listed(procedures, sort=pb.REQUEST_SORT_REFERENCE)
    assert by_reference.requests[0].id == done.id  # drafts have no reference: last

    first = await listed(procedures, page_size=2)
    assert len(first.requests) == 2 and first.next_page_token
    second = await listed(procedures, page_size=2, page_token=first.next_page_token)
    assert [r.id for r in second.requests] == [drafts[1].id] and not second.next_page_token

    refused = await refusal(listed(procedures, page_token="not-a-token"))
    assert (refused.code, refused.reason, refused.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_PAGE_REQUEST",
        ("page_token",),
    )
    refused = await refusal(listed(procedures, page_size=1000))
    assert refused.fields == ("page_size",)


async def test_a_draft_is_warned_once_then_expires_into_a_tombstone(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    clock: Clock,
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    await save(procedures, draft.id, "about", {"name": "Anne", "has_children": False})
    started = clock.moment

    # 75 days later, nothing yet; 77 days later (13 before expiry), the warning, once.
    early = started + timedelta(days=75)
    assert (
        await upkeep.run_once(sessions, warning_days=14, retention_days=10, now=early)
    ).warned == 0
    later = started + timedelta(days=77)
    report = await upkeep.run_once(sessions, warning_days=14, retention_days=10, now=later)
    assert (report.warned, report.expired) == (1, 0)
    again = await upkeep.run_once(sessions, warning_days=14, retention_days=10, now=later)
    assert again.warned == 0
    events = await outbox(sessions)
    assert [s for s, _ in events] == ["procedures.draft.expiring.v1"]
    warning = events_pb.DraftExpiring.FromString(events[0][1])
    assert warning.request_id == draft.id and warning.applicant.owner == f"person:{ANNE}"
    assert warning.expires_at.ToDatetime().date() == (started + timedelta(days=90)).date()

    report = await upkeep.run_once(
        sessions, warning_days=14, retention_days=10, now=started + timedelta(days=90, seconds=1)
    )
    assert report.expired == 1
    row = await stored_request(sessions, draft.id)
    assert (row["state"], row["answers"], row["completed_steps"]) == ("expired", {}, [])
    archive = await listed(procedures, filter=pb.REQUEST_FILTER_ARCHIVED)
    assert [(r.id, r.state) for r in archive.requests] == [(draft.id, pb.REQUEST_STATE_EXPIRED)]
    refused = await refusal(
        save(procedures, draft.id, "about", {"name": "Anne", "has_children": False})
    )
    assert refused.reason == "NOT_A_DRAFT"


async def test_a_draft_expires_even_when_no_warning_went_out(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    clock: Clock,
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    report = await upkeep.run_once(
        sessions, warning_days=14, retention_days=10, now=clock.moment + timedelta(days=91)
    )
    assert (report.warned, report.expired) == (0, 1)
    assert (await stored_request(sessions, draft.id))["warned_at"] is None
    assert (await stored_request(sessions, draft.id))["state"] == "expired"


async def test_extending_a_draft_pushes_its_expiry_back_and_a_new_warning_is_due(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    clock: Clock,
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    started = clock.moment
    await upkeep.run_once(
        sessions, warning_days=14, retention_days=10, now=started + timedelta(days=80)
    )
    clock.advance(days=80)
    extended = await procedures.ExtendDraft(pb.ExtendDraftRequest(request_id=draft.id), NO_CONTEXT)
    assert extended.request.expires_at.ToDatetime().date() == (started + timedelta(days=170)).date()
    row = await stored_request(sessions, draft.id)
    assert row["warned_at"] is None
    report = await upkeep.run_once(
        sessions, warning_days=14, retention_days=10, now=started + timedelta(days=95)
    )
    assert (report.warned, report.expired) == (0, 0)

    submitted = await complete_draft(procedures)
    await submit(procedures, submitted.id, "k")
    refused = await refusal(
        procedures.ExtendDraft(pb.ExtendDraftRequest(request_id=submitted.id), NO_CONTEXT)
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_A_DRAFT")


def deleted(national_id: str) -> identity_events.AccountDeleted:
    return identity_events.AccountDeleted(
        deletion_id=str(uuid.uuid4()), national_id=national_id, subject="kc-someone"
    )


async def test_an_account_deletion_removes_drafts_and_detaches_submitted_requests(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    clock: Clock,
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    done = await complete_draft(procedures)
    await submit(procedures, done.id, "k")
    signed_in(BOB)
    bobs = await start(procedures)

    event = deleted(ANNE)
    async with sessions.begin() as session:
        await AccountPurge(clock=clock).on_account_deleted(session, event)

    async with sessions() as session:
        rows = {str(r.id): r for r in await session.scalars(select(Request))}
    assert draft.id not in rows
    assert rows[done.id].owner is None and rows[done.id].created_by is None
    assert rows[done.id].reference is not None  # kept for the administration
    assert rows[bobs.id].owner == f"person:{BOB}"
    purged = [
        payload
        for subject, payload in await outbox(sessions)
        if subject == "procedures.account.purged.v1"
    ]
    confirmation = identity_events.AccountPurged.FromString(purged[0])
    assert (confirmation.deletion_id, confirmation.service) == (event.deletion_id, "procedures")

    signed_in(ANNE)
    assert (await listed(procedures)).total == 0

    # The detached request is purged once its retention after its last change ended.
    async with sessions.begin() as session:
        await session.execute(
            update(Request)
            .where(Request.id == uuid.UUID(done.id))
            .values(state="closed", closed_at=clock.moment)
        )
    kept = await upkeep.run_once(
        sessions, warning_days=14, retention_days=10, now=clock.moment + timedelta(days=9)
    )
    assert kept.purged == 0
    gone = await upkeep.run_once(
        sessions, warning_days=14, retention_days=10, now=clock.moment + timedelta(days=11)
    )
    assert gone.purged == 1
    async with sessions() as session:
        assert await session.get(Request, uuid.UUID(done.id)) is None


async def test_the_export_holds_the_persons_own_requests_with_answers_and_history(
    procedures: ProceduresServicer, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    done = await complete_draft(procedures)
    submitted = await submit(procedures, done.id, "k")
    signed_in(BOB)
    await start(procedures)
    signed_in(ANNE)
    reply = await procedures.ExportRequests(pb.ExportRequestsRequest(), NO_CONTEXT)
    document = json.loads(reply.document)
    assert [r["reference"] for r in document["requests"]] == [submitted.reference]
    exported = document["requests"][0]
    assert exported["answers"]["children"] == [{"child_name": "Léa"}]
    assert [h["kind"] for h in exported["history"]] == ["submitted"]
