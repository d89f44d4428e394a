"""Online procedures through the gateway's API, on the real services: the whole journey of a
citizen (catalogue → form → draft → each step → summary → submission, twice with one
Idempotency-Key → one request → its sealed proof → checked genuine, and refused once one byte is
changed), a correction asked by the administration (over mutual TLS) and answered, the list,
the dashboard and the export; and every refusal as a problem (RFC 9457) that changes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from citizens import Citizen, Registry
from stack import Stack

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc
from guichet_kit.grpc_client import mutual_tls_channel

CODE = "change-of-address"
PROBLEM = "application/problem+json"
TODAY = date.today()
ADDRESS = {
    "street": "Rue du Marché-aux-Herbes",
    "house_number": "12A",
    "postcode": "L-1728",
    "locality": "Luxembourg",
    "country": "LU",
}
MOVE = {
    "move_kind": "within",
    "moving_date": TODAY.isoformat(),
    "new_address": ADDRESS,
    "previous_address": {**ADDRESS, "house_number": "3"},
    "housing_status": "owner",
}
HOUSEHOLD = {"moving_alone": True}
CONTACT = {"email": "anne.muller@example.lu", "phone": "+352 621 123 456"}
STEPS = {"move": MOVE, "household": HOUSEHOLD, "contact": CONTACT}


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


@pytest.fixture
async def anne(registry: Registry) -> Citizen:
    return await registry.register("Anne")


def problem_of(response: httpx.Response, status: int, reason: str | None = None) -> dict[str, Any]:
    """The refusal's problem document, after checking it is one, with this status and reason."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    if reason is not None:
        assert body["reason"] == reason, body
    return body


