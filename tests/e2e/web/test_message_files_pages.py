"""Files of a new message in the browser (F61): on the text step a file goes through the wallet's
file pipeline when the person continues; an infected file is said at the top and next to the
file input with what was typed kept; a good file is listed on the summary, carried through
"Change my message", sent with the message and read by the administration over mutual TLS.
Plain forms: works without JavaScript. The pages with a file (refused, then taken) are
accessible (axe, WCAG 2.1 AA) in fr, de and en and reflow at 320 px."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import Citizen, Registry
from playwright.async_api import Browser, Page
from stack import Stack
from test_messages_api import back_office
from test_messages_files import read_file
from test_wallet_bad_input import eicar, pdf
from web.browsing import fill_keycloak_login, new_context, sign_in
from web.test_lookup_pages import check_shown_page

from guichet.messaging.v1 import exchanges_pb2 as pb

BODY = "Here is my payslip of October, as you asked."


async def to_the_text_step(page: Page, language: str) -> None:
    await page.goto(
        f"/my/messages/new?lang={language}&theme=taxes&subject=income-tax&reason=tax-assessment"
    )
    await page.wait_for_selector("#write-form")


def file_of(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


async def test_a_file_is_checked_listed_carried_and_sent_with_the_message(
    browser: Browser, stack: Stack, people: Registry, tmp_path: Path
) -> None:
    lea = await people.register("Lea")
    # Without JavaScript: the plain forms do it all.
    context = await browser.new_context(
        base_url=stack.gateway_url, java_script_enabled=False, ignore_https_errors=True
    )
    page = await context.new_page()
    await page.goto("/signin?return_to=/my/messages?lang=en")
    await fill_keycloak_login(page, lea, totp_secret=None)
    await page.wait_for_url("**/my/messages?lang=en")
    await to_the_text_step(page, "en")
    await page.fill("#title", "My payslip")
    await page.fill("#body", BODY)

    # An infected file: said at the top and next to the input; the text stays; nothing attached.
    await page.set_input_files(
        "#attachment_ids", file_of(tmp_path / "eicar.pdf", b"%PDF-1.4\n" + eicar())
    )
    await page.click("#to-summary")
    await page.wait_for_selector("#error-summary")
    link = page.locator("#error-summary a[href='#attachment_ids']")
    assert (await link.text_content() or "").startswith("eicar.pdf: ")
    assert (await page.text_content("#attachment_ids-error") or "").startswith("eicar.pdf: ")
    assert await page.get_attribute("#attachment_ids", "aria-invalid") == "true"
    assert await page.input_value("#body") == BODY
    assert await page.locator("#attached-files").count() == 0

    # A good file: listed on the summary, carried through "Change my message", sent.
    scan = pdf(3000, b"% payslip\n")
    await page.set_input_files("#attachment_ids", file_of(tmp_path / "payslip.pdf", scan))
    await page.click("#to-summary")
    await page.wait_for_selector("#send-form")
    assert "payslip.pdf" in (await page.text_content("[data-summary=files]") or "")
    await page.click("#change")
    await page.wait_for_selector("#write-form")
    assert "payslip.pdf" in (await page.text_content("#attached-files") or "")
    await page.click("#to-summary")
    await page.wait_for_selector("#send-form")
    await page.click("#send")
    await page.wait_for_url(re.compile(r"/my/messages/[0-9a-f-]{36}\?lang=en&done=sent"))
    found = re.search(r"/my/messages/([0-9a-f-]{36})", page.url)
    assert found
    link = page.locator("#messages a[data-file]")
    assert await link.text_content() == "payslip.pdf"
    href = await link.get_attribute("href") or ""
    downloaded = await page.request.get(href)
    assert (downloaded.status, await downloaded.body()) == (200, scan)
    assert downloaded.headers["content-disposition"].startswith("attachment")
    # Another person's session does not get it.
    paul = await people.register("Paul")
    other = await browser.new_context(
        base_url=stack.gateway_url, java_script_enabled=False, ignore_https_errors=True
    )
    other_page = await other.new_page()
    await other_page.goto("/signin?return_to=/my/messages?lang=en")
    await fill_keycloak_login(other_page, paul, totp_secret=None)
    await other_page.wait_for_url("**/my/messages?lang=en")
    refused = await other_page.request.get(href)
    assert refused.status == 404
    await other.close()
    await context.close()

    # The administration reads the same bytes.
    thread_id = found.group(1)
    acd = back_office(stack, "acd")
    thread = await acd.GetThread(pb.GetThreadRequest(thread_id=thread_id))
    [file] = thread.messages[0].attachments
    assert file.file_name == "payslip.pdf"
    assert await read_file(stack, "acd", thread_id, file.id) == scan


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_the_pages_with_a_file_are_accessible_and_reflow(
    browser: Browser, stack: Stack, people: Registry, artifacts: Path, language: str, tmp_path: Path
) -> None:
    lea: Citizen = await people.register("Lea")
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    await sign_in(page, lea, f"/my/messages?lang={language}")
    axe = Axe()
    infected = file_of(tmp_path / "eicar.pdf", b"%PDF-1.4\n" + eicar())
    good = file_of(tmp_path / "bulletin.pdf", pdf())
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        await to_the_text_step(page, language)
        await page.fill("#title", "Mon bulletin")
        await page.fill("#body", BODY)
        await page.set_input_files("#attachment_ids", infected)
        await page.click("#to-summary")
        await page.wait_for_selector("#attachment_ids-error")
        await check_shown_page(
            page,
            axe,
            width,
            f"file refused {language}",
            artifacts / f"message-file-refused-{language}-{width}.png",
        )
        await page.set_input_files("#attachment_ids", good)
        await page.click("#to-summary")
        await page.wait_for_selector("#send-form")
        await check_shown_page(
            page,
            axe,
            width,
            f"summary with a file {language}",
            artifacts / f"message-file-summary-{language}-{width}.png",
        )
        await page.click("#change")
        await page.wait_for_selector("#attached-files")
        await check_shown_page(
            page,
            axe,
            width,
            f"text with a file {language}",
            artifacts / f"message-file-text-{language}-{width}.png",
        )
    await context.close()
