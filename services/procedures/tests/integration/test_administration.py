"""The administrations' side on the real PostgreSQL: what an administration sees (its competence
only, submitted requests after a cursor), and its acts — status changes along the procedure's
graph with optimistic concurrency, corrections asked, notes. A refused act changes nothing: the
request, its history and the outbox stay as they were.

The servicer is called in-process as the gRPC server would call it; the administration is the
common name of the client certificate mutual TLS verified (`Certified`). The handshake itself is
the journeys' business (tests/e2e/test_procedures_administration.py). Submitted requests are
written as a submission leaves them (state, first status, reference, cursor, history).
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import procedures_pb2 as events_pb2
from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.errors import ServiceError
from guichet_kit.outbox import OutboxMessage
from guichet_procedures.api.administration import AdministrationProceduresServicer
from guichet_procedures.definitions.loader import THEMES_FILE, load_catalogue, load_themes
from guichet_procedures.publishing import publish, publish_directory
from guichet_procedures.requests import repository
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import Request, RequestHistory
from guichet_procedures.requests.references import generate_reference
from guichet_procedures.settings import CATALOGUE_DIR
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_sessions, row_counts, service_metadata

SERVICE_DIR = Path(__file__).resolve().parents[2]
TABLES = service_metadata("guichet_procedures")
ADDRESS = "change-of-address"  # the commune's; statuses received > in_review > ... > accepted
EXTRACT = "criminal-record-extract"  # justice's
NO_CORRECTION = "noticeboard-entry"  # published by these tests: no status asks the citizen


def _without_correction() -> dict[str, Any]:
    document = yaml.safe_load((CATALOGUE_DIR / f"{ADDRESS}.yaml").read_text(encoding="utf-8"))
    document = copy.deepcopy(document)
    document["code"] = NO_CORRECTION
    document["statuses"] = [s for s in document["statuses"] if not s["asks_citizen"]]
    for status in document["statuses"]:
        status["next"] = [code for code in status["next"] if code != "correction"]
    return document


@pytest.fixture(scope="session")
async def database(
    infra: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    name = f"procedures_admin_test_{worker_name()}"
    async with migrated_sessions(infra, SERVICE_DIR, name) as sessions:
        await publish_directory(sessions, CATALOGUE_DIR)
        extra = tmp_path_factory.mktemp("catalogue")
        (extra / THEMES_FILE).write_bytes((CATALOGUE_DIR / THEMES_FILE).read_bytes())
        (extra / f"{NO_CORRECTION}.yaml").write_text(
            yaml.safe_dump(_without_correction(), allow_unicode=True), encoding="utf-8"
        )
        async with sessions.begin() as session:
            await publish(session, load_catalogue(extra))
        yield sessions


@pytest.fixture
async def sessions(
    database: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    async with database.begin() as session:
        await session.execute(text("TRUNCATE requests, outbox RESTART IDENTITY CASCADE"))
    return database


@pytest.fixture
def store() -> CatalogueStore:
    themes = load_themes((CATALOGUE_DIR / THEMES_FILE).read_text(encoding="utf-8"))
    return CatalogueStore(themes)


@dataclass
class Wakes:
    count: int = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def servicer(
    sessions: async_sessionmaker[AsyncSession], store: CatalogueStore, wakes: Wakes
) -> AdministrationProceduresServicer:
    return AdministrationProceduresServicer(sessions, store, wakes, stream_poll_seconds=0.05)


@dataclass
class Certified:
    """The servicer context of a call whose client certificate mutual TLS verified; `None` as
    the name is a call without one."""

    name: str | None

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_common_name": [self.name.encode()]} if self.name else {}

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return []


def by(code: str | None) -> Any:
    return Certified(code)


COMMUNE, JUSTICE = by("commune"), by("justice")


@dataclass(frozen=True)
class Refused:
    code: grpc.StatusCode
    reason: str
    fields: list[str]


async def refusal(call: Awaitable[object]) -> Refused:
    with pytest.raises(ServiceError) as refused:
        await call
    error = refused.value
    return Refused(error.code, error.reason, [f.field for f in error.field_errors])


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> tuple[Any, ...]:
    """Everything a refused act must leave as it was: rows per table, every request's state."""
    async with sessions() as session:
        requests = (
            await session.execute(
                select(
                    Request.reference,
                    Request.state,
                    Request.status,
                    Request.version,
                    Request.asked_fields,
                ).order_by(Request.reference)
            )
        ).all()
    return (await row_counts(sessions, TABLES), [tuple(row) for row in requests])


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def submitted(
    sessions: async_sessionmaker[AsyncSession],
    code: str = ADDRESS,
    *,
    state: str = "submitted",
    language: str = "de",
    administration: str | None = None,
) -> str:
    """A request as its submission leaves it; returns its display reference."""
    now = datetime.now(UTC)
    reference = generate_reference()
    async with sessions.begin() as session:
        version = await repository.find_procedure(session, code)
        assert version is not None
        owner = f"person:{uuid.uuid4().int % 10**13:013d}"
        request = Request(
            id=uuid.uuid4(),
            reference=None if state == "draft" else reference.canonical,
            procedure_code=code,
            procedure_version=version.current_version,
            administration=administration or version.administration,
            owner=owner,
            created_by=owner,
            applicant_name="Anne Muller",
            language=language,
            state=state,
            status=None if state == "draft" else "received",
            answers={"moving_date": "2026-12-01"},
            completed_steps=[],
            asked_fields=[],
            version=2,
            title=dict(version.titles),
            created_at=now,
            updated_at=now,
            submitted_at=None if state == "draft" else now,
            history=[],
        )
        if state != "draft":
            request.incoming_sequence = await repository.next_incoming_sequence(session)
            repository.add_history(request, "submitted", "applicant", now, status="received")
        session.add(request)
    return reference.display


