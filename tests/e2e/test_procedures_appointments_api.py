"""Appointments (F32) through the gateway's API on the running stack: the commune opens slots (its
back office, over mutual TLS); a citizen lists the free ones of her draft, holds one, submits
(booked), downloads the iCalendar file, moves the booking and cancels it. Every refusal is a
problem document that changes nothing: another person's token, a mandate that only reads, a full
slot, a hold that lapsed, bad ids.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from citizens import Citizen, Registry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from stack import Stack

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc
from guichet_kit.grpc_client import mutual_tls_channel

if TYPE_CHECKING:  # the async stub types exist only in the generated .pyi
    AdminStub = pb_grpc.AdministrationProceduresServiceAsyncStub

CODE = "residence-certificate"  # the commune's; collection at the counter by appointment
MY_REQUESTS = "/api/v1/me/requests"
PROBLEM = "application/problem+json"
ANSWERS = {
    "certificate": {"certificate_type": "simple", "purpose": "employer", "copies": 1},
    "delivery": {"delivery_mode": "counter"},
}


@pytest.fixture
async def commune(stack: Stack) -> AsyncIterator[AdminStub]:
    certificates = stack.pki / "administrations"
    async with mutual_tls_channel(
        stack.procedures_admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(certificates / "commune.crt").read_bytes(),
        private_key=(certificates / "commune.key").read_bytes(),
        timeout=20,
    ) as opened:
        yield pb_grpc.AdministrationProceduresServiceStub(opened)


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


@pytest.fixture
async def procedures_db(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(stack.procedures_database_url)
    yield engine
    await engine.dispose()


def problem(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["reason"]) == (status, reason), body
    assert body["title"]
    return body


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


async def open_slots(commune: AdminStub, *specs: tuple[str, datetime, int]) -> list[str]:
    """Slots of 20 minutes (place, start, capacity); their ids in that order."""
    ids = []
    for place, start, capacity in specs:
        spec = pb.SlotSpec(capacity=capacity)
        spec.starts_at.FromDatetime(start)
        spec.ends_at.FromDatetime(start + timedelta(minutes=20))
        opened = await commune.DefineSlots(
            pb.DefineSlotsRequest(procedure_code=CODE, place_code=place, slots=[spec])
        )
        ids.append(opened.slots[0].id)
    return ids


async def complete_draft(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await api.post(f"/api/v1/procedures/{CODE}/drafts", headers=headers)
    assert created.status_code == 201, created.text
    draft_id: str = created.json()["id"]
    for step, values in ANSWERS.items():
        saved = await api.put(
            f"{MY_REQUESTS}/{draft_id}/steps/{step}", headers=headers, json=values
        )
        assert saved.status_code == 200, saved.text
    return draft_id


class Appointments:
    """The appointment routes of one request, called with given headers."""

    def __init__(self, api: httpx.AsyncClient, request_id: str) -> None:
        self.api = api
        self.url = f"{MY_REQUESTS}/{request_id}/appointment"
        self.request_id = request_id

    def slots(self, headers: dict[str, str], **query: str) -> Any:
        return self.api.get(f"{self.url}-slots", headers=headers, params=query)

    def get(self, headers: dict[str, str]) -> Any:
        return self.api.get(self.url, headers=headers)

    def hold(self, headers: dict[str, str], slot_id: Any) -> Any:
        return self.api.post(f"{self.url}/hold", headers=headers, json={"slot_id": slot_id})

    def change(self, headers: dict[str, str], slot_id: Any) -> Any:
        return self.api.put(self.url, headers=headers, json={"slot_id": slot_id})

    def cancel(self, headers: dict[str, str]) -> Any:
        return self.api.delete(self.url, headers=headers)

    def calendar(self, headers: dict[str, str]) -> Any:
        return self.api.get(f"{self.url}/calendar", headers=headers)

    def submit(self, headers: dict[str, str]) -> Any:
        return self.api.post(
            f"{MY_REQUESTS}/{self.request_id}/submission",
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )


async def free_of(calls: Appointments, headers: dict[str, str], *slot_ids: str) -> list[int]:
    listed = {slot["id"]: slot["free"] for slot in ok(await calls.slots(headers))["items"]}
    return [listed.get(slot_id, 0) for slot_id in slot_ids]


async def test_a_citizen_books_changes_and_cancels_an_appointment_through_the_api(
    api: httpx.AsyncClient,
    commune: AdminStub,
    registry: Registry,
    procedures_db: AsyncEngine,
) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    roomy, single, later = await open_slots(
        commune,
        ("hotel-de-ville", start, 2),
        ("bonnevoie", start + timedelta(minutes=30), 1),
        ("hotel-de-ville", start + timedelta(hours=1), 1),
    )
    anne, bob = await registry.register("Anne"), await registry.register("Bob")
    mine = {**anne.bearer(), "Accept-Language": "de"}
    theirs = {**bob.bearer(), "Accept-Language": "en"}
    draft = Appointments(api, await complete_draft(api, mine))

    # The free slots, their places in the caller's language; nothing taken yet.
    listed = {slot["id"]: slot for slot in ok(await draft.slots(mine))["items"]}
    assert listed[roomy]["place"] == {
        "code": "hotel-de-ville",
        "name": "Biergerzenter, Rathaus",
        "address": "44, place Guillaume II, L-1648 Luxembourg",
    }
    assert (listed[roomy]["capacity"], listed[roomy]["free"]) == (2, 2)
    assert datetime.fromisoformat(listed[roomy]["starts_at"]) == start
    only_there = ok(await draft.slots(mine, place="bonnevoie"))["items"]
    assert {slot["place"]["code"] for slot in only_there} == {"bonnevoie"}
    assert single in {slot["id"] for slot in only_there}
    nothing = ok(await draft.get(mine))
    assert (nothing["state"], nothing["slot"], nothing["calendar_url"]) == ("none", None, "")

    # Held for the draft, for the procedure's ten minutes.
    before = datetime.now(UTC)
    held = ok(await draft.hold(mine, roomy))
    assert (held["state"], held["slot"]["id"]) == ("held", roomy)
    until = datetime.fromisoformat(held["held_until"])
    assert before + timedelta(minutes=9) < until <= datetime.now(UTC) + timedelta(minutes=10)
    assert await free_of(draft, mine, roomy) == [1]
    assert ok(await draft.get(mine)) == held

    # A full slot: Bob holds the single place, Anne cannot take it; her hold stays.
    bobs = Appointments(api, await complete_draft(api, theirs))
    assert ok(await bobs.hold(theirs, single))["state"] == "held"
    problem(await draft.hold(mine, single), 409, "SLOT_FULL")
    problem(await draft.change(mine, single), 409, "SLOT_FULL")
    assert ok(await draft.get(mine)) == held
    assert await free_of(draft, mine, roomy, single) == [1, 0]

    # Bad ids and values: refused, nothing held.
    problem(await draft.hold(mine, "not-a-slot"), 422, "VALIDATION_FAILED")
    problem(await draft.hold(mine, str(uuid.uuid4())), 404, "SLOT_NOT_FOUND")
    problem(await draft.change(mine, str(uuid.uuid4())), 404, "SLOT_NOT_FOUND")
    problem(await api.post(f"{draft.url}/hold", headers=mine, json={}), 422, "VALIDATION_FAILED")
    problem(
        await api.post(f"{draft.url}/hold", headers=mine, json={"slot_id": roomy, "extra": 1}),
        422,
        "VALIDATION_FAILED",
    )
    problem(await draft.slots(mine, place="moon"), 422, "UNKNOWN_PLACE")
    problem(await draft.slots(mine, place="Not A Place"), 422, "VALIDATION_FAILED")
    for bad in ("not-an-id", "PR-7K3M-9QX2-P"):
        wrong = Appointments(api, bad)
        problem(await wrong.get(mine), 422, "VALIDATION_FAILED")
        problem(await wrong.hold(mine, roomy), 422, "VALIDATION_FAILED")
    unknown = Appointments(api, str(uuid.uuid4()))
    for answer in (
        await unknown.slots(mine),
        await unknown.get(mine),
        await unknown.hold(mine, roomy),
        await unknown.change(mine, roomy),
        await unknown.cancel(mine),
        await unknown.calendar(mine),
    ):
        problem(answer, 404, "REQUEST_NOT_FOUND")
    assert ok(await draft.get(mine)) == held

    # Another person's token on each route: her request is unknown to him.
    await _refused_to_others(draft, bob, roomy)
    assert ok(await draft.get(mine)) == held

    # The hold lapsed: the submission is refused, the request stays a draft; held again, it books.
    async with procedures_db.begin() as connection:
        await connection.execute(
            text(
                "UPDATE appointments SET held_until = now() - interval '1 minute' "
                "WHERE request_id = :id"
            ),
            {"id": draft.request_id},
        )
    problem(await draft.submit(mine), 409, "HOLD_EXPIRED")
    assert ok(await api.get(f"{MY_REQUESTS}/{draft.request_id}", headers=mine))["state"] == "draft"
    assert await free_of(draft, mine, roomy) == [2]  # a lapsed hold keeps no place
    problem(await draft.calendar(mine), 409, "NO_APPOINTMENT")
    assert ok(await draft.hold(mine, roomy))["state"] == "held"
    submitted = ok(await draft.submit(mine))
    assert submitted["state"] == "submitted"
    booked = ok(await draft.get(mine))
    assert (booked["state"], booked["slot"]["id"], booked["held_until"]) == ("booked", roomy, None)
    assert booked["calendar_url"] == f"{draft.url}/calendar"

    calendar = await draft.calendar(mine)
    assert calendar.status_code == 200, calendar.text
    assert calendar.headers["content-type"] == "text/calendar; charset=utf-8"
    assert calendar.headers["content-disposition"].startswith("attachment;")
    assert ".ics" in calendar.headers["content-disposition"]
    assert f"DTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}\r\n" in calendar.text
    assert "Biergerzenter" in calendar.text

    # A submitted request's booking moves (not held: changed), to a slot with room only.
    problem(await draft.hold(mine, later), 409, "NOT_A_DRAFT")
    problem(await draft.change(mine, single), 409, "SLOT_FULL")
    assert ok(await draft.get(mine)) == booked
    moved = ok(await draft.change(mine, later))
    assert (moved["state"], moved["slot"]["id"]) == ("booked", later)
    assert await free_of(draft, mine, roomy, later) == [2, 0]
    moved_start = start + timedelta(hours=1)
    calendar = await draft.calendar(mine)
    assert f"DTSTART:{moved_start.strftime('%Y%m%dT%H%M%SZ')}\r\n" in calendar.text
    history = ok(await api.get(f"{MY_REQUESTS}/{draft.request_id}", headers=mine))["history"]
    assert history[-1]["kind"] == "appointment_changed"

    # Cancelled: no calendar any more, nothing left to cancel; the place is free again.
    cancelled = ok(await draft.cancel(mine))
    assert (cancelled["state"], cancelled["slot"]["id"], cancelled["calendar_url"]) == (
        "cancelled",
        later,
        "",
    )
    problem(await draft.calendar(mine), 409, "NO_APPOINTMENT")
    problem(await draft.cancel(mine), 409, "NO_APPOINTMENT")
    assert await free_of(draft, mine, later) == [1]
    assert ok(await draft.get(mine)) == cancelled


async def _refused_to_others(draft: Appointments, bob: Citizen, slot_id: str) -> None:
    his = bob.bearer()
    for answer in (
        await draft.slots(his),
        await draft.get(his),
        await draft.hold(his, slot_id),
        await draft.change(his, slot_id),
        await draft.cancel(his),
        await draft.calendar(his),
    ):
        problem(answer, 404, "REQUEST_NOT_FOUND")


async def test_a_mandate_that_only_reads_sees_the_appointment_but_changes_nothing(
    api: httpx.AsyncClient, commune: AdminStub, registry: Registry
) -> None:
    start = (datetime.now(UTC) + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    first, second = await open_slots(
        commune, ("hotel-de-ville", start, 3), ("bonnevoie", start + timedelta(hours=2), 3)
    )
    anne, carl = await registry.register("Anne"), await registry.register("Carl")
    mine = anne.bearer()
    draft = Appointments(api, await complete_draft(api, mine))
    held = ok(await draft.hold(mine, first))

    await registry.step_up_to_high(anne)
    granted = await api.post(
        "/api/v1/me/relations",
        headers=anne.bearer("high"),
        json={
            "actor_national_id": carl.national_id,
            "kind": "spouse",
            "rights": ["procedures:read"],
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert granted.status_code == 201, granted.text
    reading = carl.bearer(context=f"relation:{granted.json()['id']}")

    assert ok(await draft.get(reading)) == held
    assert first in {slot["id"] for slot in ok(await draft.slots(reading))["items"]}
    for answer in (
        await draft.hold(reading, second),
        await draft.change(reading, second),
        await draft.cancel(reading),
    ):
        problem(answer, 403, "MANDATE_REFUSED")
    assert ok(await draft.get(mine)) == held

    # A relation he does not have is refused the same way, for reading too.
    stranger = carl.bearer(context=f"relation:{uuid.uuid4()}")
    for answer in (await draft.get(stranger), await draft.hold(stranger, second)):
        problem(answer, 403, "MANDATE_REFUSED")
    assert ok(await draft.get(mine)) == held
