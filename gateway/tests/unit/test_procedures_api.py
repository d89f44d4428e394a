"""The procedures API's shaping (the service's messages → the API's JSON) and the refusals the
gateway gives on its own, before the procedures service is asked (it is not running here)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from google.protobuf.timestamp_pb2 import Timestamp

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_gateway import procedures
from guichet_gateway.app import create_app
from guichet_gateway.settings import GatewaySettings
from guichet_kit.problems import MEDIA_TYPE, Problem
from guichet_testkit.processes import free_port

REQUEST_ID = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
VERIFY = "/api/v1/procedures/proofs/verification"


def _request(**fields: object) -> pb.Request:
    defaults: dict[str, object] = {
        "id": REQUEST_ID,
        "procedure_code": "change-of-address",
        "procedure_version": 2,
        "title": "Change of address",
        "state": pb.REQUEST_STATE_DRAFT,
        "answers_json": json.dumps({"move_kind": "within", "members": [{"first_name": "Léa"}]}),
        "created_at": Timestamp(seconds=1_900_000_000),
    }
    return pb.Request(**{**defaults, **fields})  # type: ignore[arg-type]


def test_a_draft_answers_its_answers_as_an_object_and_has_no_proof_yet() -> None:
    out = procedures.request_out(
        _request(
            steps=[
                pb.StepState(
                    id="move",
                    title="My move",
                    applicable=True,
                    complete=True,
                    answers=[pb.FieldAnswer(field_id="move_kind", label="Kind", display="Within")],
                )
            ],
            next_step="household",
        )
    )
    body = out.model_dump(mode="json")
    assert body["answers"] == {"move_kind": "within", "members": [{"first_name": "Léa"}]}
    assert body["state"] == "draft"
    assert body["reference"] == ""
    assert body["proof_url"] == ""
    assert body["url"] == f"/api/v1/me/requests/{REQUEST_ID}"
    assert body["created_at"] == "2030-03-17T17:46:40Z"
    assert body["submitted_at"] is None and body["expires_at"] is None
    assert body["steps"][0]["answers"] == [
        {"field_id": "move_kind", "label": "Kind", "display": "Within"}
    ]
    assert body["next_step"] == "household"


@pytest.mark.parametrize(
    ("state", "word"),
    [
        (pb.REQUEST_STATE_SUBMITTED, "submitted"),
        (pb.REQUEST_STATE_ACTION_NEEDED, "action_needed"),
        (pb.REQUEST_STATE_CLOSED, "closed"),
        (pb.REQUEST_STATE_CANCELLED, "cancelled"),
        (pb.REQUEST_STATE_EXPIRED, "expired"),
    ],
)
def test_a_request_says_its_state_in_a_word_and_where_its_proof_is(
    state: pb.RequestState.ValueType, word: str
) -> None:
    out = procedures.request_out(
        _request(
            state=state,
            reference="PR-7K3M-9QX2-P",
            history=[pb.HistoryEntry(kind="submitted", actor="applicant", status="received")],
        )
    )
    assert out.state == word
    assert out.proof_url == f"/api/v1/me/requests/{REQUEST_ID}/proof"
    assert [(h.kind, h.actor, h.status) for h in out.history] == [
        ("submitted", "applicant", "received")
    ]


def test_a_list_entry_carries_no_answers() -> None:
    entry = procedures.request_summary_out(_request()).model_dump()
    assert "answers" not in entry and "steps" not in entry and "history" not in entry
    assert entry["id"] == REQUEST_ID


def test_a_form_gives_its_conditions_as_json_and_its_groups_with_their_fields() -> None:
    condition = {"eq": [{"field": "move_kind"}, "abroad"]}
    form = pb.ProcedureForm(
        procedure=pb.ProcedureSummary(
            code="change-of-address",
            version=3,
            audiences=[pb.AUDIENCE_CITIZEN, pb.AUDIENCE_COMPANY],
            channel=pb.CHANNEL_ONLINE,
            login_required=True,
            level="low",
        ),
        steps=[
            pb.Step(
                id="household",
                title="My household",
                when_json=json.dumps({"not": {"field": "moving_alone"}}),
                fields=[
                    pb.Field(
                        id="members",
                        type="group",
                        visible_json=json.dumps(condition),
                        max_items=12,
                        fields=[pb.Field(id="first_name", type="text", required=True)],
                    )
                ],
            )
        ],
        statuses=[pb.StatusDefinition(code="received", next=["in_review"], cancellable=True)],
    )
    out = procedures.form_out(form).model_dump(mode="json")
    assert out["version"] == 3
    assert out["procedure"]["audiences"] == ["citizen", "company"]
    assert out["procedure"]["channel"] == "online"
    assert out["procedure"]["form_url"] == "/api/v1/procedures/change-of-address"
    assert out["schema_url"] == "/api/v1/procedures/change-of-address/versions/3/schema"
    (step,) = out["steps"]
    assert step["when"] == {"not": {"field": "moving_alone"}}
    (members,) = step["fields"]
    assert members["visible"] == condition
    assert members["required_if"] is None
    assert [f["id"] for f in members["fields"]] == ["first_name"]
    assert out["statuses"][0]["next"] == ["in_review"]


def test_a_paper_procedure_names_its_paper_form() -> None:
    out = procedures.summary_out(
        pb.ProcedureSummary(code="income-tax-return", channel=pb.CHANNEL_PAPER, paper_form_code="X")
    )
    assert (out.channel, out.paper_form_code) == ("paper", "X")


def test_answers_go_to_the_service_as_json_text_without_nan() -> None:
    assert json.loads(procedures.answers_json({"a": 1.5, "b": "é"})) == {"a": 1.5, "b": "é"}
    with pytest.raises(Problem) as refused:
        procedures.answers_json({"amount": float("nan")})
    assert (refused.value.status, refused.value.errors[0].field) == (422, "body")


# --- what the gateway refuses itself ---------------------------------------------------------


@pytest.fixture
def client(infra: dict[str, str]) -> Iterator[TestClient]:
    nowhere = f"127.0.0.1:{free_port()}"
    settings = GatewaySettings(
        keycloak_issuer=f"https://{nowhere}/realms/guichet",
        nats_url=infra["GUICHET_NATS_URL"],
        etracking_address=nowhere,
        identity_address=nowhere,
        procedures_address=nowhere,
        database_url=f"postgresql+asyncpg://guichet@{nowhere}/gateway",
        log_json=False,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _problem(response: object, status: int, reason: str = "VALIDATION_FAILED") -> dict:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == MEDIA_TYPE  # type: ignore[attr-defined]
    body: dict = response.json()  # type: ignore[attr-defined]
    assert body["reason"] == reason
    return body


def test_a_submission_without_an_idempotency_key_is_a_bad_request(client: TestClient) -> None:
    response = client.post(
        f"/api/v1/me/requests/{REQUEST_ID}/submission", headers={"Accept-Language": "en"}
    )
    body = _problem(response, 400)
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert body["errors"][0]["reason"] == "missing"
    assert "Idempotency-Key" in body["errors"][0]["message"]


@pytest.mark.parametrize("key", ["short", "has spaces in it", "x" * 129])
def test_a_malformed_idempotency_key_is_refused(client: TestClient, key: str) -> None:
    response = client.post(
        f"/api/v1/me/requests/{REQUEST_ID}/submission", headers={"Idempotency-Key": key}
    )
    body = _problem(response, 422)
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert key not in response.text


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/procedures/Not_A_Code", "code"),
        ("/api/v1/procedures/change-of-address/versions/0", "version"),
        ("/api/v1/procedures/change-of-address/versions/x/schema", "version"),
        ("/api/v1/procedures?page_size=1000", "page_size"),
        ("/api/v1/procedures?audience=robots", "audience"),
        ("/api/v1/procedures?q=%00", "q"),
        ("/api/v1/procedures?theme=Housing%20", "theme"),
    ],
)
def test_a_malformed_catalogue_request_names_its_field(
    client: TestClient, path: str, field: str
) -> None:
    body = _problem(client.get(path), 422)
    assert [e["field"] for e in body["errors"]] == [field]


def test_a_json_body_over_the_gateways_bound_is_refused(client: TestClient) -> None:
    response = client.put(
        f"/api/v1/me/requests/{REQUEST_ID}/steps/move",
        content=json.dumps({"remarks": "x" * 1_000_000}),
        headers={"Content-Type": "application/json"},
    )
    _problem(response, 413, "REQUEST_TOO_LARGE")


def test_a_proof_to_check_must_be_a_pdf_within_its_bound(client: TestClient) -> None:
    wrong_type = client.post(VERIFY, content=b"%PDF-1.7", headers={"Content-Type": "text/plain"})
    assert _problem(wrong_type, 415)["errors"][0]["field"] == "Content-Type"
    empty = client.post(VERIFY, content=b"", headers={"Content-Type": "application/pdf"})
    assert _problem(empty, 422)["errors"][0]["field"] == "body"
    announced = client.post(
        VERIFY,
        content=b"%PDF" + bytes(procedures.PROOF_MAX_BYTES),
        headers={"Content-Type": "application/pdf"},
    )
    _problem(announced, 413, "REQUEST_TOO_LARGE")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(procedures.PROOF_MAX_BYTES // 65536 + 2):
            yield bytes(65536)

    streamed = client.post(VERIFY, content=chunks(), headers={"Content-Type": "application/pdf"})
    _problem(streamed, 413, "REQUEST_TOO_LARGE")


def test_a_proof_above_the_json_bound_reaches_the_service(client: TestClient) -> None:
    """A proof may be larger than the gateway's bound for JSON bodies, and come as plain bytes:
    it is not refused for that (here the service is down, so the answer says so)."""
    for media_type in ("application/pdf", "application/octet-stream"):
        response = client.post(
            VERIFY, content=b"%PDF" + bytes(200_000), headers={"Content-Type": media_type}
        )
        _problem(response, 503, "DEPENDENCY_UNAVAILABLE")


def test_a_procedure_taking_no_request_says_so_and_why() -> None:
    opens = Timestamp(seconds=1_785_535_200)  # 2026-08-01T00:00+02:00
    procedure = pb.ProcedureSummary(
        code="student-financial-aid",
        channel=pb.CHANNEL_ONLINE,
        quota_reached=True,
        availability_message="Les demandes sont prises à partir du 1er août 2026.",
        opens_at=opens,
    )
    out = procedures.summary_out(procedure)
    assert out.quota_reached is True
    assert out.availability_message == "Les demandes sont prises à partir du 1er août 2026."
    assert out.opens_at is not None and out.opens_at.timestamp() == 1_785_535_200
    assert out.closes_at is None
    assert procedures.summary_out(pb.ProcedureSummary(code="x")).quota_reached is False
