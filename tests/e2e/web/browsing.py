"""Browsing the web client as a person: signing in through Keycloak's pages, fresh contexts."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from citizens import Citizen
from playwright.async_api import Browser, BrowserContext, Page
from stack import Stack

from guichet_testkit.login import totp_code


async def sign_in(
    page: Page, citizen: Citizen, return_to: str = "/dashboard", *, totp_secret: str | None = None
) -> None:
    """Signs in through the web client as a person does: the gateway sends the browser to
    Keycloak's page, the person types their e-mail and password (and a TOTP code at the
    substantial level), Keycloak sends the browser back."""
    await page.goto(f"/signin?{urlencode({'return_to': return_to})}")
    await fill_keycloak_login(page, citizen, totp_secret=totp_secret)
    await page.wait_for_url(f"**{return_to.split('?')[0]}**")


async def fill_keycloak_login(page: Page, citizen: Citizen, *, totp_secret: str | None) -> None:
    if await page.locator("#username").count():
        await page.fill("#username", citizen.email)
    await page.fill("#password", citizen.password)
    await page.click("#kc-login")
    if totp_secret is not None:
        await page.wait_for_selector("#otp")
        await page.fill("#otp", totp_code(totp_secret))
        await page.click("#kc-login")


@dataclass
class SignedInBrowser:
    context: BrowserContext
    page: Page
    citizen: Citizen


async def new_context(browser: Browser, stack: Stack, locale: str = "en-GB") -> BrowserContext:
    # Keycloak's pages are served with the development CA's certificate, not one Chromium knows.
    return await browser.new_context(
        base_url=stack.gateway_url,
        locale=locale,
        timezone_id="Europe/Luxembourg",
        ignore_https_errors=True,
    )
