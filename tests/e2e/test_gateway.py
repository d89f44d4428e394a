"""The gateway's own contract: health of every dependency, correlation ids, OpenAPI, rate limit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from launcher import Launcher
from stack import Stack

from guichet_testkit.altcha import solved_challenge
from guichet_testkit.processes import free_port


async def test_healthz_reports_every_dependency_up(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert response.json() == {
        "status": "up",
        "dependencies": {
            "etracking": "up",
            "identity": "up",
            "wallet": "up",
            "procedures": "up",
            "authentic-data": "up",
            "keycloak": "up",
            "nats": "up",
            "minio": "up",
        },
    }
    assert response.status_code == 200


async def test_healthz_says_down_when_a_service_is_unreachable(
    launcher: Launcher, stack: Stack
) -> None:
    gateway = await launcher.gateway(f"127.0.0.1:{free_port()}", burst=10, name="gateway-orphan")
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{gateway.address}/healthz")
    finally:
        gateway.process.stop()
    assert response.status_code == 503
    assert response.json()["dependencies"]["etracking"] == "down"
    assert response.json()["dependencies"]["identity"] == "up"


async def test_a_given_correlation_id_is_echoed_and_one_is_made_otherwise(
    api: httpx.AsyncClient,
) -> None:
    mine = str(uuid.uuid4())
    echoed = await api.get("/api/v1/etracking/paper-forms", headers={"X-Correlation-Id": mine})
    assert echoed.headers["x-correlation-id"] == mine
    made = await api.get("/api/v1/etracking/paper-forms")
    assert uuid.UUID(made.headers["x-correlation-id"])


async def test_openapi_operation_ids_are_stable(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    ids = {
        operation["operationId"] for path in spec["paths"].values() for operation in path.values()
    }
    assert {
        "etracking-list_paper_forms",
        "etracking-create_tracking",
        "etracking-lookup_tracking",
        "etracking-get_tracking_sheet",
        "health-healthz",
    } <= ids


@pytest.fixture
async def strict_gateway(launcher: Launcher, stack: Stack) -> AsyncIterator[str]:
    gateway = await launcher.gateway(stack.etracking_address, burst=3, name="gateway-strict")
    yield gateway.address
    gateway.process.stop()


async def test_public_lookup_is_rate_limited_with_a_problem_and_retry_after(
    strict_gateway: str, api: httpx.AsyncClient
) -> None:
    body = {"paper_form_code": "CAE-AF-01", "altcha": await solved_challenge(api)}
    number = (await api.post("/api/v1/etracking/trackings", json=body)).json()["number"]
    async with httpx.AsyncClient(base_url=strict_gateway) as client:
        statuses = [
            (await client.get(f"/api/v1/etracking/trackings/{number}")).status_code
            for _ in range(3)
        ]
        limited = await client.get(
            f"/api/v1/etracking/trackings/{number}", headers={"Accept-Language": "de"}
        )
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["reason"] == "LOOKUPS_RATE_LIMITED"
    assert limited.json()["title"].startswith("Zu viele Abfragen")


async def test_anti_robot_challenges_are_rate_limited(strict_gateway: str) -> None:
    # Each challenge costs the gateway a key derivation: a flood of them is refused early.
    async with httpx.AsyncClient(base_url=strict_gateway) as client:
        statuses = [(await client.get("/api/v1/challenge")).status_code for _ in range(3)]
        limited = await client.get("/api/v1/challenge", headers={"Accept-Language": "de"})
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["reason"] == "CHALLENGES_RATE_LIMITED"
    assert limited.json()["title"].startswith("Zu viele")
