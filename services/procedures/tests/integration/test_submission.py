"""Submission once per idempotency key with its sealed proof, the proof's verification,
corrections answered, cancellation."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import procedures_pb2 as events_pb
from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.auth import set_caller
from guichet_procedures.api.citizen import ProceduresServicer
from guichet_procedures.requests.models import Request

from .conftest import ANNE, BOB, NO_CONTEXT, Wakes, citizen, outbox, refusal, stored_request
from .test_drafts import save, start

pytestmark = pytest.mark.asyncio


async def complete_draft(procedures: ProceduresServicer) -> pb.Request:
    draft = await start(procedures)
    await save(procedures, draft.id, "about", {"name": "Anne", "has_children": True})
    await save(procedures, draft.id, "family", {"children": [{"child_name": "Léa"}]})
    return await save(procedures, draft.id, "request", {"reason": "moving"})


async def submit(procedures: ProceduresServicer, request_id: str, key: str) -> pb.Request:
    reply = await procedures.SubmitRequest(
        pb.SubmitRequestRequest(request_id=request_id, idempotency_key=key, language="en"),
        NO_CONTEXT,
    )
    return reply.request


async def test_a_complete_draft_is_submitted_once_with_a_reference_an_event_and_a_proof(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    wakes: Wakes,
) -> None:
    signed_in(ANNE)
    draft = await complete_draft(procedures)
    submitted = await submit(procedures, draft.id, "key-1")
    assert submitted.state == pb.REQUEST_STATE_SUBMITTED
    assert submitted.status == "received" and submitted.status_text == "Received"
    assert submitted.reference.startswith("PR-") and len(submitted.reference) == 14
    assert len(submitted.answers_sha256) == 64
    assert [(h.kind, h.actor, h.status) for h in submitted.history] == [
        ("submitted", "applicant", "received")
    ]
    assert submitted.cancellable and not submitted.HasField("expires_at")

    # A retry with the same key: the same answer, nothing submitted twice.
    again = await submit(procedures, draft.id, "key-1")
    assert (again.reference, again.answers_sha256) == (
        submitted.reference,
        submitted.answers_sha256,
    )
    events = await outbox(sessions)
    assert [subject for subject, _ in events] == ["procedures.request.submitted.v1"]
    event = events_pb.RequestSubmitted.FromString(events[0][1])
    assert (event.reference, event.status, event.resubmitted) == (
        submitted.reference.replace("-", ""),
        "received",
        False,
    )
    assert event.applicant.owner == f"person:{ANNE}" and event.cursor > 0
    assert wakes.count == 1

    # Another key after the submission: refused.
    refused = await refusal(submit(procedures, draft.id, "key-2"))
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "ALREADY_SUBMITTED",
    )

    proof = await procedures.GetProof(pb.GetProofRequest(request_id=draft.id), NO_CONTEXT)
    assert proof.pdf.startswith(b"%PDF") and proof.filename == f"proof-{submitted.reference}.pdf"
    # The request can be read by its reference too.
    by_reference = await procedures.GetRequest(
        pb.GetRequestRequest(request_id=submitted.reference.lower()), NO_CONTEXT
    )
    assert by_reference.request.id == draft.id


async def test_two_submissions_at_once_with_one_key_submit_once(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
) -> None:
    signed_in(ANNE)
    draft = await complete_draft(procedures)
    first, second = await asyncio.gather(
        submit(procedures, draft.id, "same"), submit(procedures, draft.id, "same")
    )
    assert first.reference == second.reference
    assert len(await outbox(sessions)) == 1


async def test_an_incomplete_draft_is_not_submitted_and_nothing_changes(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    counts: Callable[[], Any],
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    await save(procedures, draft.id, "about", {"name": "Anne", "has_children": False})
    before, rows = await stored_request(sessions, draft.id), await counts()
    refused = await refusal(submit(procedures, draft.id, "k"))
    assert (refused.code, refused.reason, refused.fields) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "REQUEST_INCOMPLETE",
        ("request",),
    )
    refused = await refusal(submit(procedures, draft.id, ""))
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_IDEMPOTENCY_KEY",
    )
    assert await stored_request(sessions, draft.id) == before
    assert await counts() == rows


async def test_a_draft_ending_on_an_exit_is_not_eligible(
    procedures: ProceduresServicer, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    await save(procedures, draft.id, "about", {"name": "Nobody", "has_children": False})
    refused = await refusal(submit(procedures, draft.id, "k"))
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_ELIGIBLE")


async def test_the_proof_verifies_and_one_changed_byte_is_refused(
    procedures: ProceduresServicer, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    draft = await complete_draft(procedures)
    submitted = await submit(procedures, draft.id, "k")
    pdf = (await procedures.GetProof(pb.GetProofRequest(request_id=draft.id), NO_CONTEXT)).pdf

    set_caller(None)  # public
    verified = await procedures.VerifyProof(
        pb.VerifyProofRequest(pdf=pdf, language="en"), NO_CONTEXT
    )
    assert verified.genuine and not verified.reason
    assert (verified.reference, verified.procedure_code, verified.procedure_version) == (
        submitted.reference,
        "test-form",
        1,
    )
    assert verified.answers_sha256 == submitted.answers_sha256
    assert verified.procedure_title == "Test declaration"

    middle = len(pdf) // 2
    tampered = pdf[:middle] + bytes([pdf[middle] ^ 0x01]) + pdf[middle + 1 :]
    refused = await procedures.VerifyProof(
        pb.VerifyProofRequest(pdf=tampered, language="fr"), NO_CONTEXT
    )
    assert not refused.genuine and refused.reason and not refused.reference

    refused = await refusal(procedures.VerifyProof(pb.VerifyProofRequest(), NO_CONTEXT))
    assert (refused.code, refused.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PROOF")


async def test_a_genuine_proof_of_a_request_the_platform_does_not_hold_is_refused(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
) -> None:
    signed_in(ANNE)
    draft = await complete_draft(procedures)
    await submit(procedures, draft.id, "k")
    pdf = (await procedures.GetProof(pb.GetProofRequest(request_id=draft.id), NO_CONTEXT)).pdf
    async with sessions.begin() as session:
        await session.execute(
            update(Request).where(Request.id == uuid.UUID(draft.id)).values(reference="PR000000000")
        )
    verified = await procedures.VerifyProof(
        pb.VerifyProofRequest(pdf=pdf, language="en"), NO_CONTEXT
    )
    assert not verified.genuine and "does not hold" in verified.reason


async def ask_correction(
    sessions: async_sessionmaker[AsyncSession], request_id: str, fields: list[str]
) -> None:
    """What the administration's AskCorrection leaves on the row."""
    async with sessions.begin() as session:
        await session.execute(
            update(Request)
            .where(Request.id == uuid.UUID(request_id))
            .values(
                state="action_needed",
                status="correction",
                status_before_correction="received",
                asked_fields=fields,
                version=Request.version + 1,
            )
        )


