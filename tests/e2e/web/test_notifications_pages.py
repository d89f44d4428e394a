"""The page "My notifications" in a browser: the person's own e-mails and SMS with their delivery
status, newest first, "show more" for a longer list, the menu entry; nothing of another person's;
accessible (axe, WCAG 2.1 AA) in fr, de and en and reflowing at 320 px."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import Registry
from notification_rows import record_for
from playwright.async_api import Browser
from stack import Stack
from web.browsing import SignedInBrowser, new_context, sign_in
from web.test_lookup_pages import CSP, Watch, check_shown_page


async def test_my_notifications_lists_mine_newest_first(
    signed_in: SignedInBrowser, people: Registry, messaging_database: str
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    paul = await people.register("Paul")
    await record_for(messaging_database, lea.national_id, "PR-1", email=lea.email)
    await record_for(
        messaging_database, lea.national_id, "PR-2", email=lea.email, phone="+352691000222"
    )
    await record_for(messaging_database, paul.national_id, "PR-9", email=paul.email)

    await page.goto("/dashboard?lang=en")
    await page.click("nav a[href='/my/notifications?lang=en']")
    await page.wait_for_url("**/my/notifications?lang=en")
    assert await page.text_content("h1") == "My notifications"
    assert await page.get_attribute("nav a[aria-current=page]", "href") == (
        "/my/notifications?lang=en"
    )
    titles = await page.locator("#notifications tbody th").all_text_contents()
    assert sorted(titles) == sorted(
        [
            "OpenGuichet: your request PR-2 was sent.",
            "Your request PR-2 was sent",
            "Your request PR-1 was sent",
        ]
    )
    assert titles[-1] == "Your request PR-1 was sent"  # the oldest last
    statuses = await page.locator("#notifications .usa-tag").all_text_contents()
    assert set(statuses) == {"Being sent"}
    body = await page.text_content("#notifications") or ""
    assert "PR-9" not in body and paul.email not in body
    assert await page.locator("#older").count() == 0


async def test_a_person_without_notifications_is_told_so(signed_in: SignedInBrowser) -> None:
    page = signed_in.page
    await page.goto("/my/notifications?lang=fr")
    assert await page.text_content("h1") == "Mes notifications"
    assert await page.locator("#no-notifications").is_visible()


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_the_notification_page_is_accessible_and_reflows(
    browser: Browser,
    stack: Stack,
    people: Registry,
    messaging_database: str,
    artifacts: Path,
    language: str,
) -> None:
    lea = await people.register("Lea")
    await record_for(
        messaging_database, lea.national_id, "PR-3", email=lea.email, phone="+352691000333"
    )
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    await sign_in(page, lea, f"/my/notifications?lang={language}")
    axe, watch = Axe(), Watch()
    watch.attach(page)
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        response = await page.goto(f"/my/notifications?lang={language}")
        assert response is not None and response.status == 200
        assert response.headers["content-security-policy"] == CSP
        assert await page.get_attribute("html", "lang") == language
        await check_shown_page(
            page,
            axe,
            width,
            f"notifications {language}",
            artifacts / f"notifications-{language}-{width}.png",
        )
    assert watch.csp_errors == [] and watch.failed == []
    await context.close()


async def test_older_notifications_come_a_page_at_a_time(
    signed_in: SignedInBrowser, messaging_database: str
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    for number in range(11):  # an e-mail and an SMS each: 22, a page holds 20
        await record_for(
            messaging_database,
            lea.national_id,
            f"PR-{number}",
            email=lea.email,
            phone="+352691000444",
        )

    await page.goto("/my/notifications?lang=en")
    assert await page.locator("#notifications tbody tr").count() == 20
    assert await page.locator("#newest").count() == 0
    await page.click("#older")
    await page.wait_for_load_state()
    rows = await page.locator("#notifications tbody th").all_text_contents()
    assert sorted(rows) == [
        "OpenGuichet: your request PR-0 was sent.",
        "Your request PR-0 was sent",
    ]
    assert await page.locator("#older").count() == 0
    await page.click("#newest")
    await page.wait_for_url("**/my/notifications?lang=en")
    assert await page.locator("#notifications tbody tr").count() == 20
