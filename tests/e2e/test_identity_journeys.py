"""Accounts, levels of assurance, mandates and spaces through the gateway, on the real Keycloak."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from citizens import Citizen, Registry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from stack import Stack

from guichet.identity.v1 import identity_pb2 as identity
from guichet.identity.v1 import identity_pb2_grpc as identity_grpc
from guichet_kit.errors import read_rpc_failure
from guichet_testkit.altcha import solved_challenge
from guichet_testkit.eventually import wait_until
from guichet_testkit.login import LoginRefused
from guichet_testkit.mail import mail_links, newest_mail


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


async def me(api: httpx.AsyncClient, citizen: Citizen, level: str = "low") -> dict:
    response = await api.get("/api/v1/me", headers=citizen.bearer(level))
    assert response.status_code == 200, response.text
    return response.json()


async def refused_for_good(api: httpx.AsyncClient, route: str, token: dict[str, str]) -> None:
    """`route` answers the token 401 as revoked (or invalid) once the deletion event arrived."""
    answers: list[httpx.Response] = []

    async def refused() -> bool:
        answers.append(await api.get(route, headers=token))
        return answers[-1].status_code == 401

    await wait_until(refused, seconds=30, what=f"{route} refusing the deleted account's token")
    problem = answers[-1].json()
    assert problem["reason"] in {"TOKEN_REVOKED", "INVALID_TOKEN"}, problem


async def test_a_registered_and_confirmed_citizen_signs_in_at_the_low_level(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne = await registry.register("Anne")
    body = await me(api, anne)
    assert body["acr"] == "low"
    assert body["national_id"] == anne.national_id
    assert body["email"] == anne.email
    assert body["acting_context"] == "private"
    assert [c["context"] for c in body["available_contexts"]] == ["private"]
    profile = (await api.get("/api/v1/me/profile", headers=anne.bearer())).json()
    assert profile["first_name"] == "Anne"
    assert profile["birth_date"] == (
        f"{anne.national_id[:4]}-{anne.national_id[4:6]}-{anne.national_id[6:8]}"
    )


async def test_an_unconfirmed_account_cannot_sign_in(registry: Registry) -> None:
    paul = await registry.register("Paul", confirm=False)
    with pytest.raises(LoginRefused):
        await registry.agent.login(paul.email, paul.password)


async def test_registration_refuses_every_bad_field_at_once_and_creates_nothing(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    email = "not-an-address"
    response = await api.post(
        "/api/v1/accounts",
        json={
            "national_id": "1985061200138",
            "email": email,
            "password": "",
            "first_name": "",
            "last_name": "Muller",
            "altcha": await solved_challenge(api),
        },
    )
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"national_id", "email", "password", "first_name"} <= fields
    assert await asyncio.to_thread(registry.admin().get_users, {"search": email}) == []


async def test_no_token_or_a_bad_token_is_refused_with_a_bearer_challenge(
    api: httpx.AsyncClient,
) -> None:
    missing = await api.get("/api/v1/me")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["reason"] == "AUTHENTICATION_REQUIRED"
    forged = await api.get("/api/v1/me", headers={"Authorization": "Bearer e30.e30.c2ln"})
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_route_that_needs_high_answers_a_low_token_with_the_rfc_9470_challenge(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne = await registry.register("Anne")
    response = await api.post(
        "/api/v1/me/relations",
        headers=anne.bearer(),
        json={
            "actor_national_id": anne.national_id,
            "kind": "spouse",
            "rights": ["etracking:read"],
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A higher level of authentication is required", acr_values="high"'
    )
    assert response.json()["reason"] == "INSUFFICIENT_USER_AUTHENTICATION"
    export = await api.get("/api/v1/me/export", headers=anne.bearer())
    assert export.status_code == 401
    assert 'acr_values="substantial"' in export.headers["www-authenticate"]


async def test_totp_gives_substantial_and_a_certificate_gives_high(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne = await registry.register("Anne")
    await registry.step_up_to_substantial(anne)
    assert (await me(api, anne, "substantial"))["acr"] == "substantial"
    await registry.step_up_to_high(anne)
    assert (await me(api, anne, "high"))["acr"] == "high"
    export = await api.get("/api/v1/me/export", headers=anne.bearer("substantial"))
    assert export.status_code == 200
    assert export.json()["identity"]


async def test_another_users_token_never_reads_or_changes_what_is_not_theirs(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    space = await api.post(
        "/api/v1/spaces",
        headers=anne.bearer(),
        json={
            "company_name": "Muller Sàrl",
            "registry_number": await registry.company_run_by(anne),
        },
    )
    assert space.status_code == 201, space.text
    space_id = space.json()["id"]
    await registry.step_up_to_high(anne)  # declaring a child needs an eID sign-in
    child = await api.post(
        "/api/v1/me/children",
        headers=anne.bearer("high"),
        json={
            "child_national_id": await registry.child_of(anne),
            "child_first_name": "Léa",
            "child_last_name": "Muller",
        },
    )
    assert child.status_code == 201, child.text
    relation_id = child.json()["id"]

    for method, path, body in [
        ("GET", f"/api/v1/spaces/{space_id}", None),
        ("PATCH", f"/api/v1/spaces/{space_id}", {"company_name": "Taken over"}),
        (
            "POST",
            f"/api/v1/spaces/{space_id}/collaborators",
            {"national_id": bert.national_id, "role": "administrator"},
        ),
        ("DELETE", f"/api/v1/me/relations/{relation_id}", None),
    ]:
        response = await api.request(method, path, headers=bert.bearer(), json=body)
        assert response.status_code == 404, (method, path, response.text)

    # Bert's own profile and preferences are his; nothing of Anne's is reachable.
    bert_profile = (await api.get("/api/v1/me/profile", headers=bert.bearer())).json()
    assert bert_profile["national_id"] == bert.national_id
    assert (await api.get(f"/api/v1/spaces/{space_id}", headers=anne.bearer())).json()[
        "company_name"
    ] == "Muller Sàrl"
    relations = (await api.get("/api/v1/me/relations", headers=anne.bearer())).json()
    assert [r["id"] for r in relations["acting_for"]] == [relation_id]

    # Acting in a context one holds no mandate for is refused by the service that acts.
    for context in (f"company:{space_id}", f"relation:{relation_id}"):
        refused = await api.post(
            "/api/v1/etracking/trackings",
            headers=bert.bearer(context=context),
            json={"paper_form_code": "ACD-IR-100"},
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["reason"] == "MANDATE_REFUSED"


async def test_a_parent_acts_for_a_child_and_the_act_is_in_the_audit(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne = await registry.register("Anne")
    child_id = await registry.child_of(anne)
    low = await api.post(
        "/api/v1/me/children",
        headers=anne.bearer(),
        json={"child_national_id": child_id, "child_first_name": "Léa", "child_last_name": "M"},
    )
    assert low.status_code == 401, "a password sign-in cannot declare a child"
    assert 'acr_values="high"' in low.headers["www-authenticate"]
    await registry.step_up_to_high(anne)
    relation = (
        await api.post(
            "/api/v1/me/children",
            headers=anne.bearer("high"),
            json={"child_national_id": child_id, "child_first_name": "Léa", "child_last_name": "M"},
        )
    ).json()
    context = f"relation:{relation['id']}"
    created = await api.post(
        "/api/v1/etracking/trackings",
        headers=anne.bearer(context=context),
        json={"paper_form_code": "CAE-AF-01"},
    )
    assert created.status_code == 201, created.text
    mine = (await api.get("/api/v1/etracking/trackings", headers=anne.bearer())).json()
    for_child = (
        await api.get("/api/v1/etracking/trackings", headers=anne.bearer(context=context))
    ).json()
    assert created.json()["number"] in [t["number"] for t in for_child]
    assert created.json()["number"] not in [t["number"] for t in mine]


async def test_a_mandate_works_until_it_expires_and_not_after(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    await registry.step_up_to_high(anne)
    expires = datetime.now(UTC) + timedelta(seconds=8)
    granted = await api.post(
        "/api/v1/me/relations",
        headers=anne.bearer("high"),
        json={
            "actor_national_id": bert.national_id,
            "kind": "spouse",
            "rights": ["etracking:read", "etracking:write"],
            "expires_at": expires.isoformat(),
        },
    )
    assert granted.status_code == 201, granted.text
    context = f"relation:{granted.json()['id']}"
    for impossible in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"):
        refused = await api.post(
            "/api/v1/me/relations",
            headers=anne.bearer("high"),
            json={
                "actor_national_id": bert.national_id,
                "kind": "parent",
                "rights": ["etracking:read"],
                "expires_at": impossible,
            },
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "expires_at"

    acted = await api.post(
        "/api/v1/etracking/trackings",
        headers=bert.bearer(context=context),
        json={"paper_form_code": "SNCA-IMM-01"},
    )
    assert acted.status_code == 201, acted.text
    anne_trackings = (await api.get("/api/v1/etracking/trackings", headers=anne.bearer())).json()
    assert acted.json()["number"] in [t["number"] for t in anne_trackings]
    audit = (await api.get("/api/v1/me/acts-on-my-behalf", headers=anne.bearer())).json()
    assert any(
        a["actor_national_id"] == bert.national_id and a["acting_context"] == context for a in audit
    ), audit

    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 1)
    late = await api.post(
        "/api/v1/etracking/trackings",
        headers=bert.bearer(context=context),
        json={"paper_form_code": "SNCA-IMM-01"},
    )
    assert late.status_code == 403
    assert late.json()["reason"] == "MANDATE_REFUSED"
    listing = await api.get("/api/v1/etracking/trackings", headers=bert.bearer(context=context))
    assert listing.status_code == 403


async def test_a_reader_collaborator_cannot_change_the_space(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    space = (
        await api.post(
            "/api/v1/spaces",
            headers=anne.bearer(),
            json={
                "company_name": "Weber SA",
                "registry_number": await registry.company_run_by(anne, name="Weber SA"),
            },
        )
    ).json()
    added = await api.post(
        f"/api/v1/spaces/{space['id']}/collaborators",
        headers=anne.bearer(),
        json={"national_id": bert.national_id, "role": "reader"},
    )
    assert added.status_code == 201, added.text
    context = f"company:{space['id']}"
    assert context in [c["context"] for c in (await me(api, bert))["available_contexts"]]

    for method, path, body in [
        ("PATCH", f"/api/v1/spaces/{space['id']}", {"company_name": "Mine now"}),
        (
            "POST",
            f"/api/v1/spaces/{space['id']}/collaborators",
            {"national_id": bert.national_id, "role": "administrator"},
        ),
        (
            "PUT",
            f"/api/v1/spaces/{space['id']}/collaborators/{bert.national_id}",
            {"role": "administrator"},
        ),
    ]:
        response = await api.request(method, path, headers=bert.bearer(), json=body)
        assert response.status_code == 403, (method, path, response.text)
    write = await api.post(
        "/api/v1/etracking/trackings",
        headers=bert.bearer(context=context),
        json={"paper_form_code": "ACD-IR-100"},
    )
    assert write.status_code == 403
    read = await api.get("/api/v1/etracking/trackings", headers=bert.bearer(context=context))
    assert read.status_code == 200
    unchanged = (await api.get(f"/api/v1/spaces/{space['id']}", headers=anne.bearer())).json()
    assert unchanged["company_name"] == "Weber SA"

    # What collaborators do for the company is in its audit, read by its administrators only.
    listed = await api.get("/api/v1/me/acts-on-my-behalf", headers=bert.bearer(context=context))
    assert listed.status_code == 403
    written = await api.post(
        "/api/v1/etracking/trackings",
        headers=anne.bearer(context=context),
        json={"paper_form_code": "ACD-IR-100"},
    )
    assert written.status_code == 201, written.text
    audit = (
        await api.get("/api/v1/me/acts-on-my-behalf", headers=anne.bearer(context=context))
    ).json()
    # Newest first: Anne's eTracking, then Bert's earlier reading (reads are acts too).
    assert [(a["actor_national_id"], a["act"]) for a in audit] == [
        (anne.national_id, "eTracking of ACD-IR-100"),
        (bert.national_id, "listed the eTrackings"),
    ]
    assert {a["acting_context"] for a in audit} == {context}
    own = (await api.get("/api/v1/me/acts-on-my-behalf", headers=anne.bearer())).json()
    assert own == []
    assert {c["national_id"]: c["role"] for c in unchanged["collaborators"]}[
        bert.national_id
    ] == "reader"


async def test_forgotten_and_changed_passwords(api: httpx.AsyncClient, registry: Registry) -> None:
    anne = await registry.register("Anne")
    since = time.time()
    reset = await api.post(
        "/api/v1/accounts/password-reset",
        json={"email": anne.email, "altcha": await solved_challenge(api)},
    )
    assert reset.status_code == 202
    unknown = await api.post(
        "/api/v1/accounts/password-reset",
        json={"email": "nobody-here@example.lu", "altcha": await solved_challenge(api)},
    )
    assert unknown.status_code == 202, "no hint whether an address has an account"
    # The reset mail, not the verification mail sent just before (same second).
    mail = await newest_mail(registry.mail_dir, anne.email, since=since, subject_contains="update")
    await registry.agent.follow_email_link(
        mail_links(mail)[0], new_password="a new long passphrase 1"
    )
    anne.tokens["low"] = await registry.agent.login(anne.email, "a new long passphrase 1")
    with pytest.raises(LoginRefused):
        await registry.agent.login(anne.email, anne.password)

    wrong = await api.post(
        "/api/v1/me/password",
        headers=anne.bearer(),
        json={"current_password": "not it", "new_password": "another long passphrase 2"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "current_password"
    weak = await api.post(
        "/api/v1/me/password",
        headers=anne.bearer(),
        json={"current_password": "a new long passphrase 1", "new_password": "short"},
    )
    assert weak.status_code == 422
    assert (
        weak.json()["errors"][0]["field"] == "new_password"
        or weak.json()["errors"][0]["field"] == "password"
    )
    changed = await api.post(
        "/api/v1/me/password",
        headers=anne.bearer(),
        json={
            "current_password": "a new long passphrase 1",
            "new_password": "another long passphrase 2",
        },
    )
    assert changed.status_code == 204, changed.text
    await registry.agent.login(anne.email, "another long passphrase 2")


async def test_the_old_email_works_until_the_new_one_is_confirmed(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne = await registry.register("Anne")
    new_email = "renamed." + anne.email
    since = time.time()
    requested = await api.post(
        "/api/v1/me/email", headers=anne.bearer(), json={"new_email": new_email}
    )
    assert requested.status_code == 202, requested.text
    await registry.agent.login(anne.email, anne.password)  # still the old address
    mail = await newest_mail(registry.mail_dir, new_email, since=since)
    token = next(link for link in mail_links(mail) if "token=" in link).split("token=")[1]
    confirmed = await api.post("/api/v1/accounts/email-confirmation", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["email"] == new_email
    anne.email = new_email
    await registry.agent.login(new_email, anne.password)
    with pytest.raises(LoginRefused):
        await registry.agent.login(anne.email.removeprefix("renamed."), anne.password)
    reused = await api.post("/api/v1/accounts/email-confirmation", json={"token": token})
    assert reused.status_code == 422


async def test_account_deletion_leaves_nothing_behind(
    api: httpx.AsyncClient, registry: Registry, stack: Stack
) -> None:
    anne = await registry.register("Anne")
    await registry.step_up_to_substantial(anne)
    tracking = await api.post(
        "/api/v1/etracking/trackings",
        headers=anne.bearer(),
        json={"paper_form_code": "ACD-IR-100", "notify_by_email": True, "email": anne.email},
    )
    assert tracking.status_code == 201
    refused = await api.post(
        "/api/v1/me/deletion",
        headers=anne.bearer("substantial"),
        json={"confirm_email": "someone.else@example.lu"},
    )
    assert refused.status_code == 422
    deleted = await api.post(
        "/api/v1/me/deletion",
        headers=anne.bearer("substantial"),
        json={"confirm_email": anne.email},
    )
    assert deleted.status_code == 202, deleted.text
    deletion_id = deleted.json()["deletion_id"]

    # The token the deletion was made with is refused everywhere from now on, though unexpired:
    # by etracking's route and identity's (each process follows the deletion events; the
    # gateway's own verifier may refuse it first, as INVALID_TOKEN or TOKEN_REVOKED).
    token = anne.bearer("substantial")
    for route in ("/api/v1/etracking/trackings", "/api/v1/me"):
        await refused_for_good(api, route, token)
    # So the person cannot follow the deletion: DeleteAccount's answer is theirs to keep, the
    # purge's progress is the operators' (read here in identity's database).
    as_anne = (("authorization", token["Authorization"]),)
    refusals: list[grpc.aio.AioRpcError] = []
    async with grpc.aio.insecure_channel(stack.identity_address) as channel:
        accounts = identity_grpc.AccountServiceStub(channel)

        async def identity_refuses() -> bool:
            try:
                await accounts.GetAccountDeletion(
                    identity.GetAccountDeletionRequest(deletion_id=deletion_id), metadata=as_anne
                )
            except grpc.aio.AioRpcError as error:
                refusals.append(error)
                return error.code() == grpc.StatusCode.UNAUTHENTICATED
            return False

        await wait_until(identity_refuses, seconds=30, what="identity refusing the token")
    assert read_rpc_failure(refusals[-1]).reason == "TOKEN_REVOKED"

    engine = create_async_engine(stack.identity_database_url)
    try:

        async def purged_and_login_removed() -> bool:
            async with engine.connect() as connection:
                row = (
                    await connection.execute(
                        text(
                            "SELECT completed_at IS NOT NULL AND login_removed_at IS NOT NULL, "
                            "ARRAY(SELECT service FROM purge_confirmations "
                            "WHERE deletion_id = d.id ORDER BY service) "
                            "FROM account_deletions d WHERE id = :id"
                        ),
                        {"id": deletion_id},
                    )
                ).one()
            return bool(row[0]) and list(row[1]) == [
                "authentic-data",
                "etracking",
                "procedures",
                "wallet",
            ]

        await wait_until(purged_and_login_removed, seconds=30, what="the purge confirmed")
    finally:
        await engine.dispose()

    assert (
        await asyncio.to_thread(registry.admin().get_users, {"email": anne.email, "exact": True})
        == []
    )
    with pytest.raises(LoginRefused):
        await registry.agent.login(anne.email, anne.password)
    for url, column in (
        (stack.identity_database_url, "SELECT count(*) FROM profiles WHERE national_id = :n"),
        (stack.database_url, "SELECT count(*) FROM trackings WHERE owner = 'person:' || :n"),
    ):
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            assert await connection.scalar(text(column), {"n": anne.national_id}) == 0
        await engine.dispose()