async def test_a_correction_changes_only_the_asked_fields_and_resubmits(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
) -> None:
    signed_in(ANNE)
    draft = await complete_draft(procedures)
    submitted = await submit(procedures, draft.id, "k")
    await ask_correction(sessions, draft.id, ["reason", "other_reason"])
    before = await stored_request(sessions, draft.id)

    async def answer(changes: dict[str, Any]) -> pb.Request:
        reply = await procedures.AnswerCorrection(
            pb.AnswerCorrectionRequest(
                request_id=draft.id, answers_json=json.dumps(changes), language="en"
            ),
            NO_CONTEXT,
        )
        return reply.request

    refused = await refusal(answer({"name": "Someone else"}))
    assert (refused.code, refused.reason, refused.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_NOT_ASKED",
        ("name",),
    )
    refused = await refusal(answer({"reason": "other"}))  # other_reason is then required
    assert (refused.reason, refused.fields) == ("INVALID_ANSWERS", ("other_reason",))
    assert await stored_request(sessions, draft.id) == before

    corrected = await answer({"reason": "other", "other_reason": "A better reason"})
    assert corrected.state == pb.REQUEST_STATE_SUBMITTED and corrected.status == "received"
    assert not corrected.asked_field_ids
    assert json.loads(corrected.answers_json)["other_reason"] == "A better reason"
    assert corrected.answers_sha256 != submitted.answers_sha256
    assert corrected.history[-1].kind == "correction_answered"
    assert list(corrected.history[-1].field_ids) == ["other_reason", "reason"]
    after = await stored_request(sessions, draft.id)
    assert after["version"] == before["version"] + 1
    assert after["incoming_sequence"] > before["incoming_sequence"]
    subjects = [subject for subject, _ in await outbox(sessions)]
    assert subjects == ["procedures.request.submitted.v1"] * 2
    event = events_pb.RequestSubmitted.FromString((await outbox(sessions))[-1][1])
    assert event.resubmitted and event.cursor == after["incoming_sequence"]
    # The new proof is the one handed out, and it verifies.
    pdf = (await procedures.GetProof(pb.GetProofRequest(request_id=draft.id), NO_CONTEXT)).pdf
    verified = await procedures.VerifyProof(pb.VerifyProofRequest(pdf=pdf), NO_CONTEXT)
    assert verified.genuine and verified.answers_sha256 == corrected.answers_sha256
    # No correction asked any more: refused.
    refused = await refusal(answer({"reason": "moving"}))
    assert refused.reason == "NO_CORRECTION_ASKED"


