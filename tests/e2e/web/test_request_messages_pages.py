"""Messages about a submitted request and "Send a document" in a browser (F60, F66).

A submitted request's page lists its conversation and holds a form to write to the
administration handling it (the change of address: the commune): a text of 9 characters is said
at the top and next to the text with what was typed kept and nothing sent; a good one lands on the
conversation, which the commune reads and answers over mutual TLS, and the request's page then
links it with its unread answer. A draft has no such section; another person's request is a 404
page on the write route, nothing written. A document is sent theme → subject → reason → what it
is, one small PDF and a note → summary → acknowledgement with its DP reference and the file's
name, and the competent administration (CCSS) finds it. Once with the keyboard only; every new
page accessible (axe, WCAG 2.1 AA) in fr, de and en and reflowing at 320 px."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import Citizen, Registry
from playwright.async_api import Browser, Page
from stack import Stack
from test_messages_api import back_office
from test_procedures_api import Person
from test_wallet_bad_input import pdf
from web.browsing import SignedInBrowser, new_context, sign_in
from web.test_lookup_pages import CSP, Watch, check_shown_page, tab_to

from guichet.messaging.v1 import exchanges_pb2 as pb

ABOUT = "Do you need a copy of my lease for the new address?"
ANSWER = "No, the request is complete."
NOTE = "My contributions statement, as asked on the phone."
THREAD_URL = re.compile(r".*/my/messages/([0-9a-f-]{36})\?lang=(en|fr|de)&done=(sent|answered)$")
ACKNOWLEDGED = re.compile(r".*/my/messages/documents/([0-9a-f-]{36})/acknowledgement\?lang=\w\w$")
DOCUMENT_REFERENCE = re.compile(r"DP-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")


async def threads_about(api: httpx.AsyncClient, citizen: Citizen, reference: str) -> list[Any]:
    listed = await api.get(
        "/api/v1/messages/threads",
        params={"request_reference": reference},
        headers=citizen.bearer(),
    )
    assert listed.status_code == 200, listed.text
    threads: list[Any] = listed.json()["threads"]
    return threads


def a_pdf(folder: Path, name: str = "contributions.pdf") -> str:
    path = folder / name
    path.write_bytes(pdf(2000, b"% contributions\n"))
    return str(path)


async def test_a_message_about_a_submitted_request_is_written_from_its_page(
    signed_in: SignedInBrowser, api: httpx.AsyncClient, stack: Stack
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    person = Person(api, lea)
    draft = await person.start()
    sent = await person.submitted()
    reference = sent["reference"]

    # A draft went to nobody: no section.
    await page.goto(f"/my/requests/{draft['id']}?lang=en")
    assert await page.locator("#continue-draft").count() == 1
    assert await page.locator("#request-messages").count() == 0

    await page.goto(f"/my/requests/{sent['id']}?lang=en")
    assert await page.text_content("#request-messages h2") == "Messages about this request"
    assert await page.locator("#no-request-messages").is_visible()

    # 9 characters: said at the top and next to the text, kept, nothing sent.
    await page.fill("#message", "Too short")
    async with page.expect_navigation() as refused:
        await page.click("#send-request-message")
    response = await refused.value
    assert response is not None and response.status == 422
    assert await page.locator("#error-summary a").all_text_contents() == [
        "Write a message of 10 to 750 characters (you wrote 9)."
    ]
    assert await page.get_attribute("#error-summary a", "href") == "#message"
    assert await page.text_content("#message-error") == (
        "Write a message of 10 to 750 characters (you wrote 9)."
    )
    assert await page.input_value("#message") == "Too short"
    assert await page.get_attribute("#message", "aria-invalid") == "true"
    assert await page.get_attribute("#message", "aria-describedby") == "message-hint message-error"
    assert await threads_about(api, lea, reference) == []

    # Put right from the same page: the conversation, acknowledged.
    await page.fill("#message", ABOUT)
    await page.click("#send-request-message")
    await page.wait_for_url(THREAD_URL)
    found = THREAD_URL.match(page.url)
    assert found and found.group(3) == "sent"
    thread = found.group(1)
    assert "Your message was sent" in (await page.text_content("#done") or "")
    assert ABOUT in (await page.text_content("#messages [data-side=person]") or "")
    [listed] = await threads_about(api, lea, reference)
    assert (listed["id"], listed["kind"], listed["administration"]) == (
        thread,
        "request",
        "commune",
    )

    # The commune reads and answers: the request's page links the conversation, one unread.
    commune = back_office(stack, "commune")
    read = await commune.GetThread(pb.GetThreadRequest(thread_id=thread))
    assert [m.body for m in read.messages] == [ABOUT]
    await commune.AnswerThread(pb.AnswerThreadRequest(thread_id=thread, body=ANSWER))
    await page.goto(f"/my/requests/{sent['id']}?lang=en")
    row = page.locator(f"#request-threads [data-thread='{thread}']")
    assert await row.locator("a").get_attribute("href") == f"/my/messages/{thread}?lang=en"
    assert await row.locator("[data-unread]").text_content() == "Unread answers: 1"
    assert await page.locator("#no-request-messages").count() == 0

    # A second message goes in the same conversation.
    await page.fill("#message", "Thank you, that is all.")
    await page.click("#send-request-message")
    await page.wait_for_url(THREAD_URL)
    found = THREAD_URL.match(page.url)
    assert found and (found.group(1), found.group(3)) == (thread, "answered")
    sides = await page.locator("#messages li").evaluate_all("(l) => l.map(e => e.dataset.side)")
    assert sides == ["person", "administration", "person"]
    assert len(await threads_about(api, lea, reference)) == 1


async def test_a_message_about_a_request_is_written_with_the_keyboard_only(
    browser: Browser, stack: Stack, people: Registry, api: httpx.AsyncClient, artifacts: Path
) -> None:
    lea = await people.register("Lea")
    sent = await Person(api, lea).submitted()
    context = await new_context(browser, stack, locale="de-DE")
    page = await context.new_page()
    await sign_in(page, lea, f"/my/requests/{sent['id']}?lang=de")
    await tab_to(page, "#message", limit=120)
    await page.keyboard.type("Zu kurz")
    await tab_to(page, "#send-request-message", limit=10)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    # The summary's link takes the focus to the text, which kept what was typed.
    await tab_to(page, "#error-summary a[href='#message']", limit=60)
    await page.keyboard.press("Enter")
    assert await page.evaluate("() => document.activeElement.id") == "message"
    await page.keyboard.press("End")
    await page.keyboard.type(": brauchen Sie noch meinen Mietvertrag?")
    await tab_to(page, "#send-request-message", limit=10)
    await page.keyboard.press("Enter")
    await page.wait_for_url(THREAD_URL)
    assert "Zu kurz: brauchen Sie noch meinen Mietvertrag?" in (
        await page.text_content("#messages [data-side=person]") or ""
    )
    await page.screenshot(path=artifacts / "request-message-keyboard-de.png", full_page=True)
    await context.close()


async def test_another_persons_request_is_not_found_on_the_write_route(
    signed_in: SignedInBrowser, people: Registry, api: httpx.AsyncClient
) -> None:
    max_ = await people.register("Max")
    theirs = await Person(api, max_).submitted()
    page = signed_in.page
    # A page with a form, for Lea's own CSRF token.
    await page.goto(
        "/my/messages/documents/new?lang=en&theme=social&subject=affiliation&reason=contributions"
    )
    token = await page.get_attribute("input[name=csrf_token]", "value")
    for request_id in (theirs["id"], "not-a-request"):
        written = await page.request.post(
            f"/my/requests/{request_id}/messages?lang=en",
            form={"csrf_token": token or "", "message": "This is not my request at all."},
            max_redirects=0,
        )
        assert written.status == 404, request_id
    assert await threads_about(api, max_, theirs["reference"]) == []
    assert await threads_about(api, signed_in.citizen, theirs["reference"]) == []


async def to_the_document_page(page: Page, language: str) -> None:
    """Theme, subject, reason with the mouse: social security, affiliation, contributions."""
    await page.goto(f"/my/messages?lang={language}")
    await page.click("#send-document")
    await page.wait_for_url(f"**/my/messages/documents/new?lang={language}")
    for step, choice in (
        ("theme", "social"),
        ("subject", "affiliation"),
        ("reason", "contributions"),
    ):
        await page.check(f"label[for={step}-{choice}]")
        await page.click("#next")
    await page.wait_for_selector("#document-form")


async def test_a_document_is_chosen_given_checked_sent_and_acknowledged(
    signed_in: SignedInBrowser, stack: Stack, tmp_path: Path
) -> None:
    page = signed_in.page
    await page.goto("/my/messages/documents/new?lang=en&step=theme")
    assert await page.text_content("#theme-error") == "Choose a theme."
    await to_the_document_page(page, "en")
    assert "CCSS" in (await page.text_content("#recipient") or "")

    # Nothing given: what is missing is said at the top and next to the fields; nothing sent.
    await page.fill("#body", NOTE)
    await page.click("#to-summary")
    await page.wait_for_selector("#error-summary")
    assert await page.locator("#error-summary a").all_text_contents() == [
        "Say in a few words what you are sending.",
        "Choose the document to send.",
    ]
    assert await page.text_content("#attachment_ids-error") == "Choose the document to send."
    assert await page.input_value("#body") == NOTE

    # A small PDF and what it is: the summary, then sent and acknowledged.
    await page.fill("#title", "My contributions statement")
    await page.set_input_files("#attachment_ids", a_pdf(tmp_path))
    await page.click("#to-summary")
    await page.wait_for_selector("#send-form")
    assert await page.text_content("[data-summary=title]") == "My contributions statement"
    assert "contributions.pdf" in (await page.text_content("[data-summary=files]") or "")
    assert await page.text_content("[data-summary=body]") == NOTE
    await page.click("#send")
    await page.wait_for_url(ACKNOWLEDGED)
    found = ACKNOWLEDGED.match(page.url)
    assert found
    thread = found.group(1)
    reference = await page.text_content("#document-reference") or ""
    assert DOCUMENT_REFERENCE.fullmatch(reference), reference
    assert await page.locator("#document-files li").all_text_contents() == [
        "contributions.pdf (3 kB)"
    ]
    assert await page.text_content("#document-note") == NOTE

    # The competent administration finds it by its reference; the person in their messages.
    ccss = back_office(stack, "ccss")
    deposited = await ccss.ListThreads(pb.ListThreadsRequest(kind="document"))
    assert [t.reference for t in deposited.threads if t.id == thread] == [reference]
    await page.click("#to-conversation")
    await page.wait_for_url(f"**/my/messages/{thread}?lang=en")
    assert await page.text_content("#messages a[data-file]") == "contributions.pdf"
    await page.goto("/my/messages?lang=en")
    assert await page.locator(f"tr[data-thread='{thread}']").count() == 1


async def shown(page: Page, axe: Axe, width: int, name: str, language: str, folder: Path) -> None:
    assert await page.get_attribute("html", "lang") == language
    await check_shown_page(
        page,
        axe,
        width,
        f"{name} {language}",
        folder / f"request-messages-{name}-{language}-{width}.png",
    )


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_the_new_pages_are_accessible_and_reflow(
    browser: Browser,
    stack: Stack,
    people: Registry,
    api: httpx.AsyncClient,
    artifacts: Path,
    language: str,
    tmp_path: Path,
) -> None:
    lea = await people.register("Lea")
    sent = await Person(api, lea).submitted()
    written = await api.post(
        f"/api/v1/messages/requests/{sent['reference']}/messages",
        json={"body": ABOUT},
        headers=lea.bearer(),
    )
    assert written.status_code == 201, written.text
    # Kept in a name: a channel nobody holds is closed under the call.
    commune = back_office(stack, "commune")
    await commune.AnswerThread(
        pb.AnswerThreadRequest(thread_id=written.json()["thread"]["id"], body=ANSWER)
    )
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    await sign_in(page, lea, f"/my/messages?lang={language}")
    axe, watch = Axe(), Watch()
    watch.attach(page)
    document = a_pdf(tmp_path, "Ein-sehr-langer-Dateiname-fuer-einen-Beleg.pdf")
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        response = await page.goto(f"/my/requests/{sent['id']}?lang={language}")
        assert response is not None and response.status == 200
        assert response.headers["content-security-policy"] == CSP
        assert await page.locator("#request-threads [data-unread]").count() == 1
        await shown(page, axe, width, "request", language, artifacts)
        await page.fill("#message", "Too short")
        await page.click("#send-request-message")
        await page.wait_for_selector("#error-summary")
        await shown(page, axe, width, "request-error", language, artifacts)

        await page.goto(f"/my/messages/documents/new?lang={language}&step=theme")
        await shown(page, axe, width, "document-theme-error", language, artifacts)
        await to_the_document_page(page, language)
        await page.click("#to-summary")
        await page.wait_for_selector("#error-summary")
        await shown(page, axe, width, "document-errors", language, artifacts)
        await page.fill("#title", "Ein-sehr-langes-Wort" * 5)
        await page.set_input_files("#attachment_ids", document)
        await page.click("#to-summary")
        await page.wait_for_selector("#send-form")
        await shown(page, axe, width, "document-summary", language, artifacts)
        await page.click("#send")
        await page.wait_for_url(ACKNOWLEDGED)
        await shown(page, axe, width, "document-sent", language, artifacts)
    assert watch.csp_errors == [] and watch.failed == []
    await context.close()