async def stored(sessions: async_sessionmaker[AsyncSession], reference: str) -> Request:
    async with sessions() as session:
        found = await session.scalar(
            select(Request).where(Request.reference == reference.replace("-", ""))
        )
        assert found is not None
        return found


async def history(sessions: async_sessionmaker[AsyncSession], reference: str) -> list[Any]:
    request = await stored(sessions, reference)
    async with sessions() as session:
        rows = await session.scalars(
            select(RequestHistory)
            .where(RequestHistory.request_id == request.id)
            .order_by(RequestHistory.id)
        )
        return [(h.kind, h.actor, h.status, h.text, list(h.fields)) for h in rows]


def change(reference: str, status: str, version: int, comment: str = "") -> pb.ChangeStatusRequest:
    return pb.ChangeStatusRequest(
        reference=reference, status=status, expected_version=version, comment=comment
    )


async def listed(
    servicer: AdministrationProceduresServicer, who: Any, after: int = 0, **fields: Any
) -> pb.ListIncomingRequestsResponse:
    request = pb.ListIncomingRequestsRequest(after_cursor=after, **fields)
    return await servicer.ListIncomingRequests(request, who)


# ---- what an administration sees ----


async def test_the_list_holds_only_the_competent_administrations_submitted_requests(
    sessions: async_sessionmaker[AsyncSession], servicer: AdministrationProceduresServicer
) -> None:
    first = await submitted(sessions)
    await submitted(sessions, EXTRACT)  # justice's
    await submitted(sessions, state="draft")
    await submitted(sessions, state="cancelled")
    second = await submitted(sessions)

    page = await listed(servicer, COMMUNE)
    assert [r.reference for r in page.requests] == [first, second]
    assert [r.state for r in page.requests] == [pb.REQUEST_STATE_SUBMITTED] * 2
    assert page.last_cursor == page.requests[-1].cursor
    assert page.requests[0].cursor < page.requests[1].cursor
    assert page.requests[0].applicant_name == "Anne Muller"
    assert page.requests[0].history[0].kind == "submitted"
    assert page.requests[0].history[0].status_text.startswith("Ihre Meldung")  # its language

    justice = await listed(servicer, JUSTICE)
    assert [r.procedure_code for r in justice.requests] == [EXTRACT]
    assert (await listed(servicer, by("ccss"))).requests == []


