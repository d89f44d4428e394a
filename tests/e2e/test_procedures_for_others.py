"""F34 through the gateway on the real stack: procedures done for someone else, checked by
identity at every call. A relation whose mandate carries `procedures:write` files the subject's
change of address; the request is the subject's, shows who filed it, and the subject's audit of
acts on their behalf lists each act. A mandate without the right, an expired and a revoked one
are refused (MANDATE_REFUSED, saying which right is missing or that the mandate ended) and
change nothing. In a company space, a member and an administrator file the company's building
works notice; a reader sees the requests but cannot start, change or submit one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from citizens import Citizen, Registry

PROBLEM = "application/problem+json"
TODAY = date.today()
ADDRESS = {
    "street": "Rue du Marché-aux-Herbes",
    "house_number": "12A",
    "postcode": "L-1728",
    "locality": "Luxembourg",
    "country": "LU",
}
MOVE = {
    "move_kind": "within",
    "moving_date": TODAY.isoformat(),
    "new_address": ADDRESS,
    "previous_address": {**ADDRESS, "house_number": "3"},
    "housing_status": "owner",
}
ADDRESS_STEPS = {
    "move": MOVE,
    "household": {"moving_alone": True},
    "contact": {"email": "lea.muller@example.lu", "phone": "+352 621 123 456"},
}
WORKS_STEPS = {
    "company": {
        "company_number": "B123456",
        "company_name": "Weber Bau SA",
        "contact_person": "Bert Weber",
        "email": "chantier@example.lu",
        "phone": "+352 621 654 321",
    },
    "works": {
        "site_address": ADDRESS,
        "cadastral_parcel": "1234/5678",
        "owner_name": "Anne Muller",
        "works_types": ["interior"],
        "description": "Interior alteration of the ground floor.",
        "start_date": (TODAY + timedelta(days=30)).isoformat(),
        "duration_weeks": 6,
        "estimated_cost": "12000",
    },
    "public_road": {"uses_public_road": False},
}
WRITE_REFUSED = "You hold no mandate with the right procedures:write in this context."
READ_REFUSED = "You hold no mandate with the right procedures:read in this context."
EXPIRED = "Your mandate in this context has expired: ask for a new one."
REVOKED = "Your mandate in this context was revoked."


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


class Acting:
    """A citizen's calls to the procedures API, in an acting context (None: for themselves)."""

    def __init__(self, api: httpx.AsyncClient, citizen: Citizen, context: str | None) -> None:
        self.api = api
        self.headers = {**citizen.bearer(context=context), "Accept-Language": "en"}

    async def start(self, code: str) -> httpx.Response:
        return await self.api.post(f"/api/v1/procedures/{code}/drafts", headers=self.headers)

    async def save(self, request_id: str, step: str, answers: Any) -> httpx.Response:
        return await self.api.put(
            f"/api/v1/me/requests/{request_id}/steps/{step}", headers=self.headers, json=answers
        )

    async def submit(self, request_id: str) -> httpx.Response:
        return await self.api.post(
            f"/api/v1/me/requests/{request_id}/submission",
            headers={**self.headers, "Idempotency-Key": str(uuid.uuid4())},
        )

    async def get(self, request_id: str) -> httpx.Response:
        return await self.api.get(f"/api/v1/me/requests/{request_id}", headers=self.headers)

    async def listed(self) -> httpx.Response:
        return await self.api.get(
            "/api/v1/me/requests", headers=self.headers, params={"filter": "all"}
        )

    async def draft(self, code: str, steps: dict[str, Any]) -> dict[str, Any]:
        """A complete draft, every step saved."""
        started = await self.start(code)
        assert started.status_code == 201, started.text
        request_id = started.json()["id"]
        for step, answers in steps.items():
            saved = await self.save(request_id, step, answers)
            assert saved.status_code == 200, saved.text
        body: dict[str, Any] = (await self.get(request_id)).json()
        assert body["next_step"] == "", body
        return body

    async def filed(self, code: str, steps: dict[str, Any]) -> dict[str, Any]:
        draft = await self.draft(code, steps)
        submitted = await self.submit(draft["id"])
        assert submitted.status_code == 200, submitted.text
        body: dict[str, Any] = submitted.json()
        assert body["state"] == "submitted" and body["reference"].startswith("PR-")
        return body


def refused(response: httpx.Response, detail: str) -> None:
    """A refusal of the mandate: 403 problem MANDATE_REFUSED telling the person why."""
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["reason"] == "MANDATE_REFUSED", body
    assert body["title"]
    assert body["detail"] == detail, body


def unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    for key in ("state", "answers", "steps", "updated_at", "reference", "history", "owner"):
        assert after[key] == before[key], key


