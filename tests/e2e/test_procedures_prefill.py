"""Prefill with provenance and consent (F24) through the gateway, on the real services: a citizen
entered in the national register sees what a change of address would be prefilled with (the
register's address, the profile's e-mail), from which source and when, and that read is in their
access log; nothing is written until they accept; accepted, the answers carry the values and the
request says where each came from. A locked value (student aid's birth date) cannot be changed.
Every refusal is a problem document that changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from citizens import Citizen, Registry

MY_REQUESTS = "/api/v1/me/requests"
PROBLEM = "application/problem+json"


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


def _problem(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["reason"]) == (status, reason), body
    assert body["title"]
    return body


async def _draft(api: httpx.AsyncClient, code: str, headers: dict[str, str]) -> dict[str, Any]:
    created = await api.post(f"/api/v1/procedures/{code}/drafts", headers=headers)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def _request(api: httpx.AsyncClient, request_id: str, headers: dict[str, str]) -> Any:
    response = await api.get(f"{MY_REQUESTS}/{request_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_citizen_sees_what_would_be_prefilled_consents_and_the_read_is_in_the_log(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne: Citizen = await registry.register("Anne")
    await registry.enter_in_registers(anne)
    headers = {**anne.bearer(), "Accept-Language": "en"}
    draft = await _draft(api, "change-of-address", headers)
    url = f"{MY_REQUESTS}/{draft['id']}"

    preview = await api.get(f"{url}/prefill", headers=headers)

    assert preview.status_code == 200, preview.text
    address, email = preview.json()["fields"]
    assert (address["field_id"], address["source"], address["source_name"]) == (
        "previous_address",
        "register",
        "National register of natural persons",
    )
    assert address["value"]["locality"] == "Luxembourg" and address["available"]
    assert address["read_at"] and not address["locked"]
    assert (email["field_id"], email["source"], email["source_name"]) == (
        "email",
        "profile",
        "Your profile",
    )
    assert (email["value"], email["value_display"]) == (anne.email, anne.email)
    # Nothing written to the draft; the register read is in Anne's access log.
    untouched = await _request(api, draft["id"], headers)
    assert (untouched["answers"], untouched["prefill_decision"]) == ({}, "")
    log = await api.get("/api/v1/me/data/accesses?lang=en&limit=1", headers=anne.bearer())
    assert log.status_code == 200, log.text
    [read] = log.json()["accesses"]
    assert (read["accessor_kind"], read["accessor"], read["purpose"]) == (
        "platform_service",
        "procedures",
        "procedures:prefill:change-of-address",
    )
    assert (read["fields"], read["request_reference"]) == (
        ["person.address"],
        f"procedures:{draft['id']}",
    )

    # A body that is not {"accept": true|false} is refused; nothing changes.
    for body in ({"accept": "yes"}, {}, {"accept": True, "also": 1}):
        refused = await api.post(f"{url}/prefill-consent", headers=headers, json=body)
        _problem(refused, 422, "VALIDATION_FAILED")
    assert await _request(api, draft["id"], headers) == untouched

    accepted = await api.post(f"{url}/prefill-consent", headers=headers, json={"accept": True})

    assert accepted.status_code == 200, accepted.text
    request = accepted.json()
    assert request["prefill_decision"] == "accepted"
    assert request["answers"]["email"] == anne.email
    assert request["answers"]["previous_address"] == address["value"]
    assert [(f["field_id"], f["source"]) for f in request["prefilled"]] == [
        ("previous_address", "register"),
        ("email", "profile"),
    ]
    # Someone else's draft is unknown to them.
    bob = await registry.register("Bob")
    for call in (
        api.get(f"{url}/prefill", headers=bob.bearer()),
        api.post(f"{url}/prefill-consent", headers=bob.bearer(), json={"accept": True}),
    ):
        _problem(await call, 404, "REQUEST_NOT_FOUND")


async def test_a_locked_prefilled_value_cannot_be_changed(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne = await registry.register("Anne")
    await registry.enter_in_registers(anne)
    await registry.step_up_to_substantial(anne)
    headers = {**anne.bearer("substantial"), "Accept-Language": "en"}
    draft = await _draft(api, "student-financial-aid", headers)
    url = f"{MY_REQUESTS}/{draft['id']}"

    accepted = await api.post(f"{url}/prefill-consent", headers=headers, json={"accept": True})

    assert accepted.status_code == 200, accepted.text
    assert [(f["field_id"], f["locked"]) for f in accepted.json()["prefilled"]] == [
        ("birth_date", True),
        ("email", False),
    ]
    before = await _request(api, draft["id"], headers)
    changed = await api.put(
        f"{url}/steps/student",
        headers=headers,
        json={"birth_date": "2004-04-04", "resident": True, "lives_with_parents": True,
              "own_income": "0.00"},
    )  # fmt: skip
    body = _problem(changed, 422, "FIELD_LOCKED")
    assert [error["field"] for error in body["errors"]] == ["birth_date"]
    assert await _request(api, draft["id"], headers) == before
