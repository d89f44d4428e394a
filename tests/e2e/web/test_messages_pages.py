"""The pages "My messages" in a browser (F60 to F62): a new message chosen theme → subject →
reason, the online procedure suggested where the taxonomy names one, the text with its mistakes
said at the top and next to the fields, a summary before sending, sent; the administration
answers over mutual TLS and the person sees it unread, reads it, answers, marks it unread, hides
and shows the conversation. Done once with the keyboard only and once without JavaScript; the
unread badge follows an answer live; another person's conversation is not found; every page
accessible (axe, WCAG 2.1 AA) in fr, de and en and reflowing at 320 px."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import Citizen, Registry
from launcher import Launcher, Started
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page
from stack import Stack, messaging_worker
from test_live_badges import badge_stream
from test_messages_api import MESSAGE, back_office
from web.browsing import SignedInBrowser, fill_keycloak_login, new_context, sign_in
from web.test_lookup_pages import CSP, Watch, check_shown_page, tab_to

from guichet.events import subjects
from guichet.messaging.v1 import exchanges_pb2 as pb

BODY = "When will my 2025 tax assessment be sent to me?"
ANSWER = "It was sent on 20 November."
# Only against a hang: the answer goes through messaging's outbox relay and NATS (milliseconds
# when the machine is idle, longer on a loaded one).
LIVE_WAIT = 90_000


async def write_a_message(page: Page, language: str = "en", title: str = "My assessment") -> str:
    """Through every step with the mouse: taxes, income tax, my tax assessment (no procedure
    suggested); the conversation's id."""
    await page.goto(f"/my/messages/new?lang={language}")
    await page.check("label[for=theme-taxes]")
    await page.click("#next")
    await page.check("label[for=subject-income-tax]")
    await page.click("#next")
    await page.check("label[for=reason-tax-assessment]")
    await page.click("#next")
    await page.fill("#title", title)
    await page.fill("#body", BODY)
    await page.click("#to-summary")
    await page.click("#send")
    await page.wait_for_url(re.compile(r"/my/messages/[0-9a-f-]{36}\?"))
    return thread_of(page)


def thread_of(page: Page) -> str:
    found = re.search(r"/my/messages/([0-9a-f-]{36})", page.url)
    assert found, page.url
    return found.group(1)


