"""What the gateway refuses on its own, before any service is asked: each refusal a problem that
says why, with the headers HTTP wants, and never a copy of the caller's unbounded input.

The services are not running here: every request below is refused by the gateway itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from guichet_gateway.app import create_app
from guichet_gateway.settings import GatewaySettings
from guichet_gateway.web.pages import error_page
from guichet_kit.errors import ServiceError
from guichet_kit.i18n import Catalog, Language
from guichet_kit.problems import MEDIA_TYPE, Problem, problem_from_rpc_error
from guichet_testkit.processes import free_port

SPACE = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
BAD_REGISTRATION = {"national_id": "12", "email": "x", "password": "", "first_name": "A"}
BAD_TRACKING = {"paper_form_code": "NOT A CODE"}


@pytest.fixture
def client(infra: dict[str, str]) -> Iterator[TestClient]:
    nowhere = f"127.0.0.1:{free_port()}"
    settings = GatewaySettings(
        keycloak_issuer=f"https://{nowhere}/realms/guichet",
        nats_url=infra["GUICHET_NATS_URL"],  # the gateway follows account deletions
        etracking_address=nowhere,
        identity_address=nowhere,
        database_url=f"postgresql+asyncpg://guichet@{nowhere}/gateway",  # no page here needs it
        lookup_burst=2,
        account_burst=2,
        creation_burst=2,
        max_body_bytes=4096,
        log_json=False,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_method_the_path_does_not_have_is_405_with_every_method_it_has(
    client: TestClient,
) -> None:
    response = client.delete(f"/api/v1/spaces/{SPACE}")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH"
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json()["reason"] == "METHOD_NOT_ALLOWED"


def test_a_body_beyond_the_bound_is_refused_while_it_is_read(client: TestClient) -> None:
    response = client.post("/api/v1/accounts", content=b'{"national_id": "' + b"1" * 5000 + b'"}')
    assert response.status_code == 413
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json()["reason"] == "REQUEST_TOO_LARGE"


@pytest.mark.parametrize(
    ("method", "path", "body", "reason", "title"),
    [
        ("GET", "/api/v1/etracking/trackings/nope", None, "LOOKUPS_RATE_LIMITED", "lookups"),
        ("POST", "/api/v1/accounts", BAD_REGISTRATION, "REGISTRATIONS_RATE_LIMITED", "account"),
        ("POST", "/api/v1/etracking/trackings", BAD_TRACKING, "CREATIONS_RATE_LIMITED", "track"),
    ],
)
def test_each_family_of_routes_has_its_own_limit_reason_and_title(
    client: TestClient, method: str, path: str, body: dict | None, reason: str, title: str
) -> None:
    assert [client.request(method, path, json=body).status_code for _ in range(2)] == [422, 422]
    limited = client.request(method, path, json=body, headers={"Accept-Language": "en"})
    assert limited.status_code == 429
    assert limited.json()["reason"] == reason
    assert title in limited.json()["title"]
    assert int(limited.headers["retry-after"]) >= 1
    # The other families still have their whole burst.
    others = [
        ("GET", "/api/v1/etracking/trackings/nope", None),
        ("POST", "/api/v1/accounts", BAD_REGISTRATION),
        ("POST", "/api/v1/etracking/trackings", BAD_TRACKING),
    ]
    for other_method, other_path, other_body in others:
        if other_path != path or other_method != method:
            response = client.request(other_method, other_path, json=other_body)
            assert response.status_code == 422, (other_method, other_path)


def test_a_mistyped_tracking_number_is_refused_as_one_before_any_lookup(
    client: TestClient,
) -> None:
    response = client.get(
        "/api/v1/etracking/trackings/ET-7K3M-9QX", headers={"Accept-Language": "de"}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["reason"] == "INVALID_TRACKING_NUMBER"
    assert problem["errors"] == [
        {
            "field": "number",
            "reason": "format",
            "message": problem["errors"][0]["message"],
        }
    ]
    assert problem["errors"][0]["message"] == "Eine eTracking-Nummer hat die Form ET-XXXX-XXXX-C."


def test_a_malformed_acting_context_is_refused_without_being_repeated(client: TestClient) -> None:
    context = "company:" + "x" * 3000
    response = client.post(
        "/api/v1/etracking/trackings",
        json={"paper_form_code": "ACD-IR-100"},
        headers={"X-Acting-Context": context},
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "INVALID_ACTING_CONTEXT"
    assert "x" * 100 not in response.text


def test_acting_for_someone_needs_a_token(client: TestClient) -> None:
    response = client.post(
        "/api/v1/etracking/trackings",
        json={"paper_form_code": "ACD-IR-100"},
        headers={"X-Acting-Context": f"company:{SPACE}"},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["reason"] == "AUTHENTICATION_REQUIRED"


def test_a_name_with_control_characters_is_refused_with_its_reason(client: TestClient) -> None:
    response = client.post(
        "/api/v1/accounts", json={**BAD_REGISTRATION, "first_name": "Anne\u202eeciL"}
    )
    assert response.status_code == 422
    errors = {error["field"]: error["reason"] for error in response.json()["errors"]}
    assert errors["first_name"] == "control_character"


def test_no_problem_repeats_unbounded_input(client: TestClient) -> None:
    huge_key = "k" * 1500
    response = client.post(
        "/api/v1/accounts",
        json={huge_key: 1, "national_id": "9" * 1500, "email": "e" * 1000, "password": "p"},
    )
    assert response.status_code == 422
    assert "9" * 50 not in response.text
    assert "e" * 50 not in response.text
    path = client.get("/api/v1/etracking/trackings/" + "E" * 3000)
    assert path.status_code == 422
    assert len(path.json()["instance"]) <= 500


def received(
    status: grpc.Status | None, code: grpc.StatusCode, details: str
) -> grpc.aio.AioRpcError:
    """What the gateway gets back from a call: a status and its trailing metadata."""
    trailing = grpc.aio.Metadata(*status.trailing_metadata) if status else grpc.aio.Metadata()
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details=details)


def test_a_transport_limit_of_grpc_is_an_upstream_failure_not_too_many_requests() -> None:
    problem = problem_from_rpc_error(
        received(
            None, grpc.StatusCode.RESOURCE_EXHAUSTED, "received metadata size exceeds hard limit"
        )
    )
    assert (problem.status, problem.reason, problem.detail) == (502, "UPSTREAM_FAILED", "")


def test_a_limit_a_service_gives_on_purpose_is_429_with_retry_after() -> None:
    status = ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED, "QUOTA_REACHED", "quota").to_status()
    problem = problem_from_rpc_error(received(status, status.code, status.details))
    assert (problem.status, problem.reason) == (429, "QUOTA_REACHED")
    assert int(problem.headers["Retry-After"]) >= 1


def test_an_outage_without_a_reason_says_so_and_nothing_more() -> None:
    problem = problem_from_rpc_error(
        received(None, grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")
    )
    assert (problem.status, problem.reason, problem.detail) == (503, "DEPENDENCY_UNAVAILABLE", "")
    timeout = problem_from_rpc_error(received(None, grpc.StatusCode.DEADLINE_EXCEEDED, "late"))
    assert (timeout.status, timeout.reason) == (504, "DEPENDENCY_TIMEOUT")


def test_an_error_names_the_field_and_nothing_else(client: TestClient) -> None:
    response = client.post(
        "/api/v1/etracking/trackings",
        json={"paper_form_code": "ACD-IR-100", "email": "x" * 400 + "@example.lu"},
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["email"]


def test_a_form_sent_without_its_token_is_the_form_expired_page(client: TestClient) -> None:
    response = client.post("/account/register?lang=de", data={"email": "a@example.lu"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    expired = Catalog("guichet_gateway").gettext("This form has expired", Language.DE)
    assert expired != "This form has expired"
    assert f'<h1 class="usa-alert__heading">{expired}</h1>' in response.text


@pytest.mark.parametrize(
    ("reason", "title"),
    [
        ("ACTING_CONTEXT_NOT_ALLOWED", "Not available while acting for someone else"),
        ("SOMETHING_ELSE_FORBIDDEN", "Not allowed"),
    ],
)
def test_a_refusal_of_a_page_says_what_was_refused(
    client: TestClient, reason: str, title: str
) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/my/notifications",
        "query_string": b"lang=en",
        "headers": [],
        "app": client.app,
    }
    shown = error_page(Request(scope), Problem(403, reason))
    assert shown is not None
    assert shown.status_code == 403
    assert f'<h1 class="usa-alert__heading">{title}</h1>' in bytes(shown.body).decode()
