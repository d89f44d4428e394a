"""The pages of a request filed without an account (F21) in a browser: a dog licence started
without signing in (the anti-robot widget solving its challenge in the page), its steps filled
with one mistake shown next to its input and put right, the address confirmed with the code from
the mail (a wrong code said next to its input), sent; the acknowledgement's link (messaging's
mail: its worker runs beside the stack here) opened in another browser shows the request without
keeping the token in the address bar, downloads the proof and cancels it; a link of no request is
a 404 page. Every page accessible (axe, WCAG 2.1 AA) in fr,
de and en and reflowing at 320 px."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from launcher import Launcher, Started
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page
from stack import Stack, messaging_worker
from web.browsing import new_context
from web.test_lookup_pages import CSP, Watch, check_shown_page

from guichet.events import subjects
from guichet_testkit.altcha import solved_challenge
from guichet_testkit.mail import mail_links, mails_to, newest_mail

CODE = "dog-licence"
DIGITS = re.compile(r"\b(\d{6})\b")
REFERENCE = re.compile(r"PR-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")
FOLLOWED = "/api/v1/procedures/followed/request"


@pytest.fixture(scope="module")
async def acknowledgements(
    launcher: Launcher, messaging_database: str, jetstream: JetStreamContext, stack: Stack
) -> AsyncIterator[Started]:
    """messaging's worker: it mails the acknowledgement of a submission (procedures mails only
    the codes)."""
    async with messaging_worker(
        launcher,
        messaging_database,
        jetstream,
        [(subjects.PROCEDURES.name, "procedures-submitted")],
    ) as started:
        yield started


def _address() -> str:
    return f"dog-page-{uuid.uuid4().hex[:10]}@example.lu"


async def navigate(page: Page, selector: str) -> None:
    async with page.expect_navigation(wait_until="load"):
        await page.click(selector)


async def fill_keeper(page: Page, email: str, last_name: str = "Muller") -> None:
    await page.fill("#f-last_name", last_name)
    await page.fill("#f-first_name", "Anne")
    await page.fill("#f-address-street", "Rue du Marché-aux-Herbes")
    await page.fill("#f-address-house_number", "12A")
    await page.fill("#f-address-postcode", "1728")
    await page.fill("#f-address-locality", "Luxembourg")
    await page.fill("#f-email", email)


async def fill_dogs(page: Page) -> None:
    await page.click("label[for=f-reason-0]")  # a new dog
    await page.fill("#f-dogs-0-name", "Rex")
    await page.fill("#f-dogs-0-breed", "Beagle")
    await page.fill("#f-dogs-0-birth_date-day", "1")
    await page.fill("#f-dogs-0-birth_date-month", "5")
    await page.fill("#f-dogs-0-birth_date-year", str(date.today().year - 3))
    await page.fill("#f-dogs-0-chip_number", "250269812345678")
    await page.click("label[for=f-dogs-0-potentially_dangerous-1]")  # no
    await page.click("label[for=f-insured-0]")  # yes
    await page.fill("#f-insurer", "Assurances du Nord")
    await page.fill("#f-policy_number", "P-1234")


async def code_from_mail(mail_dir: Path, email: str, since: float) -> str:
    mail = await newest_mail(mail_dir, email, since=since, subject_contains="code")
    found = DIGITS.search(str(mail["Subject"]))
    assert found is not None
    return found.group(1)


async def test_a_dog_licence_is_sent_without_an_account_and_followed_from_the_mail(
    browser: Browser, stack: Stack, mail_dir: Path, artifacts: Path, acknowledgements: Started
) -> None:
    context = await new_context(browser, stack)
    page = await context.new_page()
    await page.goto(f"/procedures/{CODE}?lang=en")
    async with page.expect_navigation():
        await page.click("#start-without-account-link")
    await page.wait_for_url(f"**/procedures/{CODE}/without-account?lang=en")
    response = await page.reload()
    assert response is not None and response.headers["content-security-policy"] == CSP
    await navigate(page, "#start-without-account")  # the widget solves, then the form goes
    await page.wait_for_url("**/procedures/follow?lang=en")
    assert "token" not in page.url

    await navigate(page, "#step-keeper")
    email = _address()
    await fill_keeper(page, email, last_name="")
    await navigate(page, "#save-step")
    # One mistake: said at the top and next to its input, what was typed kept.
    assert await page.get_attribute("#error-summary a", "href") == "#f-last_name"
    assert await page.locator("#f-last_name-error").count() == 1
    assert await page.input_value("#f-first_name") == "Anne"
    await page.fill("#f-last_name", "Muller")
    await navigate(page, "#save-step")
    await fill_dogs(page)
    await navigate(page, "#save-step")
    await page.wait_for_url("**/procedures/follow?lang=en")
    assert await page.locator("#send-request").count() == 0  # the address comes first

    since = time.time()
    await page.fill("#email", email)
    await navigate(page, "#send-code")
    code = await code_from_mail(mail_dir, email, since)
    await page.fill("#code", str((int(code) + 1) % 10**6).zfill(6))
    await navigate(page, "#confirm-code")
    assert "Attempts left" in (await page.text_content("#code-error") or "")
    await page.fill("#code", code)
    await navigate(page, "#confirm-code")
    assert await page.locator("#email-confirmed").count() == 1

    since = time.time()
    await navigate(page, "#send-request")
    reference = (await page.text_content("#reference") or "").strip()
    assert REFERENCE.fullmatch(reference)
    await page.screenshot(path=artifacts / "anonymous-sent-en.png", full_page=True)
    await context.close()

    # The acknowledgement's link, opened elsewhere: the request, and the token out of the URL.
    # One acknowledgement: messaging's (procedures sends none of its own any more).
    mail = await newest_mail(
        mail_dir, email, since=since, subject_contains=reference, wait_seconds=60
    )
    assert len(mails_to(mail_dir, email, subject_contains=reference)) == 1
    link = next(link for link in mail_links(mail) if "/procedures/follow?token=" in link)
    other = await new_context(browser, stack)
    page = await other.new_page()
    await page.goto(link.replace("http://127.0.0.1:8000", stack.gateway_url) + "&lang=en")
    await page.wait_for_url("**/procedures/follow?lang=en")
    assert (await page.text_content("#reference") or "").strip() == reference
    async with page.expect_download() as downloading:
        await page.click("#download-proof")
    proof = await (await downloading.value).path()
    assert proof.read_bytes().startswith(b"%PDF")
    await navigate(page, "#cancel-request")
    assert await page.locator("#done").count() == 1
    assert await page.locator("#cancel-request").count() == 0
    await other.close()


async def test_a_link_of_no_request_is_a_not_found_page(browser: Browser, stack: Stack) -> None:
    context = await new_context(browser, stack)
    page = await context.new_page()
    response = await page.goto(f"/procedures/follow?token={'A' * 43}&lang=en")
    assert response is not None and response.status == 404
    assert "not valid" in (await page.text_content("main") or "")
    response = await page.goto("/procedures/follow?token=short&lang=en")
    assert response is not None and response.status == 404
    await context.close()


async def _submitted_by_api(api: httpx.AsyncClient, mail_dir: Path) -> tuple[str, str]:
    """A dog licence sent through the API: its token and address."""
    started = await api.post(
        f"/api/v1/procedures/{CODE}/anonymous-drafts?lang=en",
        json={"altcha": await solved_challenge(api)},
    )
    token = started.json()["follow_up_token"]
    headers = {"Follow-Up-Token": token}
    email = _address()
    answers: dict[str, Any] = {
        "keeper": {
            "last_name": "Muller",
            "first_name": "Anne",
            "address": {
                "street": "Rue du Marché-aux-Herbes",
                "house_number": "12A",
                "postcode": "L-1728",
                "locality": "Luxembourg",
                "country": "LU",
            },
            "email": email,
        },
        "my_dogs": {
            "reason": "new_dog",
            "dogs": [
                {
                    "name": "Rex",
                    "breed": "Beagle",
                    "birth_date": date(date.today().year - 3, 5, 1).isoformat(),
                    "chip_number": "250269812345678",
                    "potentially_dangerous": False,
                }
            ],
            "insured": True,
            "insurer": "Assurances du Nord",
            "policy_number": "P-1234",
        },
    }
    for step, values in answers.items():
        saved = await api.put(f"{FOLLOWED}/steps/{step}", headers=headers, json=values)
        assert saved.status_code == 200, saved.text
    since = time.time()
    await api.put(f"{FOLLOWED}/email", headers=headers, json={"email": email})
    code = await code_from_mail(mail_dir, email, since)
    await api.post(f"{FOLLOWED}/email-confirmation", headers=headers, json={"code": code})
    sent = await api.post(
        f"{FOLLOWED}/submission", headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert sent.status_code == 200, sent.text
    return token, email


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_the_pages_without_an_account_are_accessible_and_reflow(
    language: str,
    browser: Browser,
    stack: Stack,
    api: httpx.AsyncClient,
    mail_dir: Path,
    artifacts: Path,
) -> None:
    axe = Axe()
    token, _email = await _submitted_by_api(api, mail_dir)
    for width, height in ((1280, 900), (320, 640)):
        context = await browser.new_context(
            base_url=stack.gateway_url, viewport={"width": width, "height": height}
        )
        page = await context.new_page()
        watch = Watch()
        watch.attach(page)

        def shot(name: str) -> Path:
            return artifacts / f"anonymous-{name}-{language}-{width}.png"  # noqa: B023

        await page.goto(f"/procedures/{CODE}/without-account?lang={language}")
        assert await page.get_attribute("html", "lang") == language
        await check_shown_page(page, axe, width, "start", shot("start"))
        await navigate(page, "#start-without-account")
        await page.wait_for_url(f"**/procedures/follow?lang={language}")
        await check_shown_page(page, axe, width, "draft", shot("draft"))
        await navigate(page, "#step-keeper")
        await navigate(page, "#save-step")  # nothing typed: the errors
        assert await page.locator("#error-summary").count() == 1
        await check_shown_page(page, axe, width, "step errors", shot("step-errors"))
        await page.goto(f"/procedures/follow?lang={language}")
        await page.fill("#email", "not an address")
        await navigate(page, "#send-code")
        assert await page.locator("#error-summary").count() == 1
        await check_shown_page(page, axe, width, "address errors", shot("address-errors"))

        await page.goto(f"/procedures/follow?token={token}&lang={language}")
        await page.wait_for_url(f"**/procedures/follow?lang={language}")
        assert await page.locator("#reference").count() == 1
        await check_shown_page(page, axe, width, "sent", shot("sent"))
        assert not watch.csp_errors, watch.csp_errors
        assert not watch.failed, watch.failed
        await context.close()