async def test_a_message_is_chosen_written_checked_sent_answered_read_hidden_and_shown(
    signed_in: SignedInBrowser, stack: Stack
) -> None:
    page = signed_in.page
    await page.goto("/dashboard?lang=en")
    await page.click("nav a[href='/my/messages?lang=en']")
    await page.wait_for_url("**/my/messages?lang=en")
    assert await page.text_content("h1") == "My messages"
    assert await page.get_attribute("nav a[aria-current=page]", "href") == "/my/messages?lang=en"
    assert await page.locator("#no-threads").is_visible()

    # Theme, with nothing chosen first: said at the top and next to the choices.
    await page.click("#write")
    await page.wait_for_url("**/my/messages/new?lang=en")
    await page.click("#next")
    assert await page.text_content("#error-summary a") == "Choose a theme."
    assert await page.get_attribute("#error-summary a", "href") == "#theme"
    assert await page.text_content("#theme-error") == "Choose a theme."
    await page.check("label[for=theme-taxes]")
    await page.click("#next")
    assert await page.text_content("[data-chosen=theme]") == "Taxes"
    await page.check("label[for=subject-income-tax]")
    await page.click("#next")
    await page.check("label[for=reason-tax-return]")
    await page.click("#next")

    # The taxonomy names the online procedure for a tax return: offered first.
    assert await page.text_content("h1") == "An online procedure does this"
    assert await page.get_attribute("#use-procedure", "href") == (
        "/procedures/income-tax-return?lang=en"
    )
    await page.click("#write-anyway")
    await page.wait_for_selector("#write-form")
    assert "ACD" in (await page.text_content("#recipient") or "")

    # A text of 9 characters and no subject line: both said, what was typed kept.
    await page.fill("#body", "Too short")
    await page.click("#to-summary")
    summary = await page.locator("#error-summary a").all_text_contents()
    assert summary == [
        "Write a subject line.",
        "Write a message of 10 to 750 characters (you wrote 9).",
    ]
    assert await page.locator("#error-summary a").nth(1).get_attribute("href") == "#body"
    assert await page.input_value("#body") == "Too short"
    assert await page.get_attribute("#body", "aria-describedby") == "body-hint body-error"
    assert await page.get_attribute("#body", "aria-invalid") == "true"

    # The summary, changed, then sent.
    await page.fill("#title", "My 2024 return")
    await page.fill("#body", BODY)
    await page.click("#to-summary")
    assert await page.text_content("h1") == "Check your message"
    assert await page.text_content("[data-summary=body]") == BODY
    await page.click("#change")
    assert await page.input_value("#title") == "My 2024 return"
    await page.fill("#title", "My 2025 return")
    await page.click("#to-summary")
    assert await page.text_content("[data-summary=title]") == "My 2025 return"
    await page.click("#send")
    await page.wait_for_url(re.compile(r"/my/messages/[0-9a-f-]{36}\?lang=en&done=sent"))
    thread = thread_of(page)
    assert "Your message was sent" in (await page.text_content("#done") or "")
    assert await page.locator("#messages [data-side=person]").count() == 1
    assert await page.text_content("[data-read]") == "Not read by the administration yet"

    # The administration reads and answers: the list says one unread answer.
    acd = back_office(stack, "acd")
    await acd.GetThread(pb.GetThreadRequest(thread_id=thread))
    await acd.AnswerThread(pb.AnswerThreadRequest(thread_id=thread, body=ANSWER))
    await page.click("#back")
    row = page.locator(f"tr[data-thread='{thread}']")
    assert await row.locator("[data-unread]").text_content() == "Unread answers: 1"

    # Opened: read; the person's message read by the administration.
    await row.locator("a").click()
    await page.wait_for_url(f"**/my/messages/{thread}?lang=en")
    sides = await page.locator("#messages li").evaluate_all("(l) => l.map(e => e.dataset.side)")
    assert sides == ["person", "administration"]
    assert ANSWER in (await page.text_content("[data-side=administration]") or "")
    assert (await page.text_content("[data-read]") or "").startswith("Read by the administration")

    # The person answers: a too short answer is refused next to it, then sent.
    await page.fill("#body", "Thanks")
    await page.click("#send-answer")
    assert await page.text_content("#body-error") == (
        "Write a message of 10 to 750 characters (you wrote 6)."
    )
    await page.fill("#body", "Thank you, I found it.")
    await page.click("#send-answer")
    await page.wait_for_url(f"**/my/messages/{thread}?lang=en&done=answered")
    assert await page.locator("#messages li").count() == 3
    seen = await acd.GetThread(pb.GetThreadRequest(thread_id=thread))
    assert [m.body for m in seen.messages][-1] == "Thank you, I found it."

    # Unread again, from the conversation.
    await page.click("#mark-unread")
    await page.wait_for_url("**/my/messages?lang=en&done=unread")
    assert await row.locator("[data-unread]").count() == 1
    await row.locator("[data-action=read]").click()
    await page.wait_for_url("**/my/messages?lang=en&done=read")
    assert await row.locator("[data-unread]").count() == 0

    # Hidden, found under hidden conversations, shown again.
    await row.locator("[data-action=hide]").click()
    await page.wait_for_url("**/my/messages?lang=en&done=hidden")
    assert await page.locator("#no-threads").is_visible()
    await page.click("#hidden-list")
    assert await page.text_content("h1") == "Hidden conversations"
    await row.locator("[data-action=show]").click()
    await page.wait_for_url("**/my/messages?lang=en&hidden=1&done=shown")
    await page.click("#shown-list")
    assert await row.count() == 1


async def test_a_message_is_written_with_the_keyboard_only(
    browser: Browser, stack: Stack, people: Registry, artifacts: Path
) -> None:
    lea = await people.register("Lea")
    context = await new_context(browser, stack, locale="de-DE")
    page = await context.new_page()
    await sign_in(page, lea, "/my/messages?lang=de")
    await tab_to(page, "#write", limit=60)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/my/messages/new?lang=de")
    for step, choice in (
        ("theme", "social"),
        ("subject", "affiliation"),
        ("reason", "contributions"),
    ):
        await tab_to(page, f"input[name={step}]", limit=60)
        # Arrows move within a group of radios; Space picks the one focused.
        while not await page.evaluate(
            "(id) => document.activeElement.id === id", f"{step}-{choice}"
        ):
            await page.keyboard.press("ArrowDown")
        await page.keyboard.press("Space")
        await tab_to(page, "#next", limit=60)
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
    await tab_to(page, "#title", limit=60)
    await page.keyboard.type("Meine Beiträge")
    await tab_to(page, "#to-summary", limit=60)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#error-summary")
    # The summary's link takes the focus to the text area.
    await tab_to(page, "#error-summary a[href='#body']", limit=60)
    await page.keyboard.press("Enter")
    assert await page.evaluate("() => document.activeElement.id") == "body"
    await page.keyboard.type("Welche Beiträge habe ich 2025 gezahlt?")
    await tab_to(page, "#to-summary", limit=60)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#send-form")
    await tab_to(page, "#send", limit=60)
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/my/messages/[0-9a-f-]{36}\?lang=de&done=sent"))
    assert await page.text_content("h1") == "Meine Beiträge"
    await page.screenshot(path=artifacts / "messages-keyboard-de.png", full_page=True)
    await context.close()


