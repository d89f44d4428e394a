"""GET /api/v1/notifications through the gateway: a person's own notifications with their channel
and delivery status, newest first, never another person's; the limit's bounds; no token → 401.
Every refusal an RFC 9457 problem."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from citizens import Registry
from notification_rows import record_for


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


async def test_a_person_sees_their_own_notifications_and_nobody_elses(
    api: httpx.AsyncClient, registry: Registry, messaging_database: str
) -> None:
    lea = await registry.register("Lea")
    paul = await registry.register("Paul")
    await record_for(
        messaging_database, lea.national_id, "PR-1", email=lea.email, phone="+352691000111"
    )
    await record_for(messaging_database, lea.national_id, "PR-2", email=lea.email)

    mine = await api.get("/api/v1/notifications", headers=lea.bearer())
    assert mine.status_code == 200
    rows = mine.json()["notifications"]
    assert sorted((row["reference"], row["channel"]) for row in rows) == [
        ("PR-1", "email"),
        ("PR-1", "sms"),
        ("PR-2", "email"),
    ]
    assert rows[0]["reference"] == "PR-2"  # the newest first
    assert {row["status"] for row in rows} == {"pending"}
    assert {row["recipient"] for row in rows} == {lea.email, "+352691000111"}

    # Another person's token sees none of Lea's.
    theirs = await api.get("/api/v1/notifications", headers=paul.bearer())
    assert theirs.status_code == 200
    assert theirs.json() == {"notifications": [], "next_page_token": ""}

    assert mine.json()["next_page_token"] == ""

    # A page at a time: each notification once, the newest first, no token after the last.
    first = (
        await api.get("/api/v1/notifications", params={"limit": 2}, headers=lea.bearer())
    ).json()
    assert [row["reference"] for row in first["notifications"]] == ["PR-2", "PR-1"]
    second = (
        await api.get(
            "/api/v1/notifications",
            params={"limit": 2, "page_token": first["next_page_token"]},
            headers=lea.bearer(),
        )
    ).json()
    assert [row["reference"] for row in second["notifications"]] == ["PR-1"]
    assert second["next_page_token"] == ""
    ids = [row["id"] for row in first["notifications"] + second["notifications"]]
    assert sorted(ids) == sorted(row["id"] for row in rows)
    # Lea's page token gives Paul nothing of hers.
    theirs_next = await api.get(
        "/api/v1/notifications",
        params={"page_token": first["next_page_token"]},
        headers=paul.bearer(),
    )
    assert theirs_next.json()["notifications"] == []


async def test_bad_limits_and_no_token_are_refused_as_problems(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    lea = await registry.register("Lea")
    for limit in ("0", "101", "many"):
        refused = await api.get(
            "/api/v1/notifications", params={"limit": limit}, headers=lea.bearer()
        )
        assert refused.status_code == 422, limit
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["reason"] == "VALIDATION_FAILED"
        assert "limit" in refused.json()["errors"][0]["field"]

    invented = await api.get(
        "/api/v1/notifications", params={"page_token": "nonsense"}, headers=lea.bearer()
    )
    assert invented.status_code == 422
    assert invented.headers["content-type"].startswith("application/problem+json")
    assert invented.json()["errors"][0]["field"].endswith("page_token")

    anonymous = await api.get("/api/v1/notifications")
    assert anonymous.status_code == 401
    assert anonymous.json()["reason"] == "AUTHENTICATION_REQUIRED"
