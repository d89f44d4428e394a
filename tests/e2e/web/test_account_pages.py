"""The public account pages in a browser: a person registers (the real anti-robot widget solving
its proof of work in Chromium), confirms the address from the mail, later confirms a new e-mail
address from the link identity mails; forgotten password; every page accessible in fr/de/en and
reflowing at 320 px; each bad input refused with its error next to the field and in the summary,
and nothing created."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import PASSWORD, Citizen, Registry, fresh_national_id
from playwright.async_api import Browser, BrowserContext, Page
from stack import Stack
from web.test_lookup_pages import CSP, Watch, check_shown_page

from guichet_testkit.mail import mail_links, newest_mail

# The widget solves when the form is sent, then sends it: a page change after the solving.
SOLVED_AND_SENT_MS = 60_000


async def fresh_page(
    browser: Browser, stack: Stack, locale: str = "en-GB", **options: Any
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(base_url=stack.gateway_url, locale=locale, **options)
    return context, await context.new_page()


async def logins_for(people: Registry, email: str) -> list[dict[str, Any]]:
    return await asyncio.to_thread(people.admin().get_users, {"email": email, "exact": True})


def new_person(first_name: str = "Lina") -> Citizen:
    return Citizen(
        email=f"{first_name.lower()}.{uuid.uuid4().hex[:10]}@example.lu",
        password=PASSWORD,
        national_id=fresh_national_id(),
        first_name=first_name,
        last_name="Schmit",
    )


async def fill_registration(page: Page, person: Citizen) -> None:
    await page.fill("#national_id", person.national_id)
    await page.fill("#first_name", person.first_name)
    await page.fill("#last_name", person.last_name)
    await page.fill("#email", person.email)
    await page.fill("#password", person.password)


async def test_a_person_registers_in_the_browser_and_confirms_the_address(
    browser: Browser, stack: Stack, people: Registry, artifacts: Path
) -> None:
    person = new_person()
    context, page = await fresh_page(browser, stack, locale="fr-FR")
    watch = Watch()
    watch.attach(page)
    await page.goto("/account/register")
    await fill_registration(page, person)
    await page.click("label[for=language-de]")
    since = time.time()
    await page.click("button[type=submit]")
    await page.wait_for_url("**/account/register/done?lang=fr", timeout=SOLVED_AND_SENT_MS)
    people.created.append(person)
    assert await page.get_attribute("html", "lang") == "fr"
    await page.screenshot(path=artifacts / "register-done-fr.png", full_page=True)
    assert not watch.csp_errors, watch.csp_errors
    assert not watch.failed, watch.failed
    await context.close()

    [login] = await logins_for(people, person.email)
    assert login["emailVerified"] is False
    mail = await newest_mail(people.mail_dir, person.email, since=since, subject_contains="erif")
    link = next(link for link in mail_links(mail) if "key=" in link)
    await people.agent.follow_email_link(link)
    person.tokens["low"] = await people.agent.login(person.email, person.password)


async def test_a_new_address_is_confirmed_from_the_mailed_link(
    browser: Browser, stack: Stack, people: Registry, api: httpx.AsyncClient, artifacts: Path
) -> None:
    anne = await people.register("Anne")
    new_email = "moved." + anne.email
    since = time.time()
    asked = await api.post("/api/v1/me/email", headers=anne.bearer(), json={"new_email": new_email})
    assert asked.status_code == 202, asked.text
    mail = await newest_mail(people.mail_dir, new_email, since=since)
    mailed = urlsplit(next(link for link in mail_links(mail) if "token=" in link))
    assert mailed.path == "/account/confirm-email", "identity links to this page"

    context, page = await fresh_page(browser, stack, locale="de-DE")
    await page.goto(f"{mailed.path}?{mailed.query}")
    await people.agent.login(anne.email, anne.password)  # opening the link changed nothing
    await page.click("#confirm")
    await page.wait_for_url("**/account/confirm-email/done?lang=de")
    await page.screenshot(path=artifacts / "email-confirmed-de.png", full_page=True)
    anne.email = new_email
    await people.agent.login(new_email, anne.password)

    # The same link again: refused on the page, in the page's language.
    await page.goto(f"{mailed.path}?{mailed.query}")
    response = await _confirm(page)
    assert response == 422
    assert await page.locator("#error-summary").is_visible()
    await context.close()


async def _confirm(page: Page) -> int:
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.click("#confirm")
    return (await answer.value).status


async def test_a_forgotten_password_gets_the_same_answer_known_or_not(
    browser: Browser, stack: Stack, people: Registry
) -> None:
    anne = await people.register("Anne")
    answers = []
    for email in (anne.email, f"nobody.{uuid.uuid4().hex[:8]}@example.lu"):
        context, page = await fresh_page(browser, stack)
        await page.goto("/account/password-reset?lang=en")
        await page.fill("#email", email)
        since = time.time()
        await page.click("button[type=submit]")
        await page.wait_for_url(
            "**/account/password-reset/sent?lang=en", timeout=SOLVED_AND_SENT_MS
        )
        answers.append(await page.inner_text("main"))
        await context.close()
        if email == anne.email:
            await newest_mail(people.mail_dir, email, since=since, subject_contains="update")
    assert answers[0] == answers[1]


async def test_without_javascript_the_form_says_why_it_cannot_be_sent(
    browser: Browser, stack: Stack, people: Registry
) -> None:
    person = new_person("Noah")
    context, page = await fresh_page(browser, stack, java_script_enabled=False)
    await page.goto("/account/register?lang=en")
    assert "needs JavaScript" in await page.inner_text("#altcha")
    await fill_registration(page, person)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    summary = page.locator("#error-summary a")
    assert await summary.get_attribute("href") == "#altcha"
    assert "JavaScript" in (await summary.text_content() or "")
    assert await page.input_value("#email") == person.email, "what was typed is kept"
    assert await page.input_value("#password") == "", "a password is never sent back"
    assert await logins_for(people, person.email) == []
    await context.close()


BAD_REGISTRATIONS = {
    "national-id-format": ({"national_id": "12345"}, "national_id"),
    "national-id-check-digits": ({"national_id": "1985061200138"}, "national_id"),
    "email": ({"email": "not-an-address"}, "email"),
    "password-too-short": ({"password": "short"}, "password"),
    "first-name-empty": ({"first_name": ""}, "first_name"),
    "last-name-empty": ({"last_name": ""}, "last_name"),
}


@pytest.mark.parametrize("bad", BAD_REGISTRATIONS)
async def test_each_bad_registration_field_is_shown_and_nothing_is_created(
    browser: Browser, stack: Stack, people: Registry, bad: str
) -> None:
    change, field = BAD_REGISTRATIONS[bad]
    person = new_person("Eva")
    context, page = await fresh_page(browser, stack)
    await page.goto("/account/register?lang=en")
    await fill_registration(page, person)
    for name, value in change.items():
        await page.fill(f"#{name}", value)
    async with page.expect_response(
        lambda r: r.request.method == "POST", timeout=SOLVED_AND_SENT_MS
    ) as answer:
        await page.click("button[type=submit]")
    assert (await answer.value).status == 422
    await page.wait_for_selector("#error-summary")
    links = [await a.get_attribute("href") for a in await page.locator("#error-summary a").all()]
    assert f"#{field}" in links
    assert await page.get_attribute(f"#{field}", "aria-invalid") == "true"
    described = await page.get_attribute(f"#{field}", "aria-describedby") or ""
    assert f"{field}-error" in described.split()
    assert await page.locator(f"#{field}-error").inner_text()
    if field != "password":
        assert await page.input_value(f"#{field}") == change[field]
    assert await logins_for(people, person.email) == []
    await context.close()


async def test_a_registration_taken_by_another_account_is_refused_next_to_the_field(
    browser: Browser, stack: Stack, people: Registry
) -> None:
    anne = await people.register("Anne")
    person = new_person("Lou")
    person.email = anne.email
    context, page = await fresh_page(browser, stack)
    await page.goto("/account/register?lang=en")
    await fill_registration(page, person)
    async with page.expect_response(
        lambda r: r.request.method == "POST", timeout=SOLVED_AND_SENT_MS
    ) as answer:
        await page.click("button[type=submit]")
    assert (await answer.value).status == 422
    await page.wait_for_selector("#error-summary")
    assert await page.get_attribute("#email", "aria-invalid") == "true"
    assert len(await logins_for(people, anne.email)) == 1
    await context.close()


async def test_a_form_sent_from_elsewhere_is_refused_and_creates_nothing(
    stack: Stack, people: Registry
) -> None:
    person = new_person("Max")
    async with httpx.AsyncClient(base_url=stack.gateway_url) as other_site:
        form = (await other_site.get("/account/register?lang=en")).text
        token = form.split('name="form_token" value="')[1].split('"')[0]
        fields = {
            "national_id": person.national_id,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "password": person.password,
            "language": "en",
        }
        # The field without the cookie (another site cannot read or set it), then a wrong one.
        other_site.cookies.clear()
        for sent in ({**fields, "form_token": token}, {**fields, "form_token": "x" * 43}):
            refused = await other_site.post("/account/register?lang=en", data=sent)
            assert refused.status_code == 403, refused.text
            assert "text/html" in refused.headers["content-type"]
    assert await logins_for(people, person.email) == []


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_every_account_page_is_accessible_reflows_and_has_its_policy(
    language: str, browser: Browser, stack: Stack
) -> None:
    axe = Axe()
    for width, height in ((1280, 900), (320, 640)):
        context, page = await fresh_page(
            browser, stack, viewport={"width": width, "height": height}
        )
        watch = Watch()
        watch.attach(page)
        shown = {
            "register": f"/account/register?lang={language}",
            "register-done": f"/account/register/done?lang={language}",
            "password-reset": f"/account/password-reset?lang={language}",
            "password-reset-sent": f"/account/password-reset/sent?lang={language}",
            "confirm-email": f"/account/confirm-email?lang={language}&token=abc",
            "confirm-email-incomplete": f"/account/confirm-email?lang={language}",
            "email-confirmed": f"/account/confirm-email/done?lang={language}",
        }
        for name, path in shown.items():
            response = await page.goto(path)
            assert response is not None and response.status == 200, path
            assert response.headers["content-security-policy"] == CSP, path
            assert await page.get_attribute("html", "lang") == language
            await check_shown_page(page, axe, width, path, _shot(name, language, width))
        # The pages with their errors: an empty registration, a confirmation link that fails.
        await page.goto(f"/account/register?lang={language}")
        await _send(page)
        await check_shown_page(page, axe, width, "register-errors", _shot("r-e", language, width))
        await page.goto(f"/account/password-reset?lang={language}")
        await _send(page)
        await check_shown_page(page, axe, width, "reset-errors", _shot("p-e", language, width))
        await page.goto(f"/account/confirm-email?lang={language}&token=abc")
        assert await _confirm(page) == 422
        await check_shown_page(page, axe, width, "confirm-error", _shot("c-e", language, width))
        assert not watch.csp_errors, watch.csp_errors
        assert not watch.failed, watch.failed
        await context.close()


async def _send(page: Page) -> None:
    async with page.expect_response(
        lambda r: r.request.method == "POST", timeout=SOLVED_AND_SENT_MS
    ) as answer:
        await page.click("button[type=submit]")
    assert (await answer.value).status == 422
    await page.wait_for_selector("#error-summary")


def _shot(name: str, language: str, width: int) -> Path:
    folder = Path(__file__).resolve().parents[3] / ".data" / "test-artifacts" / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"account-{name}-{language}-{width}.png"
