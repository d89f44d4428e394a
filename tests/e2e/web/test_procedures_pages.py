"""The procedures' pages in a browser: a procedure found by keywords, started, each step filled
with one mistake shown next to its input and put right, the draft left and taken up again from
"My requests", rows of a list added and removed without JavaScript, a step changed from the
summary, the request sent once with its reference and its sealed proof (checked genuine on the
public page, a changed copy refused), the list's filters; one journey with the keyboard only;
another person's request is a 404 page; every page accessible (axe, WCAG 2.1 AA) in fr, de and
en and reflowing at 320 px."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import Citizen, Registry
from playwright.async_api import Browser, Page
from stack import Stack
from test_procedures_administration import channel
from web.browsing import SignedInBrowser, new_context, sign_in
from web.test_lookup_pages import CSP, Watch, check_shown_page, tab_to

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc

CODE = "change-of-address"
REFERENCE = re.compile(r"PR-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")
# A word of the change of address's keywords in each language.
KEYWORD = {"fr": "déménagement", "de": "Umzug", "en": "address"}
STEP_URL = re.compile(r".*/my/requests/([0-9a-f-]{36})/steps/move\?.*")
PREFILL_URL = re.compile(r".*/my/requests/[0-9a-f-]{36}/prefill\?.*")


def summary_links(page: Page) -> Any:
    return page.locator("#error-summary a")


async def hrefs(page: Page) -> list[str | None]:
    return [await a.get_attribute("href") for a in await summary_links(page).all()]


async def fill_date(page: Page, field: str, day: date | tuple[str, str, str]) -> None:
    parts = (str(day.day), str(day.month), str(day.year)) if isinstance(day, date) else day
    for name, value in zip(("day", "month", "year"), parts, strict=True):
        await page.fill(f"#{field}-{name}", value)


async def fill_address(page: Page, field: str, street: str, locality: str) -> None:
    await page.fill(f"#{field}-street", street)
    await page.fill(f"#{field}-house_number", "12")
    await page.fill(f"#{field}-postcode", "1724")
    await page.fill(f"#{field}-locality", locality)


async def fill_move_step(page: Page, moving_day: date | tuple[str, str, str]) -> None:
    await page.click("label[for=f-move_kind-0]")  # within the municipality
    await fill_date(page, "f-moving_date", moving_day)
    await fill_address(page, "f-new_address", "Boulevard Royal", "Luxembourg")
    await fill_address(page, "f-previous_address", "Rue de Hollerich", "Luxembourg")
    await page.click("label[for=f-housing_status-0]")  # owner


async def save(page: Page) -> None:
    async with page.expect_navigation():
        await page.click("#save-step")


async def download(page: Page, link: str) -> bytes:
    async with page.expect_download() as downloading:
        await page.click(link)
    saved = await (await downloading.value).path()
    return saved.read_bytes()


async def request_of(api: httpx.AsyncClient, citizen: Citizen, request_id: str) -> dict[str, Any]:
    got = await api.get(f"/api/v1/me/requests/{request_id}", headers=citizen.bearer())
    assert got.status_code == 200, got.text
    return dict(got.json())


async def test_a_request_is_found_filled_resumed_changed_submitted_and_followed(
    signed_in: SignedInBrowser, api: httpx.AsyncClient, tmp_path: Path, artifacts: Path
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    today = date.today()

    # Found by keywords in the catalogue: online, behind the padlock at the low level.
    await page.goto("/procedures?lang=en")
    paper = page.locator("[data-procedure]:has([data-channel=paper])").first
    assert await paper.locator("a[href^='/etracking/new?']").count() == 1
    await page.fill("#search-query", "moving house")
    await page.click("#search-button")
    await page.wait_for_url("**/procedures?**q=moving**")
    card = page.locator(f"[data-procedure='{CODE}']")
    assert await card.count() == 1
    assert await card.locator("[data-padlock]").count() == 1
    assert "password sign-in" in await card.inner_text()
    await card.locator("h3 a").click()
    await page.wait_for_url(f"**/procedures/{CODE}?**")
    assert await page.text_content("#procedure-title") == "Change of address"
    # Its form prefills the addresses and e-mail (F24): the prefill page comes first; by hand.
    await page.click("#start")
    await page.wait_for_url(PREFILL_URL)
    assert await page.locator("#prefill-offers [data-field]").count() == 2
    await page.click("#refuse-prefill")
    await page.wait_for_url(STEP_URL)
    match = STEP_URL.match(page.url)
    assert match is not None
    request_id = match.group(1)
    assert await page.get_attribute("[aria-current=step]", "class") is not None

    # Step 1 with a date that does not exist: said next to it, the rest kept, nothing saved.
    await fill_move_step(page, ("31", "2", str(today.year)))
    await save(page)
    assert await hrefs(page) == ["#f-moving_date-day"]
    assert await page.get_attribute("#f-moving_date-day", "aria-invalid") == "true"
    assert await page.input_value("#f-new_address-street") == "Boulevard Royal"
    assert await page.is_checked("#f-housing_status-0")
    assert (await request_of(api, lea, request_id))["answers"] == {}
    await page.screenshot(path=artifacts / "procedures-step-error.png", full_page=True)
    await fill_date(page, "f-moving_date", today)
    await save(page)
    await page.wait_for_url("**/steps/household?**")

    # Left, and taken up again from "My requests".
    await page.goto("/my/requests?lang=en")
    menu = page.locator(".usa-sidenav a[aria-current=page]")
    assert (await menu.text_content() or "").strip() == "My requests"
    row = page.locator(f"[data-request='{request_id}']")
    assert await row.get_attribute("data-state") == "draft"
    await row.locator("a").click()
    await page.wait_for_url(f"**/my/requests/{request_id}?**")
    await page.click("#continue-draft")
    await page.wait_for_url("**/steps/household?**")

    # Step 2: rows added and removed by buttons; a birth date in the future refused in its row.
    await page.click("label[for=f-moving_alone-1]")  # not alone
    await page.fill("#f-members-0-last_name", "Muller")
    await page.fill("#f-members-0-first_name", "Tom")
    await fill_date(page, "f-members-0-birth_date", today + timedelta(days=400))
    await page.click("label[for=f-members-0-relationship-1]")  # child
    async with page.expect_navigation():
        await page.click("#f-members-add")
    assert await page.locator("#f-members-1-last_name").count() == 1
    assert await page.input_value("#f-members-0-first_name") == "Tom", "the typed row is kept"
    await page.fill("#f-members-1-last_name", "Schmit")
    async with page.expect_navigation():
        await page.click("#f-members-remove-1")
    assert await page.locator("#f-members-1-last_name").count() == 0
    await save(page)
    assert await hrefs(page) == ["#f-members-0-birth_date-day"]
    await fill_date(page, "f-members-0-birth_date", date(2015, 6, 1))
    await save(page)
    await page.wait_for_url("**/steps/contact?**")

    # Step 3: an e-mail address that is not one.
    await page.fill("#f-email", "lea@")
    await save(page)
    assert await hrefs(page) == ["#f-email"]
    assert await page.input_value("#f-email") == "lea@"
    await page.fill("#f-email", lea.email)
    await save(page)
    await page.wait_for_url(f"**/my/requests/{request_id}/summary?**")

    # The summary; a step changed from it comes back to it.
    assert "Boulevard Royal" in await page.inner_text("[data-step=move]")
    assert "Tom" in await page.inner_text("[data-step=household]")
    await page.click("#change-move")
    await page.wait_for_url("**/steps/move?**from=summary**")
    await page.fill("#f-new_address-locality", "Esch-sur-Alzette")
    await save(page)
    await page.wait_for_url(f"**/my/requests/{request_id}/summary?**")
    assert "Esch-sur-Alzette" in await page.inner_text("[data-step=move]")
    await page.screenshot(path=artifacts / "procedures-summary.png", full_page=True)

    # Sent: the reference and the sealed proof.
    await page.click("#submit-request")
    await page.wait_for_url(f"**/my/requests/{request_id}/submitted?**")
    reference = (await page.text_content("#reference") or "").strip()
    assert REFERENCE.fullmatch(reference), reference
    proof = await download(page, "#download-proof")
    assert proof.startswith(b"%PDF")
    sent = await request_of(api, lea, request_id)
    assert sent["state"] == "submitted" and sent["reference"] == reference
    assert sent["answers"]["new_address"]["locality"] == "Esch-sur-Alzette"
    await page.screenshot(path=artifacts / "procedures-submitted.png", full_page=True)

    # The list's filters.
    await page.goto("/my/requests?lang=en")
    await page.click("[data-filter=submitted]")
    await page.wait_for_url("**filter=submitted**")
    assert await page.locator(f"[data-request='{request_id}']").count() == 1
    await page.click("[data-filter=in_preparation]")
    await page.wait_for_url("**filter=in_preparation**")
    assert await page.locator("#no-requests").count() == 1
    await page.click("[data-filter=all]")
    await page.click(f"[data-request='{request_id}'] a")
    await page.wait_for_url(f"**/my/requests/{request_id}?**")
    assert await page.text_content("#reference") == reference
    assert await page.locator("#history [data-kind=submitted]").count() == 1

    # Anyone may check the proof; a copy with one byte changed is refused.
    changed = bytearray(proof)
    changed[len(changed) // 2] ^= 0x01
    for name, data in (("proof.pdf", proof), ("changed.pdf", bytes(changed))):
        path = tmp_path / name
        path.write_bytes(data)
        await page.goto("/procedures/verify?lang=en")
        await page.set_input_files("#proof", str(path))
        async with page.expect_navigation():
            await page.click("#verify-button")
        if name == "proof.pdf":
            assert await page.locator("#genuine").count() == 1
            assert await page.text_content("#proof-reference") == reference
        else:
            assert await page.locator("#not-genuine").count() == 1


async def test_a_draft_is_started_and_its_first_step_saved_with_the_keyboard_only(
    browser: Browser, stack: Stack, people: Registry, api: httpx.AsyncClient
) -> None:
    lea = await people.register("Lea")
    context = await new_context(browser, stack, "de-DE")
    page = await context.new_page()
    await sign_in(page, lea, "/dashboard")
    await page.goto("/?lang=de")
    await tab_to(page, "#procedures-link")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/procedures?lang=de")
    await tab_to(page, "#search-query")
    await page.keyboard.type("Umzug")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**q=Umzug**")
    await tab_to(page, f"[data-procedure='{CODE}'] h3 a", limit=40)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/procedures/{CODE}?**")
    await tab_to(page, "#start", limit=40)
    await page.keyboard.press("Enter")
    await page.wait_for_url(PREFILL_URL)
    await tab_to(page, "#refuse-prefill", limit=40)
    await page.keyboard.press("Enter")
    await page.wait_for_url(STEP_URL)

    today = date.today()
    await tab_to(page, "#f-move_kind-0", limit=40)
    await page.keyboard.press("Space")
    for field, text in (
        ("#f-moving_date-day", str(today.day)),
        ("#f-moving_date-month", str(today.month)),
        ("#f-moving_date-year", str(today.year)),
        ("#f-new_address-street", "Grand-Rue"),
        ("#f-new_address-house_number", "3"),
        ("#f-new_address-postcode", "1661"),
        ("#f-new_address-locality", "Luxemburg"),
        ("#f-previous_address-street", "Route d'Arlon"),
        ("#f-previous_address-house_number", "8"),
        ("#f-previous_address-postcode", "1150"),
        ("#f-previous_address-locality", "Luxemburg"),
    ):
        await tab_to(page, field, limit=40)
        await page.keyboard.type(text)
    await tab_to(page, "#f-housing_status-0", limit=400)
    await page.keyboard.press("Space")
    await tab_to(page, "#save-step", limit=40)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/steps/household?**")
    assert await page.get_attribute("html", "lang") == "de"
    match = re.search(r"/my/requests/([0-9a-f-]{36})/", page.url)
    assert match is not None
    saved = await request_of(api, lea, match.group(1))
    assert saved["answers"]["new_address"]["street"] == "Grand-Rue"
    assert saved["answers"]["housing_status"] == "owner"
    await context.close()


async def test_another_persons_request_is_a_page_not_found(
    signed_in: SignedInBrowser, people: Registry, api: httpx.AsyncClient
) -> None:
    max_ = await people.register("Max")
    draft = await api.post(f"/api/v1/procedures/{CODE}/drafts", headers=max_.bearer())
    assert draft.status_code == 201, draft.text
    theirs = draft.json()["id"]
    page = signed_in.page
    for path in (
        f"/my/requests/{theirs}?lang=en",
        f"/my/requests/{theirs}/steps/move?lang=en",
        f"/my/requests/{theirs}/summary?lang=en",
        f"/my/requests/{uuid.uuid4()}?lang=en",
        "/my/requests/not-an-id?lang=en",
    ):
        response = await page.goto(path)
        assert response is not None and response.status == 404, path
        assert await page.text_content("h1") == "Page not found"
    # Nor can a form be sent to it.
    await page.goto("/my/requests?lang=en")
    token = await page.evaluate("() => document.querySelector('form input[name=csrf_token]').value")
    answer = await page.request.post(
        f"/my/requests/{theirs}/cancel?lang=en", form={"csrf_token": token}, max_redirects=0
    )
    assert answer.status == 404
    still = await api.get(f"/api/v1/me/requests/{theirs}", headers=max_.bearer())
    assert still.json()["state"] == "draft"


async def _requests_in_every_state(api: httpx.AsyncClient, lea: Citizen) -> dict[str, str]:
    """A draft with its first step saved, and a submitted request, made through the API."""
    today = date.today().isoformat()
    address = {
        "street": "Avenue de la Gare",
        "house_number": "5",
        "postcode": "1611",
        "locality": "Luxembourg",
        "country": "LU",
    }
    answers = {
        "move": {
            "move_kind": "within",
            "moving_date": today,
            "new_address": address,
            "previous_address": {**address, "house_number": "7"},
            "housing_status": "owner",
        },
        "household": {"moving_alone": True},
        "contact": {"email": lea.email},
    }
    made: dict[str, str] = {}
    for name, steps in (("draft", ["move"]), ("sent", ["move", "household", "contact"])):
        draft = await api.post(f"/api/v1/procedures/{CODE}/drafts", headers=lea.bearer())
        assert draft.status_code == 201, draft.text
        made[name] = draft.json()["id"]
        for step in steps:
            saved = await api.put(
                f"/api/v1/me/requests/{made[name]}/steps/{step}",
                headers=lea.bearer(),
                json=answers[step],
            )
            assert saved.status_code == 200, saved.text
    sent = await api.post(
        f"/api/v1/me/requests/{made['sent']}/submission",
        headers={**lea.bearer(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert sent.status_code in (200, 201), sent.text
    return made


async def test_a_correction_is_answered_and_a_request_cancelled_after_its_confirmation(
    signed_in: SignedInBrowser, stack: Stack, api: httpx.AsyncClient, artifacts: Path
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    made = await _requests_in_every_state(api, lea)
    sent_id, draft_id = made["sent"], made["draft"]
    reference = (await request_of(api, lea, sent_id))["reference"]
    async with channel(stack, "commune") as opened:
        commune = pb_grpc.AdministrationProceduresServiceStub(opened)
        incoming = await commune.GetIncomingRequest(
            pb.GetIncomingRequestRequest(reference=reference)
        )
        await commune.AskCorrection(
            pb.AskCorrectionRequest(
                reference=reference,
                field_ids=["moving_date"],
                message="Which day exactly?",
                expected_version=incoming.request.version,
            )
        )
    await page.goto("/my/requests?lang=en&filter=action_needed")
    row = page.locator(f"[data-request='{sent_id}']")
    assert await row.get_attribute("data-state") == "action_needed"
    await row.locator("a").click()
    await page.wait_for_url(f"**/my/requests/{sent_id}?**")
    assert await page.text_content("#correction-message") == "Which day exactly?"
    assert await page.locator("#correction-form [data-field]").count() == 1, "the asked field"
    # A date that does not exist: said next to it, nothing sent.
    await fill_date(page, "f-moving_date", ("30", "2", str(date.today().year)))
    async with page.expect_navigation():
        await page.click("#send-correction")
    assert await hrefs(page) == ["#f-moving_date-day"]
    await check_shown_page(page, Axe(), 1280, "correction", artifacts / "procedures-correction.png")
    assert (await request_of(api, lea, sent_id))["state"] == "action_needed"
    day = date.today() - timedelta(days=1)
    await fill_date(page, "f-moving_date", day)
    async with page.expect_navigation():
        await page.click("#send-correction")
    await page.wait_for_url("**done=corrected**")
    corrected = await request_of(api, lea, sent_id)
    assert corrected["state"] == "submitted"
    assert corrected["answers"]["moving_date"] == day.isoformat()
    assert await page.locator("#history [data-kind=correction_answered]").count() == 1

    # Cancelled only after its confirmation; then in the archive.
    await page.click("#cancel-request")
    await page.wait_for_url(f"**/my/requests/{sent_id}/cancel?**")
    assert reference in (await page.text_content("#cancel-question") or "")
    assert (await request_of(api, lea, sent_id))["state"] == "submitted"
    await page.click("#confirm-cancel")
    await page.wait_for_url("**done=cancelled**")
    assert (await request_of(api, lea, sent_id))["state"] == "cancelled"
    await page.goto("/my/requests?lang=en&filter=archived")
    assert await page.locator(f"[data-request='{sent_id}']").count() == 1

    # A draft kept longer; the list sorted by name.
    before = datetime.fromisoformat((await request_of(api, lea, draft_id))["expires_at"])
    await page.goto(f"/my/requests/{draft_id}?lang=en")
    await page.click("#extend-draft")
    await page.wait_for_url("**done=extended**")
    after = datetime.fromisoformat((await request_of(api, lea, draft_id))["expires_at"])
    assert after > before
    await page.goto("/my/requests?lang=en")
    await page.select_option("#sort", "name")
    await page.click("#sort-button")
    await page.wait_for_url("**sort=name**")
    assert await page.locator(f"[data-request='{draft_id}']").count() == 1


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_every_procedures_page_is_accessible_and_reflows(
    language: str,
    browser: Browser,
    stack: Stack,
    people: Registry,
    api: httpx.AsyncClient,
    artifacts: Path,
) -> None:
    lea = await people.register("Lea")
    made = await _requests_in_every_state(api, lea)
    draft, sent = made["draft"], made["sent"]
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    await sign_in(page, lea, f"/my/requests?lang={language}")
    pages = {
        "catalogue": f"/procedures?lang={language}",
        "catalogue-search": f"/procedures?lang={language}&q={KEYWORD[language]}",
        "catalogue-theme": f"/procedures?lang={language}&theme=housing",
        "procedure": f"/procedures/{CODE}?lang={language}",
        "verify": f"/procedures/verify?lang={language}",
        "step-move": f"/my/requests/{draft}/steps/move?lang={language}",
        "step-household": f"/my/requests/{draft}/steps/household?lang={language}",
        "requests": f"/my/requests?lang={language}",
        "requests-archive": f"/my/requests?lang={language}&filter=archived",
        "draft": f"/my/requests/{draft}?lang={language}",
        "sent": f"/my/requests/{sent}?lang={language}",
        "submitted": f"/my/requests/{sent}/submitted?lang={language}",
        "cancel": f"/my/requests/{sent}/cancel?lang={language}",
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
            await check_shown_page(
                page, axe, width, path, artifacts / f"procedures-{name}-{language}-{width}.png"
            )
        # A step with its errors and a second row; the summary of a complete draft.
        await page.goto(pages["step-household"])
        await page.click("label[for=f-moving_alone-1]")
        async with page.expect_navigation():
            await page.click("#f-members-add")
        await page.fill("#f-members-0-last_name", "Muller")
        await page.fill("#f-members-0-birth_date-day", "45")
        await save(page)
        await page.wait_for_selector("#error-summary")
        await check_shown_page(
            page,
            axe,
            width,
            "step errors",
            artifacts / f"procedures-step-errors-{language}-{width}.png",
        )
        await page.goto(pages["step-household"])
        await page.click("label[for=f-moving_alone-0]")
        await save(page)
        await page.fill("#f-email", lea.email)
        await save(page)
        await page.wait_for_url("**/summary?**")
        await check_shown_page(
            page, axe, width, "summary", artifacts / f"procedures-summary-{language}-{width}.png"
        )
    assert not watch.csp_errors, watch.csp_errors
    assert not watch.failed, watch.failed
    await context.close()


# --- attachments (F25) ------------------------------------------------------------------------

LEASE = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n% the signed lease\n%" + b"x" * 2000
    + b"\n%%EOF\n"
)  # fmt: skip


async def _tenant_draft(api: httpx.AsyncClient, citizen: Citizen) -> str:
    """A change of address whose first step says the person rents: its lease question shows."""
    headers = citizen.bearer()
    created = await api.post(f"/api/v1/procedures/{CODE}/drafts", headers=headers)
    assert created.status_code == 201, created.text
    request_id: str = created.json()["id"]
    address = {"street": "Rue de Hollerich", "house_number": "3", "postcode": "1741",
               "locality": "Luxembourg", "country": "LU"}  # fmt: skip
    move = {
        "move_kind": "within",
        "moving_date": date.today().isoformat(),
        "new_address": {**address, "street": "Boulevard Royal"},
        "previous_address": address,
        "housing_status": "tenant",
    }
    saved = await api.put(
        f"/api/v1/me/requests/{request_id}/steps/move", headers=headers, json=move
    )
    assert saved.status_code == 200, saved.text
    return request_id


async def _wallet_lease(api: httpx.AsyncClient, citizen: Citizen) -> None:
    created = await api.post(
        "/api/v1/wallet/pieces",
        headers=citizen.bearer(),
        data={"type": "lease", "title": "Signed lease", "expires_on": "2031-05-31"},
        files={"file": ("signed-lease.pdf", LEASE, "application/pdf")},
    )
    assert created.status_code == 201, created.text


async def test_files_are_added_from_the_computer_and_the_wallet_and_removed_with_plain_forms(
    browser: Browser,
    stack: Stack,
    people: Registry,
    api: httpx.AsyncClient,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    lea = await people.register("Lea")
    request_id = await _tenant_draft(api, lea)
    await _wallet_lease(api, lea)
    context = await new_context(browser, stack)
    page = await context.new_page()
    step = f"/my/requests/{request_id}/steps/move?lang=en"
    await sign_in(page, lea, step)
    await page.goto(step)
    assert await page.text_content("#f-lease-none") == "No file yet."

    # From the computer: streamed to the wallet's pipeline, listed on the step.
    scan = tmp_path / "lease scan.pdf"
    scan.write_bytes(LEASE + b"% scan\n")
    await page.set_input_files("#f-lease", str(scan))
    async with page.expect_navigation():
        await page.click("#f-lease-upload")
    assert "/steps/move" in page.url
    assert "lease scan.pdf" in await page.inner_text("#f-lease-files")

    # From the wallet: one of Lea's documents.
    assert "Signed lease" in await page.inner_text("#f-lease-wallet")
    async with page.expect_navigation():
        await page.click("#f-lease-attach")
    files = (await request_of(api, lea, request_id))["attachments"]
    assert [(f["file_name"], f["source"]) for f in files] == [
        ("lease scan.pdf", "upload"),
        ("signed-lease.pdf", "wallet"),
    ]

    # A file of a type the question does not take: said next to it, nothing added.
    notes = tmp_path / "notes.txt"
    notes.write_text("just some words\n" * 20)
    await page.set_input_files("#f-lease", str(notes))
    async with page.expect_navigation():
        await page.click("#f-lease-upload")
    assert await hrefs(page) == ["#f-lease"]
    assert "notes.txt" in (await page.text_content("#f-lease-error") or "")
    assert len((await request_of(api, lea, request_id))["attachments"]) == 2

    # Removed again; the step is then saved with what is left.
    async with page.expect_navigation():
        await page.click("#f-lease-remove-0")
    left = (await request_of(api, lea, request_id))["attachments"]
    assert [f["file_name"] for f in left] == ["signed-lease.pdf"]
    assert (await request_of(api, lea, request_id))["answers"]["lease"] == [left[0]["id"]]
    await page.screenshot(path=artifacts / "procedures-step-files.png", full_page=True)
    await context.close()


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_a_step_with_files_is_accessible_and_reflows(
    language: str,
    browser: Browser,
    stack: Stack,
    people: Registry,
    api: httpx.AsyncClient,
    artifacts: Path,
) -> None:
    lea = await people.register("Lea")
    request_id = await _tenant_draft(api, lea)
    await _wallet_lease(api, lea)
    added = await api.post(
        f"/api/v1/me/requests/{request_id}/fields/lease/files",
        headers=lea.bearer(),
        files={"file": ("lease.pdf", LEASE, "application/pdf")},
    )
    assert added.status_code == 201, added.text
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    step = f"/my/requests/{request_id}/steps/move?lang={language}"
    await sign_in(page, lea, step)
    axe = Axe()
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        response = await page.goto(step)
        assert response is not None and response.status == 200
        assert response.headers["content-security-policy"] == CSP
        await check_shown_page(
            page, axe, width, step, artifacts / f"procedures-step-files-{language}-{width}.png"
        )
    await context.close()