async def grant(
    api: httpx.AsyncClient,
    registry: Registry,
    subject: Citizen,
    actor: Citizen,
    rights: list[str],
    *,
    lasting: timedelta = timedelta(days=30),
) -> tuple[str, datetime]:
    """`subject` gives `actor` a mandate: its acting context and when it ends."""
    if "high" not in subject.tokens:
        await registry.step_up_to_high(subject)
    expires = datetime.now(UTC) + lasting
    granted = await api.post(
        "/api/v1/me/relations",
        headers=subject.bearer("high"),
        json={
            "actor_national_id": actor.national_id,
            "kind": "other_person",
            "rights": rights,
            "expires_at": expires.isoformat(),
        },
    )
    assert granted.status_code == 201, granted.text
    return f"relation:{granted.json()['id']}", expires


async def audit(api: httpx.AsyncClient, citizen: Citizen, context: str | None = None) -> list[Any]:
    listed = await api.get("/api/v1/me/acts-on-my-behalf", headers=citizen.bearer(context=context))
    assert listed.status_code == 200, listed.text
    acts: list[Any] = listed.json()
    return acts


# --- a relation -------------------------------------------------------------------------------


async def test_a_mandate_with_procedures_write_files_for_the_subject_and_is_audited(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    lea, bert = await registry.register("Lea"), await registry.register("Bert")
    context, _ = await grant(api, registry, lea, bert, ["procedures:write"])
    for_lea = Acting(api, bert, context)

    request = await for_lea.filed("change-of-address", ADDRESS_STEPS)
    # Lea's request, filed by Bert: she sees it among hers, he does not among his own.
    assert request["owner"] == f"person:{lea.national_id}"
    assert request["filed_by"] == bert.national_id
    hers = Acting(api, lea, None)
    seen = (await hers.get(request["id"])).json()
    assert (seen["reference"], seen["filed_by"]) == (request["reference"], bert.national_id)
    assert request["id"] in [r["id"] for r in (await hers.listed()).json()["items"]]
    assert request["id"] not in [
        r["id"] for r in (await Acting(api, bert, None).listed()).json()["items"]
    ]
    # Her own requests say she filed them.
    own = await hers.draft("change-of-address", ADDRESS_STEPS)
    assert own["filed_by"] == lea.national_id

    # Every act Bert did in her name is in her audit, with his name and the right used.
    acts = [a for a in await audit(api, lea) if a["actor_national_id"] == bert.national_id]
    assert {a["acting_context"] for a in acts} == {context}
    done = [a["act"] for a in acts]
    assert "submitted a request" in done, done
    assert done.count("saved a step of a request") == len(ADDRESS_STEPS)
    assert any(a["act"].startswith("started") or "draft" in a["act"] for a in acts), done
    submitted = next(a for a in acts if a["act"] == "submitted a request")
    assert submitted["right"] == "procedures:write"
    assert submitted["actor_name"]
    # Bert's own audit holds nothing of it: no one acted for him.
    assert await audit(api, bert) == []


async def test_a_mandate_without_procedures_write_reads_but_changes_nothing(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    lea, carl, dora = (
        await registry.register("Lea"),
        await registry.register("Carl"),
        await registry.register("Dora"),
    )
    hers = Acting(api, lea, None)
    draft = await hers.draft("change-of-address", ADDRESS_STEPS)
    before_list = (await hers.listed()).json()
    reading, _ = await grant(api, registry, lea, carl, ["procedures:read", "etracking:write"])
    other_domain, _ = await grant(api, registry, lea, dora, ["etracking:write"])

    reader = Acting(api, carl, reading)
    # procedures:read lets Carl see her draft, not start, change or submit one.
    assert (await reader.get(draft["id"])).status_code == 200
    refused(await reader.start("change-of-address"), WRITE_REFUSED)
    refused(await reader.save(draft["id"], "household", {"moving_alone": False}), WRITE_REFUSED)
    refused(await reader.submit(draft["id"]), WRITE_REFUSED)
    # A mandate for another domain opens nothing of the procedures.
    stranger = Acting(api, dora, other_domain)
    refused(await stranger.get(draft["id"]), READ_REFUSED)
    refused(await stranger.listed(), READ_REFUSED)
    refused(await stranger.start("change-of-address"), WRITE_REFUSED)

    unchanged(draft, (await hers.get(draft["id"])).json())
    after_list = (await hers.listed()).json()
    assert after_list["total"] == before_list["total"]
    # Refused acts are not acts done in her name.
    acts = await audit(api, lea)
    assert not [a for a in acts if a["right"] == "procedures:write"], acts


async def test_an_expired_and_a_revoked_mandate_are_refused_and_change_nothing(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    lea, bert, carl = (
        await registry.register("Lea"),
        await registry.register("Bert"),
        await registry.register("Carl"),
    )
    short, ends = await grant(
        api, registry, lea, bert, ["procedures:write"], lasting=timedelta(seconds=10)
    )
    lasting, _ = await grant(api, registry, lea, carl, ["procedures:write"])
    by_bert, by_carl = Acting(api, bert, short), Acting(api, carl, lasting)
    # Each starts a draft for Lea while his mandate holds.
    bert_draft = await by_bert.draft("change-of-address", ADDRESS_STEPS)
    carl_draft = await by_carl.draft("change-of-address", ADDRESS_STEPS)
    relation_id = lasting.removeprefix("relation:")
    revoked = await api.delete(f"/api/v1/me/relations/{relation_id}", headers=lea.bearer())
    assert revoked.status_code == 204, revoked.text
    await asyncio.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 1)

    # Each told why: his mandate ended, and how.
    for acting, draft, why in ((by_bert, bert_draft, EXPIRED), (by_carl, carl_draft, REVOKED)):
        refused(await acting.submit(draft["id"]), why)
        refused(await acting.save(draft["id"], "household", {"moving_alone": False}), why)
        refused(await acting.start("change-of-address"), why)
        refused(await acting.get(draft["id"]), why)
    hers = Acting(api, lea, None)
    for draft in (bert_draft, carl_draft):
        after = (await hers.get(draft["id"])).json()
        unchanged(draft, after)
        assert after["state"] == "draft"
    assert (await hers.listed()).json()["total"] == 2
    # Nothing submitted in her name after the end of either mandate.
    assert "submitted a request" not in [a["act"] for a in await audit(api, lea)]


# --- a company space ----------------------------------------------------------------------------


async def test_company_members_file_and_a_reader_sees_but_cannot_submit(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne, bert, carl = (
        await registry.register("Anne"),
        await registry.register("Bert"),
        await registry.register("Carl"),
    )
    space = await api.post(
        "/api/v1/spaces",
        headers=anne.bearer(),
        json={
            "company_name": "Weber Bau SA",
            "registry_number": await registry.company_run_by(anne, name="Weber Bau SA"),
        },
    )
    assert space.status_code == 201, space.text
    space_id = space.json()["id"]
    for person, role in ((bert, "member"), (carl, "reader")):
        added = await api.post(
            f"/api/v1/spaces/{space_id}/collaborators",
            headers=anne.bearer(),
            json={"national_id": person.national_id, "role": role},
        )
        assert added.status_code == 201, added.text
    context = f"company:{space_id}"
    administrator, member, reader = (
        Acting(api, anne, context),
        Acting(api, bert, context),
        Acting(api, carl, context),
    )

    by_member = await member.filed("building-works-notice", WORKS_STEPS)
    by_administrator = await administrator.filed("building-works-notice", WORKS_STEPS)
    for request, filer in ((by_member, bert), (by_administrator, anne)):
        assert request["owner"] == context
        assert request["filed_by"] == filer.national_id
    # A procedure for citizens is not one a company files.
    wrong = await member.start("change-of-address")
    assert wrong.status_code == 403 and wrong.json()["reason"] == "WRONG_AUDIENCE", wrong.text

    # The reader sees the company's requests and who filed each.
    listed = await reader.listed()
    assert listed.status_code == 200, listed.text
    assert {r["id"] for r in listed.json()["items"]} == {by_member["id"], by_administrator["id"]}
    seen = await reader.get(by_member["id"])
    assert seen.status_code == 200 and seen.json()["filed_by"] == bert.national_id
    # ... but cannot start one, change a draft or submit it.
    draft = await member.draft("building-works-notice", WORKS_STEPS)
    before_total = (await administrator.listed()).json()["total"]
    refused(await reader.start("building-works-notice"), WRITE_REFUSED)
    refused(
        await reader.save(draft["id"], "public_road", {"uses_public_road": False}), WRITE_REFUSED
    )
    refused(await reader.submit(draft["id"]), WRITE_REFUSED)
    after = (await administrator.get(draft["id"])).json()
    unchanged(draft, after)
    assert after["state"] == "draft"
    assert (await administrator.listed()).json()["total"] == before_total
    # None of the company's requests is among the collaborators' own.
    for person in (anne, bert, carl):
        own = (await Acting(api, person, None).listed()).json()["items"]
        assert not {r["id"] for r in own} & {by_member["id"], by_administrator["id"]}

    # The company's audit (its administrators read it) lists who submitted what.
    acts = await audit(api, anne, context)
    submitted = [a["actor_national_id"] for a in acts if a["act"] == "submitted a request"]
    assert sorted(submitted) == sorted([bert.national_id, anne.national_id])
    assert {a["acting_context"] for a in acts} == {context}
    assert not [
        a
        for a in acts
        if a["actor_national_id"] == carl.national_id and a["right"] == "procedures:write"
    ]
