"""The browser for the web client's tests: Debian's Chromium driven by Playwright (never a
browser downloaded by a test tool; `make web-deps` installs it and the design-system assets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from citizens import Registry
from playwright.async_api import Browser, async_playwright
from stack import Stack
from web.browsing import SignedInBrowser, new_context, sign_in

CHROMIUM = "/usr/bin/chromium"
VENDOR = Path(__file__).resolve().parents[3] / "gateway/src/guichet_gateway/web/static/vendor"


@pytest.fixture(scope="session")
def web_deps() -> None:
    assert Path(CHROMIUM).is_file(), "no Chromium at /usr/bin/chromium: run `make web-deps`"
    assert (VENDOR / ".stamp").is_file(), "no design-system assets: run `make web-deps`"


@pytest.fixture(scope="session")
async def browser(web_deps: None) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        await browser.close()


@pytest.fixture(scope="session")
def artifacts(repo_root: Path) -> Path:
    """Screenshots kept for people to look at, outside the repository's tracked files."""
    folder = repo_root / ".data" / "test-artifacts" / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def people(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    """Citizens registered for one test; their Keycloak users removed after it."""
    registry = Registry(api, infra, tmp_path)
    yield registry
    registry.cleanup()


@pytest.fixture
async def signed_in(
    browser: Browser, stack: Stack, people: Registry
) -> AsyncIterator[SignedInBrowser]:
    """A registered citizen signed in to the web client (level low) in a fresh browser."""
    citizen = await people.register("Lea")
    context = await new_context(browser, stack)
    page = await context.new_page()
    await sign_in(page, citizen, "/etracking")
    yield SignedInBrowser(context, page, citizen)
    await context.close()
