"""eDocuments (F44) in the wallet's pages, in a browser: an administration pushes a document over
messaging's mutual TLS port; "My documents" lists it apart, with its sender, the day it arrived
and a "New" mark; its page says the sender gets a receipt when it is opened; opening it (the file
downloaded whole) marks it opened at once, in the page and the list. Once with the keyboard only;
the pages accessible (axe, WCAG 2.1 AA) in fr, de and en and reflowing at 320 px."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import Citizen, Registry
from playwright.async_api import Browser, Page
from stack import Stack
from test_edelivery import DOCUMENT, edocuments, subscribe, whole
from web.browsing import SignedInBrowser, new_context, sign_in
from web.test_lookup_pages import CSP, Watch, check_shown_page, tab_to

from guichet.messaging.v1 import edelivery_pb2_grpc as pb_grpc
from guichet_kit.grpc_client import mutual_tls_channel


@pytest.fixture
async def acd(stack: Stack) -> AsyncIterator[pb_grpc.AdministrationDeliveryServiceStub]:
    """The tax administration's back office on the stack's messaging, with its certificate."""
    folder = stack.pki / "administrations"
    async with mutual_tls_channel(
        stack.messaging_admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(folder / "acd.crt").read_bytes(),
        private_key=(folder / "acd.key").read_bytes(),
        timeout=30,
    ) as channel:
        yield pb_grpc.AdministrationDeliveryServiceStub(channel)


async def delivered(
    api: httpx.AsyncClient, acd: pb_grpc.AdministrationDeliveryServiceStub, citizen: Citizen
) -> dict:
    """One eDocument pushed to the citizen (who subscribes first); its piece as the API lists it."""
    await subscribe(api, citizen, True)
    await acd.DeliverDocument(whole(citizen.national_id, f"page-{uuid.uuid4().hex[:8]}"))
    [piece] = await edocuments(api, citizen)
    return piece


async def opened_by_keyboard(page: Page) -> bytes:
    await tab_to(page, "#open-edocument", limit=40)
    async with page.expect_download() as downloading:
        await page.keyboard.press("Enter")
    saved = await (await downloading.value).path()
    return saved.read_bytes()


async def test_an_edocument_is_listed_new_then_opened_with_the_keyboard_only(
    signed_in: SignedInBrowser,
    api: httpx.AsyncClient,
    acd: pb_grpc.AdministrationDeliveryServiceStub,
    artifacts: Path,
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    piece = await delivered(api, acd, lea)

    await page.goto("/my/wallet?lang=en")
    row = page.locator(f"#edocuments tr[data-edocument='{piece['piece_id']}']")
    assert await row.get_attribute("data-unread") is not None
    text = await row.inner_text()
    assert "Bulletin d'impôt 2025" in text and "ACD" in text
    assert await row.locator(".usa-tag").text_content() == "New"  # shown in capitals
    assert await row.locator("time").get_attribute("datetime")
    assert await page.text_content("#edocuments-unread") == "Not opened yet: 1"
    # Received documents are not among the person's own, nor counted toward the limit.
    assert await page.locator("#pieces").count() == 0
    assert await page.text_content("#piece-count") == "0 of 10 documents"
    await page.screenshot(path=artifacts / "edocuments-new.png", full_page=True)

    await tab_to(page, f"#edocuments a[href^='/my/wallet/{piece['piece_id']}']", limit=40)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/my/wallet/{piece['piece_id']}?lang=en")
    assert await page.text_content("#piece-sender") == "ACD"
    assert await page.text_content("#piece-opened") == "Not yet"
    notice = await page.text_content("#read-receipt-notice") or ""
    assert "ACD receives a receipt" in notice

    assert await opened_by_keyboard(page) == DOCUMENT

    # Opened: the page and the list say so at once (the wallet marked it as it served the file).
    await page.reload()
    assert await page.locator("#piece-opened time").count() == 1
    assert await page.locator("#read-receipt-notice").count() == 0
    [again] = await edocuments(api, lea)
    assert again["sender"]["opened_at"] is not None
    await page.goto("/my/wallet?lang=en")
    assert await row.get_attribute("data-unread") is None
    assert "Opened" in await row.inner_text()
    assert await page.locator("#edocuments-unread").count() == 0
    await page.screenshot(path=artifacts / "edocuments-opened.png", full_page=True)


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_the_edocument_pages_are_accessible_and_reflow(
    language: str,
    browser: Browser,
    stack: Stack,
    api: httpx.AsyncClient,
    people: Registry,
    acd: pb_grpc.AdministrationDeliveryServiceStub,
    artifacts: Path,
) -> None:
    mia = await people.register("Mia")
    piece = await delivered(api, acd, mia)
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    await sign_in(page, mia, f"/my/wallet?lang={language}")
    pages = {
        "edocuments": f"/my/wallet?lang={language}",
        "edocument": f"/my/wallet/{piece['piece_id']}?lang={language}",
    }
    axe = Axe()
    watch = Watch()
    watch.attach(page)
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        for name, path in pages.items():
            response = await page.goto(path)
            assert response is not None and response.status == 200, path
            assert response.headers["content-security-policy"] == CSP
            assert await page.get_attribute("html", "lang") == language
            assert await page.locator("#edocuments, #read-receipt-notice").count() == 1
            await check_shown_page(
                page, axe, width, path, artifacts / f"{name}-{language}-{width}.png"
            )
    assert not watch.csp_errors, watch.csp_errors
    assert not watch.failed, watch.failed
    await context.close()


async def test_another_persons_edocument_page_is_not_found(
    signed_in: SignedInBrowser,
    api: httpx.AsyncClient,
    people: Registry,
    acd: pb_grpc.AdministrationDeliveryServiceStub,
) -> None:
    noah = await people.register("Noah")
    piece = await delivered(api, acd, noah)
    page = signed_in.page
    response = await page.goto(f"/my/wallet/{piece['piece_id']}?lang=en")
    assert response is not None and response.status == 404
    file_id = piece["files"][0]["file_id"]
    response = await page.goto(f"/my/wallet/{piece['piece_id']}/files/{file_id}/download")
    assert response is not None and response.status == 404
    [still] = await edocuments(api, noah)
    assert still["sender"]["opened_at"] is None  # nothing opened by someone else's try