class Person:
    """A citizen's calls to the procedures API."""

    def __init__(self, api: httpx.AsyncClient, citizen: Citizen) -> None:
        self.api = api
        self.headers = {**citizen.bearer(), "Accept-Language": "en"}

    async def start(self, code: str = CODE) -> dict[str, Any]:
        created = await self.api.post(f"/api/v1/procedures/{code}/drafts", headers=self.headers)
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        assert created.headers["location"] == f"/api/v1/me/requests/{body['id']}"
        return body

    async def save(self, request_id: str, step: str, answers: Any) -> httpx.Response:
        return await self.api.put(
            f"/api/v1/me/requests/{request_id}/steps/{step}", headers=self.headers, json=answers
        )

    async def saved(self, request_id: str, step: str, answers: Any) -> dict[str, Any]:
        response = await self.save(request_id, step, answers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def get(self, request_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/api/v1/me/requests/{request_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def submit(self, request_id: str, key: str | None) -> httpx.Response:
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.api.post(f"/api/v1/me/requests/{request_id}/submission", headers=headers)

    async def listed(self, **params: Any) -> dict[str, Any]:
        response = await self.api.get("/api/v1/me/requests", headers=self.headers, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def complete_draft(self) -> dict[str, Any]:
        draft = await self.start()
        for step, answers in STEPS.items():
            await self.saved(draft["id"], step, answers)
        return await self.get(draft["id"])

    async def submitted(self) -> dict[str, Any]:
        draft = await self.complete_draft()
        response = await self.submit(draft["id"], str(uuid.uuid4()))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    """A refused call left the request as it was."""
    for key in ("state", "answers", "steps", "next_step", "updated_at", "reference", "history"):
        assert after[key] == before[key], key


# --- the journey --------------------------------------------------------------------------------


async def test_a_citizen_goes_from_the_catalogue_to_a_genuine_proof(
    api: httpx.AsyncClient, anne: Citizen
) -> None:
    me = Person(api, anne)

    themes = (await api.get("/api/v1/procedures/themes", params={"lang": "en"})).json()
    housing = next(t for t in themes if t["code"] == "housing")
    assert housing["label"] == "Housing and moving"
    assert housing["procedure_count"] >= 1

    # Found by keywords in each language, accents or not; and by theme.
    for language, words in (("en", "moving"), ("fr", "demenagement"), ("de", "Umzug")):
        found = await api.get("/api/v1/procedures", params={"q": words, "lang": language})
        assert found.status_code == 200, found.text
        assert CODE in [p["code"] for p in found.json()["items"]], (language, found.json())
    by_theme = (await api.get("/api/v1/procedures", params={"theme": "housing"})).json()
    entry = next(p for p in by_theme["items"] if p["code"] == CODE)
    assert {p["theme"] for p in by_theme["items"]} == {"housing"}
    assert (entry["channel"], entry["login_required"], entry["level"]) == ("online", True, "low")
    assert entry["audiences"] == ["citizen"]
    assert entry["administration"] == "commune"

    # The form, in the language asked for; its version; its JSON Schema.
    form = (await api.get(entry["form_url"], headers={"Accept-Language": "de"})).json()
    assert form["procedure"]["title"] == "Meldung einer Adressänderung"
    assert [s["id"] for s in form["steps"]] == list(STEPS)
    version = form["version"]
    fields = {f["id"]: f for f in form["steps"][0]["fields"]}
    assert fields["previous_country_registration"]["visible"] == {
        "eq": [{"field": "move_kind"}, "abroad"]
    }
    assert [o["value"] for o in fields["move_kind"]["options"]][:2] == ["within", "arrival"]
    pinned = await api.get(f"/api/v1/procedures/{CODE}/versions/{version}")
    assert pinned.status_code == 200 and pinned.json()["content_hash"] == form["content_hash"]
    schema = await api.get(form["schema_url"])
    assert schema.status_code == 200, schema.text
    assert schema.headers["content-type"] == "application/schema+json"
    assert "moving_date" in json.dumps(schema.json())
    current_schema = await api.get(f"/api/v1/procedures/{CODE}/schema")
    assert current_schema.json() == schema.json()

    # A draft, pinned to the version; each step saved in turn.
    draft = await me.start()
    assert (draft["state"], draft["procedure_version"], draft["reference"]) == (
        "draft",
        version,
        "",
    )
    assert draft["next_step"] == "move" and draft["answers"] == {}
    assert draft["expires_at"] is not None
    # A hidden field sent anyway (the landlord of an owner) is dropped, never kept.
    saved = await me.saved(draft["id"], "move", {**MOVE, "landlord_name": "Someone"})
    assert "landlord_name" not in saved["answers"]
    assert saved["answers"]["move_kind"] == "within"
    assert saved["next_step"] == "household"
    await me.saved(draft["id"], "household", HOUSEHOLD)
    done = await me.saved(draft["id"], "contact", CONTACT)
    assert done["next_step"] == ""

    # The summary: every applicable step complete, each with its answers for display.
    summary = await me.get(draft["id"])
    assert [(s["id"], s["applicable"], s["complete"]) for s in summary["steps"]] == [
        (step, True, True) for step in STEPS
    ]
    shown = {a["field_id"]: a["display"] for s in summary["steps"] for a in s["answers"]}
    assert {"move_kind", "moving_date", "new_address", "email"} <= set(shown)
    assert summary["answers"]["phone"] == "+352621123456"  # normalised when stored
    assert summary["proof_url"] == ""

    # Submitted once, whatever the retries with the same key.
    key = str(uuid.uuid4())
    first = await me.submit(draft["id"], key)
    assert first.status_code == 200, first.text
    request = first.json()
    assert request["state"] == "submitted"
    assert request["reference"].startswith("PR-")
    assert request["status"] == "received" and request["status_text"]
    assert [h["kind"] for h in request["history"]] == ["submitted"]
    again = await me.submit(draft["id"], key)
    assert again.status_code == 200, again.text
    for name in ("id", "reference", "submitted_at", "answers_sha256", "history"):
        assert again.json()[name] == request[name], name
    submitted = await me.listed(filter="submitted")
    assert [r["id"] for r in submitted["items"]] == [draft["id"]]
    assert submitted["total"] == 1
    # Found by its reference too.
    assert (await me.get(request["reference"]))["id"] == draft["id"]

    # The proof of deposit, sealed; genuine when checked, refused once a byte changes.
    proof = await api.get(request["proof_url"], headers=me.headers)
    assert proof.status_code == 200, proof.text
    assert proof.headers["content-type"] == "application/pdf"
    assert proof.headers["content-disposition"].startswith("attachment; filename=")
    assert proof.headers["cache-control"] == "no-store"
    assert proof.content.startswith(b"%PDF")
    checked = await verify(api, proof.content)
    assert checked["genuine"] is True, checked
    assert checked["reference"] == request["reference"]
    assert checked["answers_sha256"] == request["answers_sha256"]
    assert (checked["procedure_code"], checked["procedure_version"]) == (CODE, version)
    assert checked["reason"] == ""
    tampered = await verify(api, one_byte_changed(proof.content, request["reference"]))
    assert tampered["genuine"] is False
    assert tampered["reason"]
    assert tampered["reference"] == ""


async def verify(api: httpx.AsyncClient, pdf: bytes) -> dict[str, Any]:
    checked = await api.post(
        "/api/v1/procedures/proofs/verification",
        content=pdf,
        headers={"Content-Type": "application/pdf", "Accept-Language": "en"},
    )
    assert checked.status_code == 200, checked.text
    body: dict[str, Any] = checked.json()
    return body


def one_byte_changed(pdf: bytes, reference: str) -> bytes:
    """The proof with one byte changed: in its reference where the file carries it readably
    (another request's proof, it would claim), else in the middle."""
    at = pdf.find(reference.encode())
    position = at + len(reference) - 1 if at >= 0 else len(pdf) // 2
    tampered = bytearray(pdf)
    tampered[position] = ord("X") if tampered[position] != ord("X") else ord("Y")
    return bytes(tampered)


async def test_a_correction_asked_by_the_administration_is_answered_on_the_asked_fields_only(
    api: httpx.AsyncClient, anne: Citizen, stack: Stack
) -> None:
    me = Person(api, anne)
    request = await me.submitted()
    async with mutual_tls_channel(
        stack.procedures_admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(stack.pki / "administrations" / "commune.crt").read_bytes(),
        private_key=(stack.pki / "administrations" / "commune.key").read_bytes(),
        timeout=10,
    ) as channel:
        commune = pb_grpc.AdministrationProceduresServiceStub(channel)
        incoming = await commune.GetIncomingRequest(
            pb.GetIncomingRequestRequest(reference=request["reference"])
        )
        await commune.AskCorrection(
            pb.AskCorrectionRequest(
                reference=request["reference"],
                field_ids=["moving_date"],
                message="The moving date is not the one of your lease.",
                expected_version=incoming.request.version,
            )
        )
    asked = await me.get(request["id"])
    assert asked["state"] == "action_needed"
    assert asked["asked_field_ids"] == ["moving_date"]
    assert asked["history"][-1]["kind"] == "correction_asked"
    url = f"/api/v1/me/requests/{request['id']}/correction"

    # A field that was not asked about is refused, and nothing changes.
    not_asked = await api.post(url, headers=me.headers, json={"email": "other@example.lu"})
    body = problem_of(not_asked, 422, "FIELD_NOT_ASKED")
    assert [e["field"] for e in body["errors"]] == ["email"]
    wrong = await api.post(url, headers=me.headers, json={"moving_date": "31/12/2030"})
    assert [e["field"] for e in problem_of(wrong, 422, "INVALID_ANSWERS")["errors"]] == [
        "moving_date"
    ]
    unchanged(asked, await me.get(request["id"]))

    new_date = (TODAY - timedelta(days=1)).isoformat()
    answered = await api.post(url, headers=me.headers, json={"moving_date": new_date})
    assert answered.status_code == 200, answered.text
    after = answered.json()
    assert after["state"] == "submitted"
    assert after["answers"]["moving_date"] == new_date
    assert after["history"][-1]["kind"] == "correction_answered"
    assert after["history"][-1]["field_ids"] == ["moving_date"]
    # The administration's and the citizen's trace, in order.
    assert [h["kind"] for h in after["history"]] == [
        "submitted",
        "correction_asked",
        "correction_answered",
    ]


async def test_the_list_filters_sorts_and_pages_and_the_dashboard_shows_the_latest_four(
    api: httpx.AsyncClient, anne: Citizen
) -> None:
    me = Person(api, anne)
    request = await me.submitted()
    drafts = [await me.start() for _ in range(4)]
    cancelled = await api.post(
        f"/api/v1/me/requests/{drafts[0]['id']}/cancellation", headers=me.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    kept = await api.post(f"/api/v1/me/requests/{drafts[1]['id']}/extension", headers=me.headers)
    assert kept.status_code == 200, kept.text
    assert kept.json()["expires_at"] >= drafts[1]["expires_at"]

    everything = await me.listed()
    assert everything["total"] == 4  # the archive aside
    assert drafts[0]["id"] not in [r["id"] for r in everything["items"]]
    preparing = await me.listed(filter="in_preparation")
    assert {r["id"] for r in preparing["items"]} == {d["id"] for d in drafts[1:]}
    assert {r["state"] for r in preparing["items"]} == {"draft"}
    archived = await me.listed(filter="archived")
    assert [r["id"] for r in archived["items"]] == [drafts[0]["id"]]
    assert (await me.listed(filter="closed"))["items"] == []
    by_reference = await me.listed(sort="reference")
    assert request["id"] in [r["id"] for r in by_reference["items"]]
    # Paging: two pages of two, every one once.
    first = await me.listed(page_size=2)
    assert len(first["items"]) == 2 and first["next_page_token"]
    second = await me.listed(page_size=2, page_token=first["next_page_token"])
    seen = [r["id"] for r in first["items"] + second["items"]]
    assert sorted(seen) == sorted(r["id"] for r in everything["items"])
    # The newest change first: the extended draft.
    assert everything["items"][0]["id"] == drafts[1]["id"]

    board = (await api.get("/api/v1/dashboard", headers=me.headers)).json()
    section = board["requests"]
    assert (section["status"], section["offered"], section["total"]) == ("available", True, 4)
    assert [r["id"] for r in section["items"]] == [r["id"] for r in everything["items"]][:4]

    bad_token = await api.get(
        "/api/v1/me/requests", headers=me.headers, params={"page_token": "not-a-token"}
    )
    problem_of(bad_token, 422)


async def test_the_export_holds_the_persons_requests(
    api: httpx.AsyncClient, anne: Citizen, registry: Registry
) -> None:
    me = Person(api, anne)
    request = await me.submitted()
    await registry.step_up_to_substantial(anne)
    export = await api.get("/api/v1/me/export", headers=anne.bearer("substantial"))
    assert export.status_code == 200, export.text
    procedures = json.dumps(export.json()["procedures"])
    assert request["reference"] in procedures
    assert request["id"] in procedures


# --- refusals -----------------------------------------------------------------------------------


async def test_wrong_answers_are_refused_field_by_field_and_change_nothing(
    api: httpx.AsyncClient, anne: Citizen
) -> None:
    me = Person(api, anne)
    draft = await me.start()
    await me.saved(draft["id"], "move", MOVE)
    before = await me.get(draft["id"])

    wrong_move = await me.save(
        draft["id"],
        "move",
        {
            **MOVE,
            "moving_date": "2030-02-30",
            "new_address": {**ADDRESS, "country": "Luxembourg"},
            "housing_status": "squatter",
        },
    )
    body = problem_of(wrong_move, 422, "INVALID_ANSWERS")
    fields = {e["field"] for e in body["errors"]}
    assert "moving_date" in fields and "housing_status" in fields
    assert any(f.startswith("new_address") for f in fields), fields
    assert all(e["message"] for e in body["errors"])

    # In a group, each error names the member and the field.
    members = await me.save(
        draft["id"],
        "household",
        {
            "moving_alone": False,
            "members": [
                {
                    "last_name": "Muller",
                    "first_name": "Léa",
                    "birth_date": "2015-04-01",
                    "relationship": "child",
                },
                {
                    "last_name": "Muller",
                    "first_name": "",
                    "birth_date": "2999-01-01",
                    "relationship": "cousin",
                },
            ],
        },
    )
    paths = {e["field"] for e in problem_of(members, 422, "INVALID_ANSWERS")["errors"]}
    # Counted from 0: the second member is wrong, the first is not.
    assert {"members[1].birth_date", "members[1].relationship"} <= paths, paths
    assert not any(p.startswith("members[0]") for p in paths), paths

    # A required-if field left empty: the member list of someone not moving alone.
    required_if = await me.save(draft["id"], "household", {"moving_alone": False})
    assert "members" in {e["field"] for e in problem_of(required_if, 422)["errors"]}

    # Too long, NUL bytes and control characters in a text; NaN for a number.
    await me.saved(draft["id"], "household", HOUSEHOLD)
    before = await me.get(draft["id"])
    for remarks in ("x" * 1001, "before\u0000after", "bell\u0007"):
        refused = await me.save(draft["id"], "contact", {**CONTACT, "remarks": remarks})
        assert [e["field"] for e in problem_of(refused, 422)["errors"]] == ["remarks"]
        assert "x" * 300 not in refused.text
    wrong_email = await me.save(draft["id"], "contact", {**CONTACT, "email": "not an address"})
    assert [e["field"] for e in problem_of(wrong_email, 422)["errors"]] == ["email"]
    nan = await api.put(
        f"/api/v1/me/requests/{draft['id']}/steps/contact",
        headers={**me.headers, "Content-Type": "application/json"},
        content=b'{"email": "a@example.lu", "phone": NaN}',
    )
    problem_of(nan, 422, "VALIDATION_FAILED")
    not_an_object = await me.save(draft["id"], "contact", [CONTACT])
    assert problem_of(not_an_object, 422, "VALIDATION_FAILED")["errors"][0]["field"] == "body"
    unknown_field = await me.save(draft["id"], "contact", {**CONTACT, "favourite_colour": "red"})
    assert "favourite_colour" in {e["field"] for e in problem_of(unknown_field, 422)["errors"]}
    unknown_step = await me.save(draft["id"], "holidays", {})
    problem_of(unknown_step, 404, "STEP_NOT_FOUND")
    unchanged(before, await me.get(draft["id"]))


async def test_a_step_skipped_and_an_incomplete_submission_are_refused(
    api: httpx.AsyncClient, anne: Citizen
) -> None:
    me = Person(api, anne)
    draft = await me.start()
    skipped = await me.save(draft["id"], "contact", CONTACT)
    problem_of(skipped, 409, "STEP_NOT_REACHABLE")
    await me.saved(draft["id"], "move", MOVE)
    before = await me.get(draft["id"])
    incomplete = await me.submit(draft["id"], str(uuid.uuid4()))
    problem_of(incomplete, 409, "REQUEST_INCOMPLETE")
    unchanged(before, await me.get(draft["id"]))
    proof = await api.get(f"/api/v1/me/requests/{draft['id']}/proof", headers=me.headers)
    problem_of(proof, 404, "PROOF_NOT_FOUND")


async def test_a_submission_without_an_idempotency_key_is_a_bad_request_and_changes_nothing(
    api: httpx.AsyncClient, anne: Citizen
) -> None:
    me = Person(api, anne)
    draft = await me.complete_draft()
    missing = await me.submit(draft["id"], None)
    body = problem_of(missing, 400, "VALIDATION_FAILED")
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert body["errors"][0]["reason"] == "missing"
    malformed = await me.submit(draft["id"], "two words")
    problem_of(malformed, 422, "VALIDATION_FAILED")
    unchanged(draft, await me.get(draft["id"]))
    # Then with a key, once.
    assert (await me.submit(draft["id"], str(uuid.uuid4()))).status_code == 200


async def test_unknown_procedures_and_versions_are_not_found(
    api: httpx.AsyncClient, anne: Citizen
) -> None:
    me = Person(api, anne)
    before = await me.listed(filter="in_preparation")
    for path, reason in (
        ("/api/v1/procedures/no-such-procedure", "PROCEDURE_NOT_FOUND"),
        ("/api/v1/procedures/no-such-procedure/schema", "PROCEDURE_NOT_FOUND"),
        (f"/api/v1/procedures/{CODE}/versions/999", "VERSION_NOT_FOUND"),
        (f"/api/v1/procedures/{CODE}/versions/999/schema", "VERSION_NOT_FOUND"),
    ):
        problem_of(await api.get(path), 404, reason)
    started = await api.post("/api/v1/procedures/no-such-procedure/drafts", headers=me.headers)
    problem_of(started, 404, "PROCEDURE_NOT_FOUND")
    malformed = await api.get("/api/v1/procedures/NO SUCH")
    assert problem_of(malformed, 422)["errors"][0]["field"] == "code"
    assert (await me.listed(filter="in_preparation"))["total"] == before["total"]


async def test_another_persons_request_is_not_found_and_stays_as_it_was(
    api: httpx.AsyncClient, anne: Citizen, registry: Registry
) -> None:
    bert = Person(api, await registry.register("Bert"))
    me = Person(api, anne)
    request = await me.submitted()
    draft = await me.start()
    await me.saved(draft["id"], "move", MOVE)
    before_request, before_draft = await me.get(request["id"]), await me.get(draft["id"])

    base = "/api/v1/me/requests"
    attempts = [
        ("GET", f"{base}/{request['id']}", None, {}),
        ("GET", f"{base}/{request['reference']}", None, {}),
        ("GET", f"{base}/{request['id']}/proof", None, {}),
        ("PUT", f"{base}/{draft['id']}/steps/household", HOUSEHOLD, {}),
        ("POST", f"{base}/{draft['id']}/extension", None, {}),
        ("POST", f"{base}/{draft['id']}/submission", None, {"Idempotency-Key": "k" * 16}),
        ("POST", f"{base}/{request['id']}/correction", {"moving_date": "2030-01-01"}, {}),
        ("POST", f"{base}/{request['id']}/cancellation", None, {}),
        ("POST", f"{base}/{draft['id']}/cancellation", None, {}),
    ]
    for method, path, body, extra in attempts:
        response = await api.request(method, path, json=body, headers={**bert.headers, **extra})
        problem_of(response, 404, "REQUEST_NOT_FOUND")
    assert (await bert.listed())["items"] == []
    unchanged(before_request, await me.get(request["id"]))
    unchanged(before_draft, await me.get(draft["id"]))
    missing = await api.get(f"{base}/{uuid.uuid4()}", headers=me.headers)
    problem_of(missing, 404, "REQUEST_NOT_FOUND")
    nobody = await api.get(f"{base}/{request['id']}")
    problem_of(nobody, 401, "AUTHENTICATION_REQUIRED")


async def test_oversized_and_malformed_bodies_are_refused_before_the_service(
    api: httpx.AsyncClient, anne: Citizen
) -> None:
    me = Person(api, anne)
    draft = await me.start()
    before = await me.get(draft["id"])
    # 1 MB of text in a field: refused while the body is read.
    huge = await me.save(draft["id"], "move", {**MOVE, "move_kind": "x" * 1_000_000})
    problem_of(huge, 413, "REQUEST_TOO_LARGE")
    not_json = await api.put(
        f"/api/v1/me/requests/{draft['id']}/steps/move",
        headers={**me.headers, "Content-Type": "application/json"},
        content=b"\x00\x01 not json",
    )
    problem_of(not_json, 422, "VALIDATION_FAILED")
    nul_in_path = await api.put(
        f"/api/v1/me/requests/{draft['id']}/steps/mo%00ve", headers=me.headers, json=MOVE
    )
    assert problem_of(nul_in_path, 422)["errors"][0]["field"] == "step_id"
    bad_id = await api.get("/api/v1/me/requests/not-an-id", headers=me.headers)
    assert problem_of(bad_id, 422)["errors"][0]["field"] == "request_id"
    unchanged(before, await me.get(draft["id"]))

    # A proof to check: a PDF, within its bound.
    verification = "/api/v1/procedures/proofs/verification"
    as_json = await api.post(verification, json={"pdf": "JVBERi0="})
    problem_of(as_json, 415, "VALIDATION_FAILED")
    empty = await api.post(verification, content=b"", headers={"Content-Type": "application/pdf"})
    problem_of(empty, 422, "VALIDATION_FAILED")
    too_big = await api.post(
        verification, content=bytes(3_000_000), headers={"Content-Type": "application/pdf"}
    )
    problem_of(too_big, 413, "REQUEST_TOO_LARGE")
    not_a_pdf = await api.post(
        verification, content=b"hello", headers={"Content-Type": "application/pdf"}
    )
    if not_a_pdf.status_code == 200:
        assert not_a_pdf.json()["genuine"] is False
    else:
        problem_of(not_a_pdf, 422)


# --- the API document ---------------------------------------------------------------------------

ROUTES = {
    ("get", "/api/v1/procedures/themes"),
    ("get", "/api/v1/procedures"),
    ("get", "/api/v1/procedures/{code}"),
    ("get", "/api/v1/procedures/{code}/versions/{version}"),
    ("get", "/api/v1/procedures/{code}/schema"),
    ("get", "/api/v1/procedures/{code}/versions/{version}/schema"),
    ("post", "/api/v1/procedures/{code}/drafts"),
    ("post", "/api/v1/procedures/proofs/verification"),
    ("get", "/api/v1/me/requests"),
    ("get", "/api/v1/me/requests/{request_id}"),
    ("put", "/api/v1/me/requests/{request_id}/steps/{step_id}"),
    ("post", "/api/v1/me/requests/{request_id}/extension"),
    ("post", "/api/v1/me/requests/{request_id}/submission"),
    ("post", "/api/v1/me/requests/{request_id}/correction"),
    ("post", "/api/v1/me/requests/{request_id}/signed-correction"),
    ("post", "/api/v1/me/requests/{request_id}/cancellation"),
    ("get", "/api/v1/me/requests/{request_id}/proof"),
    ("get", "/api/v1/me/requests/{request_id}/prefill"),
    ("post", "/api/v1/me/requests/{request_id}/prefill-consent"),
    # F25: a request's files.
    ("post", "/api/v1/me/requests/{request_id}/fields/{field_id}/files"),
    ("post", "/api/v1/me/requests/{request_id}/fields/{field_id}/files/from-wallet"),
    ("delete", "/api/v1/me/requests/{request_id}/files/{attachment_id}"),
    ("get", "/api/v1/me/requests/{request_id}/files/{attachment_id}"),
    ("post", "/api/v1/me/requests/{request_id}/files/{attachment_id}/wallet-copy"),
    # F32: a request's appointment.
    ("get", "/api/v1/me/requests/{request_id}/appointment-slots"),
    ("post", "/api/v1/me/requests/{request_id}/appointment/hold"),
    ("get", "/api/v1/me/requests/{request_id}/appointment"),
    ("put", "/api/v1/me/requests/{request_id}/appointment"),
    ("delete", "/api/v1/me/requests/{request_id}/appointment"),
    ("get", "/api/v1/me/requests/{request_id}/appointment/calendar"),
}
# F21: without an account (the follow-up token in its header), and the claim of such a request.
WITHOUT_ACCOUNT = {
    ("post", "/api/v1/procedures/{code}/anonymous-drafts"),
    ("get", "/api/v1/procedures/followed/request"),
    ("put", "/api/v1/procedures/followed/request/steps/{step_id}"),
    ("put", "/api/v1/procedures/followed/request/email"),
    ("post", "/api/v1/procedures/followed/request/email-confirmation"),
    ("post", "/api/v1/procedures/followed/request/submission"),
    ("post", "/api/v1/procedures/followed/request/cancellation"),
    ("get", "/api/v1/procedures/followed/request/proof"),
    ("post", "/api/v1/me/requests/claim-codes"),
    ("post", "/api/v1/me/requests/claims"),
}
PUBLIC = {(m, p) for m, p in ROUTES | WITHOUT_ACCOUNT if p.startswith("/api/v1/procedures")} - {
    ("post", "/api/v1/procedures/{code}/drafts")
}


async def test_the_api_document_lists_every_route_with_its_access_and_problems(
    api: httpx.AsyncClient,
) -> None:
    spec = (await api.get("/openapi.json")).json()
    listed = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if path.startswith(("/api/v1/procedures", "/api/v1/me/requests"))
    }
    assert listed == ROUTES | WITHOUT_ACCOUNT
    for method, path in ROUTES | WITHOUT_ACCOUNT:
        operation = spec["paths"][path][method]
        tag = "procedures without an account" if (method, path) in WITHOUT_ACCOUNT else "procedures"
        assert operation["tags"] == [tag]
        assert operation["security"] == ([] if (method, path) in PUBLIC else [{"bearer": []}])
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == [PROBLEM], (method, path, status)
    submission = spec["paths"]["/api/v1/me/requests/{request_id}/submission"]["post"]
    key = next(p for p in submission["parameters"] if p["name"] == "Idempotency-Key")
    assert (key["in"], key["required"]) == ("header", True)
    assert "400" in submission["responses"]
    drafts = spec["paths"]["/api/v1/procedures/{code}/drafts"]["post"]["responses"]["201"]
    assert drafts["headers"]["Location"]["required"] is True
    proof = spec["paths"]["/api/v1/me/requests/{request_id}/proof"]["get"]["responses"]["200"]
    assert list(proof["content"]) == ["application/pdf"]
    schema = spec["paths"]["/api/v1/procedures/{code}/schema"]["get"]["responses"]["200"]
    assert list(schema["content"]) == ["application/schema+json"]
