"""Procedures without an account (F21) through the gateway, on the real services and the
development mail sink: a dog licence declared without signing in — started with an anti-robot
check, saved step by step, the address confirmed by a mailed code, submitted, acknowledged once
(by messaging's notification of the submitted event: its worker runs beside the stack here),
followed with the token of the acknowledgement's link, its proof downloaded, cancelled; the
commune's decision reaches the address too. Then a signed-in person claims such a request with a
code mailed to its address: wrong codes refused, many of them locked, and once claimed the link
reaches nothing. Every refusal is a problem document that changes nothing."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from citizens import Citizen, Registry
from launcher import Launcher, Started
from nats.js import JetStreamContext
from stack import Stack, messaging_worker

from guichet.events import subjects
from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc
from guichet_kit.grpc_client import mutual_tls_channel
from guichet_testkit.altcha import solved_challenge
from guichet_testkit.mail import mail_links, mail_text, mails_to, newest_mail

CODE = "dog-licence"
FOLLOWED = "/api/v1/procedures/followed/request"
PROBLEM = "application/problem+json"
DIGITS = re.compile(r"\b(\d{6})\b")
ADDRESS = {
    "street": "Rue du Marché-aux-Herbes",
    "house_number": "12A",
    "postcode": "L-1728",
    "locality": "Luxembourg",
    "country": "LU",
}
DOG = {
    "name": "Rex",
    "breed": "Beagle",
    "birth_date": date(date.today().year - 3, 5, 1).isoformat(),
    "chip_number": "250269812345678",
    "potentially_dangerous": False,
}


@pytest.fixture(scope="module")
async def acknowledgements(
    launcher: Launcher, messaging_database: str, jetstream: JetStreamContext, stack: Stack
) -> AsyncIterator[Started]:
    """messaging's worker: it mails the acknowledgement of a submission and the later news of a
    request filed without an account (procedures mails only the codes)."""
    async with messaging_worker(
        launcher,
        messaging_database,
        jetstream,
        [
            (subjects.PROCEDURES.name, "procedures-submitted"),
            (subjects.PROCEDURES.name, "procedures-status"),
        ],
    ) as started:
        yield started


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


def _problem(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["reason"]) == (status, reason), body
    assert body["title"]
    return body


def _address() -> str:
    return f"dog-{uuid.uuid4().hex[:10]}@example.lu"


def _follow(token: str) -> dict[str, str]:
    return {"Follow-Up-Token": token, "Accept-Language": "en"}


async def _start(api: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    started = await api.post(
        f"/api/v1/procedures/{CODE}/anonymous-drafts?lang=en",
        json={"altcha": await solved_challenge(api)},
    )
    assert started.status_code == 201, started.text
    assert started.headers["location"] == FOLLOWED
    body: dict[str, Any] = started.json()
    return body, body["follow_up_token"]


async def _fill(api: httpx.AsyncClient, token: str, email: str) -> dict[str, Any]:
    keeper = await api.put(
        f"{FOLLOWED}/steps/keeper",
        headers=_follow(token),
        json={"last_name": "Muller", "first_name": "Anne", "address": ADDRESS, "email": email},
    )
    assert keeper.status_code == 200, keeper.text
    dogs = await api.put(
        f"{FOLLOWED}/steps/my_dogs",
        headers=_follow(token),
        json={
            "reason": "new_dog",
            "dogs": [DOG],
            "insured": True,
            "insurer": "Assurances du Nord",
            "policy_number": "P-1234",
        },
    )
    assert dogs.status_code == 200, dogs.text
    body: dict[str, Any] = dogs.json()
    return body


async def _code_to(
    api: httpx.AsyncClient, mail_dir: Path, token: str, email: str
) -> tuple[dict[str, Any], str]:
    since = time.time()
    given = await api.put(f"{FOLLOWED}/email", headers=_follow(token), json={"email": email})
    assert given.status_code == 200, given.text
    mail = await newest_mail(mail_dir, email, since=since, subject_contains="code")
    found = DIGITS.search(str(mail["Subject"]))
    assert found is not None
    return given.json(), found.group(1)


async def _submitted(api: httpx.AsyncClient, mail_dir: Path) -> tuple[dict[str, Any], str, str]:
    _draft, token = await _start(api)
    email = _address()
    await _fill(api, token, email)
    _given, code = await _code_to(api, mail_dir, token, email)
    confirmed = await api.post(
        f"{FOLLOWED}/email-confirmation", headers=_follow(token), json={"code": code}
    )
    assert confirmed.status_code == 200, confirmed.text
    submitted = await api.post(
        f"{FOLLOWED}/submission",
        headers={**_follow(token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert submitted.status_code == 200, submitted.text
    return submitted.json(), token, email


async def test_a_dog_licence_is_declared_followed_and_cancelled_without_an_account(
    api: httpx.AsyncClient, mail_dir: Path, acknowledgements: Started
) -> None:
    draft, token = await _start(api)
    assert draft["state"] == "draft" and len(token) == 43
    assert draft["email"] == "" and not draft["email_confirmed"]
    email = _address()
    filled = await _fill(api, token, email)
    assert all(step["complete"] for step in filled["steps"] if step["applicable"])

    early = await api.post(
        f"{FOLLOWED}/submission", headers={**_follow(token), "Idempotency-Key": "early-key-1"}
    )
    _problem(early, 409, "EMAIL_NOT_CONFIRMED")

    given, code = await _code_to(api, mail_dir, token, email)
    assert given["email"] == email and given["code_expires_at"]
    wrong = await api.post(
        f"{FOLLOWED}/email-confirmation",
        headers=_follow(token),
        json={"code": str((int(code) + 1) % 10**6).zfill(6)},
    )
    assert "Attempts left: 4" in _problem(wrong, 422, "WRONG_CODE")["detail"]
    confirmed = await api.post(
        f"{FOLLOWED}/email-confirmation", headers=_follow(token), json={"code": code}
    )
    assert confirmed.status_code == 200 and confirmed.json()["email_confirmed"]

    since = time.time()
    key = str(uuid.uuid4())
    submitted = await api.post(
        f"{FOLLOWED}/submission", headers={**_follow(token), "Idempotency-Key": key}
    )
    assert submitted.status_code == 200, submitted.text
    request = submitted.json()
    assert request["state"] == "submitted" and request["reference"].startswith("PR-")

    # The acknowledgement (messaging's) carries the follow-up link; its token is the one to
    # follow with. One mail: procedures sends none of its own any more.
    mail = await newest_mail(
        mail_dir, email, since=since, subject_contains=request["reference"], wait_seconds=60
    )
    assert mail["Subject"] == f"Your request {request['reference']} was sent"
    assert "do not share it" in mail_text(mail)
    links = [link for link in mail_links(mail) if "/procedures/follow" in link]
    assert len(links) == 1
    assert parse_qs(urlsplit(links[0]).query)["token"] == [token]
    assert len(mails_to(mail_dir, email, subject_contains=request["reference"])) == 1

    followed = await api.get(FOLLOWED, headers=_follow(token))
    assert followed.status_code == 200
    assert followed.json()["reference"] == request["reference"]
    assert [entry["kind"] for entry in followed.json()["history"]] == ["submitted"]
    proof = await api.get(f"{FOLLOWED}/proof", headers=_follow(token))
    assert proof.status_code == 200 and proof.content.startswith(b"%PDF")
    assert proof.headers["cache-control"] == "no-store"

    cancelled = await api.post(f"{FOLLOWED}/cancellation", headers=_follow(token))
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = await api.post(f"{FOLLOWED}/cancellation", headers=_follow(token))
    _problem(again, 409, "NOT_CANCELLABLE")


async def test_the_communes_decision_reaches_the_address_of_a_request_without_an_account(
    api: httpx.AsyncClient, stack: Stack, mail_dir: Path, acknowledgements: Started
) -> None:
    request, token, email = await _submitted(api, mail_dir)
    reference = request["reference"]
    since = time.time()
    certificates = stack.pki / "administrations"
    async with mutual_tls_channel(
        stack.procedures_admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(certificates / "commune.crt").read_bytes(),
        private_key=(certificates / "commune.key").read_bytes(),
        timeout=20,
    ) as channel:
        commune = pb_grpc.AdministrationProceduresServiceStub(channel)
        got = await commune.GetIncomingRequest(pb.GetIncomingRequestRequest(reference=reference))
        await commune.ChangeStatus(
            pb.ChangeStatusRequest(
                reference=reference, status="registered", expected_version=got.request.version
            )
        )

    # Told in the request's language, to the checked address; no link (its token is not kept in
    # clear): the mail names the acknowledgement's personal link, which still shows the request.
    # "Request <reference>:" — not the acknowledgement ("Your request <reference> was sent").
    mail = await newest_mail(
        mail_dir, email, since=since, subject_contains=f"Request {reference}:", wait_seconds=60
    )
    assert mail["Subject"] == (
        f"Request {reference}: Your dog is registered. The tag and the fee notice are being sent "
        "to you by post."
    )
    assert "personal link of the e-mail that acknowledged" in mail_text(mail)
    assert mail_links(mail) == []
    followed = await api.get(FOLLOWED, headers=_follow(token))
    assert followed.json()["status"] == "registered"


async def test_starting_needs_the_anti_robot_check_and_a_procedure_open_without_login(
    api: httpx.AsyncClient,
) -> None:
    missing = await api.post(f"/api/v1/procedures/{CODE}/anonymous-drafts", json={})
    assert missing.status_code == 422, missing.text
    forged = await api.post(
        f"/api/v1/procedures/{CODE}/anonymous-drafts", json={"altcha": "bm90IGEgcGF5bG9hZA=="}
    )
    _problem(forged, 422, "ANTI_ROBOT_CHECK_FAILED")
    login = await api.post(
        "/api/v1/procedures/change-of-address/anonymous-drafts?lang=en",
        json={"altcha": await solved_challenge(api)},
    )
    assert "sign in" in _problem(login, 403, "LOGIN_REQUIRED")["detail"]


async def test_guessed_or_malformed_tokens_reach_nothing(api: httpx.AsyncClient) -> None:
    draft, token = await _start(api)
    guessed = secrets.token_urlsafe(32)
    for method, path, body in [
        ("GET", FOLLOWED, None),
        ("PUT", f"{FOLLOWED}/steps/keeper", {"last_name": "X"}),
        ("PUT", f"{FOLLOWED}/email", {"email": _address()}),
        ("POST", f"{FOLLOWED}/email-confirmation", {"code": "123456"}),
        ("POST", f"{FOLLOWED}/cancellation", None),
        ("GET", f"{FOLLOWED}/proof", None),
    ]:
        response = await api.request(method, path, headers=_follow(guessed), json=body)
        _problem(response, 404, "FOLLOW_UP_NOT_FOUND")
    malformed = await api.get(FOLLOWED, headers=_follow("short"))
    _problem(malformed, 422, "VALIDATION_FAILED")
    absent = await api.get(FOLLOWED)
    _problem(absent, 422, "VALIDATION_FAILED")
    # Nothing changed: the draft is as it started, reached with its own token only.
    followed = await api.get(FOLLOWED, headers=_follow(token))
    assert followed.json() == {k: v for k, v in draft.items() if k != "follow_up_token"}


async def _claim_code(
    api: httpx.AsyncClient, mail_dir: Path, citizen: Citizen, reference: str, email: str
) -> str:
    since = time.time()
    sent = await api.post(
        "/api/v1/me/requests/claim-codes",
        headers={**citizen.bearer(), "Accept-Language": "en"},
        json={"reference": reference},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["masked_email"] == f"d***@{email.partition('@')[2]}"
    mail = await newest_mail(mail_dir, email, since=since, subject_contains=reference)
    found = DIGITS.search(mail_text(mail))
    assert found is not None
    return found.group(1)


async def test_a_claim_moves_the_request_into_a_space_and_the_link_stops_working(
    api: httpx.AsyncClient, mail_dir: Path, registry: Registry
) -> None:
    request, token, email = await _submitted(api, mail_dir)
    reference = request["reference"]
    anne = await registry.register("Anne")
    headers = {**anne.bearer(), "Accept-Language": "en"}
    unsigned = await api.post(
        "/api/v1/me/requests/claims", json={"reference": reference, "code": "123456"}
    )
    assert unsigned.status_code == 401

    code = await _claim_code(api, mail_dir, anne, reference, email)
    wrong = await api.post(
        "/api/v1/me/requests/claims",
        headers=headers,
        json={"reference": reference, "code": str((int(code) + 1) % 10**6).zfill(6)},
    )
    _problem(wrong, 422, "WRONG_CODE")
    assert (await api.get(FOLLOWED, headers=_follow(token))).status_code == 200

    claimed = await api.post(
        "/api/v1/me/requests/claims", headers=headers, json={"reference": reference, "code": code}
    )
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["reference"] == reference
    mine = await api.get(claimed.headers["location"], headers=headers)
    assert mine.status_code == 200 and mine.json()["id"] == request["id"]
    gone = await api.get(FOLLOWED, headers=_follow(token))
    _problem(gone, 404, "FOLLOW_UP_NOT_FOUND")
    again = await api.post(
        "/api/v1/me/requests/claim-codes", headers=headers, json={"reference": reference}
    )
    _problem(again, 404, "REQUEST_NOT_FOUND")


async def test_many_wrong_claim_codes_are_rate_limited(
    api: httpx.AsyncClient, mail_dir: Path, registry: Registry
) -> None:
    request, token, email = await _submitted(api, mail_dir)
    reference = request["reference"]
    bob = await registry.register("Bob")
    headers = {**bob.bearer(), "Accept-Language": "en"}
    code = await _claim_code(api, mail_dir, bob, reference, email)
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    for _attempt in range(5):
        refused = await api.post(
            "/api/v1/me/requests/claims",
            headers=headers,
            json={"reference": reference, "code": wrong},
        )
        _problem(refused, 422, "WRONG_CODE")
    limited = await api.post(
        "/api/v1/me/requests/claims", headers=headers, json={"reference": reference, "code": code}
    )
    _problem(limited, 429, "CLAIM_RATE_LIMITED")
    assert int(limited.headers["retry-after"]) > 0
    # Still the anonymous applicant's, reachable with its link.
    followed = await api.get(FOLLOWED, headers=_follow(token))
    assert followed.status_code == 200 and followed.json()["state"] == "submitted"
