"""The live badge in the browser (F85): a signed-in person's page shows that an eTracking moved,
pushed over the gateway's event stream on their session cookie, without reloading the page."""

from __future__ import annotations

import httpx
from stack import Stack
from web.browsing import SignedInBrowser

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc


async def test_the_badge_appears_when_an_administration_moves_my_tracking(
    signed_in: SignedInBrowser, stack: Stack, acd: pb_grpc.AdministrationTrackingServiceAsyncStub
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    async with httpx.AsyncClient(base_url=stack.gateway_url) as api:
        created = await api.post(
            "/api/v1/etracking/trackings",
            json={"paper_form_code": "ACD-IR-100", "notify_by_email": False, "language": "en"},
            headers=citizen.bearer(),
        )
    assert created.status_code == 201, created.text
    number = created.json()["number"]

    # Any page of "my space" carries the badge; the stream opens with it.
    await page.goto("/my/profile?lang=en")
    badge = page.locator("[data-badge='etrackings']")
    assert await badge.is_hidden()
    async with page.expect_response(lambda r: "/api/v1/events" in r.url) as opened:
        await page.reload()
    assert (await opened.value).status == 200

    await acd.ScanTracking(pb.ScanTrackingRequest(number=number))
    await page.wait_for_function(
        "() => !document.querySelector(\"[data-badge='etrackings']\").hidden"
    )
    assert "1" in (await badge.text_content() or "")
    announcer = page.locator("[data-badge-announcer]")
    await page.wait_for_function(
        "() => document.querySelector('[data-badge-announcer]').textContent.length > 0"
    )
    assert "eTracking" in (await announcer.text_content() or "")


async def test_the_stream_needs_a_session_or_a_token(stack: Stack) -> None:
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, cookies={"__Host-guichet-session": "not-a-session"}
    ) as client:
        response = await client.get("/api/v1/events")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