async def test_the_list_pages_after_a_cursor_and_a_resubmission_comes_again(
    sessions: async_sessionmaker[AsyncSession], servicer: AdministrationProceduresServicer
) -> None:
    references = [await submitted(sessions) for _ in range(5)]

    page = await listed(servicer, COMMUNE, page_size=2)
    assert [r.reference for r in page.requests] == references[:2]
    rest = await listed(servicer, COMMUNE, page.last_cursor, page_size=100)
    assert [r.reference for r in rest.requests] == references[2:]
    end = await listed(servicer, COMMUNE, rest.last_cursor)
    assert (end.requests, end.last_cursor) == ([], rest.last_cursor)
    assert [
        r.reference for r in (await listed(servicer, COMMUNE, 0, page_size=10_000)).requests
    ] == references  # a page size above the maximum is brought down to it, not refused

    # A resubmission takes a new cursor: the request comes again after the others.
    async with sessions.begin() as session:
        request = await session.scalar(
            select(Request).where(Request.reference == references[0].replace("-", ""))
        )
        assert request is not None
        request.incoming_sequence = await repository.next_incoming_sequence(session)
    again = await listed(servicer, COMMUNE, rest.last_cursor)
    assert [r.reference for r in again.requests] == [references[0]]

    only = await listed(servicer, COMMUNE, procedure_code=EXTRACT)
    assert only.requests == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"after_cursor": -1}, "after_cursor"),
        ({"page_size": -5}, "page_size"),
        ({"procedure_code": "Not A Code"}, "procedure_code"),
    ],
)
async def test_a_malformed_list_is_refused_with_its_field(
    servicer: AdministrationProceduresServicer, fields: dict[str, Any], field: str
) -> None:
    refused = await refusal(
        servicer.ListIncomingRequests(pb.ListIncomingRequestsRequest(**fields), COMMUNE)
    )
    assert (refused.code, refused.reason, refused.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_INCOMING_QUERY",
        [field],
    )


async def test_a_list_waits_for_a_submission_in_flight_with_an_earlier_cursor(
    sessions: async_sessionmaker[AsyncSession], servicer: AdministrationProceduresServicer
) -> None:
    """Cursors are taken before commit: a later one may commit first. The list must not move
    past an earlier one still in flight, or that request would never be listed."""
    early = await submitted(sessions)
    cursor = (await listed(servicer, COMMUNE)).last_cursor
    async with sessions() as session, session.begin():
        # A submission in flight: its request locked, its cursor taken, not committed yet.
        request = await session.scalar(
            select(Request).where(Request.reference == early.replace("-", "")).with_for_update()
        )
        assert request is not None
        request.incoming_sequence = await repository.next_incoming_sequence(session)
        await session.flush()
        late = await submitted(sessions)  # takes a later cursor and commits first
        listing = asyncio.create_task(listed(servicer, COMMUNE, cursor))
        await asyncio.sleep(0.3)
        assert not listing.done()
    # Without waiting, the list would have given `late` alone and moved past `early`'s cursor.
    page = await listing
    assert [r.reference for r in page.requests] == [early, late]


