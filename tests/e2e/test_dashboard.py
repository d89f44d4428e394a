"""The dashboard (F80) through the gateway, on the real services: every section in one call, only
the caller's own, and a section left "unavailable" (the rest answered) when its service is
stopped or its link is slower than the dashboard's deadline. With the news (F81)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from citizens import Citizen, Registry
from launcher import Launcher, Started
from stack import Stack

from guichet_gateway.web.news import NEWS, Audience
from guichet_kit.i18n import Catalog, Language
from guichet_testkit.eventually import wait_until
from guichet_testkit.latency import LatencyProxy

NOT_YET_OFFERED = ("data", "unread_exchanges")
WITH_A_SERVICE = ("etrackings", "mandates", "documents", "requests")
UNAVAILABLE = "This section is temporarily unavailable. Please try again in a few minutes."
# One way, on every chunk: a call over the slow link takes at least twice this longer.
LINK_DELAY = 0.3


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


async def dashboard(
    api: httpx.AsyncClient, citizen: Citizen, *, context: str | None = None, lang: str = "en"
) -> httpx.Response:
    return await api.get(
        "/api/v1/dashboard", params={"lang": lang}, headers=citizen.bearer(context=context)
    )


async def track(api: httpx.AsyncClient, citizen: Citizen, context: str | None = None) -> str:
    created = await api.post(
        "/api/v1/etracking/trackings",
        headers=citizen.bearer(context=context),
        json={"paper_form_code": "ACD-IR-100"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["number"])


async def grant(
    api: httpx.AsyncClient, registry: Registry, subject: Citizen, actor: Citizen
) -> str:
    """`subject` allows `actor` to read and create eTrackings in their name."""
    await registry.step_up_to_high(subject)
    granted = await api.post(
        "/api/v1/me/relations",
        headers=subject.bearer("high"),
        json={
            "actor_national_id": actor.national_id,
            "kind": "spouse",
            "rights": ["etracking:read", "etracking:write"],
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert granted.status_code == 201, granted.text
    return str(granted.json()["id"])


def unavailable_message(language: Language) -> str:
    return Catalog("guichet_gateway").gettext(UNAVAILABLE, language)


async def test_the_dashboard_answers_every_section_in_one_call(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    relation_id = await grant(api, registry, anne, bert)
    mine = [await track(api, bert) for _ in range(5)]
    annes = await track(api, anne)

    answer = await dashboard(api, bert, lang="de")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["acting_context"] == "private"
    for name in NOT_YET_OFFERED:
        assert body[name] == {
            "status": "available",
            "reason": None,
            "message": None,
            "offered": False,
            "items": [],
            "total": 0,
        }, name
    for name in (*WITH_A_SERVICE, "news"):
        assert body[name]["status"] == "available", body[name]
        assert body[name]["offered"] is True
    # The latest four of Bert's own, newest first; Anne's is not among them.
    trackings = body["etrackings"]
    assert trackings["total"] == 5
    assert [t["number"] for t in trackings["items"]] == mine[::-1][:4]
    assert trackings["items"][0]["status"] == "awaiting_paper_form"
    # The mandate Anne granted him: what he may act on.
    (mandate,) = body["mandates"]["items"]
    assert mandate["id"] == relation_id
    assert mandate["acting_context"] == f"relation:{relation_id}"
    assert mandate["subject_national_id"] == anne.national_id
    assert body["mandates"]["total"] == 1
    # Every published item, private ones too (signed in), in the language asked for.
    news = body["news"]["items"]
    published = NEWS.visible(signed_in=True)
    assert [n["id"] for n in news] == [item.id for item in published]
    assert {n["audience"] for n in news} == {"public", "private"}
    assert news[0]["title"] == published[0].title(Language.DE)

    # Acting for Anne, the eTrackings are hers; the mandates stay Bert's own.
    context = f"relation:{relation_id}"
    for_anne = (await dashboard(api, bert, context=context)).json()
    assert for_anne["acting_context"] == context
    assert [t["number"] for t in for_anne["etrackings"]["items"]] == [annes]
    assert [m["id"] for m in for_anne["mandates"]["items"]] == [relation_id]


async def test_another_person_sees_only_their_own_and_nobody_acts_without_a_mandate(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    carl = await registry.register("Carl")
    relation_id = await grant(api, registry, anne, bert)
    annes = await track(api, anne)

    for_carl = (await dashboard(api, carl)).json()
    assert (for_carl["etrackings"]["items"], for_carl["etrackings"]["total"]) == ([], 0)
    assert for_carl["mandates"]["items"] == []
    # Anne granted the mandate, she does not hold it: nothing to act on for her.
    for_anne = (await dashboard(api, anne)).json()
    assert [t["number"] for t in for_anne["etrackings"]["items"]] == [annes]
    assert for_anne["mandates"]["items"] == []

    refused = await dashboard(api, carl, context=f"relation:{relation_id}")
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "MANDATE_REFUSED"
    missing = await api.get("/api/v1/dashboard")
    assert missing.status_code == 401
    assert missing.json()["reason"] == "AUTHENTICATION_REQUIRED"


async def test_the_home_page_shows_the_public_news_only(api: httpx.AsyncClient) -> None:
    page = await api.get("/", params={"lang": "de"})
    assert page.status_code == 200
    published = NEWS.visible(signed_in=True)
    public = [item for item in published if item.audience is Audience.PUBLIC]
    private = [item for item in published if item.audience is Audience.PRIVATE]
    assert public and private
    for item in public:
        assert f'id="news-{item.id}"' in page.text
        assert item.title(Language.DE) in page.text
    for item in private:
        assert f'id="news-{item.id}"' not in page.text


async def _own_gateway(launcher: Launcher, etracking_address: str, name: str) -> Started:
    return await launcher.gateway(etracking_address, burst=100_000, name=name)


async def test_with_etracking_stopped_the_dashboard_answers_without_its_section(
    launcher: Launcher, stack: Stack, api: httpx.AsyncClient, registry: Registry
) -> None:
    lea = await registry.register("Lea")
    number = await track(api, lea)
    # An etracking and a gateway of this test's own: the shared stack's keep running.
    etracking = await launcher.etracking(stack.database_url, role="grpc", name="etracking-dash")
    gateway = await _own_gateway(launcher, etracking.address, "gateway-dash-down")
    try:
        async with httpx.AsyncClient(base_url=gateway.address, timeout=30) as own:
            seen: list[dict] = []

            async def answered() -> bool:
                seen.append((await dashboard(own, lea)).json())
                return bool(seen[-1]["etrackings"]["status"] == "available")

            # A fresh process's first call (its pool, the sign-in keys) may miss the deadline.
            await wait_until(answered, seconds=30, what="the new etracking within the deadline")
            assert [t["number"] for t in seen[-1]["etrackings"]["items"]] == [number]

            etracking.process.stop()
            answer = await dashboard(own, lea, lang="de")
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["etrackings"] == {
                "status": "unavailable",
                "reason": "DEPENDENCY_UNAVAILABLE",
                "message": unavailable_message(Language.DE),
                "offered": True,
                "items": [],
                "total": 0,
            }
            assert body["etrackings"]["message"] != UNAVAILABLE  # translated
            assert body["mandates"]["status"] == "available"
            assert body["news"]["status"] == "available" and body["news"]["items"]
            for name in NOT_YET_OFFERED:
                assert body[name]["status"] == "available"
    finally:
        gateway.process.stop()
        etracking.process.stop()


@pytest.mark.parametrize(
    ("deadline", "mandates"),
    [
        # Far more than the two delays of a call over the slow link: the section is there.
        (10 * LINK_DELAY, "available"),
        # Less than the two delays alone: it cannot be there in time.
        (1.5 * LINK_DELAY, "unavailable"),
    ],
)
async def test_a_slow_link_to_identity_keeps_or_drops_its_section_by_the_deadline(
    launcher: Launcher,
    stack: Stack,
    api: httpx.AsyncClient,
    registry: Registry,
    deadline: float,
    mandates: str,
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    relation_id = await grant(api, registry, anne, bert)
    number = await track(api, bert)
    async with LatencyProxy(stack.identity_address, delay=LINK_DELAY) as slow_link:
        slow = dataclasses.replace(
            launcher,
            identity_address=slow_link.address,
            extra_env={
                **launcher.extra_env,
                "GATEWAY_DASHBOARD_SECTION_DEADLINE_SECONDS": str(deadline),
            },
        )
        gateway = await _own_gateway(slow, stack.etracking_address, "gateway-dash-slow")
        try:
            async with httpx.AsyncClient(base_url=gateway.address, timeout=30) as own:
                await dashboard(own, bert)  # the first call also opens the slow connection
                answer = await dashboard(own, bert)
        finally:
            gateway.process.stop()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mandates"]["status"] == mandates, body["mandates"]
    if mandates == "available":
        assert [m["id"] for m in body["mandates"]["items"]] == [relation_id]
    else:
        assert body["mandates"]["reason"] == "DEPENDENCY_TIMEOUT"
        assert body["mandates"]["message"] == UNAVAILABLE
    # The direct link to etracking is not slowed: its section answers either way.
    assert body["etrackings"]["status"] == "available"
    assert [t["number"] for t in body["etrackings"]["items"]] == [number]
