"""The eTracking pages in a browser: a paper form opted in to tracking anonymously (the anti-robot
widget solving its challenge in the page), its sheet downloaded as a PDF and its number looked up;
wrong input shown next to its field and nothing created; "My eTrackings" for a signed-in person;
every page accessible (axe, WCAG 2.1 AA) in fr/de/en and reflowing at 320 CSS px."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page
from stack import Counts, Stack
from web.browsing import SignedInBrowser
from web.test_lookup_pages import CSP, Watch, check_shown_page

FORM = "ACD-IR-100"


async def tick(page: Page, input_id: str) -> None:
    """Clicks the label, as a person does (the design system draws its own box over the input)."""
    await page.click(f"label[for='{input_id}']")


async def choose_form(page: Page, code: str = FORM) -> None:
    await tick(page, await page.get_attribute(f"input[value='{code}']", "id") or "")


async def send(page: Page) -> None:
    """Sends the form; the anti-robot widget solves its challenge first, then the page loads."""
    async with page.expect_navigation(wait_until="load"):
        await page.click("#tracking-form button[type=submit]")


async def test_a_paper_form_is_tracked_anonymously_its_sheet_printed_and_looked_up(
    browser: Browser, stack: Stack, api: httpx.AsyncClient, counts: Counts, artifacts: Path
) -> None:
    context = await browser.new_context(base_url=stack.gateway_url, locale="de-DE")
    page = await context.new_page()
    before = await counts.snapshot()
    await page.goto("/etracking/new")
    assert await page.get_attribute("html", "lang") == "de"
    await choose_form(page)
    await tick(page, "notify_by_email")
    await page.fill("#email", "lea.meyer@example.lu")
    await tick(page, "language-en")
    await send(page)

    await page.wait_for_url("**/etracking/created/**")
    number = (await page.text_content("#tracking-number") or "").strip()
    created = await api.get(f"/api/v1/etracking/trackings/{number}", params={"lang": "de"})
    assert created.status_code == 200, created.text
    assert created.json()["paper_form"]["code"] == FORM
    after = await counts.snapshot()
    assert after["trackings"] == before["trackings"] + 1
    await page.screenshot(path=artifacts / "etracking-created-de.png", full_page=True)

    async with page.expect_download() as downloading:
        await page.click("#sheet-link")
    sheet = await (await downloading.value).path()
    assert sheet.read_bytes().startswith(b"%PDF-")

    await page.click("#lookup-link")
    await page.wait_for_url("**/etracking/lookup?**")
    assert await page.text_content("#tracking-status") == created.json()["status_label"]
    await context.close()


async def test_wrong_input_is_shown_next_to_its_field_and_nothing_is_created(
    browser: Browser, stack: Stack, counts: Counts
) -> None:
    context = await browser.new_context(base_url=stack.gateway_url, locale="en-GB")
    page = await context.new_page()
    before = await counts.snapshot()

    await page.goto("/etracking/new")
    await tick(page, "notify_by_email")
    await page.fill("#email", "kept@example.lu")
    await send(page)
    summary = page.locator("#error-summary a")
    assert await summary.count() == 1
    assert await summary.get_attribute("href") == "#paper_form_code"
    assert await summary.text_content() == "Choose the paper form you will send."
    assert await page.input_value("#email") == "kept@example.lu", "what was typed is kept"
    assert await page.is_checked("#notify_by_email")

    await choose_form(page)
    await tick(page, "notify_by_sms")
    await send(page)
    assert await summary.get_attribute("href") == "#phone"
    assert await page.get_attribute("#phone", "aria-invalid") == "true"
    assert "phone-error" in (await page.get_attribute("#phone", "aria-describedby") or "")
    assert await page.is_checked(f"input[name=paper_form_code][value='{FORM}']")
    assert await page.is_checked("#notify_by_sms")

    await page.fill("#phone", "not a number")
    await send(page)
    assert await summary.get_attribute("href") == "#phone"
    assert await page.input_value("#phone") == "not a number"

    assert await counts.snapshot() == before
    await context.close()


async def test_a_form_posted_without_its_token_creates_nothing(
    api: httpx.AsyncClient, counts: Counts
) -> None:
    before = await counts.snapshot()
    answer = await api.post(
        "/etracking/new", data={"paper_form_code": FORM, "language": "en"}, follow_redirects=False
    )
    assert answer.status_code == 403
    assert await counts.snapshot() == before


async def test_a_signed_in_person_tracks_a_form_and_finds_it_in_my_etrackings(
    signed_in: SignedInBrowser, counts: Counts
) -> None:
    page = signed_in.page
    await page.goto("/my/etrackings?lang=en")
    assert await page.locator("#no-trackings").count() == 1
    await page.goto("/my/etrackings/new?lang=en")
    assert await page.locator("altcha-widget").count() == 0, "no anti-robot check signed in"
    await choose_form(page)
    await send(page)
    await page.wait_for_url("**/etracking/created/**")
    number = (await page.text_content("#tracking-number") or "").strip()

    await page.goto("/my/etrackings?lang=en")
    row = page.locator("#my-trackings tbody tr")
    assert await row.count() == 1
    assert (await row.locator("th a").text_content() or "").strip() == number
    await row.locator("th a").click()
    await page.wait_for_url("**/etracking/lookup?**")
    assert number in (await page.text_content("h1") or "")


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_the_etracking_pages_are_accessible_and_reflow(
    language: str, browser: Browser, stack: Stack, api: httpx.AsyncClient, artifacts: Path
) -> None:
    axe = Axe()
    for width, height in ((1280, 900), (320, 640)):
        context = await browser.new_context(
            base_url=stack.gateway_url, viewport={"width": width, "height": height}
        )
        page = await context.new_page()
        watch = Watch()
        watch.attach(page)
        response = await page.goto(f"/etracking/new?lang={language}")
        assert response is not None and response.headers["content-security-policy"] == CSP
        await check_shown_page(
            page, axe, width, "form", artifacts / f"etracking-new-{language}-{width}.png"
        )
        await send(page)  # nothing chosen: the form with its errors
        assert await page.locator("#error-summary").count() == 1
        await check_shown_page(
            page,
            axe,
            width,
            "form errors",
            artifacts / f"etracking-new-errors-{language}-{width}.png",
        )
        await choose_form(page)
        await send(page)
        await page.wait_for_url("**/etracking/created/**")
        assert await page.get_attribute("html", "lang") == language
        await check_shown_page(
            page, axe, width, "created", artifacts / f"etracking-created-{language}-{width}.png"
        )
        assert not watch.csp_errors, watch.csp_errors
        assert not watch.failed, watch.failed
        await context.close()