async def test_get_answers_only_within_competence(
    sessions: async_sessionmaker[AsyncSession], servicer: AdministrationProceduresServicer
) -> None:
    reference = await submitted(sessions)
    got = await servicer.GetIncomingRequest(
        pb.GetIncomingRequestRequest(reference=reference.lower().replace("-", " ")), COMMUNE
    )
    assert got.request.reference == reference
    assert got.request.version == 2
    assert got.request.answers_json == '{"moving_date":"2026-12-01"}'

    draft = await submitted(sessions, state="draft")
    cancelled = await submitted(sessions, state="cancelled")
    unknown = generate_reference().display
    for who, asked, expected in (
        (JUSTICE, reference, (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")),
        (COMMUNE, unknown, (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")),
        (COMMUNE, draft, (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")),
        (COMMUNE, cancelled, (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")),
        (COMMUNE, "PR-1234", (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REFERENCE")),
        (by(None), reference, (grpc.StatusCode.UNAUTHENTICATED, "CLIENT_CERTIFICATE_REQUIRED")),
    ):
        refused = await refusal(
            servicer.GetIncomingRequest(pb.GetIncomingRequestRequest(reference=asked), who)
        )
        assert (refused.code, refused.reason) == expected, (who, asked)


# ---- status changes ----


async def test_a_status_change_moves_along_the_graph_is_recorded_and_announced(
    sessions: async_sessionmaker[AsyncSession],
    servicer: AdministrationProceduresServicer,
    wakes: Wakes,
) -> None:
    reference = await submitted(sessions, language="fr")

    moved = await servicer.ChangeStatus(change(reference, "in_review", 2, " looking "), COMMUNE)
    assert (moved.request.status, moved.request.version) == ("in_review", 3)
    assert moved.request.state == pb.REQUEST_STATE_SUBMITTED
    closed = await servicer.ChangeStatus(change(reference, "accepted", 3), COMMUNE)
    assert (closed.request.state, closed.request.version) == (pb.REQUEST_STATE_CLOSED, 4)

    request = await stored(sessions, reference)
    assert request.closed_at is not None
    assert await history(sessions, reference) == [
        ("submitted", "applicant", "received", "", []),
        ("status_changed", "commune", "in_review", "looking", []),
        ("status_changed", "commune", "accepted", "", []),
    ]
    changes = [
        events_pb2.RequestStatusChanged.FromString(message.payload)
        for message in await outbox(sessions)
    ]
    assert [(c.previous_status, c.status, c.notify) for c in changes] == [
        ("received", "in_review", False),
        ("in_review", "accepted", True),
    ]
    assert changes[1].status_text.startswith("Votre nouvelle adresse est enregistrée")
    assert changes[0].comment == "looking"
    assert changes[0].administration == "commune"
    assert changes[0].applicant.language == "fr"
    assert wakes.count == 2

    # An end status leads nowhere.
    refused = await refusal(servicer.ChangeStatus(change(reference, "rejected", 4), COMMUNE))
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "STATUS_TRANSITION_NOT_ALLOWED",
    )


@pytest.mark.parametrize(
    ("status", "version", "who", "expected"),
    [
        ("in_review", 1, COMMUNE, (grpc.StatusCode.ABORTED, "STALE_VERSION")),
        ("in_review", 3, COMMUNE, (grpc.StatusCode.ABORTED, "STALE_VERSION")),
        (
            "accepted",
            2,
            COMMUNE,
            (grpc.StatusCode.FAILED_PRECONDITION, "STATUS_TRANSITION_NOT_ALLOWED"),
        ),
        (
            "received",
            2,
            COMMUNE,
            (grpc.StatusCode.FAILED_PRECONDITION, "STATUS_TRANSITION_NOT_ALLOWED"),
        ),
        (
            "correction",
            2,
            COMMUNE,
            (grpc.StatusCode.FAILED_PRECONDITION, "CORRECTION_NEEDS_QUESTION"),
        ),
        ("archived", 2, COMMUNE, (grpc.StatusCode.INVALID_ARGUMENT, "UNKNOWN_STATUS")),
        ("in_review", 2, JUSTICE, (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")),
        (
            "in_review",
            2,
            by(None),
            (grpc.StatusCode.UNAUTHENTICATED, "CLIENT_CERTIFICATE_REQUIRED"),
        ),
    ],
)
async def test_a_refused_status_change_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
    servicer: AdministrationProceduresServicer,
    wakes: Wakes,
    status: str,
    version: int,
    who: Any,
    expected: tuple[grpc.StatusCode, str],
) -> None:
    reference = await submitted(sessions)
    before = await snapshot(sessions)
    refused = await refusal(servicer.ChangeStatus(change(reference, status, version), who))
    assert (refused.code, refused.reason) == expected
    assert await snapshot(sessions) == before
    assert wakes.count == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": ""}, "status"),
        ({"status": "In Review!"}, "status"),
        ({"expected_version": 0}, "expected_version"),
        ({"comment": "x" * 2001}, "comment"),
        ({"comment": "nul \x00 byte"}, "comment"),
    ],
)
async def test_a_malformed_status_change_is_refused_with_its_field(
    sessions: async_sessionmaker[AsyncSession],
    servicer: AdministrationProceduresServicer,
    fields: dict[str, Any],
    field: str,
) -> None:
    reference = await submitted(sessions)
    before = await snapshot(sessions)
    request = pb.ChangeStatusRequest(
        **{"reference": reference, "status": "in_review", "expected_version": 2, **fields}
    )
    refused = await refusal(servicer.ChangeStatus(request, COMMUNE))
    assert (refused.code, refused.reason, refused.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_STATUS_CHANGE",
        [field],
    )
    assert await snapshot(sessions) == before


async def test_two_changes_on_the_same_version_one_wins(
    sessions: async_sessionmaker[AsyncSession], servicer: AdministrationProceduresServicer
) -> None:
    reference = await submitted(sessions)
    results = await asyncio.gather(
        servicer.ChangeStatus(change(reference, "in_review", 2), COMMUNE),
        servicer.ChangeStatus(change(reference, "rejected", 2), COMMUNE),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, pb.ChangeStatusResponse)]
    lost = [r for r in results if isinstance(r, ServiceError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert (lost[0].code, lost[0].reason) == (grpc.StatusCode.ABORTED, "STALE_VERSION")
    assert lost[0].metadata == {"current_version": "3"}
    request = await stored(sessions, reference)
    assert (request.status, request.version) == (won[0].request.status, 3)
    assert len(await history(sessions, reference)) == 2
    assert len(await outbox(sessions)) == 1


# ---- corrections ----


async def test_a_correction_asked_waits_for_the_citizen_with_its_trace(
    sessions: async_sessionmaker[AsyncSession], servicer: AdministrationProceduresServicer
) -> None:
    reference = await submitted(sessions, language="en")
    await servicer.ChangeStatus(change(reference, "in_review", 2), COMMUNE)

    asked = await servicer.AskCorrection(
        pb.AskCorrectionRequest(
            reference=reference,
            field_ids=["moving_date", "new_address"],
            message="Please check the date.\nAnd the address.",
            expected_version=3,
        ),
        COMMUNE,
    )
    assert asked.request.state == pb.REQUEST_STATE_ACTION_NEEDED
    assert (asked.request.status, asked.request.version) == ("correction", 4)
    assert list(asked.request.asked_field_ids) == ["moving_date", "new_address"]
    request = await stored(sessions, reference)
    assert request.status_before_correction == "in_review"
    assert (await history(sessions, reference))[-1] == (
        "correction_asked",
        "commune",
        "correction",
        "Please check the date.\nAnd the address.",
        ["moving_date", "new_address"],
    )
    event = (await outbox(sessions))[-1]
    assert event.subject == "procedures.request.correction_asked.v1"
    correction = events_pb2.CorrectionAsked.FromString(event.payload)
    assert list(correction.field_ids) == ["moving_date", "new_address"]
    assert correction.applicant.language == "en"

    # Still visible while waiting; asking again is not a move the graph has.
    refused = await refusal(
        servicer.AskCorrection(
            pb.AskCorrectionRequest(reference=reference, message="Again", expected_version=4),
            COMMUNE,
        )
    )
    assert refused.reason == "STATUS_TRANSITION_NOT_ALLOWED"
    # Moving on withdraws the question.
    moved = await servicer.ChangeStatus(change(reference, "rejected", 4), COMMUNE)
    assert moved.request.state == pb.REQUEST_STATE_CLOSED
    assert list(moved.request.asked_field_ids) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"message": ""},
            (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CORRECTION_REQUEST", ["message"]),
        ),
        (
            {"message": "x" * 2001},
            (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CORRECTION_REQUEST", ["message"]),
        ),
        (
            {"expected_version": 0},
            (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CORRECTION_REQUEST", ["expected_version"]),
        ),
        (
            {"field_ids": ["moving_date", "moving_date"]},
            (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CORRECTION_REQUEST", ["field_ids[1]"]),
        ),
        (
            {"field_ids": ["moving_date", "shoe_size"]},
            (grpc.StatusCode.INVALID_ARGUMENT, "UNKNOWN_FIELD", ["field_ids[1]"]),
        ),
        ({"expected_version": 7}, (grpc.StatusCode.ABORTED, "STALE_VERSION", [])),
    ],
)
async def test_a_bad_correction_request_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
    servicer: AdministrationProceduresServicer,
    fields: dict[str, Any],
    expected: tuple[grpc.StatusCode, str, list[str]],
) -> None:
    reference = await submitted(sessions)
    before = await snapshot(sessions)
    request = pb.AskCorrectionRequest(
        **{"reference": reference, "message": "Please", "expected_version": 2, **fields}
    )
    refused = await refusal(servicer.AskCorrection(request, COMMUNE))
    assert (refused.code, refused.reason, refused.fields) == expected
    assert await snapshot(sessions) == before


async def test_a_correction_the_procedure_cannot_ask_or_not_from_here_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], servicer: AdministrationProceduresServicer
) -> None:
    plain = await submitted(sessions, NO_CORRECTION)
    checking = await submitted(sessions)
    await servicer.ChangeStatus(change(checking, "in_review", 2), COMMUNE)
    await servicer.ChangeStatus(change(checking, "residence_check", 3), COMMUNE)
    before = await snapshot(sessions)
    for reference, version, reason in (
        (plain, 2, "CORRECTION_NOT_OFFERED"),
        (checking, 4, "STATUS_TRANSITION_NOT_ALLOWED"),
    ):
        refused = await refusal(
            servicer.AskCorrection(
                pb.AskCorrectionRequest(
                    reference=reference, message="Please", expected_version=version
                ),
                COMMUNE,
            )
        )
        assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, reason)
    assert await snapshot(sessions) == before


# ---- notes ----


async def test_notes_go_to_the_history_without_moving_the_status(
    sessions: async_sessionmaker[AsyncSession], servicer: AdministrationProceduresServicer
) -> None:
    reference = await submitted(sessions)
    await servicer.AddNote(
        pb.AddNoteRequest(reference=reference, kind=pb.NOTE_KIND_MESSAGE, text="We got it."),
        COMMUNE,
    )
    noted = await servicer.AddNote(
        pb.AddNoteRequest(reference=reference, kind=pb.NOTE_KIND_DECISION, text="Granted."),
        COMMUNE,
    )
    assert (noted.request.status, noted.request.version) == ("received", 4)
    assert [(h.kind, h.text) for h in noted.request.history] == [
        ("submitted", ""),
        ("message", "We got it."),
        ("decision", "Granted."),
    ]
    assert await outbox(sessions) == []


@pytest.mark.parametrize(
    ("kind", "note", "who", "expected"),
    [
        (pb.NOTE_KIND_UNSPECIFIED, "Hello", COMMUNE, ("INVALID_NOTE", ["kind"])),
        (pb.NOTE_KIND_MESSAGE, "   ", COMMUNE, ("INVALID_NOTE", ["text"])),
        (pb.NOTE_KIND_MESSAGE, "x" * 4001, COMMUNE, ("INVALID_NOTE", ["text"])),
        (pb.NOTE_KIND_DECISION, "a\x00b", COMMUNE, ("INVALID_NOTE", ["text"])),
        (pb.NOTE_KIND_MESSAGE, "Hello", JUSTICE, ("REQUEST_NOT_FOUND", [])),
    ],
)
async def test_a_bad_note_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
    servicer: AdministrationProceduresServicer,
    kind: int,
    note: str,
    who: Any,
    expected: tuple[str, list[str]],
) -> None:
    reference = await submitted(sessions)
    before = await snapshot(sessions)
    refused = await refusal(
        servicer.AddNote(pb.AddNoteRequest(reference=reference, kind=kind, text=note), who)
    )
    assert (refused.reason, refused.fields) == expected
    assert await snapshot(sessions) == before


# ---- the stream ----


async def test_the_stream_sends_what_follows_the_cursor_then_each_new_submission(
    sessions: async_sessionmaker[AsyncSession], servicer: AdministrationProceduresServicer
) -> None:
    references = [await submitted(sessions) for _ in range(3)]
    first = (await listed(servicer, COMMUNE, page_size=1)).requests[0]

    stream = servicer.StreamIncomingRequests(
        pb.StreamIncomingRequestsRequest(after_cursor=first.cursor), COMMUNE
    )
    received = [(await anext(stream)).request.reference for _ in range(2)]
    assert received == references[1:]
    await submitted(sessions, EXTRACT)  # not the commune's
    later = await submitted(sessions)
    assert (await anext(stream)).request.reference == later
    await stream.aclose()