async def test_a_message_is_sent_without_javascript(
    browser: Browser, stack: Stack, people: Registry
) -> None:
    lea = await people.register("Lea")
    context = await browser.new_context(
        base_url=stack.gateway_url, java_script_enabled=False, ignore_https_errors=True
    )
    page = await context.new_page()
    await page.goto("/signin?return_to=/my/messages?lang=fr")
    await fill_keycloak_login(page, lea, totp_secret=None)
    await page.wait_for_url("**/my/messages?lang=fr")
    thread = await write_a_message(page, "fr", title="Sans JavaScript")
    await page.goto("/my/messages?lang=fr")
    assert await page.locator(f"tr[data-thread='{thread}']").count() == 1
    await context.close()


async def test_another_persons_conversation_is_not_found(
    signed_in: SignedInBrowser, browser: Browser, stack: Stack, people: Registry
) -> None:
    thread = await write_a_message(signed_in.page)
    paul = await people.register("Paul")
    context = await new_context(browser, stack)
    page = await context.new_page()
    await sign_in(page, paul, "/my/messages?lang=en")
    for address in (f"/my/messages/{thread}?lang=en", "/my/messages/not-a-thread?lang=en"):
        response = await page.goto(address)
        assert response is not None and response.status == 404
        assert await page.text_content("h1") == "Page not found"
    # Nor can it be hidden by another person: nothing changes for its owner.
    # A page with a form, for Paul's own CSRF token.
    await page.goto("/my/messages/new?lang=en&theme=taxes&subject=income-tax&reason=tax-assessment")
    token = await page.get_attribute("input[name=csrf_token]", "value")
    hidden = await page.request.post(
        f"/my/messages/{thread}/hidden?lang=en",
        form={"csrf_token": token or "", "hidden": "yes"},
        max_redirects=0,
    )
    assert hidden.status == 404
    await signed_in.page.goto("/my/messages?lang=en")
    assert await signed_in.page.locator(f"tr[data-thread='{thread}']").count() == 1
    await context.close()


@pytest.fixture(scope="module")
async def messaging_relay(
    launcher: Launcher, stack: Stack, messaging_database: str, jetstream: JetStreamContext
) -> AsyncIterator[Started]:
    """Messaging's worker role beside the stack's gRPC role: its outbox relay publishes the
    answered events the gateway's badges follow (it runs once its consumers exist)."""
    durables = [(subjects.ETRACKING.name, "etracking-created")]
    async with messaging_worker(launcher, messaging_database, jetstream, durables) as started:
        yield started


async def test_the_unread_badge_follows_an_answer_live(
    messaging_relay: Started, signed_in: SignedInBrowser, stack: Stack
) -> None:
    page = signed_in.page
    thread = await write_a_message(page)
    acd = back_office(stack, "acd")
    await acd.AnswerThread(pb.AnswerThreadRequest(thread_id=thread, body=ANSWER))

    # Counted when the stream opens, on any page of "my space".
    badge = page.locator("[data-badge='messages']")
    async with page.expect_response(lambda r: "/api/v1/events" in r.url) as opened:
        await page.goto("/my/profile?lang=en")
    assert (await opened.value).status == 200
    await page.wait_for_function(
        "() => !document.querySelector(\"[data-badge='messages']\").hidden", timeout=LIVE_WAIT
    )
    assert (await badge.text_content() or "").startswith("1")

    # A second answer arrives while the page is open: 2, and said once.
    await acd.AnswerThread(pb.AnswerThreadRequest(thread_id=thread, body="And a second answer."))
    await page.wait_for_function(
        "() => document.querySelector(\"[data-badge='messages'] [aria-hidden]\")"
        "?.textContent === '2'",
        timeout=LIVE_WAIT,
    )
    await page.wait_for_function(
        "() => document.querySelector('[data-badge-announcer]').textContent.length > 0",
        timeout=LIVE_WAIT,
    )
    assert "answered" in (await page.text_content("[data-badge-announcer]") or "")

    # Read: the next page counts none.
    await page.goto(f"/my/messages/{thread}?lang=en")
    await page.goto("/my/profile?lang=en")
    await page.wait_for_function(
        "() => document.querySelector(\"[data-badge='messages'] [aria-hidden]\")"
        "?.textContent === '0'"
    )
    assert await badge.is_hidden()