async def test_cancel_a_draft_then_a_submitted_request_only_while_its_status_allows(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    cancelled = await procedures.CancelRequest(
        pb.CancelRequestRequest(request_id=draft.id), NO_CONTEXT
    )
    assert cancelled.request.state == pb.REQUEST_STATE_CANCELLED
    assert await outbox(sessions) == []  # nobody to tell about a draft

    complete = await complete_draft(procedures)
    await submit(procedures, complete.id, "k")
    cancelled = await procedures.CancelRequest(
        pb.CancelRequestRequest(request_id=complete.id), NO_CONTEXT
    )
    assert cancelled.request.state == pb.REQUEST_STATE_CANCELLED
    assert cancelled.request.history[-1].kind == "cancelled"
    assert [s for s, _ in await outbox(sessions)][-1] == "procedures.request.cancelled.v1"
    refused = await refusal(
        procedures.CancelRequest(pb.CancelRequestRequest(request_id=complete.id), NO_CONTEXT)
    )
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_CANCELLABLE",
    )

    # In review: the procedure's statuses do not allow it.
    other = await complete_draft(procedures)
    await submit(procedures, other.id, "k")
    async with sessions.begin() as session:
        await session.execute(
            update(Request).where(Request.id == uuid.UUID(other.id)).values(status="in_review")
        )
    before = await stored_request(sessions, other.id)
    refused = await refusal(
        procedures.CancelRequest(pb.CancelRequestRequest(request_id=other.id), NO_CONTEXT)
    )
    assert refused.reason == "NOT_CANCELLABLE"
    assert await stored_request(sessions, other.id) == before


async def test_another_persons_submitted_request_and_proof_are_not_found(
    procedures: ProceduresServicer, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    draft = await complete_draft(procedures)
    submitted = await submit(procedures, draft.id, "k")
    set_caller(citizen(BOB))
    for request_id in (draft.id, submitted.reference):
        refused = await refusal(
            procedures.GetRequest(pb.GetRequestRequest(request_id=request_id), NO_CONTEXT)
        )
        assert (refused.code, refused.reason) == (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")
    refused = await refusal(
        procedures.GetProof(pb.GetProofRequest(request_id=draft.id), NO_CONTEXT)
    )
    assert refused.code == grpc.StatusCode.NOT_FOUND
