"""The wallet's pages ("My documents") in a browser: a piece added with its file (the progress bar
with JavaScript, a plain multipart post without it), listed, opened, downloaded, a file replaced
with both versions shown and downloadable, renamed, deleted after its confirmation; one journey
with the keyboard only; a refused file shown next to its input with nothing stored; every page
accessible (axe, WCAG 2.1 AA) in fr, de and en and reflowing at 320 px."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import Citizen, Registry
from playwright.async_api import Browser, FileChooser, Page, Route
from stack import Stack
from test_wallet_bad_input import PDF, pdf, png
from web.browsing import SignedInBrowser, new_context, sign_in
from web.test_lookup_pages import CSP, Watch, check_shown_page, tab_to


async def pieces_of(api: httpx.AsyncClient, citizen: Citizen) -> list[dict]:
    listed = await api.get("/api/v1/wallet/pieces", headers=citizen.bearer())
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


def sample(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


async def add_in_browser(
    page: Page, piece_type: str, title: str, files: list[Path], expires_on: str = ""
) -> None:
    await page.goto("/my/wallet/new")
    await page.select_option("#type", piece_type)
    await page.fill("#title", title)
    if expires_on:
        await page.fill("#expires_on", expires_on)
    await page.set_input_files("#files", [str(path) for path in files])
    await page.click("#piece-form button[type=submit]")


async def download(page: Page, link: str) -> bytes:
    async with page.expect_download() as downloading:
        await page.click(link)
    saved = await (await downloading.value).path()
    return saved.read_bytes()


async def test_a_piece_is_added_listed_downloaded_replaced_renamed_and_deleted(
    signed_in: SignedInBrowser, api: httpx.AsyncClient, tmp_path: Path, artifacts: Path
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    await page.goto("/my/wallet?lang=en")
    assert await page.text_content("#piece-count") == "0 of 10 documents"
    menu = page.locator("nav a[aria-current=page]")
    assert (await menu.text_content() or "").strip() == "My documents"

    first = pdf(filler=300_000)
    await page.click("#add-piece")
    await page.wait_for_url("**/my/wallet/new**")
    # While the form is being sent, the progress bar is shown and the button off.
    seen_sending: list[bool] = []

    async def look_while_sending(route: Route) -> None:
        if route.request.method == "POST":
            seen_sending.append(
                await page.evaluate(
                    "() => !document.querySelector('[data-upload-progress]').hidden"
                    " && document.querySelector('#piece-form button[type=submit]').disabled"
                )
            )
        await route.continue_()

    await page.route("**/my/wallet/new?*", look_while_sending)
    await add_in_browser(
        page, "identity_card", "Identity card", [sample(tmp_path, "card.pdf", first)], "2031-05-31"
    )
    # With JavaScript the form is sent with a progress bar, then the piece is opened.
    await page.wait_for_url(re.compile(r".*/my/wallet/[0-9a-f-]{36}\?.*done=added.*"))
    await page.unroute("**/my/wallet/new?*")
    assert seen_sending == [True]
    assert await page.text_content("#piece-title") == "Identity card"
    (piece,) = await pieces_of(api, lea)
    assert piece["title"] == "Identity card" and piece["expires_on"] == "2031-05-31"
    await page.screenshot(path=artifacts / "wallet-piece-added.png", full_page=True)

    await page.click("text=Back to my documents")
    row = page.locator("#pieces tbody tr")
    assert await row.count() == 1
    assert "card.pdf" in await row.inner_text()
    assert await row.locator("time").get_attribute("datetime") == "2031-05-31"
    assert await page.text_content("#piece-count") == "1 of 10 documents"
    await row.locator("th a").click()
    await page.wait_for_url(f"**/my/wallet/{piece['piece_id']}**")
    assert await download(page, "[data-version='1'] a") == first

    # A new version of the file: both versions listed and downloadable.
    second = png()
    file_id = piece["files"][0]["file_id"]
    await page.set_input_files(f"#replace-{file_id}", str(sample(tmp_path, "scan.png", second)))
    await page.click(f"[data-file='{file_id}'] form button[type=submit]")
    await page.wait_for_url("**done=replaced**")
    versions = page.locator("[data-versions] tbody tr")
    assert [await v.get_attribute("data-version") for v in await versions.all()] == ["2", "1"]
    assert await download(page, "[data-version='2'] a") == second
    assert await download(page, "[data-version='1'] a") == first
    await page.screenshot(path=artifacts / "wallet-piece-versions.png", full_page=True)

    await page.fill("#title", "Identity card of Lea")
    await page.click("#rename-form button[type=submit]")
    await page.wait_for_url("**done=renamed**")
    assert await page.text_content("#piece-title") == "Identity card of Lea"

    await page.click("#delete-piece")
    await page.wait_for_url("**/delete**")
    assert "Identity card of Lea" in (await page.text_content("#delete-question") or "")
    await page.click("#confirm-delete")
    await page.wait_for_url("**/my/wallet?**done=deleted**")
    assert await page.locator("#no-pieces").count() == 1
    assert await pieces_of(api, lea) == []


async def test_a_piece_is_added_with_the_keyboard_only(
    browser: Browser, stack: Stack, people: Registry, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    lea = await people.register("Lea")
    context = await new_context(browser, stack, "de-DE")
    page = await context.new_page()
    # Listened for from the start: the browser then hands the file dialog to the test (asked
    # just before the key press, it may still open its own).
    chosen: asyncio.Future[FileChooser] = asyncio.get_running_loop().create_future()
    page.on("filechooser", lambda chooser: chosen.done() or chosen.set_result(chooser))
    await sign_in(page, lea, "/dashboard")
    await page.goto("/dashboard?lang=de")
    await tab_to(page, "nav a[href^='/my/wallet']", limit=40)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/my/wallet?lang=de")
    await tab_to(page, "#add-piece", limit=40)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/my/wallet/new**")

    await tab_to(page, "#type", limit=40)
    await page.keyboard.type("Reisepass")  # a select picks the option typed
    await tab_to(page, "#title")
    await page.keyboard.type("Mein Pass")
    await tab_to(page, "#files")
    await page.keyboard.press("Space")
    chooser = await asyncio.wait_for(chosen, 30)
    await chooser.set_files(str(sample(tmp_path, "pass.pdf", pdf())))
    await tab_to(page, "#piece-form button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**done=added**")
    assert await page.text_content("#piece-title") == "Mein Pass"
    (piece,) = await pieces_of(api, lea)
    assert piece["type"]["code"] == "passport"
    await context.close()


async def test_without_javascript_the_form_posts_and_a_refused_file_stores_nothing(
    browser: Browser, stack: Stack, people: Registry, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    lea = await people.register("Lea")
    # Signed in first (Keycloak's pages), then JavaScript off for the wallet's pages.
    signing = await new_context(browser, stack)
    await sign_in(await signing.new_page(), lea, "/dashboard")
    state = await signing.storage_state()
    await signing.close()
    context = await browser.new_context(
        base_url=stack.gateway_url, java_script_enabled=False, storage_state=state
    )
    page = await context.new_page()

    # Nothing chosen: each missing input said next to it.
    await page.goto("/my/wallet/new?lang=en")
    await page.click("#piece-form button[type=submit]")
    await page.wait_for_load_state()
    summary = page.locator("#error-summary a")
    assert [await a.get_attribute("href") for a in await summary.all()] == ["#type", "#files"]
    assert await page.get_attribute("#type", "aria-invalid") == "true"

    # A PNG named .pdf, the second of two files: refused by its name, and the piece its first
    # file made is gone again.
    await page.select_option("#type", "identity_card")
    await page.fill("#title", "Kept title")
    await page.set_input_files(
        "#files",
        [str(sample(tmp_path, "front.pdf", pdf())), str(sample(tmp_path, "back.pdf", png()))],
    )
    await page.click("#piece-form button[type=submit]")
    await page.wait_for_load_state()
    assert await summary.count() == 1
    assert await summary.get_attribute("href") == "#files"
    assert (await summary.text_content() or "").startswith("back.pdf: ")
    assert await page.input_value("#title") == "Kept title", "what was typed is kept"
    assert await page.get_attribute("#files", "aria-invalid") == "true"
    assert await pieces_of(api, lea) == []

    # Two good files: one piece holding both.
    await page.set_input_files(
        "#files",
        [str(sample(tmp_path, "front.pdf", pdf())), str(sample(tmp_path, "back.pdf", pdf(9)))],
    )
    await page.click("#piece-form button[type=submit]")
    await page.wait_for_url("**done=added**")
    (piece,) = await pieces_of(api, lea)
    assert [f["current"]["file_name"] for f in piece["files"]] == ["front.pdf", "back.pdf"]

    # A file deleted after its confirmation.
    back = piece["files"][1]["file_id"]
    await page.click(f"[data-file='{back}'] a[href$='/delete?lang=en']")
    await page.wait_for_url("**/delete**")
    await page.click("#confirm-delete")
    await page.wait_for_url("**done=file_deleted**")
    (piece,) = await pieces_of(api, lea)
    assert len(piece["files"]) == 1
    await context.close()


async def test_a_form_announced_too_large_is_answered_before_its_body(
    signed_in: SignedInBrowser, stack: Stack, api: httpx.AsyncClient
) -> None:
    page = signed_in.page
    await page.goto("/my/wallet/new?lang=en")
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in await page.context.cookies())
    address = urlsplit(stack.gateway_url)
    head = (
        f"POST /my/wallet/new?lang=en HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Cookie: {cookies}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {10 * 1024**3}\r\nConnection: close\r\n\r\n"
    ).encode()

    def send_head_only() -> bytes:
        with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
            sock.sendall(head)  # and not one byte of the 10 GB announced
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            return received

    answer = await asyncio.to_thread(send_head_only)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"Too large: each file may weigh at most 20 MB." in answer
    assert b'href="#files"' in answer, "the summary leads to the file input"
    assert await pieces_of(api, signed_in.citizen) == []


async def test_a_form_posted_without_its_token_stores_nothing(
    signed_in: SignedInBrowser, api: httpx.AsyncClient
) -> None:
    page = signed_in.page
    await page.goto("/my/wallet/new?lang=en")
    answer = await page.request.post(
        "/my/wallet/new",
        multipart={
            "type": "payslip",
            "files": {"name": "p.pdf", "mimeType": PDF, "buffer": pdf()},
        },
    )
    assert answer.status == 403
    assert await pieces_of(api, signed_in.citizen) == []


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_every_wallet_page_is_accessible_and_reflows(
    language: str,
    browser: Browser,
    stack: Stack,
    people: Registry,
    api: httpx.AsyncClient,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    lea = await people.register("Lea")
    created = await api.post(
        "/api/v1/wallet/pieces",
        headers=lea.bearer(),
        data={"type": "identity_card", "title": "Carte d'identité", "expires_on": "2031-05-31"},
        files={"file": ("recto.pdf", pdf(), PDF)},
    )
    assert created.status_code == 201, created.text
    piece_id, file_id = created.json()["piece"]["piece_id"], created.json()["file_id"]
    for extra in (
        api.put(
            f"/api/v1/wallet/pieces/{piece_id}/files/{file_id}",
            headers=lea.bearer(),
            files={"file": ("recto-2.pdf", pdf(50), PDF)},
        ),
        api.post(
            f"/api/v1/wallet/pieces/{piece_id}/files",
            headers=lea.bearer(),
            files={"file": ("verso.pdf", pdf(60), PDF)},
        ),
    ):
        assert (await extra).status_code in (200, 201)
    context = await new_context(browser, stack, locale=language)
    page = await context.new_page()
    await sign_in(page, lea, f"/my/wallet?lang={language}")
    pages = {
        "wallet": f"/my/wallet?lang={language}",
        "wallet-new": f"/my/wallet/new?lang={language}",
        "wallet-piece": f"/my/wallet/{piece_id}?lang={language}",
        "wallet-delete": f"/my/wallet/{piece_id}/delete?lang={language}",
        "wallet-delete-file": f"/my/wallet/{piece_id}/files/{file_id}/delete?lang={language}",
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
                page, axe, width, path, artifacts / f"{name}-{language}-{width}.png"
            )
        # The forms with their errors shown: a new piece with nothing chosen, a file refused.
        await page.goto(f"/my/wallet/new?lang={language}")
        await page.click("#piece-form button[type=submit]")
        await page.wait_for_selector("#error-summary")
        await check_shown_page(
            page, axe, width, "new errors", artifacts / f"wallet-new-errors-{language}-{width}.png"
        )
        await page.goto(pages["wallet-piece"])
        await page.set_input_files(f"#replace-{file_id}", str(sample(tmp_path, "not-a.pdf", png())))
        await page.click(f"[data-file='{file_id}'] form button[type=submit]")
        await page.wait_for_selector("#error-summary")
        assert await page.get_attribute("#error-summary a", "href") == f"#replace-{file_id}"
        await check_shown_page(
            page,
            axe,
            width,
            "piece errors",
            artifacts / f"wallet-piece-errors-{language}-{width}.png",
        )
    assert not watch.csp_errors, watch.csp_errors
    assert not watch.failed, watch.failed
    await context.close()
