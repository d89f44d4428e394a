"""The anti-robot check (ALTCHA proof of work) of the requests anyone may send: registration,
forgotten password and eTracking creation without a sign-in. A missing, forged, expired or
reused solution is refused with a problem naming the `altcha` field, and nothing is created:
no login in the sign-in service, no tracking row, no event."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from citizens import Citizen, Registry, fresh_national_id
from stack import Counts

from guichet_testkit.altcha import signed_challenge, solve, solved_challenge

Forge = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[tuple[str, str]]]


async def _missing(api: httpx.AsyncClient, infra: dict[str, str]) -> tuple[str, str]:
    return "", "missing"


async def _expired(api: httpx.AsyncClient, infra: dict[str, str]) -> tuple[str, str]:
    # Signed with the gateway's own key and solved: only its time is over.
    past = datetime.now(UTC) - timedelta(seconds=1)
    return solve(signed_challenge(infra["GUICHET_GATEWAY_ALTCHA_HMAC_KEY"], past)), "expired"


async def _another_key(api: httpx.AsyncClient, infra: dict[str, str]) -> tuple[str, str]:
    later = datetime.now(UTC) + timedelta(minutes=5)
    return solve(signed_challenge("not the gateway's key", later)), "invalid"


async def _wrong_solution(api: httpx.AsyncClient, infra: dict[str, str]) -> tuple[str, str]:
    challenge = (await api.get("/api/v1/challenge")).json()
    document = json.loads(base64.b64decode(solve(challenge)))
    document["solution"] = {"counter": 0, "derivedKey": "00" * 32}
    return base64.b64encode(json.dumps(document).encode()).decode(), "invalid"


async def _longer_life(api: httpx.AsyncClient, infra: dict[str, str]) -> tuple[str, str]:
    document = json.loads(base64.b64decode(await solved_challenge(api)))
    document["challenge"]["parameters"]["expiresAt"] += 86_400
    return base64.b64encode(json.dumps(document).encode()).decode(), "invalid"


async def _widget_test_mode(api: httpx.AsyncClient, infra: dict[str, str]) -> tuple[str, str]:
    # What the widget sends in its test mode: no challenge at all.
    fake = {"challenge": None, "solution": None, "test": True}
    return base64.b64encode(json.dumps(fake).encode()).decode(), "invalid"


BAD_SOLUTIONS = {
    "missing": _missing,
    "expired": _expired,
    "another-key": _another_key,
    "wrong-solution": _wrong_solution,
    "longer-life": _longer_life,
    "widget-test-mode": _widget_test_mode,
}


def assert_refused(response: httpx.Response, why: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["reason"] == "ANTI_ROBOT_CHECK_FAILED"
    assert problem["errors"] == [
        {"field": "altcha", "reason": why, "message": problem["errors"][0]["message"]}
    ]
    assert problem["errors"][0]["message"]


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


def registration(altcha: str | None) -> dict[str, str]:
    body = {
        "national_id": fresh_national_id(),
        "email": f"robot.{uuid.uuid4().hex[:10]}@example.lu",
        "password": "correct horse battery staple",
        "first_name": "Robo",
        "last_name": "Ter",
        "language": "en",
    }
    if altcha is not None:
        body["altcha"] = altcha
    return body


async def logins_for(registry: Registry, email: str) -> list[dict[str, Any]]:
    return await asyncio.to_thread(registry.admin().get_users, {"email": email, "exact": True})


async def test_a_challenge_is_fresh_each_time_and_made_for_the_widget(
    api: httpx.AsyncClient,
) -> None:
    first, second = [(await api.get("/api/v1/challenge")).json() for _ in range(2)]
    assert first["signature"] != second["signature"]
    assert first["parameters"]["algorithm"] == "PBKDF2/SHA-256"
    lifetime = first["parameters"]["expiresAt"] - datetime.now(UTC).timestamp()
    assert 60 < lifetime <= 300


@pytest.mark.parametrize("bad", BAD_SOLUTIONS)
async def test_a_registration_without_a_good_solution_is_refused_and_creates_no_login(
    api: httpx.AsyncClient, infra: dict[str, str], registry: Registry, bad: str
) -> None:
    altcha, why = await BAD_SOLUTIONS[bad](api, infra)
    body = registration(altcha)
    assert_refused(await api.post("/api/v1/accounts", json=body), why)
    assert await logins_for(registry, body["email"]) == []


async def test_a_registration_without_the_field_is_refused_naming_it(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    body = registration(None)
    response = await api.post("/api/v1/accounts", json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["altcha"]
    assert await logins_for(registry, body["email"]) == []


async def test_a_solution_serves_one_registration_only(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    altcha = await solved_challenge(api)
    first = registration(altcha)
    created = await api.post("/api/v1/accounts", json=first)
    assert created.status_code == 201, created.text
    # Removed from the sign-in service after the test, as the registry's own citizens are.
    registry.created.append(
        Citizen(first["email"], first["password"], first["national_id"], "Robo", "Ter")
    )
    again = registration(altcha)
    assert_refused(await api.post("/api/v1/accounts", json=again), "reused")
    assert await logins_for(registry, again["email"]) == []


@pytest.mark.parametrize("bad", BAD_SOLUTIONS)
async def test_a_password_reset_without_a_good_solution_is_refused(
    api: httpx.AsyncClient, infra: dict[str, str], bad: str
) -> None:
    altcha, why = await BAD_SOLUTIONS[bad](api, infra)
    response = await api.post(
        "/api/v1/accounts/password-reset",
        json={"email": "nobody-here@example.lu", "altcha": altcha},
    )
    assert_refused(response, why)


async def test_a_solution_serves_one_password_reset_only(api: httpx.AsyncClient) -> None:
    body = {"email": "nobody-here@example.lu", "altcha": await solved_challenge(api)}
    assert (await api.post("/api/v1/accounts/password-reset", json=body)).status_code == 202
    assert_refused(await api.post("/api/v1/accounts/password-reset", json=body), "reused")


TRACKING = {"paper_form_code": "ACD-IR-100", "language": "en"}


@pytest.mark.parametrize("bad", BAD_SOLUTIONS)
async def test_an_anonymous_tracking_without_a_good_solution_is_refused_and_not_stored(
    api: httpx.AsyncClient, infra: dict[str, str], counts: Counts, bad: str
) -> None:
    altcha, why = await BAD_SOLUTIONS[bad](api, infra)
    before = await counts.snapshot()
    body = {**TRACKING, "altcha": altcha} if altcha else TRACKING
    assert_refused(await api.post("/api/v1/etracking/trackings", json=body), why)
    assert await counts.snapshot() == before


async def test_a_solution_serves_one_anonymous_tracking_only(
    api: httpx.AsyncClient, counts: Counts
) -> None:
    body = {**TRACKING, "altcha": await solved_challenge(api)}
    assert (await api.post("/api/v1/etracking/trackings", json=body)).status_code == 201
    before = await counts.snapshot()
    assert_refused(await api.post("/api/v1/etracking/trackings", json=body), "reused")
    assert await counts.snapshot() == before


async def test_a_signed_in_creation_needs_no_challenge(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne = await registry.register("Anne")
    created = await api.post("/api/v1/etracking/trackings", json=TRACKING, headers=anne.bearer())
    assert created.status_code == 201, created.text
