"""Relations, children, professional spaces and the acting context in a browser: a mandate given
at the eID/certificate level, used by its holder through the context switch, audited, revoked;
other people's relations and spaces are not found; wrong input is refused and changes nothing;
every page accessible in fr, de and en and reflowing at 320 px."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from citizens import Citizen, Registry, fresh_national_id
from playwright.async_api import Browser, BrowserContext, Page
from stack import Stack
from web.browsing import SignedInBrowser, fill_keycloak_login, new_context, sign_in
from web.test_lookup_pages import check_shown_page

from guichet_kit.i18n import Language, format_moment


async def certificate_context(
    browser: Browser, stack: Stack, people: Registry, citizen: Citizen, locale: str = "en-GB"
) -> BrowserContext:
    """A browser holding the citizen's certificate, as with an eID card reader: Keycloak's
    pages ask for it at the high level."""
    await people.step_up_to_high(citizen)
    assert citizen.certificate is not None
    issuer = urlsplit(people.infra["GUICHET_KEYCLOAK_ISSUER"])
    return await browser.new_context(
        base_url=stack.gateway_url,
        locale=locale,
        timezone_id="Europe/Luxembourg",
        ignore_https_errors=True,
        client_certificates=[
            {
                "origin": f"{issuer.scheme}://{issuer.netloc}",
                "certPath": citizen.certificate[0],
                "keyPath": citizen.certificate[1],
            }
        ],
    )


async def sign_in_high(page: Page, citizen: Citizen, return_to: str) -> None:
    """The step-up link of the page: Keycloak reads the certificate (and asks for the password
    when it does not know the browser yet)."""
    await page.goto(f"/signin?return_to={return_to}&acr=high")
    await page.wait_for_load_state()
    if "/my/" not in page.url:
        await fill_keycloak_login(page, citizen, totp_secret=None)
    await page.wait_for_url(f"**{return_to.split('?')[0]}**")


async def choose(page: Page, control: str) -> None:
    """Ticks a radio or checkbox by its label, as a person does (the design system draws its own
    box and keeps the native control out of sight)."""
    ident = await page.get_attribute(control, "id")
    await page.check(f"label[for='{ident}']")


async def grant_in_browser(
    page: Page, actor_national_id: str, last_day: str, rights: tuple[str, ...]
) -> None:
    await page.goto("/my/relations")
    await page.fill("#actor_national_id", actor_national_id)
    await choose(page, "#kind-other_person")
    for right in rights:
        await choose(page, f"#right-{right.replace(':', '-')}")
    await page.fill("#expires_at", last_day)
    await page.click("#grant-form button[type=submit]")
    await page.wait_for_load_state()


async def relations_of(api: httpx.AsyncClient, citizen: Citizen, level: str) -> dict:
    response = await api.get("/api/v1/me/relations", headers=citizen.bearer(level))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_mandate_is_given_used_audited_and_revoked_in_the_browser(
    browser: Browser, stack: Stack, people: Registry, api: httpx.AsyncClient, artifacts: Path
) -> None:
    anne = await people.register("Anne")
    ben = await people.register("Ben")
    anne_browser = await certificate_context(browser, stack, people, anne)
    anne_page = await anne_browser.new_page()
    await sign_in_high(anne_page, anne, "/my/relations")

    last_day = (date.today() + timedelta(days=30)).isoformat()
    await grant_in_browser(anne_page, ben.national_id, last_day, ("etracking:read",))
    assert "done=granted" in anne_page.url
    row = anne_page.locator("#granted-by-me tbody tr")
    assert await row.count() == 1
    relation_id = await row.get_attribute("data-relation")
    assert "Ben Muller" in await row.inner_text()
    [granted] = (await relations_of(api, anne, "high"))["acted_for_by"]
    assert granted["id"] == relation_id and granted["rights"] == ["etracking:read"]
    assert granted["actor_national_id"] == ben.national_id

    # Ben, in his own browser, acts for Anne.
    ben_browser = await new_context(browser, stack)
    ben_page = await ben_browser.new_page()
    await sign_in(ben_page, ben, "/my/context")
    await choose(ben_page, f"input[name=context][value='relation:{relation_id}']")
    await ben_page.click("#context-form button[type=submit]")
    await ben_page.wait_for_url("**/dashboard**")
    await ben_page.goto("/my/context")
    assert "Anne Muller" in await ben_page.text_content("#current-context")
    assert "Anne Muller" in await ben_page.text_content("#acting-for")
    await ben_page.screenshot(path=artifacts / "context-acting-for.png", full_page=True)
    # The mandate works for what it grants, through the API in the same context.
    in_her_name = ben.bearer("low", context=f"relation:{relation_id}")
    listed = await api.get("/api/v1/etracking/trackings", headers=in_her_name)
    assert listed.status_code == 200, listed.text

    # Anne reads it in her audit, dated in Luxembourg's time.
    await anne_page.goto("/my/relations")
    act = anne_page.locator("#acts tbody tr").first
    assert "Ben Muller" in await act.inner_text()
    when = act.locator("time")
    moment = datetime.fromisoformat(str(await when.get_attribute("datetime")))
    assert await when.text_content() == format_moment(moment, Language.EN)

    # Anne revokes (after confirming); Ben's next switch to her is refused.
    await ben_page.goto("/my/context")
    await anne_page.click(f"a[href^='/my/relations/{relation_id}/revoke']")
    await anne_page.wait_for_url(f"**/my/relations/{relation_id}/revoke**")
    assert "Ben Muller" in await anne_page.text_content("#revoke-question")
    await anne_page.click("#confirm-revoke")
    await anne_page.wait_for_url("**/my/relations?**done=revoked**")
    assert "Revoked" in await anne_page.locator("#granted-by-me tbody tr").inner_text()
    assert (await relations_of(api, anne, "high"))["acted_for_by"][0]["revoked"]

    assert await ben_page.is_checked(f"input[name=context][value='relation:{relation_id}']")
    response = await ben_page.request.post(
        "/my/context",
        form={
            "context": f"relation:{relation_id}",
            "csrf_token": await ben_page.input_value("input[name=csrf_token]"),
        },
    )
    assert response.status == 422
    await ben_page.click("#context-form button[type=submit]")
    await ben_page.wait_for_load_state()
    assert await ben_page.get_attribute("#error-summary a", "href") == "#context"
    assert await ben_page.locator(f"input[value='relation:{relation_id}']").count() == 0
    assert await ben_page.is_checked("input[name=context][value=private]")
    refused = await api.get("/api/v1/etracking/trackings", headers=in_her_name)
    assert refused.status_code == 403, refused.text
    await anne_browser.close()
    await ben_browser.close()


async def test_another_persons_relation_or_space_is_not_found_and_stays_as_it_is(
    browser: Browser, stack: Stack, people: Registry, api: httpx.AsyncClient
) -> None:
    anne = await people.register("Anne")
    await people.step_up_to_high(anne)
    carl = await people.register("Carl")
    space = await api.post(
        "/api/v1/spaces",
        headers=anne.bearer("low"),
        json={"company_name": "Muller SARL", "registry_number": await people.company_run_by(anne)},
    )
    assert space.status_code == 201, space.text
    space_id = space.json()["id"]
    mandate = await api.post(
        "/api/v1/me/relations",
        headers=anne.bearer("high"),
        json={
            "actor_national_id": carl.national_id,
            "kind": "other_person",
            "rights": ["etracking:read"],
            "expires_at": (datetime.now().astimezone() + timedelta(days=9)).isoformat(),
        },
    )
    assert mandate.status_code == 201, mandate.text
    relation_id = mandate.json()["id"]

    ben = await people.register("Ben")
    context = await new_context(browser, stack)
    page = await context.new_page()
    await sign_in(page, ben, "/my/spaces")
    token = await page.input_value("input[name=csrf_token]")
    for path in (
        f"/my/spaces/{space_id}",
        f"/my/relations/{relation_id}/revoke",
        "/my/spaces/not-an-id",
    ):
        response = await page.goto(path)
        assert response is not None and response.status == 404, path
        assert await page.locator("h1").text_content() == "Page not found"
    for path, form in (
        (f"/my/relations/{relation_id}/revoke", {}),
        (
            f"/my/spaces/{space_id}/collaborators",
            {"national_id": ben.national_id, "role": "administrator"},
        ),
        (f"/my/spaces/{space_id}/collaborators/{anne.national_id}/remove", {}),
        (
            f"/my/spaces/{space_id}/collaborators/{anne.national_id}/role",
            {"role": "reader"},
        ),
    ):
        response = await page.request.post(path, form={**form, "csrf_token": token})
        assert response.status == 404, path
    [relation] = (await relations_of(api, anne, "high"))["acted_for_by"]
    assert not relation["revoked"]
    after = (await api.get(f"/api/v1/spaces/{space_id}", headers=anne.bearer("low"))).json()
    assert [(c["national_id"], c["role"]) for c in after["collaborators"]] == [
        (anne.national_id, "administrator")
    ]
    await context.close()


async def test_wrong_input_is_shown_with_what_was_typed_and_nothing_is_created(
    browser: Browser, stack: Stack, people: Registry, api: httpx.AsyncClient
) -> None:
    anne = await people.register("Anne")
    context = await certificate_context(browser, stack, people, anne)
    page = await context.new_page()
    await sign_in_high(page, anne, "/my/relations")

    wrong_id = anne.national_id[:-1] + str((int(anne.national_id[-1]) + 1) % 10)
    await grant_in_browser(page, wrong_id, "2020-01-01", ("profile:read",))
    links = page.locator("#error-summary a")
    assert {await a.get_attribute("href") for a in await links.all()} == {
        "#actor_national_id",
        "#expires_at",
    }
    assert await page.input_value("#actor_national_id") == wrong_id
    assert await page.input_value("#expires_at") == "2020-01-01"
    assert await page.is_checked("#right-profile-read")
    assert await page.get_attribute("#expires_at", "aria-invalid") == "true"
    assert "future" in str(await page.text_content("#expires_at-error"))
    assert (await relations_of(api, anne, "high"))["acted_for_by"] == []

    # A person without any right chosen, and the date typed otherwise than a date.
    await grant_in_browser(page, fresh_national_id(), "", ())
    links = page.locator("#error-summary a")
    assert {await a.get_attribute("href") for a in await links.all()} == {
        "#rights",
        "#expires_at",
    }
    assert (await relations_of(api, anne, "high"))["acted_for_by"] == []

    # A collaborator needs an account; a register number has its shape.
    await page.goto("/my/spaces")
    await page.fill("#company_name", "Muller SARL")
    await page.fill("#registry_number", "not a number")
    await page.click("#create-form button[type=submit]")
    await page.wait_for_load_state()
    assert await page.get_attribute("#error-summary a", "href") == "#registry_number"
    assert await page.input_value("#company_name") == "Muller SARL"
    assert (await api.get("/api/v1/spaces", headers=anne.bearer("low"))).json() == []
    await page.fill("#registry_number", await people.company_run_by(anne))
    await page.click("#create-form button[type=submit]")
    await page.wait_for_url("**/my/spaces/**done=created**")
    nobody = fresh_national_id()
    await page.fill("#national_id", nobody)
    await page.click("#add-form button[type=submit]")
    await page.wait_for_load_state()
    assert await page.get_attribute("#error-summary a", "href") == "#national_id"
    assert await page.input_value("#national_id") == nobody
    [space] = (await api.get("/api/v1/spaces", headers=anne.bearer("low"))).json()
    assert len(space["collaborators"]) == 1
    await context.close()


@pytest.mark.parametrize("language", ["fr", "de", "en"])
async def test_every_page_is_accessible_and_reflows(
    language: str,
    browser: Browser,
    stack: Stack,
    people: Registry,
    api: httpx.AsyncClient,
    artifacts: Path,
) -> None:
    anne = await people.register("Anne")
    ben = await people.register("Ben")
    context = await certificate_context(browser, stack, people, anne, locale=language)
    page = await context.new_page()
    await sign_in_high(page, anne, f"/my/relations?lang={language}")
    # Filled pages: a mandate each way, a space with a collaborator, a child.
    await grant_in_browser(
        page, ben.national_id, (date.today() + timedelta(days=9)).isoformat(), ("etracking:read",)
    )
    await people.step_up_to_high(ben)
    given = await api.post(
        "/api/v1/me/relations",
        headers=ben.bearer("high"),
        json={
            "actor_national_id": anne.national_id,
            "kind": "spouse",
            "rights": ["etracking:read", "profile:write"],
            "expires_at": (datetime.now().astimezone() + timedelta(days=9)).isoformat(),
        },
    )
    assert given.status_code == 201, given.text
    relation_id = given.json()["id"]
    child = await api.post(
        "/api/v1/me/children",
        headers=anne.bearer("high"),
        json={
            "child_national_id": await people.child_of(anne),
            "child_first_name": "Léa",
            "child_last_name": "Muller",
        },
    )
    assert child.status_code == 201, child.text
    space = await api.post(
        "/api/v1/spaces",
        headers=anne.bearer("low"),
        json={"company_name": "Muller SARL", "registry_number": await people.company_run_by(anne)},
    )
    space_id = space.json()["id"]
    added = await api.post(
        f"/api/v1/spaces/{space_id}/collaborators",
        headers=anne.bearer("low"),
        json={"national_id": ben.national_id, "role": "member"},
    )
    assert added.status_code == 201, added.text

    pages = {
        "relations": f"/my/relations?lang={language}",
        "revoke": f"/my/relations/{relation_id}/revoke?lang={language}",
        "children": f"/my/children?lang={language}",
        "spaces": f"/my/spaces?lang={language}",
        "space": f"/my/spaces/{space_id}?lang={language}",
        "context": f"/my/context?lang={language}",
    }
    axe = Axe()
    for width, height in ((1280, 900), (320, 640)):
        await page.set_viewport_size({"width": width, "height": height})
        for name, path in pages.items():
            response = await page.goto(path)
            assert response is not None and response.status == 200, path
            assert await page.get_attribute("html", "lang") == language
            await check_shown_page(
                page, axe, width, path, artifacts / f"my-{name}-{language}-{width}.png"
            )
        # The forms with their errors shown.
        await grant_in_browser(page, "12", "2020-01-01", ())
        assert await page.locator("#error-summary").count() == 1
        await check_shown_page(
            page, axe, width, "grant errors", artifacts / f"my-grant-errors-{language}-{width}.png"
        )
    await context.close()


async def test_a_member_sees_what_the_role_allows_and_acts_for_the_company(
    signed_in: SignedInBrowser, people: Registry, api: httpx.AsyncClient
) -> None:
    page, lea = signed_in.page, signed_in.citizen
    anne = await people.register("Anne")
    space = await api.post(
        "/api/v1/spaces",
        headers=anne.bearer("low"),
        json={"company_name": "Muller SARL", "registry_number": await people.company_run_by(anne)},
    )
    space_id = space.json()["id"]
    added = await api.post(
        f"/api/v1/spaces/{space_id}/collaborators",
        headers=anne.bearer("low"),
        json={"national_id": lea.national_id, "role": "member"},
    )
    assert added.status_code == 201, added.text

    await page.goto("/my/spaces")
    await page.click(f"#spaces a[href^='/my/spaces/{space_id}']")
    await page.wait_for_url(f"**/my/spaces/{space_id}**")
    assert await page.text_content("#my-role") == "Member"
    assert await page.locator("#add-form, #collaborators form").count() == 0
    token = await page.input_value("input[name=csrf_token]")
    # The forms an administrator has, posted anyway: identity refuses, the page says why.
    response = await page.request.post(
        f"/my/spaces/{space_id}/collaborators?lang=en",
        form={"national_id": anne.national_id, "role": "reader", "csrf_token": token},
    )
    assert response.status == 422
    assert "administrator" in await response.text()
    # Without the session's CSRF token, nothing is even asked.
    response = await page.request.post(
        "/my/spaces", form={"company_name": "Other SARL", "registry_number": "B1"}
    )
    assert response.status == 403
    assert len((await api.get("/api/v1/spaces", headers=lea.bearer("low"))).json()) == 1
    after = (await api.get(f"/api/v1/spaces/{space_id}", headers=anne.bearer("low"))).json()
    assert {c["national_id"]: c["role"] for c in after["collaborators"]} == {
        anne.national_id: "administrator",
        lea.national_id: "member",
    }

    await page.goto("/my/context")
    await choose(page, f"input[name=context][value='company:{space_id}']")
    await page.click("#context-form button[type=submit]")
    await page.wait_for_url("**/dashboard**")
    await page.goto("/my/relations")
    assert "Muller SARL" in await page.text_content("#acting-for")
    assert "administrators" in await page.text_content("#acts")
    assert await page.locator("#grant-notice").count() == 1
