"""Drafts: started pinned to the current version, steps saved and re-evaluated, every refusal
leaving the row as it was, another person's draft unknown."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.auth import LevelOfAssurance
from guichet_procedures.api.citizen import ProceduresServicer

from .conftest import ANNE, BOB, NO_CONTEXT, refusal, stored_request

pytestmark = pytest.mark.asyncio


async def start(procedures: ProceduresServicer, code: str = "test-form") -> pb.Request:
    reply = await procedures.StartDraft(
        pb.StartDraftRequest(procedure_code=code, language="en"), NO_CONTEXT
    )
    return reply.request


async def save(
    procedures: ProceduresServicer, request_id: str, step: str, answers: dict[str, Any] | str
) -> pb.Request:
    text = answers if isinstance(answers, str) else json.dumps(answers)
    reply = await procedures.SaveStep(
        pb.SaveStepRequest(request_id=request_id, step_id=step, answers_json=text, language="en"),
        NO_CONTEXT,
    )
    return reply.request


async def test_a_draft_is_pinned_to_the_current_version_and_moves_step_by_step(
    procedures: ProceduresServicer, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    assert draft.state == pb.REQUEST_STATE_DRAFT
    assert (draft.procedure_code, draft.procedure_version) == ("test-form", 1)
    assert draft.owner == f"person:{ANNE}"
    assert draft.title == "Test declaration"
    assert draft.next_step == "about"
    assert draft.HasField("expires_at") and not draft.reference

    saved = await save(procedures, draft.id, "about", {"name": "  Anne ", "has_children": False})
    steps = {step.id: step for step in saved.steps}
    assert steps["about"].complete
    assert not steps["family"].applicable  # no children: the step does not apply
    assert saved.next_step == "request"
    assert json.loads(saved.answers_json) == {"name": "Anne", "has_children": False}
    assert [a.display for a in steps["about"].answers] == ["Anne", "No"]


async def test_a_hidden_field_sent_anyway_is_dropped_and_never_stored(
    procedures: ProceduresServicer, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    await save(procedures, draft.id, "about", {"name": "Anne", "has_children": False})
    saved = await save(
        procedures, draft.id, "request", {"reason": "moving", "other_reason": "sent anyway"}
    )
    assert "other_reason" not in json.loads(saved.answers_json)
    assert saved.next_step == ""


async def test_changing_an_earlier_answer_drops_a_step_that_no_longer_applies(
    procedures: ProceduresServicer, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    await save(procedures, draft.id, "about", {"name": "Anne", "has_children": True})
    await save(procedures, draft.id, "family", {"children": [{"child_name": "Léa"}]})
    await save(procedures, draft.id, "request", {"reason": "moving"})

    saved = await save(procedures, draft.id, "about", {"name": "Anne", "has_children": False})
    answers = json.loads(saved.answers_json)
    assert "children" not in answers
    assert {s.id for s in saved.steps if s.complete} == {"about", "request"}


async def test_a_step_skipped_is_refused_and_changes_nothing(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    before = await stored_request(sessions, draft.id)
    refused = await refusal(save(procedures, draft.id, "request", {"reason": "moving"}))
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "STEP_NOT_REACHABLE",
    )
    # A step whose condition excludes it, and a step that does not exist.
    await save(procedures, draft.id, "about", {"name": "Anne", "has_children": False})
    before = await stored_request(sessions, draft.id)
    refused = await refusal(save(procedures, draft.id, "family", {"children": []}))
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "STEP_NOT_APPLICABLE",
    )
    refused = await refusal(save(procedures, draft.id, "nowhere", {}))
    assert (refused.code, refused.reason) == (grpc.StatusCode.NOT_FOUND, "STEP_NOT_FOUND")
    assert await stored_request(sessions, draft.id) == before


@pytest.mark.parametrize(
    ("answers", "reason", "field"),
    [
        ({"name": "", "has_children": False}, "INVALID_ANSWERS", "name"),
        ({"name": "x" * 51, "has_children": False}, "INVALID_ANSWERS", "name"),
        ({"name": "A\u0000nne", "has_children": False}, "INVALID_ANSWERS", "name"),
        ({"name": "Anne", "has_children": "yes"}, "INVALID_ANSWERS", "has_children"),
        ({"name": "Anne", "has_children": False, "stranger": 1}, "INVALID_ANSWERS", "stranger"),
        ('["a list"]', "INVALID_ANSWERS_JSON", "answers_json"),
        ("{not json", "INVALID_ANSWERS_JSON", "answers_json"),
        ('{"name": NaN}', "INVALID_ANSWERS_JSON", "answers_json"),
        (json.dumps({"name": "x" * (1024 * 1024)}), "ANSWERS_TOO_LARGE", "answers_json"),
    ],
)
async def test_bad_answers_are_refused_with_the_field_and_change_nothing(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    counts: Callable[[], Any],
    answers: dict[str, Any] | str,
    reason: str,
    field: str,
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    before, rows = await stored_request(sessions, draft.id), await counts()
    refused = await refusal(save(procedures, draft.id, "about", answers))
    assert (refused.code, refused.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert field in refused.fields
    assert await stored_request(sessions, draft.id) == before
    assert await counts() == rows


async def test_a_required_if_field_left_empty_is_refused(
    procedures: ProceduresServicer, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    await save(procedures, draft.id, "about", {"name": "Anne", "has_children": False})
    refused = await refusal(save(procedures, draft.id, "request", {"reason": "other"}))
    assert (refused.reason, refused.fields) == ("INVALID_ANSWERS", ("other_reason",))


async def test_an_exit_keeps_the_answers_and_ends_the_procedure_there(
    procedures: ProceduresServicer, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    saved = await save(procedures, draft.id, "about", {"name": "Nobody", "has_children": False})
    assert saved.exit_message == "Nobody cannot declare anything"
    assert not next(step for step in saved.steps if step.id == "about").complete
    refused = await refusal(save(procedures, draft.id, "request", {"reason": "moving"}))
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_ELIGIBLE")
    assert refused.message.startswith("Nobody cannot")


async def test_another_persons_draft_is_not_found(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    before = await stored_request(sessions, draft.id)
    signed_in(BOB)
    calls = [
        save(procedures, draft.id, "about", {"name": "Bob", "has_children": False}),
        procedures.GetRequest(pb.GetRequestRequest(request_id=draft.id), NO_CONTEXT),
        procedures.ExtendDraft(pb.ExtendDraftRequest(request_id=draft.id), NO_CONTEXT),
        procedures.SubmitRequest(
            pb.SubmitRequestRequest(request_id=draft.id, idempotency_key="k1"), NO_CONTEXT
        ),
        procedures.CancelRequest(pb.CancelRequestRequest(request_id=draft.id), NO_CONTEXT),
        procedures.GetProof(pb.GetProofRequest(request_id=draft.id), NO_CONTEXT),
        procedures.AnswerCorrection(
            pb.AnswerCorrectionRequest(request_id=draft.id, answers_json="{}"), NO_CONTEXT
        ),
    ]
    for call in calls:
        refused = await refusal(call)
        assert (refused.code, refused.reason) == (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")
    listed = await procedures.ListMyRequests(pb.ListMyRequestsRequest(), NO_CONTEXT)
    assert listed.total == 0
    assert await stored_request(sessions, draft.id) == before


async def test_the_level_and_the_audience_of_a_procedure_are_enforced(
    procedures: ProceduresServicer, signed_in: Callable[..., Any], counts: Callable[[], Any]
) -> None:
    signed_in(ANNE, LevelOfAssurance.SUBSTANTIAL)
    rows = await counts()
    refused = await refusal(start(procedures, "test-high"))
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "INSUFFICIENT_USER_AUTHENTICATION",
    )
    refused = await refusal(start(procedures, "test-company"))
    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "WRONG_AUDIENCE")
    refused = await refusal(start(procedures, "test-paper"))
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "PAPER_PROCEDURE",
    )
    refused = await refusal(start(procedures, "no-such-procedure"))
    assert (refused.code, refused.reason) == (grpc.StatusCode.NOT_FOUND, "PROCEDURE_NOT_FOUND")
    assert await counts() == rows

    signed_in(ANNE, LevelOfAssurance.HIGH)
    assert (await start(procedures, "test-high")).procedure_code == "test-high"


async def test_a_draft_started_at_high_level_cannot_be_saved_at_a_lower_one(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
) -> None:
    signed_in(ANNE, LevelOfAssurance.HIGH)
    draft = await start(procedures, "test-high")
    before = await stored_request(sessions, draft.id)
    signed_in(ANNE, LevelOfAssurance.LOW)
    refused = await refusal(
        save(procedures, draft.id, "about", {"name": "Anne", "has_children": False})
    )
    assert refused.reason == "INSUFFICIENT_USER_AUTHENTICATION"
    assert await stored_request(sessions, draft.id) == before


async def test_a_bad_request_id_is_refused(
    procedures: ProceduresServicer, signed_in: Callable[..., Any]
) -> None:
    signed_in(ANNE)
    refused = await refusal(save(procedures, "not-a-uuid", "about", {}))
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_REQUEST_ID",
    )
    refused = await refusal(
        procedures.GetRequest(pb.GetRequestRequest(request_id="PR-0000"), NO_CONTEXT)
    )
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_REQUEST_ID",
    )
