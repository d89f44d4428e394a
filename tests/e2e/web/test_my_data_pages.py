"""The pages "My data" in a browser: what the registers hold with each value's source and read time,
a certificate downloaded as a sealed PDF, a report of wrong data and its answer, who looked at the
data; a company's entry and VAT account in its context; the public check of a certificate. One
journey with the keyboard only; every page accessible (axe) and reflowing at 320 px in fr, de, en.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import Citizen, Registry
from playwright.async_api import Browser, Page
from stack import Stack
from web.browsing import SignedInBrowser, new_context, sign_in
from web.test_lookup_pages import check_shown_page, tab_to
from web.test_relations_space import choose

from guichet_testkit.eventually import wait_until


async def status_of_report(page: Page, field_label: str) -> str:
    row = page.locator("#reports tbody tr", has_text=field_label)
    return str(await row.locator("[data-status]").get_attribute("data-status"))


async def act_for(page: Page, context: str) -> None:
    """Choose the acting context on its page, as a person does."""
    await page.goto("/my/context?lang=en")
    await choose(page, f"input[name=context][value='{context}']")
    await page.click("#context-form button[type=submit]")
    await page.wait_for_load_state()


async def test_my_data_shows_sources_gives_a_certificate_and_takes_a_report(
    signed_in: SignedInBrowser, people: Registry, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    await people.enter_in_registers(lea, licence_points=10, tax_credit_used_cents=500_000)
    await people.child_of(lea, first_name="Mia")

    await page.goto("/my/data?lang=en")
    assert await page.text_content("h1") == "My data"
    row = page.locator("#register tr[data-field='person.given_names']")
    assert await row.locator("[data-value]").text_content() == "Lea"
    source = await row.locator("td").nth(1).text_content() or ""
    assert "National register of natural persons" in source and "read on" in source
    assert await row.locator("time").get_attribute("datetime")
    household = page.locator("[data-field='person.household'] tbody tr")
    assert await household.count() == 2
    assert "Mia" in (await page.locator("[data-field='person.children']").text_content() or "")
    points = page.locator("#licence tr[data-field='driving_licence.points'] [data-value]")
    assert await points.text_content() == "10"
    assert await page.locator("#tax tr[data-field='tax_credit.remaining']").count() == 1

    # A household composition certificate in French, downloaded as the sealed PDF.
    await choose(page, "#kind-household_composition")
    await page.select_option("#language", "fr")
    async with page.expect_download() as started:
        await page.click("#get-certificate")
    download = await started.value
    assert download.suggested_filename.endswith(".pdf")
    saved = tmp_path / "certificate.pdf"
    await download.save_as(saved)
    pdf = saved.read_bytes()
    assert pdf.startswith(b"%PDF") and b"/ByteRange" in pdf
    # Its fingerprint is the one the public check knows.
    certificate_id = download.suggested_filename.removesuffix(".pdf").split("-certificate-")[1]
    check = await api.get(
        f"/api/v1/certificates/{certificate_id}/verification",
        params={"sha256": hashlib.sha256(pdf).hexdigest()},
    )
    assert check.json()["sha256_matches"] is True

    # Reporting a wrong value: the form says what is wrong first, keeps what was typed.
    await page.goto("/my/data?lang=en")
    await page.click("[data-report='person.given_names']")
    await page.wait_for_url("**/my/data/report?field=person.given_names**")
    assert "Lea" in (await page.text_content("#reported-value") or "")
    await page.fill("#comment", "short")
    await page.fill("#proposed_value", "Léa")
    await page.click("#send-report")
    await page.wait_for_selector("#error-summary")
    assert await page.get_attribute("#error-summary a", "href") == "#comment"
    assert await page.get_attribute("#comment", "aria-invalid") == "true"
    assert await page.input_value("#proposed_value") == "Léa"
    assert (await api.get("/api/v1/me/data/reports", headers=lea.bearer())).json() == []
    await page.fill("#comment", "My first name is written with an accent.")
    await page.click("#send-report")
    await page.wait_for_url("**/my/data/reports?lang=en&filed=1")
    assert await page.locator("#success").is_visible()
    assert await status_of_report(page, "Given names") in ("sent", "received", "corrected")

    async def corrected() -> bool:
        await page.reload()
        return await status_of_report(page, "Given names") == "corrected"

    await wait_until(corrected, seconds=30, what="the register's correction")
    await page.goto("/my/data?lang=en")
    assert await row.locator("[data-value]").text_content() == "Léa"

    # Who looked at my data: the person's own reads, marked as such.
    await page.click("#tab-accesses")
    await page.wait_for_url("**/my/data/accesses**")
    newest = page.locator("#accesses tbody tr").first
    assert "You" in (await newest.locator("td").nth(1).text_content() or "")
    assert "Your own view of your data" in (await newest.text_content() or "")
    purposes = await page.locator("#accesses tbody tr td:nth-child(3)").all_text_contents()
    assert "Household composition certificate" in purposes


async def test_a_report_of_wrong_data_is_sent_with_the_keyboard_only(
    signed_in: SignedInBrowser, people: Registry, api: httpx.AsyncClient
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    await people.enter_in_registers(lea)
    await page.goto("/my/profile?lang=en")
    await tab_to(page, "a[href^='/my/data?']", limit=40)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/my/data?lang=en")

    await tab_to(page, "[data-report='person.birth_place']", limit=80)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/my/data/report?field=person.birth_place**")
    await tab_to(page, "#comment", limit=40)
    await page.keyboard.type("I was born in Esch-sur-Alzette, not in Luxembourg.")
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.id") == "proposed_value"
    await page.keyboard.type("Esch-sur-Alzette")
    await tab_to(page, "#send-report")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/my/data/reports?lang=en&filed=1")

    [report] = (await api.get("/api/v1/me/data/reports", headers=lea.bearer())).json()
    assert (report["field"], report["proposed_value"]) == ("person.birth_place", "Esch-sur-Alzette")


async def test_a_company_space_sees_its_entry_and_vat_and_an_outsider_nothing(
    signed_in: SignedInBrowser, people: Registry, api: httpx.AsyncClient
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    number = await people.company_run_by(lea, name="Lea Consulting SARL", vat_balance_cents=12_345)
    space = await api.post(
        "/api/v1/spaces",
        headers=lea.bearer(),
        json={"company_name": "Lea Consulting SARL", "registry_number": number},
    )
    assert space.status_code == 201, space.text
    await act_for(page, f"company:{space.json()['id']}")

    await page.goto("/my/data?lang=en")
    name = page.locator("#company tr[data-field='company.name'] [data-value]")
    assert await name.text_content() == "Lea Consulting SARL"
    assert await page.locator("#vat tr[data-field='vat.balance']").count() == 1
    assert await page.locator("#certificate-form").count() == 0
    assert await page.locator("#register").count() == 0


async def _filled(people: Registry, citizen: Citizen, api: httpx.AsyncClient) -> str:
    """A person with every section filled, a report and a certificate: the certificate's id."""
    await people.enter_in_registers(citizen, licence_points=8, tax_credit_used_cents=100_000)
    await people.child_of(citizen)
    await api.post(
        "/api/v1/me/data/reports",
        headers=citizen.bearer(),
        json={"field": "person.surname", "comment": "My surname has an umlaut in it."},
    )
    issued = await api.post(
        "/api/v1/me/data/certificates",
        headers=citizen.bearer(),
        json={"kind": "residence", "language": "en"},
    )
    assert issued.status_code == 201, issued.text
    return issued.headers["x-certificate-id"]


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_every_my_data_page_is_accessible_and_reflows(
    language: str,
    browser: Browser,
    stack: Stack,
    people: Registry,
    api: httpx.AsyncClient,
    artifacts: Path,
) -> None:
    citizen = await people.register("Ida")
    certificate_id = await _filled(people, citizen, api)
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    await sign_in(page, citizen, f"/my/data?lang={language}")
    pages = {
        "data": f"/my/data?lang={language}",
        "data-accesses": f"/my/data/accesses?lang={language}",
        "data-reports": f"/my/data/reports?lang={language}",
        "data-report": f"/my/data/report?field=person.address&lang={language}",
        "verify": f"/verify/{certificate_id}?lang={language}",
        "verify-unknown": f"/verify/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f?lang={language}",
    }
    axe = Axe()
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        for name, path in pages.items():
            response = await page.goto(path)
            assert response is not None, path
            assert response.status == (404 if name == "verify-unknown" else 200), path
            assert await page.get_attribute("html", "lang") == language
            await check_shown_page(
                page, axe, width, path, artifacts / f"my-{name}-{language}-{width}.png"
            )
        # The report form with its errors shown, and a fingerprint compared.
        await page.goto(pages["data-report"])
        await page.click("#send-report")
        await page.wait_for_selector("#error-summary")
        await check_shown_page(
            page,
            axe,
            width,
            "report errors",
            artifacts / f"my-data-report-errors-{language}-{width}.png",
        )
        await page.goto(f"/verify/{certificate_id}?lang={language}&sha256={'0' * 64}")
        await page.wait_for_selector("#fingerprint-result")
        await check_shown_page(
            page,
            axe,
            width,
            "verify compared",
            artifacts / f"verify-compared-{language}-{width}.png",
        )
    await context.close()
