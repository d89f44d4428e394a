"""The dashboard page (F80) in a browser: the signed-in person's eTrackings, requests, documents,
mandates and news in each language, accessible (axe-core, WCAG 2.1 AA) and reflowing at 320 CSS
px; with etracking stopped, its section is a "temporarily unavailable" alert and the rest of the
page is shown."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from launcher import Launcher
from playwright.async_api import Browser
from stack import Stack
from web.browsing import SignedInBrowser
from web.test_lookup_pages import CSP, Watch, check_shown_page

from guichet_gateway.web.news import NEWS, Audience
from guichet_kit.i18n import Catalog, Language

UNAVAILABLE = "This section is temporarily unavailable. Please try again in a few minutes."
HEADINGS = {"fr": "Mon tableau de bord", "de": "Meine Übersicht", "en": "My dashboard"}


async def track(api: httpx.AsyncClient, signed_in: SignedInBrowser) -> str:
    created = await api.post(
        "/api/v1/etracking/trackings",
        headers=signed_in.citizen.bearer(),
        json={"paper_form_code": "ACD-IR-100"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["number"])


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_the_dashboard_page_shows_every_section_accessibly_in_each_language(
    language: str,
    signed_in: SignedInBrowser,
    browser: Browser,
    api: httpx.AsyncClient,
    artifacts: Path,
) -> None:
    numbers = [await track(api, signed_in) for _ in range(2)]
    started = await api.post(
        "/api/v1/procedures/residence-certificate/drafts",
        headers={**signed_in.citizen.bearer(), "Accept-Language": language},
    )
    assert started.status_code == 201, started.text
    draft = started.json()
    page = signed_in.page
    axe = Axe()
    watch = Watch()
    watch.attach(page)
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        response = await page.goto(f"/dashboard?lang={language}")
        assert response is not None and response.status == 200
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["cache-control"] == "no-store"
        assert await page.get_attribute("html", "lang") == language
        assert await page.text_content("h1") == HEADINGS[language]
        shown = await page.locator("#etrackings tbody th").all_text_contents()
        assert [number.strip() for number in shown] == numbers[::-1]
        assert await page.locator("#etrackings-unavailable").count() == 0
        # The draft just started, linked to its page; the wallet's count.
        link = page.locator("#requests tbody th a")
        assert [title.strip() for title in await link.all_text_contents()] == [draft["title"]]
        assert (await link.get_attribute("href") or "").startswith(f"/my/requests/{draft['id']}")
        assert await page.locator("#documents a[href^='/my/wallet']").count() == 1
        # Private news too: the person is signed in.
        for item in NEWS.visible(signed_in=True):
            assert await page.locator(f"#dashboard-news #news-{item.id}").count() == 1
            heading = page.locator(f"#news-{item.id} .usa-collection__heading")
            assert await heading.text_content() == item.title(Language(language))
        await check_shown_page(
            page,
            axe,
            width,
            f"dashboard {language}",
            artifacts / f"dashboard-{language}-{width}.png",
        )
    assert not watch.csp_errors, watch.csp_errors
    assert any(i.audience is Audience.PRIVATE for i in NEWS.visible(signed_in=True))


async def test_with_etracking_stopped_the_page_says_so_and_shows_the_rest(
    signed_in: SignedInBrowser,
    launcher: Launcher,
    stack: Stack,
    api: httpx.AsyncClient,
    artifacts: Path,
) -> None:
    await track(api, signed_in)
    # A gateway of this test's own, on the same session store (the browser's cookie is good
    # there too), in front of an etracking that is then stopped; the shared stack's keeps running.
    etracking = await launcher.etracking(stack.database_url, role="grpc", name="etracking-dash-web")
    gateway = await launcher.gateway(etracking.address, burst=100_000, name="gateway-dash-web")
    try:
        etracking.process.stop()
        page = signed_in.page
        response = await page.goto(f"{gateway.address}/dashboard?lang=de")
        assert response is not None and response.status == 200
        alert = page.locator("#etrackings .usa-alert--warning")
        expected = Catalog("guichet_gateway").gettext(UNAVAILABLE, Language.DE)
        assert (await alert.text_content() or "").strip() == expected
        assert expected != UNAVAILABLE
        assert await page.locator("#etrackings table").count() == 0
        assert await page.locator("#mandates-unavailable").count() == 0
        assert await page.locator("#mandates").count() == 1
        assert await page.locator("#dashboard-news .usa-collection__item").count() == len(
            NEWS.visible(signed_in=True)
        )
        await check_shown_page(
            page, Axe(), 1280, "dashboard degraded", artifacts / "dashboard-degraded-de.png"
        )
    finally:
        gateway.process.stop()
        etracking.process.stop()
