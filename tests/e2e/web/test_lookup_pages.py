"""The public pages in a browser: the eTracking lookup done with the keyboard only, and every
page in every language checked for accessibility (axe-core, WCAG 2.1 AA), reflow at 320 CSS px
(WCAG 1.4.10: 400 % zoom of a 1280 px window) and
its Content-Security-Policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, ConsoleMessage, Page, Response
from stack import Stack

from guichet_kit.i18n import Language, format_moment
from guichet_kit.infra import find_root, read_infra_env
from guichet_testkit.altcha import solved_challenge

WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Forms post to the site, and may lead to the sign-in service (sign-out ends its session too).
_SIGN_IN = urlsplit(read_infra_env(find_root(Path(__file__)))["GUICHET_KEYCLOAK_ISSUER"])
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; frame-ancestors 'none'; "
    f"form-action 'self' {_SIGN_IN.scheme}://{_SIGN_IN.netloc}; base-uri 'none'"
)
UNKNOWN_NUMBER = "ET-0000-0000-0"


async def create_tracking(api: httpx.AsyncClient) -> dict:
    body = {
        "paper_form_code": "ACD-IR-100",
        "notify_by_email": False,
        "language": "fr",
        "altcha": await solved_challenge(api),
    }
    response = await api.post("/api/v1/etracking/trackings", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def api_refusal(api: httpx.AsyncClient, number: str, language: str) -> str:
    """What the API says of a wrong number in that language: the page must say the same."""
    response = await api.get(f"/api/v1/etracking/trackings/{number}", params={"lang": language})
    assert response.status_code in (404, 422), response.text
    problem = response.json()
    return problem["errors"][0]["message"] if problem.get("errors") else problem["detail"]


async def tab_to(page: Page, selector: str, limit: int = 15) -> None:
    """Presses Tab until the element is focused, as a keyboard user moves through a page."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


async def test_a_tracking_is_looked_up_with_the_keyboard_only(
    browser: Browser, stack: Stack, api: httpx.AsyncClient, artifacts: Path
) -> None:
    created = await create_tracking(api)
    context = await browser.new_context(base_url=stack.gateway_url, locale="de-DE")
    page = await context.new_page()
    await page.goto("/")
    assert await page.get_attribute("html", "lang") == "de", "Accept-Language picks the language"

    await tab_to(page, "a[href^='/etracking']")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/etracking?lang=de")
    await tab_to(page, "#number")
    await page.keyboard.type(created["number"])
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/etracking/lookup?**")

    german = (await api.get(f"/api/v1/etracking/trackings/{created['number']}?lang=de")).json()
    assert await page.text_content("#tracking-status") == german["status_label"]
    moment = datetime.fromisoformat(german["history"][0]["occurred_at"])
    assert await page.text_content("tbody time") == format_moment(moment, Language.DE)
    await page.screenshot(path=artifacts / "keyboard-result-de.png", full_page=True)

    await tab_to(page, "a[href^='/etracking?']")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/etracking?lang=de")
    await tab_to(page, "#number")
    await page.keyboard.type(UNKNOWN_NUMBER)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/etracking/lookup?**")

    summary = page.locator("#error-summary a")
    assert await summary.get_attribute("href") == "#number"
    assert await summary.text_content() == await api_refusal(api, UNKNOWN_NUMBER, "de")
    assert await page.input_value("#number") == UNKNOWN_NUMBER, "what was typed is kept"
    assert await page.get_attribute("#number", "aria-invalid") == "true"
    await tab_to(page, "#error-summary a")
    await page.keyboard.press("Enter")
    assert await page.evaluate("() => document.activeElement.id") == "number"
    await page.screenshot(path=artifacts / "keyboard-error-de.png", full_page=True)
    await context.close()


async def test_the_lookup_works_without_javascript(
    browser: Browser, stack: Stack, api: httpx.AsyncClient
) -> None:
    created = await create_tracking(api)
    context = await browser.new_context(base_url=stack.gateway_url, java_script_enabled=False)
    page = await context.new_page()
    await page.goto("/etracking?lang=fr")
    await page.fill("#number", created["number"].replace("-", "").lower())
    await page.click("button[type=submit]")
    await page.wait_for_url("**/etracking/lookup?**")
    french = (await api.get(f"/api/v1/etracking/trackings/{created['number']}?lang=fr")).json()
    assert await page.text_content("#tracking-status") == french["status_label"]
    assert await page.get_attribute("html", "lang") == "fr"
    await context.close()


async def check_shown_page(page: Page, axe: Axe, width: int, label: str, shot: Path) -> None:
    """Keep a screenshot; at 320 px no sideways scrolling, at full width no axe violation."""
    await page.screenshot(path=shot, full_page=True)
    if width == 320:
        overflow = await page.evaluate(
            "() => document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"{label} scrolls sideways by {overflow}px at 320px"
        return
    results = await axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    violations = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
    ]
    assert not violations, f"{label}: {violations}"


@dataclass
class Watch:
    """What went wrong while a page loaded: CSP reports in the console, failed requests."""

    csp_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_errors.append(message.text)

    def _response(self, response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_every_page_is_accessible_reflows_at_400_percent_zoom_and_has_its_policy(
    language: str, browser: Browser, stack: Stack, api: httpx.AsyncClient, artifacts: Path
) -> None:
    created = await create_tracking(api)
    pages = {
        "home": f"/?lang={language}",
        "lookup-form": f"/etracking?lang={language}",
        "lookup-result": f"/etracking/lookup?lang={language}&number={created['number']}",
        "lookup-error": f"/etracking/lookup?lang={language}&number=ET-12",
    }
    axe = Axe()
    # 320 CSS px wide is WCAG 1.4.10's reflow case: a 1280 px window zoomed to 400 %.
    for width, height in ((1280, 900), (320, 640)):
        context = await browser.new_context(
            base_url=stack.gateway_url, viewport={"width": width, "height": height}
        )
        page = await context.new_page()
        watch = Watch()
        watch.attach(page)
        for name, path in pages.items():
            response = await page.goto(path)
            assert response is not None
            assert response.headers["content-security-policy"] == CSP, path
            assert response.headers["x-content-type-options"] == "nosniff"
            assert await page.get_attribute("html", "lang") == language
            await check_shown_page(
                page, axe, width, f"{path}", artifacts / f"{name}-{language}-{width}.png"
            )
        assert not watch.csp_errors, watch.csp_errors
        assert not watch.failed, watch.failed
        await context.close()
