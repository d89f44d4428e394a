"""A page's refusal that is not about what was typed — too many lookups, eTracking down, a path
that is no page — is answered as a page on the same layout, in the page's language, with its
status and headers; the API's routes keep answering the same failures as problems."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from launcher import Launcher
from playwright.async_api import Browser
from stack import Stack
from web.test_lookup_pages import CSP, Watch, check_shown_page, create_tracking

from guichet_kit.i18n import Catalog, Language

LANGUAGES = [Language.FR, Language.DE, Language.EN]
CATALOG = Catalog("guichet_gateway")
BURST = 2


def title_in(text: str, language: Language) -> str:
    return CATALOG.gettext(text, language)


async def check_error_page(
    browser: Browser,
    base_url: str,
    path: str,
    status: int,
    title: str,
    artifacts: Path,
    name: str,
) -> None:
    """In every language: the status, the headers, the alert on the layout, 0 axe violations at
    1280 px and no sideways scrolling at 320 px."""
    axe = Axe()
    joiner = "&" if "?" in path else "?"
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        for language in LANGUAGES:
            answer = await client.get(f"{path}{joiner}lang={language.value}")
            assert answer.status_code == status, answer.text
            assert answer.headers["content-type"].startswith("text/html")
            assert answer.headers["content-security-policy"] == CSP
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert answer.headers["content-language"] == language.value
            assert f'<html lang="{language.value}">' in answer.text
            expected = title_in(title, language)
            assert language == Language.EN or expected != title, "a translated title"
            assert f'<h1 class="usa-alert__heading">{expected}</h1>' in answer.text
            assert 'class="usa-skipnav"' in answer.text, "the pages' own layout"
    # 320 CSS px wide: WCAG 1.4.10's 400 % zoom of a 1280 px window.
    for width, height in ((1280, 900), (320, 640)):
        context = await browser.new_context(
            base_url=base_url, viewport={"width": width, "height": height}
        )
        page = await context.new_page()
        watch = Watch()
        watch.attach(page)
        for language in LANGUAGES:
            response = await page.goto(f"{path}{joiner}lang={language.value}")
            assert response is not None and response.status == status
            assert response.headers["content-security-policy"] == CSP
            assert await page.get_attribute("html", "lang") == language.value
            assert await page.text_content("h1") == title_in(title, language)
            shot = artifacts / f"error-{name}-{language.value}-{width}.png"
            await check_shown_page(page, axe, width, f"{path} in {language}", shot)
        assert not watch.csp_errors, watch.csp_errors
        assert not watch.failed, watch.failed
        await context.close()


def assert_problem(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == status


@pytest.fixture
async def number(api: httpx.AsyncClient) -> str:
    return str((await create_tracking(api))["number"])


@pytest.fixture
async def limited_gateway(launcher: Launcher, stack: Stack) -> AsyncIterator[str]:
    # A small burst, and a refill so slow that an exhausted bucket stays empty for the test.
    slow = replace(
        launcher, extra_env={**launcher.extra_env, "GATEWAY_LOOKUP_RATE_PER_MINUTE": "0.01"}
    )
    gateway = await slow.gateway(stack.etracking_address, burst=BURST, name="gateway-web-limited")
    yield gateway.address
    gateway.process.stop()


@pytest.fixture
async def gateway_without_etracking(
    launcher: Launcher, stack: Stack, number: str
) -> AsyncIterator[str]:
    """A gateway whose eTracking answered once, then was stopped."""
    etracking = await launcher.etracking(stack.database_url, "grpc", "etracking-web-stopped")
    gateway = await launcher.gateway(etracking.address, burst=100_000, name="gateway-web-orphan")
    async with httpx.AsyncClient(base_url=gateway.address, timeout=10) as client:
        answered = await client.get("/etracking/lookup", params={"number": number})
    assert answered.status_code == 200, "eTracking answers before it is stopped"
    etracking.process.stop()
    yield gateway.address
    gateway.process.stop()


async def test_too_many_lookups_is_a_page_with_retry_after(
    limited_gateway: str, number: str, browser: Browser, artifacts: Path
) -> None:
    lookup = f"/etracking/lookup?number={number}"
    async with httpx.AsyncClient(base_url=limited_gateway, timeout=10) as client:
        statuses = [(await client.get(lookup)).status_code for _ in range(BURST)]
        limited = await client.get(lookup, params={"lang": "de"})
        api = await client.get(f"/api/v1/etracking/trackings/{number}")
    assert statuses == [200] * BURST, "the burst passes"
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1, "Retry-After is kept on the page"
    assert "Zu viele Abfragen" in limited.text
    assert_problem(api, 429)
    assert api.json()["reason"] == "LOOKUPS_RATE_LIMITED"
    assert int(api.headers["retry-after"]) >= 1

    await check_error_page(
        browser, limited_gateway, lookup, 429, "Too many lookups", artifacts, "429"
    )


async def test_etracking_stopped_is_a_page_saying_the_service_is_unavailable(
    gateway_without_etracking: str, number: str, browser: Browser, artifacts: Path
) -> None:
    lookup = f"/etracking/lookup?number={number}"
    async with httpx.AsyncClient(base_url=gateway_without_etracking, timeout=10) as client:
        api = await client.get(f"/api/v1/etracking/trackings/{number}")
        form = await client.get("/etracking")
    assert_problem(api, 503)
    assert api.json()["reason"] == "DEPENDENCY_UNAVAILABLE"
    assert form.status_code == 200, "a page that needs no service still answers"

    await check_error_page(
        browser,
        gateway_without_etracking,
        lookup,
        503,
        "Service temporarily unavailable",
        artifacts,
        "503",
    )


async def test_an_unknown_path_is_a_page_with_a_link_home(
    stack: Stack, api: httpx.AsyncClient, browser: Browser, artifacts: Path
) -> None:
    missing = await api.get("/no-such-page", params={"lang": "fr"})
    assert missing.status_code == 404
    assert 'href="/?lang=fr"' in missing.text
    assert "Page introuvable" in missing.text
    for path in ("/api/v1/no-such-route", "/healthz/nothing", "/static/no-such-file.css"):
        assert_problem(await api.get(path), 404)

    await check_error_page(
        browser, stack.gateway_url, "/no-such-page", 404, "Page not found", artifacts, "404"
    )
