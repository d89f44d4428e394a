"""The signed-in person's own account pages in a browser, against the real services and Keycloak:
profile and preferences edited and checked through the API, refusals shown on their fields with
nothing changed, the profile edited with the keyboard only, the step-up round trip of the export,
the account deleted, each session seeing only its own person, and every page accessible in fr, de
and en and reflowing at 320 px."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from axe_playwright_python.async_playwright import Axe
from citizens import Citizen, Registry
from launcher import Launcher
from playwright.async_api import Browser, Page
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from stack import Stack
from web.browsing import SignedInBrowser, fill_keycloak_login, new_context, sign_in
from web.test_lookup_pages import check_shown_page, tab_to

from guichet_gateway.store import web_sessions
from guichet_kit.i18n import Language, format_moment
from guichet_testkit.login import LoginRefused, totp_code
from guichet_testkit.mail import newest_mail

SESSION_COOKIE = "__Host-guichet-session"


@pytest.fixture
async def gateway_db(launcher: Launcher, stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(launcher.gateway_database_url)
    yield engine
    await engine.dispose()


async def profile_of(api: httpx.AsyncClient, citizen: Citizen) -> dict:
    response = await api.get("/api/v1/me/profile", headers=citizen.bearer())
    assert response.status_code == 200, response.text
    return response.json()


async def preferences_of(api: httpx.AsyncClient, citizen: Citizen) -> dict:
    response = await api.get("/api/v1/me/preferences", headers=citizen.bearer())
    assert response.status_code == 200, response.text
    return response.json()


async def field_errors(page: Page) -> dict[str, str]:
    """Each wrong field's message as shown next to it, by the field's id."""
    shown = {}
    for error in await page.locator(".usa-error-message").all():
        name = (await error.get_attribute("id") or "").removesuffix("-error")
        shown[name] = (await error.text_content() or "").strip()
    return shown


async def summary_links(page: Page) -> dict[str, str]:
    links = {}
    for link in await page.locator("#error-summary a").all():
        links[await link.get_attribute("href") or ""] = (await link.text_content() or "").strip()
    return links


async def sign_in_at_substantial(page: Page, citizen: Citizen, return_to: str) -> None:
    """A browser session at the substantial level: password and TOTP code at Keycloak."""
    await page.goto(f"/signin?{urlencode({'return_to': return_to, 'acr': 'substantial'})}")
    await fill_keycloak_login(page, citizen, totp_secret=citizen.totp_secret)
    await page.wait_for_url(f"**{return_to.split('?')[0]}**")


async def step_up_at_keycloak(page: Page, citizen: Citizen) -> None:
    """Keycloak asks the signed-in person for the second factor (and the password again if it
    wants it)."""
    await page.wait_for_selector("#otp, #password")
    if await page.locator("#password").count():
        await fill_keycloak_login(page, citizen, totp_secret=citizen.totp_secret)
        return
    assert citizen.totp_secret is not None
    await page.fill("#otp", totp_code(citizen.totp_secret))
    await page.click("#kc-login")


async def test_the_profile_is_edited_in_the_browser(
    signed_in: SignedInBrowser, api: httpx.AsyncClient
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    await page.goto("/my/profile?lang=en")
    assert await page.text_content("#national-id") == citizen.national_id
    await page.fill("#first_name", "Léa")
    await page.fill("#last_name", "Muller-Schmit")
    await page.fill("#street", "Rue du Marché-aux-Herbes")
    await page.fill("#house_number", "12A")
    await page.fill("#postal_code", "L-1234")
    await page.fill("#locality", "Luxembourg")
    await page.select_option("#country", "LU")
    await page.fill("#phone", "+352 621 123 456")
    await page.click("#save-profile")
    await page.wait_for_url("**/my/profile?lang=en&saved=1")
    assert await page.locator("#success").is_visible()

    profile = await profile_of(api, citizen)
    assert (profile["first_name"], profile["last_name"]) == ("Léa", "Muller-Schmit")
    assert profile["address"] == {
        "street": "Rue du Marché-aux-Herbes",
        "house_number": "12A",
        "postal_code": "1234",
        "locality": "Luxembourg",
        "country": "LU",
    }
    assert profile["phone"] == "+352621123456"
    # The page shows what is stored.
    assert await page.input_value("#postal_code") == "1234"
    assert await page.input_value("#country") == "LU"


async def test_a_wrong_profile_shows_every_error_and_changes_nothing(
    signed_in: SignedInBrowser, api: httpx.AsyncClient
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    before = await profile_of(api, citizen)
    await page.goto("/my/profile?lang=de")
    await page.fill("#last_name", "")
    await page.fill("#street", "Grand-Rue")
    await page.fill("#postal_code", "12345")
    await page.fill("#locality", "Luxembourg")
    await page.select_option("#country", "LU")
    async with page.expect_response("**/my/profile?lang=de") as sent:
        await page.click("#save-profile")
    assert (await sent.value).status == 422

    # The API refuses the same profile with the same words, in the same language.
    body = {
        "first_name": citizen.first_name,
        "last_name": "",
        "phone": "",
        "address": {
            "street": "Grand-Rue",
            "house_number": "",
            "postal_code": "12345",
            "locality": "Luxembourg",
            "country": "LU",
        },
    }
    refused = await api.put("/api/v1/me/profile?lang=de", json=body, headers=citizen.bearer())
    assert refused.status_code == 422, refused.text
    expected = {e["field"].split(".")[-1]: e["message"] for e in refused.json()["errors"]}
    assert set(expected) == {"last_name", "postal_code"}

    assert await field_errors(page) == expected
    assert await summary_links(page) == {f"#{name}": text for name, text in expected.items()}
    for name in expected:
        assert await page.get_attribute(f"#{name}", "aria-invalid") == "true"
        described = await page.get_attribute(f"#{name}", "aria-describedby") or ""
        assert f"{name}-error" in described.split()
    # What was typed is kept.
    assert await page.input_value("#postal_code") == "12345"
    assert await page.input_value("#street") == "Grand-Rue"
    assert await page.input_value("#last_name") == ""
    assert (await page.title()).startswith("Fehler")
    # The summary's link brings the focus to its field.
    await page.click("#error-summary a[href='#postal_code']")
    assert await page.evaluate("() => document.activeElement.id") == "postal_code"

    assert await profile_of(api, citizen) == before


async def test_the_profile_is_edited_with_the_keyboard_only(
    signed_in: SignedInBrowser, api: httpx.AsyncClient
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    await page.goto("/my/security?lang=en")
    await tab_to(page, "a[href^='/my/profile']", limit=40)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/my/profile?lang=en")

    await tab_to(page, "#first_name", limit=40)
    await page.keyboard.press("Control+A")
    await page.keyboard.type("Lena")
    await tab_to(page, "#street")
    await page.keyboard.type("Boulevard Royal")
    await page.keyboard.press("Tab")
    await page.keyboard.type("7")
    await page.keyboard.press("Tab")
    await page.keyboard.type("2449")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Luxembourg")
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.id") == "country"
    # A select is chosen by typing the first letters of the option, as a keyboard user does.
    await page.keyboard.type("Luxem")
    assert await page.input_value("#country") == "LU"
    await tab_to(page, "#save-profile")
    await page.keyboard.press("Space")
    await page.wait_for_url("**/my/profile?lang=en&saved=1")

    profile = await profile_of(api, citizen)
    assert profile["first_name"] == "Lena"
    assert profile["address"]["street"] == "Boulevard Royal"
    assert profile["address"]["postal_code"] == "2449"
    assert profile["address"]["country"] == "LU"


async def test_my_account_is_changed_in_my_own_name_while_acting_for_a_company(
    signed_in: SignedInBrowser, people: Registry, api: httpx.AsyncClient, gateway_db: AsyncEngine
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    created = await api.post(
        "/api/v1/spaces",
        json={
            "company_name": "Muller SARL",
            "registry_number": await people.company_run_by(citizen),
        },
        headers=citizen.bearer(),
    )
    assert created.status_code == 201, created.text
    # The session acts for the company (as the context switch leaves it).
    async with gateway_db.begin() as connection:
        await connection.execute(
            web_sessions.update()
            .where(web_sessions.c.subject == citizen.subject)
            .values(acting_context=f"company:{created.json()['id']}")
        )
    for path in ("/my/preferences", "/my/security", "/my/profile"):
        response = await page.goto(f"{path}?lang=en")
        assert response is not None and response.status == 200, path
        assert "Muller SARL" in (await page.text_content("#acting-for") or ""), path
    await page.fill("#first_name", "Leonie")
    await page.click("#save-profile")
    await page.wait_for_url("**/my/profile?lang=en&saved=1")
    assert (await profile_of(api, citizen))["first_name"] == "Leonie"
    async with gateway_db.connect() as connection:
        context = await connection.scalar(
            sa.select(web_sessions.c.acting_context).where(
                web_sessions.c.subject == citizen.subject
            )
        )
    assert context.startswith("company:"), "the session still acts for the company"


async def test_preferences_are_set_and_sms_needs_a_phone(
    signed_in: SignedInBrowser, api: httpx.AsyncClient
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    before = await preferences_of(api, citizen)
    assert (await profile_of(api, citizen))["phone"] == ""
    await page.goto("/my/preferences?lang=fr")
    await page.check("label[for=sms_notifications]")
    async with page.expect_response("**/my/preferences?lang=fr") as sent:
        await page.click("#save-preferences")
    assert (await sent.value).status == 422
    refused = await api.put(
        "/api/v1/me/preferences?lang=fr",
        json={**before, "sms_notifications": True},
        headers=citizen.bearer(),
    )
    assert refused.status_code == 422, refused.text
    [expected] = refused.json()["errors"]
    assert await field_errors(page) == {"sms_notifications": expected["message"]}
    assert await summary_links(page) == {"#sms_notifications": expected["message"]}
    assert await page.is_checked("#sms_notifications"), "what was chosen is kept"
    assert await preferences_of(api, citizen) == before

    await page.uncheck("label[for=sms_notifications]")
    await page.uncheck("label[for=email_notifications]")
    await page.check("label[for=edelivery_subscribed]")
    await page.check("label[for=language-de]")
    await page.click("#save-preferences")
    # The page speaks the newly chosen language.
    await page.wait_for_url("**/my/preferences?lang=de&saved=1")
    assert await page.get_attribute("html", "lang") == "de"
    assert await page.locator("#success").is_visible()
    assert await preferences_of(api, citizen) == {
        "email_notifications": False,
        "sms_notifications": False,
        "language": "de",
        "edelivery_subscribed": True,
    }
    assert await page.is_checked("#language-de")
    assert await page.is_checked("#edelivery_subscribed")
    assert not await page.is_checked("#email_notifications")


async def test_password_and_e_mail_are_changed_and_sign_ins_listed(
    signed_in: SignedInBrowser, people: Registry, api: httpx.AsyncClient
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    await page.goto("/my/security?lang=en")
    # The sign-in activity: identity's events, dates as read in Luxembourg.
    listed = await api.get("/api/v1/me/sign-ins", headers=citizen.bearer())
    known = {datetime.fromisoformat(s["occurred_at"]) for s in listed.json()}
    first = page.locator("#sign-ins tbody time").first
    moment = datetime.fromisoformat(await first.get_attribute("datetime") or "")
    assert moment in known
    assert await first.text_content() == format_moment(moment, Language.EN)

    # A wrong current password: identity's words on the field, nothing changed.
    new_password = "another horse battery staple"
    await page.fill("#current_password", "not my password at all")
    await page.fill("#new_password", new_password)
    await page.fill("#new_password_again", new_password)
    async with page.expect_response("**/my/security/password?lang=en") as sent:
        await page.click("#change-password")
    assert (await sent.value).status == 422
    refused = await api.post(
        "/api/v1/me/password?lang=en",
        json={"current_password": "not my password at all", "new_password": new_password},
        headers=citizen.bearer(),
    )
    assert refused.status_code == 422, refused.text
    assert await field_errors(page) == {"current_password": refused.json()["errors"][0]["message"]}
    assert await page.input_value("#new_password") == "", "a password is never sent back"
    await people.agent.login(citizen.email, citizen.password)

    await page.fill("#current_password", citizen.password)
    await page.fill("#new_password", new_password)
    await page.fill("#new_password_again", new_password)
    await page.click("#change-password")
    await page.wait_for_url("**/my/security?lang=en&done=password")
    assert await page.locator("#success").is_visible()
    await people.agent.login(citizen.email, new_password)
    with pytest.raises(LoginRefused):
        await people.agent.login(citizen.email, citizen.password)

    # The e-mail change: one's own address again is refused, a new one gets the link.
    await page.fill("#new_email", citizen.email)
    async with page.expect_response("**/my/security/email?lang=en") as sent:
        await page.click("#request-email-change")
    assert (await sent.value).status == 422
    assert set(await field_errors(page)) == {"new_email"}
    assert await page.input_value("#new_email") == citizen.email
    new_email = citizen.email.replace("@", ".new@")
    since = time.time()
    await page.fill("#new_email", new_email)
    await page.click("#request-email-change")
    await page.wait_for_url("**/my/security?lang=en&done=email")
    assert await page.locator("#success").is_visible()
    await newest_mail(people.mail_dir, new_email, since=since)
    # Nothing changes before the link is opened.
    assert (await profile_of(api, citizen))["email"] == citizen.email


async def test_the_export_steps_up_to_substantial_and_downloads(
    browser: Browser, stack: Stack, people: Registry, tmp_path: Path
) -> None:
    citizen = await people.register("Nora")
    await people.step_up_to_substantial(citizen)
    context = await new_context(browser, stack)
    page = await context.new_page()
    await sign_in(page, citizen, "/my/profile")

    await page.goto("/my/account/export?lang=en")
    # Identity refuses a low sign-in; the page sends the person to Keycloak for the second factor.
    await page.wait_for_url(lambda url: "/my/account/export" not in url.split("?")[0])
    await step_up_at_keycloak(page, citizen)
    await page.wait_for_url("**/my/account/export?lang=en")
    assert await page.text_content("h1") == "Download my account data"
    assert await page.locator("#export-parts li").count() == 10

    async with page.expect_download() as started:
        await page.click("#download-export")
    download = await started.value
    assert download.suggested_filename == "openguichet-export.json"
    saved = tmp_path / "export.json"
    await download.save_as(saved)
    document = json.loads(saved.read_text(encoding="utf-8"))
    assert document["identity"]["account"]["email"] == citizen.email
    assert document["identity"]["person"]["profile"]["national_id"] == citizen.national_id
    assert document["messaging"]["threads"] == []
    await context.close()


async def test_the_account_is_deleted_in_the_browser(
    browser: Browser, stack: Stack, people: Registry, api: httpx.AsyncClient
) -> None:
    citizen = await people.register("Otto")
    await people.step_up_to_substantial(citizen)
    context = await new_context(browser, stack)
    page = await context.new_page()
    await sign_in(page, citizen, "/my/profile")

    # The form is offered once the sign-in is strong enough for identity to delete.
    await page.goto("/my/account/delete?lang=en")
    await step_up_at_keycloak(page, citizen)
    await page.wait_for_url("**/my/account/delete?lang=en")

    # Neither the box ticked nor the right address: refused, nothing deleted.
    await page.fill("#confirm_email", "someone.else@example.lu")
    async with page.expect_response("**/my/account/delete?lang=en") as sent:
        await page.click("#delete-account")
    assert (await sent.value).status == 422
    assert set(await summary_links(page)) == {"#understood"}
    await page.check("label[for=understood]")
    async with page.expect_response("**/my/account/delete?lang=en") as sent:
        await page.click("#delete-account")
    assert (await sent.value).status == 422
    assert set(await field_errors(page)) == {"confirm_email"}
    assert await page.input_value("#confirm_email") == "someone.else@example.lu"
    assert (await profile_of(api, citizen))["email"] == citizen.email

    await page.fill("#confirm_email", citizen.email)
    await page.check("label[for=understood]")
    await page.click("#delete-account")
    await page.wait_for_url("**/my/account/deleted?lang=en")
    assert await page.locator("#sign-in-link").is_visible(), "signed out"
    assert SESSION_COOKIE not in {c["name"] for c in await context.cookies()}
    await page.goto("/my/profile?lang=en")
    assert "/my/profile" not in page.url.split("?")[0], "no page of the account any more"

    # Signing in again is impossible: Keycloak refuses and never sends the browser back.
    await context.clear_cookies()
    await page.goto("/signin?return_to=/my/profile")
    await fill_keycloak_login(page, citizen, totp_secret=None)
    await page.wait_for_selector("[id^=input-error]")
    assert not page.url.startswith(stack.gateway_url)
    await context.close()


async def test_each_session_sees_only_its_own_person(
    signed_in: SignedInBrowser, people: Registry, stack: Stack, api: httpx.AsyncClient
) -> None:
    lea = signed_in.citizen
    marc = await people.register("Marc")
    context = await new_context(signed_in.context.browser, stack)  # type: ignore[arg-type]
    page = await context.new_page()
    await sign_in(page, marc, "/my/profile")

    await page.goto("/my/profile?lang=en")
    assert await page.text_content("#national-id") == marc.national_id
    assert await page.text_content("#email") == marc.email
    for path in ("/my/profile", "/my/preferences", "/my/security"):
        await page.goto(f"{path}?lang=en")
        html = await page.content()
        assert lea.national_id not in html and lea.email not in html, path
    await signed_in.page.goto("/my/security?lang=en")
    assert marc.email not in await signed_in.page.content()

    # Marc's browser sending Lea's form (her CSRF token) changes nothing of either.
    await signed_in.page.goto("/my/profile?lang=en")
    lea_token = await signed_in.page.get_attribute("input[name=csrf_token]", "value")
    cookie = {c["name"]: c["value"] for c in await context.cookies()}[SESSION_COOKIE]
    before = await profile_of(api, lea), await profile_of(api, marc)
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, cookies={SESSION_COOKIE: cookie}
    ) as client:
        form = {"csrf_token": lea_token or "", "first_name": "Mallory", "last_name": "X"}
        response = await client.post("/my/profile", data=form)
        assert response.status_code == 403, response.text
        # Without a session, a page sends to sign in first.
        client.cookies.clear()
        response = await client.get("/my/profile")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/signin?")
    assert (await profile_of(api, lea), await profile_of(api, marc)) == before
    await context.close()


ACCOUNT_PAGES = {
    "profile": "/my/profile",
    "preferences": "/my/preferences",
    "security": "/my/security",
    "export": "/my/account/export",
    "delete": "/my/account/delete",
}


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_every_account_page_is_accessible_and_reflows(
    language: str, browser: Browser, stack: Stack, people: Registry, artifacts: Path
) -> None:
    citizen = await people.register("Ida")
    await people.step_up_to_substantial(citizen)
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    await sign_in_at_substantial(page, citizen, f"/my/profile?lang={language}")
    axe = Axe()
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        for name, where in ACCOUNT_PAGES.items():
            path = f"{where}?lang={language}"
            response = await page.goto(path)
            assert response is not None and response.status == 200, path
            assert await page.get_attribute("html", "lang") == language
            await check_shown_page(
                page, axe, width, path, artifacts / f"my-{name}-{language}-{width}.png"
            )
        # The forms with their errors shown.
        await page.goto(f"/my/profile?lang={language}")
        await page.fill("#last_name", "")
        await page.fill("#postal_code", "??")
        await page.click("#save-profile")
        await page.wait_for_selector("#error-summary")
        await check_shown_page(
            page,
            axe,
            width,
            "profile errors",
            artifacts / f"my-profile-errors-{language}-{width}.png",
        )
        await page.goto(f"/my/security?lang={language}")
        await page.fill("#current_password", "wrong password")
        await page.fill("#new_password", "x")
        await page.fill("#new_password_again", "y")
        await page.click("#change-password")
        await page.wait_for_selector("#error-summary")
        await check_shown_page(
            page,
            axe,
            width,
            "security errors",
            artifacts / f"my-security-errors-{language}-{width}.png",
        )
        await page.goto(f"/my/account/deleted?lang={language}")
        await check_shown_page(
            page, axe, width, "deleted", artifacts / f"my-deleted-{language}-{width}.png"
        )
    await context.close()