async def shown(page: Page, axe: Axe, width: int, name: str, language: str, folder: Path) -> None:
    assert await page.get_attribute("html", "lang") == language
    await check_shown_page(
        page, axe, width, f"{name} {language}", folder / f"messages-{name}-{language}-{width}.png"
    )


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_the_message_pages_are_accessible_and_reflow(
    browser: Browser, stack: Stack, people: Registry, artifacts: Path, language: str
) -> None:
    lea: Citizen = await people.register("Lea")
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    await sign_in(page, lea, f"/my/messages?lang={language}")
    thread = await write_a_message(page, language, title="Ein-sehr-langes-Wort" * 5)
    # Kept in a name: a channel nobody holds is closed under the call.
    acd = back_office(stack, "acd")
    await acd.AnswerThread(pb.AnswerThreadRequest(thread_id=thread, body=ANSWER))
    axe, watch = Axe(), Watch()
    watch.attach(page)
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        response = await page.goto(f"/my/messages?lang={language}")
        assert response is not None and response.status == 200
        assert response.headers["content-security-policy"] == CSP
        await shown(page, axe, width, "list", language, artifacts)
        await page.goto(f"/my/messages/new?lang={language}&step=theme")
        await shown(page, axe, width, "theme-error", language, artifacts)
        await page.goto(
            f"/my/messages/new?lang={language}&theme=taxes&subject=income-tax&reason=tax-return"
        )
        await shown(page, axe, width, "suggestion", language, artifacts)
        await page.click("#write-anyway")
        await page.click("#to-summary")
        await page.wait_for_selector("#error-summary")
        await shown(page, axe, width, "write-errors", language, artifacts)
        await page.fill("#title", "Mon bulletin")
        await page.fill("#body", BODY)
        await page.click("#to-summary")
        await page.wait_for_selector("#send-form")
        await shown(page, axe, width, "summary", language, artifacts)
        await page.goto(f"/my/messages/{thread}?lang={language}")
        await shown(page, axe, width, "conversation", language, artifacts)
    assert watch.csp_errors == [] and watch.failed == []
    await context.close()


async def test_only_the_person_answered_hears_of_it_on_the_stream(
    messaging_relay: Started, api: httpx.AsyncClient, people: Registry, stack: Stack
) -> None:
    anne, ben = await people.register("Anne"), await people.register("Ben")
    acd = back_office(stack, "acd")
    sent = await api.post("/api/v1/messages/threads", json=MESSAGE, headers=anne.bearer())
    assert sent.status_code == 201, sent.text
    thread = sent.json()["id"]

    async with (
        badge_stream(api, anne.bearer(), lang="fr") as annes,
        badge_stream(api, ben.bearer()) as bens,
    ):
        for stream in (annes, bens):
            first = await stream.next_badges()
            assert first["messages"] == {"unread": 0, "changed": 0}
            assert "announcement" not in first
        await acd.AnswerThread(pb.AnswerThreadRequest(thread_id=thread, body=ANSWER))
        update = await annes.next_badges()
        assert update["messages"] == {"unread": 1, "changed": 1}
        assert update["labels"]["messages"] == "Une réponse non lue"
        assert update["announcement"] == "Une administration a répondu à l'un de vos messages."

        # Ben hears of his own only: his first update after Anne's answer counts his one.
        bens_thread = await api.post("/api/v1/messages/threads", json=MESSAGE, headers=ben.bearer())
        await acd.AnswerThread(
            pb.AnswerThreadRequest(thread_id=bens_thread.json()["id"], body=ANSWER)
        )
        assert (await bens.next_badges())["messages"] == {"unread": 1, "changed": 1}

    # Counted by messaging when a stream opens; read, none.
    async with badge_stream(api, anne.bearer()) as again:
        assert (await again.next_badges())["messages"]["unread"] == 1
    opened = await api.get(f"/api/v1/messages/threads/{thread}", headers=anne.bearer())
    assert opened.status_code == 200
    async with badge_stream(api, anne.bearer()) as after:
        assert (await after.next_badges())["messages"]["unread"] == 0
