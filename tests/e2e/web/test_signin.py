"""Signing in to the web client as a backend-for-frontend, in Chromium against the real Keycloak:
the cookie and nothing else in the browser, CSRF on every form, refresh rotation, sign-out here and
at Keycloak, back-channel logout from Keycloak, and the step-up round trip."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from citizens import Registry
from launcher import Launcher
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from stack import Stack
from web.browsing import SignedInBrowser, fill_keycloak_login, new_context, sign_in

from guichet_gateway.store import web_sessions
from guichet_gateway.web.session import TokenVault
from guichet_testkit.eventually import wait_until

SESSION_COOKIE = "__Host-guichet-session"


@pytest.fixture
async def gateway_db(launcher: Launcher, stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(launcher.gateway_database_url)
    yield engine
    await engine.dispose()


async def sessions_of(engine: AsyncEngine, subject: str) -> list[sa.Row]:
    async with engine.connect() as connection:
        result = await connection.execute(
            sa.select(web_sessions).where(web_sessions.c.subject == subject)
        )
        return list(result)


def opened(row: sa.Row, infra: dict[str, str]) -> tuple[str, str, str]:
    """The access, refresh and ID tokens a session row keeps encrypted."""
    vault = TokenVault(infra["GUICHET_GATEWAY_SESSION_KEY"])
    return tuple(vault.open(t) for t in (row.access_token, row.refresh_token, row.id_token))  # type: ignore[return-value]


async def keycloak_sessions(people: Registry, subject: str) -> int:
    return len(people.admin().get_sessions(subject))


async def test_the_browser_holds_a_cookie_and_never_a_token(
    signed_in: SignedInBrowser, gateway_db: AsyncEngine, infra: dict[str, str]
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    cookies = {c["name"]: c for c in await signed_in.context.cookies()}
    cookie = cookies[SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/" and not cookie["domain"].startswith(".")

    [row] = await sessions_of(gateway_db, citizen.subject)
    # Only the key's hash is stored; the tokens are, and none reaches the browser.
    assert row.key_hash == hashlib.sha256(cookie["value"].encode()).digest()
    html = await page.content()
    visible_to_scripts = await page.evaluate(
        "() => document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"
    )
    tokens = opened(row, infra)
    # Stored encrypted: the table alone gives no token.
    assert not {row.access_token, row.refresh_token, row.id_token} & set(tokens)
    for token in tokens:
        for part in token.split("."):
            assert part not in html and part not in visible_to_scripts and part not in page.url
    assert SESSION_COOKIE not in visible_to_scripts
    assert await page.locator("button:has-text('Sign out')").is_visible()


async def test_a_form_without_the_session_csrf_token_is_refused(
    signed_in: SignedInBrowser, people: Registry, gateway_db: AsyncEngine, stack: Stack
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    cookie = {c["name"]: c["value"] for c in await signed_in.context.cookies()}[SESSION_COOKIE]
    # Another person's session and its valid token: still not this session's.
    other = await people.register("Marc")
    other_context = await new_context(page.context.browser, stack)  # type: ignore[arg-type]
    other_page = await other_context.new_page()
    await sign_in(other_page, other, "/etracking")
    other_token = await other_page.get_attribute("input[name=csrf_token]", "value")
    assert other_token
    at_keycloak = await keycloak_sessions(people, citizen.subject)
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, cookies={SESSION_COOKIE: cookie}
    ) as client:
        for form in ({}, {"csrf_token": other_token}, {"csrf_token": "x" * 43}):
            response = await client.post("/signout", data=form)
            assert response.status_code == 403, response.text
            assert "text/html" in response.headers["content-type"]
    # Nothing changed: still signed in here and at Keycloak.
    assert len(await sessions_of(gateway_db, citizen.subject)) == 1
    assert await keycloak_sessions(people, citizen.subject) == at_keycloak
    await other_context.close()


async def test_signing_out_ends_the_keycloak_session_and_back_shows_nothing(
    signed_in: SignedInBrowser, people: Registry, gateway_db: AsyncEngine
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    at_keycloak = await keycloak_sessions(people, citizen.subject)
    await page.goto("/my/profile?lang=en")
    assert citizen.email in await page.content(), "a private page"
    await page.click("button:has-text('Sign out')")
    await page.wait_for_url("**/?lang=en")
    assert await sessions_of(gateway_db, citizen.subject) == []
    # The browser's Keycloak session ended (the one left is the registration helper's own).
    assert await keycloak_sessions(people, citizen.subject) == at_keycloak - 1
    assert SESSION_COOKIE not in {c["name"] for c in await signed_in.context.cookies()}
    assert await page.locator("#sign-in-link").is_visible()

    # Back shows nothing private: the page was not kept, and asking it again needs a sign-in.
    await page.go_back()
    await page.wait_for_load_state()
    assert citizen.email not in await page.content()

    # Signing in again needs the password: Keycloak's own session ended too.
    await page.goto("/signin?return_to=/etracking")
    await page.wait_for_selector("#password")


async def test_a_page_needing_a_session_sends_to_sign_in_and_back(
    browser: Browser, stack: Stack, people: Registry
) -> None:
    citizen = await people.register("Paul")
    context = await new_context(browser, stack)
    page = await context.new_page()
    await page.goto("/signin?return_to=/etracking%3Flang%3Dde")
    await fill_keycloak_login(page, citizen, totp_secret=None)
    await page.wait_for_url("**/etracking?lang=de")
    assert await page.get_attribute("html", "lang") == "de"
    await context.close()


async def test_an_outside_return_address_is_not_followed(
    browser: Browser, stack: Stack, people: Registry
) -> None:
    citizen = await people.register("Ines")
    context = await new_context(browser, stack)
    page = await context.new_page()
    for outside in ("https://elsewhere.example/", "//elsewhere.example/x", "/\\elsewhere.example"):
        await page.goto(f"/signin?return_to={outside}")
        await fill_keycloak_login(page, citizen, totp_secret=None)
        # The default page of a signed-in person, on this site.
        await page.wait_for_url(f"{stack.gateway_url}/dashboard**")
        await context.clear_cookies()
    await context.close()


async def test_a_replayed_or_forged_callback_opens_no_session(
    stack: Stack, gateway_db: AsyncEngine
) -> None:
    async with gateway_db.connect() as connection:
        before = (
            await connection.execute(sa.select(sa.func.count()).select_from(web_sessions))
        ).scalar()
    english = {"Accept-Language": "en"}
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=english) as client:
        for query in ("state=unknown&code=abc", "", "state=x&error=access_denied"):
            response = await client.get(f"/auth/callback?{query}")
            assert response.status_code == 400
            assert "Sign-in not completed" in response.text
            assert "set-cookie" not in response.headers
    async with gateway_db.connect() as connection:
        after = (
            await connection.execute(sa.select(sa.func.count()).select_from(web_sessions))
        ).scalar()
    assert after == before


async def test_the_access_token_is_refreshed_and_the_refresh_token_rotated(
    signed_in: SignedInBrowser, gateway_db: AsyncEngine, stack: Stack, infra: dict[str, str]
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    [before] = await sessions_of(gateway_db, citizen.subject)
    async with gateway_db.begin() as connection:
        await connection.execute(
            web_sessions.update()
            .where(web_sessions.c.key_hash == before.key_hash)
            .values(access_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    await page.goto("/etracking")
    assert await page.locator("button:has-text('Sign out')").is_visible()
    [after] = await sessions_of(gateway_db, citizen.subject)
    old_access, old_refresh, _ = opened(before, infra)
    new_access, new_refresh, _ = opened(after, infra)
    assert new_refresh != old_refresh and new_access != old_access
    # The old refresh token was used once: Keycloak refuses it now.
    async with httpx.AsyncClient(verify=infra["GUICHET_CA_FILE"]) as keycloak:
        response = await keycloak.post(
            f"{infra['GUICHET_KEYCLOAK_ISSUER']}/protocol/openid-connect/token",
            data={"grant_type": "refresh_token", "refresh_token": old_refresh},
            auth=(
                infra["GUICHET_KEYCLOAK_GATEWAY_CLIENT_ID"],
                infra["GUICHET_KEYCLOAK_GATEWAY_CLIENT_SECRET"],
            ),
        )
    assert response.status_code == 400, response.text


async def test_keycloak_back_channel_logout_ends_the_gateway_session(
    signed_in: SignedInBrowser, people: Registry, gateway_db: AsyncEngine, stack: Stack
) -> None:
    page, citizen = signed_in.page, signed_in.citizen
    admin = people.admin()
    [client] = [c for c in admin.get_clients() if c["clientId"] == "guichet-gateway"]
    attributes = dict(client["attributes"])
    # This gateway listens on a test port: Keycloak is told where, as an operator would.
    admin.update_client(
        client["id"],
        {
            "attributes": {
                **attributes,
                "backchannel.logout.url": f"{stack.gateway_url}/auth/backchannel-logout",
            }
        },
    )
    try:
        assert len(await sessions_of(gateway_db, citizen.subject)) == 1
        # Signed out by Keycloak (an administrator, another client, the account console).
        admin.user_logout(citizen.subject)

        async def ended() -> bool:
            return await sessions_of(gateway_db, citizen.subject) == []

        await wait_until(ended, seconds=20, what="the back-channel logout")
        await page.goto("/etracking")
        assert await page.locator("#sign-in-link").is_visible()
    finally:
        admin.update_client(client["id"], {"attributes": attributes})


async def test_a_forged_logout_token_ends_nothing(
    signed_in: SignedInBrowser, gateway_db: AsyncEngine, stack: Stack, infra: dict[str, str]
) -> None:
    citizen = signed_in.citizen
    [row] = await sessions_of(gateway_db, citizen.subject)
    _, _, id_token = opened(row, infra)
    header, payload, _ = id_token.split(".")
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        for token in (f"{header}.{payload}.AAAA", id_token, "not-a-jwt"):
            response = await client.post("/auth/backchannel-logout", data={"logout_token": token})
            assert response.status_code == 400, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
    assert len(await sessions_of(gateway_db, citizen.subject)) == 1


async def test_the_pages_speak_the_persons_language_preference(
    browser: Browser, stack: Stack, people: Registry
) -> None:
    citizen = await people.register("Jos")
    async with httpx.AsyncClient(base_url=stack.gateway_url) as api:
        changed = await api.put(
            "/api/v1/me/preferences",
            json={
                "email_notifications": True,
                "sms_notifications": False,
                "language": "de",
                "edelivery_subscribed": False,
            },
            headers=citizen.bearer(),
        )
    assert changed.status_code == 200, changed.text
    context = await new_context(browser, stack, locale="en-GB")
    page = await context.new_page()
    await page.goto("/")
    assert await page.get_attribute("html", "lang") == "en", "before: the browser's language"
    await sign_in(page, citizen, "/etracking")
    assert await page.get_attribute("html", "lang") == "de", "signed in: the preference"
    await page.goto("/etracking?lang=fr")
    assert await page.get_attribute("html", "lang") == "fr", "the switch still wins"
    await context.close()
