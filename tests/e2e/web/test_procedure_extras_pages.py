"""A request's appointment, the prefill of its form and its electronic signature, in a browser on
the running stack: a slot chosen and held while the form is finished, booked by the submission,
added to a calendar, changed, cancelled; a full slot and a lapsed hold said on the page; what the
registers would fill in shown with its source and time, accepted with the keyboard only (or filled
by hand); the criminal record extract signed with the citizen's certificate of the development
national CA (the signature made outside the browser, as the card's software does, then sent as a
file), someone else's signature refused and nothing sent. Every page accessible (axe, WCAG 2.1 AA)
in fr, de and en and reflowing at 320 px."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import Registry
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.async_api import Browser, Page
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from stack import Stack
from test_procedures_appointments import channel
from web.browsing import SignedInBrowser, new_context, sign_in
from web.test_lookup_pages import CSP, check_shown_page, tab_to
from web.test_relations_space import certificate_context, sign_in_high

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc

if TYPE_CHECKING:  # the async stub types exist only in the generated .pyi
    AdminStub = pb_grpc.AdministrationProceduresServiceAsyncStub

MY_REQUESTS = "/api/v1/me/requests"
LUXEMBOURG = ZoneInfo("Europe/Luxembourg")
RESIDENCE = "residence-certificate"
RESIDENCE_ANSWERS = {
    "certificate": {"certificate_type": "simple", "purpose": "employer", "copies": 1},
    "delivery": {"delivery_mode": "counter"},
}
YOUR_APPOINTMENT = {"fr": "Votre rendez-vous", "de": "Ihr Termin", "en": "Your appointment"}
EXTRACT = "criminal-record-extract"
PREFILLED = "change-of-address"  # its addresses and e-mail are prefilled (F24)
EXTRACT_ANSWERS = {
    "extract": {"bulletin": "b3", "purpose": "employment", "extract_language": "en"},
    "delivery": {"delivery_mode": "edocument"},
}


async def open_slots(stack: Stack, *specs: tuple[str, datetime, int]) -> list[str]:
    """The commune opens 20-minute slots (place, start, capacity); their ids in that order."""
    ids = []
    async with channel(stack, "commune") as opened:
        commune: AdminStub = pb_grpc.AdministrationProceduresServiceStub(opened)
        for place, start, capacity in specs:
            spec = pb.SlotSpec(capacity=capacity)
            spec.starts_at.FromDatetime(start)
            spec.ends_at.FromDatetime(start + timedelta(minutes=20))
            made = await commune.DefineSlots(
                pb.DefineSlotsRequest(procedure_code=RESIDENCE, place_code=place, slots=[spec])
            )
            ids.append(made.slots[0].id)
    return ids


async def complete_draft(
    api: httpx.AsyncClient, headers: dict[str, str], code: str, answers: dict[str, Any]
) -> dict[str, Any]:
    created = await api.post(f"/api/v1/procedures/{code}/drafts", headers=headers)
    assert created.status_code == 201, created.text
    draft: dict[str, Any] = created.json()
    for step, values in answers.items():
        saved = await api.put(
            f"{MY_REQUESTS}/{draft['id']}/steps/{step}", headers=headers, json=values
        )
        assert saved.status_code == 200, saved.text
        draft = saved.json()
    return draft


async def request_of(api: httpx.AsyncClient, headers: dict[str, str], request_id: str) -> Any:
    got = await api.get(f"{MY_REQUESTS}/{request_id}", headers=headers)
    assert got.status_code == 200, got.text
    return got.json()


async def go(page: Page, selector: str) -> None:
    async with page.expect_navigation():
        await page.click(selector)


async def pick(page: Page, slot_id: str) -> None:
    """Ticks a slot by its label, as a person does, and sends the choice."""
    await page.check(f"label[for='slot-{slot_id}']")
    await go(page, "#choose-slot")


async def download(page: Page, link: str) -> bytes:
    async with page.expect_download() as downloading:
        await page.click(link)
    saved = await (await downloading.value).path()
    return saved.read_bytes()


def luxembourg_time(moment: datetime) -> str:
    return moment.astimezone(LUXEMBOURG).strftime("%H:%M")


def utc_stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


# --- appointments ---------------------------------------------------------------------------


async def test_a_slot_is_held_booked_added_to_a_calendar_changed_and_cancelled(
    signed_in: SignedInBrowser, stack: Stack, people: Registry, api: httpx.AsyncClient
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    start = (datetime.now(UTC) + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    first, single, later = await open_slots(
        stack,
        ("hotel-de-ville", start, 2),
        ("bonnevoie", start + timedelta(minutes=40), 1),
        ("hotel-de-ville", start + timedelta(hours=2), 2),
    )
    mine = lea.bearer()
    draft = await complete_draft(api, mine, RESIDENCE, RESIDENCE_ANSWERS)

    # From the draft's page to its appointment: none yet, the slots by place and day.
    await page.goto(f"/my/requests/{draft['id']}?lang=en")
    await go(page, "#appointment-link")
    assert await page.get_attribute("#current", "data-state") == "none"
    place = page.locator("[data-place='hotel-de-ville']")
    assert "Biergerzenter, City Hall" in await place.locator("legend").first.inner_text()
    label = await page.inner_text(f"label[for='slot-{first}']")
    assert luxembourg_time(start) in label and "free places: 2" in label

    # A slot taken meanwhile by someone else: said at the top and next to the slots.
    max_ = await people.register("Max")
    his = await complete_draft(api, max_.bearer(), RESIDENCE, RESIDENCE_ANSWERS)
    taken = await api.post(
        f"{MY_REQUESTS}/{his['id']}/appointment/hold",
        headers=max_.bearer(),
        json={"slot_id": single},
    )
    assert taken.status_code == 200, taken.text
    await pick(page, single)
    assert "no free place left" in await page.inner_text("#error-summary")
    assert "no free place left" in await page.inner_text("#slot-error")
    assert await page.locator(f"#slot-{single}").count() == 0
    assert (await request_of(api, mine, draft["id"])).get("state") == "draft"
    assert await page.get_attribute("#current", "data-state") == "none"

    # Held while the form is finished, until when is said.
    await pick(page, first)
    assert "done=held" in page.url
    assert await page.get_attribute("#current", "data-state") == "held"
    assert "Held until" in await page.inner_text("#held-until")
    assert luxembourg_time(start) in await page.inner_text("#current-time")

    # The hold lapses (its minutes made past): said on the page; sending is refused, the
    # request stays a draft until a slot is held again.
    engine = create_async_engine(stack.procedures_database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE appointments SET held_until = now() - interval '1 minute' "
                "WHERE request_id = :id"
            ),
            {"id": draft["id"]},
        )
    await engine.dispose()
    await page.reload()
    assert await page.locator("#hold-lapsed").count() == 1
    await go(page, "#continue-form")
    await go(page, "#submit-request")
    assert "released" in await page.inner_text("#error-summary")
    assert (await request_of(api, mine, draft["id"]))["state"] == "draft"
    await page.goto(f"/my/requests/{draft['id']}/appointment?lang=en")
    await pick(page, first)
    assert await page.locator("#held-until").count() == 1

    # Sent from the summary: booked; the confirmation leads to it and its calendar file.
    await go(page, "#continue-form")
    assert "/summary" in page.url
    await go(page, "#submit-request")
    assert "/submitted" in page.url
    await go(page, "#appointment-link")
    assert await page.get_attribute("#current", "data-state") == "booked"
    calendar = (await download(page, "#download-calendar")).decode()
    assert f"DTSTART:{utc_stamp(start)}\r\n" in calendar

    # Changed to a later slot, then cancelled: the calendar follows, nothing is left.
    await pick(page, later)
    assert "done=changed" in page.url
    assert luxembourg_time(start + timedelta(hours=2)) in await page.inner_text("#current-time")
    calendar = (await download(page, "#download-calendar")).decode()
    assert f"DTSTART:{utc_stamp(start + timedelta(hours=2))}\r\n" in calendar
    await go(page, "#cancel-appointment")
    assert "done=cancelled" in page.url
    assert await page.get_attribute("#current", "data-state") == "cancelled"
    assert await page.locator("#download-calendar").count() == 0
    listed = await api.get(f"{MY_REQUESTS}/{draft['id']}/appointment", headers=mine)
    assert listed.json()["state"] == "cancelled"


async def test_a_request_without_appointments_says_so(
    signed_in: SignedInBrowser, api: httpx.AsyncClient
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    created = await api.post("/api/v1/procedures/change-of-address/drafts", headers=lea.bearer())
    assert created.status_code == 201, created.text
    await page.goto(f"/my/requests/{created.json()['id']}/appointment?lang=en")
    assert await page.locator("#not-offered").count() == 1
    assert await page.locator("#slot-form").count() == 0


# --- prefill ------------------------------------------------------------------------------------


async def test_what_would_be_prefilled_is_shown_and_accepted_with_the_keyboard_only(
    browser: Browser, stack: Stack, people: Registry, api: httpx.AsyncClient
) -> None:
    lea = await people.register("Lea")
    await people.enter_in_registers(lea)
    headers = lea.bearer()
    created = await api.post("/api/v1/procedures/change-of-address/drafts", headers=headers)
    assert created.status_code == 201, created.text
    draft_id = created.json()["id"]
    context = await new_context(browser, stack)
    page = await context.new_page()
    await sign_in(page, lea, f"/my/requests/{draft_id}?lang=en")

    await tab_to(page, "#prefill-link", limit=60)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    offers = page.locator("#prefill-offers [data-field]")
    assert [await o.get_attribute("data-field") for o in await offers.all()] == [
        "previous_address",
        "email",
    ]
    address = page.locator("[data-field='previous_address']")
    assert "Luxembourg" in await address.locator("[data-value]").inner_text()
    assert (
        await address.locator("[data-source]").inner_text()
        == "National register of natural persons"
    )
    assert await address.locator("time[data-read-at]").get_attribute("datetime")
    email = page.locator("[data-field='email']")
    assert await email.locator("[data-value]").inner_text() == lea.email
    assert await email.locator("[data-source]").inner_text() == "Your profile"
    # Nothing is written before the person decides.
    assert (await request_of(api, headers, draft_id))["prefill_decision"] == ""

    await tab_to(page, "#accept-prefill", limit=40)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert f"/my/requests/{draft_id}/steps/move" in page.url
    decided = await request_of(api, headers, draft_id)
    assert decided["prefill_decision"] == "accepted"
    assert decided["answers"]["email"] == lea.email
    assert decided["answers"]["previous_address"]["locality"] == "Luxembourg"
    assert await page.input_value("#f-previous_address-locality") == "Luxembourg"

    # The prefill page now says what was decided and what was filled in, from where.
    await page.goto(f"/my/requests/{draft_id}/prefill?lang=en")
    assert await page.locator("#prefill-decision").count() == 1
    assert await page.locator("#prefilled-fields [data-field]").count() == 2
    assert await page.locator("#prefill-form").count() == 0
    await context.close()


async def test_the_form_is_filled_by_hand_when_the_person_refuses(
    signed_in: SignedInBrowser, people: Registry, api: httpx.AsyncClient
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    await people.enter_in_registers(lea)
    created = await api.post("/api/v1/procedures/change-of-address/drafts", headers=lea.bearer())
    draft_id = created.json()["id"]
    await page.goto(f"/my/requests/{draft_id}/prefill?lang=en")
    await go(page, "#refuse-prefill")
    assert f"/my/requests/{draft_id}/steps/move" in page.url
    refused = await request_of(api, lea.bearer(), draft_id)
    assert (refused["prefill_decision"], refused["answers"]) == ("refused", {})
    assert await page.input_value("#f-previous_address-locality") == ""


# --- the electronic signature -----------------------------------------------------------------


def signed_file(certificate: tuple[Path, Path], digest: str, folder: Path, name: str) -> Path:
    """What the card's software makes: the digest's 32 bytes signed with the card's key."""
    key = serialization.load_pem_private_key(certificate[1].read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    path = folder / name
    path.write_bytes(key.sign(bytes.fromhex(digest), ec.ECDSA(hashes.SHA256())))
    return path


async def test_a_request_is_signed_with_the_citizens_certificate_and_sent(
    browser: Browser,
    stack: Stack,
    people: Registry,
    api: httpx.AsyncClient,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    anne, bob = await people.register("Anne"), await people.register("Bob")
    await people.step_up_to_high(bob)
    context = await certificate_context(browser, stack, people, anne)
    assert anne.certificate is not None and bob.certificate is not None
    headers = anne.bearer("high")
    draft = await complete_draft(api, headers, EXTRACT, EXTRACT_ANSWERS)
    digest = draft["answers_sha256"]
    page = await context.new_page()
    await sign_in_high(page, anne, f"/my/requests/{draft['id']}/summary?lang=en")

    # The summary sends it only signed: no plain submission, no appointment to take.
    assert await page.locator("#signature-needed").count() == 1
    assert await page.locator("#submit-form").count() == 0
    assert await page.locator("#appointment-link").count() == 0
    await check_shown_page(
        page, Axe(), 1280, "signed summary", artifacts / "extras-signed-summary.png"
    )
    await go(page, "#sign-link")
    assert "".join((await page.inner_text("#digest")).split()) == digest
    assert await download(page, "#download-digest") == bytes.fromhex(digest)

    # Nothing chosen: each missing file said next to its input.
    await go(page, "#sign-and-submit")
    links = [await a.get_attribute("href") for a in await page.locator("#error-summary a").all()]
    assert links == ["#sign-certificate", "#sign-signature"]
    assert await page.get_attribute("#sign-certificate", "aria-invalid") == "true"

    # Someone else's certificate and signature: refused, nothing sent.
    await page.set_input_files("#sign-certificate", bob.certificate[0])
    await page.set_input_files(
        "#sign-signature", signed_file(bob.certificate, digest, tmp_path, "bob.sig")
    )
    await go(page, "#sign-and-submit")
    assert await page.locator("#error-summary").count() == 1
    assert (await request_of(api, headers, draft["id"]))["state"] == "draft"

    # A signature of other data: refused too.
    await page.set_input_files("#sign-certificate", anne.certificate[0])
    await page.set_input_files(
        "#sign-signature", signed_file(anne.certificate, "00" * 32, tmp_path, "other.sig")
    )
    await go(page, "#sign-and-submit")
    assert await page.locator("#error-summary").count() == 1
    assert (await request_of(api, headers, draft["id"]))["state"] == "draft"

    # Her own signature of the answers: sent, with its reference.
    await page.set_input_files("#sign-certificate", anne.certificate[0])
    await page.set_input_files(
        "#sign-signature", signed_file(anne.certificate, digest, tmp_path, "anne.sig")
    )
    await page.select_option("#sign-algorithm", "ecdsa-sha256")
    await go(page, "#sign-and-submit")
    assert "/submitted" in page.url
    sent = await request_of(api, headers, draft["id"])
    assert sent["state"] == "submitted" and sent["reference"]
    assert await page.inner_text("#reference") == sent["reference"]
    assert await page.locator("#appointment-link").count() == 0
    await context.close()


# --- links only to what applies -----------------------------------------------------------------


async def test_each_page_links_only_to_what_its_procedure_offers(
    signed_in: SignedInBrowser, api: httpx.AsyncClient, artifacts: Path
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    mine = lea.bearer()
    # The API says it of each procedure, on its form and in the catalogue alike.
    offers = {}
    for code in (RESIDENCE, EXTRACT, PREFILLED):
        got = await api.get(f"/api/v1/procedures/{code}")
        assert got.status_code == 200, got.text
        offer = got.json()["procedure"]
        offers[code] = (offer["appointment"], offer["signature_required"], offer["prefill_offered"])
    assert offers == {
        RESIDENCE: ("optional", False, False),
        EXTRACT: ("none", True, False),
        PREFILLED: ("none", False, True),
    }
    found = await api.get("/api/v1/procedures", params={"page_size": 100})
    listed = {item["code"]: item for item in found.json()["items"]}
    assert listed[EXTRACT]["signature_required"] is True
    assert listed[PREFILLED]["prefill_offered"] is True
    assert listed[RESIDENCE]["appointment"] == "optional"

    # Nothing to prefill: "Start" opens the first step; the draft offers an appointment only.
    await page.goto(f"/procedures/{RESIDENCE}?lang=en")
    await go(page, "#start")
    assert "/steps/certificate?" in page.url
    started = page.url.split("/my/requests/")[1].split("/")[0]
    await page.goto(f"/my/requests/{started}?lang=en")
    assert await page.locator("#appointment-link").count() == 1
    assert await page.locator("#prefill-link").count() == 0

    # Its summary: an appointment to take, sent without a signature.
    draft = await complete_draft(api, mine, RESIDENCE, RESIDENCE_ANSWERS)
    await page.goto(f"/my/requests/{draft['id']}/summary?lang=en")
    assert await page.locator("#appointment-link").count() == 1
    assert await page.locator("#sign-link").count() == 0
    assert await page.locator("#signature-needed").count() == 0
    await check_shown_page(
        page, Axe(), 1280, "summary", artifacts / "extras-appointment-summary.png"
    )
    # Sent without one (it is optional): no appointment to show afterwards.
    await go(page, "#submit-request")
    assert "/submitted" in page.url
    assert (await request_of(api, mine, draft["id"]))["has_appointment"] is False
    assert await page.locator("#appointment-link").count() == 0
    await page.goto(f"/my/requests/{draft['id']}?lang=en")
    assert await page.locator("#appointment-link").count() == 0

    # A form with sources: the prefill is linked from the draft; no appointment there.
    prefilled = await api.post(f"/api/v1/procedures/{PREFILLED}/drafts", headers=mine)
    assert prefilled.status_code == 201, prefilled.text
    await page.goto(f"/my/requests/{prefilled.json()['id']}?lang=en")
    assert await page.locator("#prefill-link").count() == 1
    assert await page.locator("#appointment-link").count() == 0
    await check_shown_page(page, Axe(), 1280, "draft", artifacts / "extras-prefill-draft.png")


# --- accessibility and reflow ---------------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_every_extras_page_is_accessible_and_reflows(
    language: str,
    browser: Browser,
    stack: Stack,
    people: Registry,
    api: httpx.AsyncClient,
    artifacts: Path,
) -> None:
    lea = await people.register("Lea")
    await people.enter_in_registers(lea)
    headers = lea.bearer()
    start = (datetime.now(UTC) + timedelta(days=6)).replace(minute=0, second=0, microsecond=0)
    first, second = await open_slots(
        stack, ("hotel-de-ville", start, 3), ("bonnevoie", start + timedelta(hours=1), 3)
    )
    held = await complete_draft(api, headers, RESIDENCE, RESIDENCE_ANSWERS)
    answer = await api.post(
        f"{MY_REQUESTS}/{held['id']}/appointment/hold", headers=headers, json={"slot_id": first}
    )
    assert answer.status_code == 200, answer.text
    booked = await complete_draft(api, headers, RESIDENCE, RESIDENCE_ANSWERS)
    await api.post(
        f"{MY_REQUESTS}/{booked['id']}/appointment/hold", headers=headers, json={"slot_id": second}
    )
    sent = await api.post(
        f"{MY_REQUESTS}/{booked['id']}/submission",
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert sent.status_code == 200, sent.text
    offered = await api.post("/api/v1/procedures/change-of-address/drafts", headers=headers)
    decided = await api.post("/api/v1/procedures/change-of-address/drafts", headers=headers)
    accepted = await api.post(
        f"{MY_REQUESTS}/{decided.json()['id']}/prefill-consent",
        headers=headers,
        json={"accept": True},
    )
    assert accepted.status_code == 200, accepted.text
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    await sign_in(page, lea, f"/my/requests?lang={language}")
    pages = {
        "appointment-held": f"/my/requests/{held['id']}/appointment?lang={language}",
        "appointment-booked": f"/my/requests/{booked['id']}/appointment?lang={language}",
        "prefill": f"/my/requests/{offered.json()['id']}/prefill?lang={language}",
        "prefill-decided": f"/my/requests/{decided.json()['id']}/prefill?lang={language}",
        "sign": f"/my/requests/{held['id']}/sign?lang={language}",
    }
    # The summary with the links to these pages (its reflow is the procedures pages' test).
    summary = f"/my/requests/{held['id']}/summary?lang={language}"
    axe = Axe()
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        for name, path in pages.items():
            response = await page.goto(path)
            assert response is not None and response.status == 200, path
            assert response.headers["content-security-policy"] == CSP
            assert await page.get_attribute("html", "lang") == language
            await check_shown_page(
                page, axe, width, path, artifacts / f"extras-{name}-{language}-{width}.png"
            )
        if width == 1280:
            await page.goto(summary)
            assert await page.locator("#request-extras a").count() == 1
            assert await page.locator("#sign-link").count() == 0
            await check_shown_page(
                page, axe, width, summary, artifacts / f"extras-summary-{language}-{width}.png"
            )
        # The signing form with its errors.
        await page.goto(pages["sign"])
        await go(page, "#sign-and-submit")
        await page.wait_for_selector("#error-summary")
        await check_shown_page(
            page,
            axe,
            width,
            "sign errors",
            artifacts / f"extras-sign-errors-{language}-{width}.png",
        )
        # The page speaks the person's language.
        await page.goto(pages["appointment-held"])
        assert await page.inner_text("#current-heading") == YOUR_APPOINTMENT[language]
    await context.close()
