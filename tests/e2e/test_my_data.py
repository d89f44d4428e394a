"""My data through the gateway (F50-F57): a person's register entry, points and tax credit with
their sources; a company's entry and VAT account in its context; sealed certificates checked with
pyhanko against the development CA and verified by the public route; who read the data; reports of
wrong data and their answers. Nobody reaches another person's data, and no refusal leaves an
access-log entry claiming a read."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from citizens import Registry
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from stack import Stack

from guichet_testkit.eventually import wait_until

VIEWS = ("register-entry", "driving-licence", "tax-credit")
COMPANY_VIEWS = ("company-entry", "vat-balance")


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


@pytest.fixture(scope="module")
async def registers_db(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(stack.authentic_data_database_url)
    yield engine
    await engine.dispose()


async def log_size(engine: AsyncEngine, subject: str) -> int:
    """Entries of the access log about `subject` (person:<id> or company:<number>)."""
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM data_accesses WHERE subject = :s"), {"s": subject}
        )
    return int(count or 0)


def by_name(body: dict) -> dict[str, dict]:
    return {field["name"]: field for field in body["fields"]}


async def seal_status(pdf: bytes, ca: Path):  # type: ignore[no-untyped-def]
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(ca))])
    [seal] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    return await async_validate_pdf_signature(seal, context)


async def test_a_person_sees_their_entry_points_and_tax_credit_with_sources(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne = await registry.register("Anne")
    await registry.enter_in_registers(anne, licence_points=9, tax_credit_used_cents=1_250_000)

    entry = await api.get("/api/v1/me/data/register-entry", headers=anne.bearer())
    points = await api.get("/api/v1/me/data/driving-licence", headers=anne.bearer())
    credit = await api.get("/api/v1/me/data/tax-credit?lang=de", headers=anne.bearer())

    assert entry.status_code == 200, entry.text
    assert entry.json()["national_id"] == anne.national_id
    fields = by_name(entry.json())
    assert fields["person.given_names"]["value"] == "Anne"
    assert fields["person.address"]["kind"] == "address"
    assert fields["person.address"]["value"]["country"] == "LU"
    household = fields["person.household"]
    assert [(p["national_id"], p["role"]) for p in household["value"]] == [
        (anne.national_id, "self")
    ]
    for field in entry.json()["fields"]:
        assert field["source"]["code"] == "national-register"
        assert field["source"]["read_at"]
    assert by_name(points.json())["driving_licence.points"]["value"] == 9
    assert by_name(points.json())["driving_licence.points"]["source"]["code"] == "driving-licences"
    left = by_name(credit.json())["tax_credit.remaining"]
    assert left["kind"] == "money" and left["value"]["currency"] == "EUR"
    # In the language asked for.
    assert by_name(credit.json())["tax_credit.ceiling"]["label"] == "Höchstbetrag"
    assert left["source"]["code"] == "tax-credits"


async def test_another_persons_data_is_never_reachable_and_refusals_log_no_read(
    api: httpx.AsyncClient, registry: Registry, registers_db: AsyncEngine
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    await registry.enter_in_registers(anne, licence_points=12, tax_credit_used_cents=0)
    await registry.step_up_to_high(anne)
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
    number = await registry.company_run_by(anne, vat_balance_cents=125_00)
    space = await api.post(
        "/api/v1/spaces",
        headers=anne.bearer(),
        json={"company_name": "Muller SARL", "registry_number": number},
    )
    assert space.status_code == 201, space.text
    anne_log = await log_size(registers_db, f"person:{anne.national_id}")
    company_log = await log_size(registers_db, f"company:{number}")

    # Bert has no mandate from Anne, no role in her company, and is not her child's parent.
    contexts = (f"relation:{child.json()['id']}", f"company:{space.json()['id']}")
    for context in contexts:
        for view in (*VIEWS, *COMPANY_VIEWS, "accesses", "reports"):
            refused = await api.get(f"/api/v1/me/data/{view}", headers=bert.bearer(context=context))
            assert refused.status_code == 403, (context, view, refused.text)
            assert anne.national_id not in refused.text
        for path, body in (
            ("/api/v1/me/data/certificates", {"kind": "residence", "language": "en"}),
            (
                "/api/v1/me/data/reports",
                {"field": "person.surname", "comment": "This is not my name at all."},
            ),
        ):
            refused = await api.post(path, headers=bert.bearer(context=context), json=body)
            assert refused.status_code == 403, (context, path, refused.text)
    # In his own name, Bert reads his own (empty) entry, never Anne's.
    own = await api.get("/api/v1/me/data/register-entry", headers=bert.bearer())
    assert own.status_code == 404, own.text
    assert anne.national_id not in own.text
    for view in COMPANY_VIEWS:
        private = await api.get(f"/api/v1/me/data/{view}", headers=bert.bearer())
        assert private.status_code == 403, private.text

    assert await log_size(registers_db, f"person:{anne.national_id}") == anne_log
    assert await log_size(registers_db, f"company:{number}") == company_log


async def test_a_company_space_reads_its_entry_and_vat_account_in_its_context(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    number = await registry.company_run_by(anne, name="Muller SARL", vat_balance_cents=-4_200)
    space = (
        await api.post(
            "/api/v1/spaces",
            headers=anne.bearer(),
            json={"company_name": "Muller SARL", "registry_number": number},
        )
    ).json()
    added = await api.post(
        f"/api/v1/spaces/{space['id']}/collaborators",
        headers=anne.bearer(),
        json={"national_id": bert.national_id, "role": "reader"},
    )
    assert added.status_code == 201, added.text
    context = f"company:{space['id']}"

    for reader in (anne, bert):
        entry = await api.get(
            "/api/v1/me/data/company-entry", headers=reader.bearer(context=context)
        )
        vat = await api.get("/api/v1/me/data/vat-balance", headers=reader.bearer(context=context))
        assert entry.status_code == 200, entry.text
        assert entry.json()["company_number"] == number
        assert by_name(entry.json())["company.name"]["value"] == "Muller SARL"
        directors = by_name(entry.json())["company.directors"]["value"]
        assert [d["national_id"] for d in directors] == [anne.national_id]
        assert by_name(vat.json())["vat.balance"]["value"]["amount_cents"] == -4_200
        assert by_name(vat.json())["vat.balance"]["source"]["code"] == "vat-accounts"
    # A person's views make no sense for a company, and the reverse.
    refused = await api.get("/api/v1/me/data/register-entry", headers=anne.bearer(context=context))
    assert refused.status_code == 403, refused.text
    # A reader may read, not report.
    report = await api.post(
        "/api/v1/me/data/reports",
        headers=bert.bearer(context=context),
        json={"field": "company.name", "comment": "The name changed last year."},
    )
    assert report.status_code == 403, report.text


async def test_a_certificate_is_a_sealed_pdf_the_public_route_verifies(
    api: httpx.AsyncClient, registry: Registry, stack: Stack, registers_db: AsyncEngine
) -> None:
    anne = await registry.register("Anne")
    await registry.enter_in_registers(anne)

    issued = await api.post(
        "/api/v1/me/data/certificates",
        headers=anne.bearer(),
        json={"kind": "residence", "language": "de"},
    )

    assert issued.status_code == 201, issued.text
    assert issued.headers["content-type"] == "application/pdf"
    assert issued.headers["content-disposition"].startswith("attachment; filename=")
    assert issued.headers["cache-control"] == "no-store"
    pdf = issued.content
    status = await seal_status(pdf, stack.pki / "ca.crt")
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (
        True,
        True,
        True,
        True,
    )
    untrusted = await seal_status(pdf, stack.pki / "rogue" / "ca.crt")
    assert untrusted.intact and not untrusted.bottom_line

    certificate_id = issued.headers["x-certificate-id"]
    assert issued.headers["location"] == f"/api/v1/certificates/{certificate_id}/verification"
    digest = hashlib.sha256(pdf).hexdigest()
    verified = await api.get(f"{issued.headers['location']}?sha256={digest}")
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["certificate"]["id"] == certificate_id
    assert body["certificate"]["kind"] == "residence"
    assert body["certificate"]["language"] == "de"
    assert body["certificate"]["verify_url"].endswith(f"/verify/{certificate_id}")
    assert (body["sha256_given"], body["sha256_matches"]) == (True, True)
    assert anne.national_id not in verified.text and "Muller" not in verified.text
    other = await api.get(f"{issued.headers['location']}?sha256={'0' * 64}")
    assert (other.json()["sha256_given"], other.json()["sha256_matches"]) == (True, False)
    unknown = await api.get(
        "/api/v1/certificates/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/verification"
    )
    assert unknown.status_code == 404, unknown.text
    # The public page the QR code points to says the same, without personal data.
    page = await api.get(f"/verify/{certificate_id}?lang=en", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "Genuine certificate" in page.text and anne.national_id not in page.text

    # An unsupported language is refused before anything is read or issued.
    before = await log_size(registers_db, f"person:{anne.national_id}")
    for body in ({"kind": "residence", "language": "lb"}, {"kind": "passport"}):
        refused = await api.post("/api/v1/me/data/certificates", headers=anne.bearer(), json=body)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"][0]["field"] == "kind"
    assert await log_size(registers_db, f"person:{anne.national_id}") == before


async def test_the_access_log_shows_identitys_read_when_a_child_is_declared(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne = await registry.register("Anne")
    await registry.step_up_to_high(anne)
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
    await api.get("/api/v1/me/data/register-entry", headers=anne.bearer())

    log = await api.get("/api/v1/me/data/accesses?lang=en&limit=1", headers=anne.bearer())

    assert log.status_code == 200, log.text
    [own] = log.json()["accesses"]
    assert (own["accessor_kind"], own["purpose"]) == ("self", "citizen:self")
    older = await api.get(
        f"/api/v1/me/data/accesses?page_token={log.json()['next_page_token']}",
        headers=anne.bearer(),
    )
    [read] = older.json()["accesses"]
    assert (read["accessor_kind"], read["accessor"], read["purpose"]) == (
        "platform_service",
        "identity",
        "identity:declare-child",
    )
    assert read["fields"] == ["person.children"]
    assert read["request_reference"] == f"relation:{child.json()['id']}"
    assert read["purpose_label"] and read["accessor_label"]
    assert older.json()["next_page_token"] == ""
    bad = await api.get("/api/v1/me/data/accesses?page_token=x", headers=anne.bearer())
    assert bad.status_code == 422, bad.text


async def test_a_report_goes_to_the_register_which_corrects_or_rejects_it(
    api: httpx.AsyncClient, registry: Registry, registers_db: AsyncEngine
) -> None:
    anne = await registry.register("Anne")
    await registry.enter_in_registers(anne)
    before = await log_size(registers_db, f"person:{anne.national_id}")
    too_short = await api.post(
        "/api/v1/me/data/reports",
        headers=anne.bearer(),
        json={"field": "person.given_names", "comment": "wrong"},
    )
    assert too_short.status_code == 422, too_short.text
    assert [e["field"] for e in too_short.json()["errors"]] == ["comment"]
    assert (await api.get("/api/v1/me/data/reports", headers=anne.bearer())).json() == []

    filed = {}
    for field, proposed in (("person.given_names", "Annie"), ("person.birth_date", "")):
        reply = await api.post(
            "/api/v1/me/data/reports",
            headers=anne.bearer(),
            json={
                "field": field,
                "comment": "The register has this wrong since I moved.",
                "proposed_value": proposed,
            },
        )
        assert reply.status_code == 201, reply.text
        assert reply.json()["status"] == "sent"
        filed[field] = reply.json()["id"]
    seen: dict[str, list[str]] = {field: ["sent"] for field in filed}

    async def answered() -> bool:
        reports = (await api.get("/api/v1/me/data/reports", headers=anne.bearer())).json()
        for report in reports:
            statuses = seen[report["field"]]
            if not statuses or statuses[-1] != report["status"]:
                statuses.append(report["status"])
        return all(statuses[-1] in ("corrected", "rejected") for statuses in seen.values())

    await wait_until(answered, seconds=30, what="the register's answers")
    # Each report moved forward only: sent, (received,) then its answer.
    assert seen["person.given_names"] in (["sent", "received", "corrected"], ["sent", "corrected"])
    assert seen["person.birth_date"] in (["sent", "received", "rejected"], ["sent", "rejected"])
    reports = {
        r["field"]: r
        for r in (await api.get("/api/v1/me/data/reports", headers=anne.bearer())).json()
    }
    assert reports["person.birth_date"]["resolution"]
    entry = await api.get("/api/v1/me/data/register-entry", headers=anne.bearer())
    assert by_name(entry.json())["person.given_names"]["value"] == "Annie"
    # Filing reports read nothing; the one read is the entry just now.
    assert await log_size(registers_db, f"person:{anne.national_id}") == before + 1


async def test_a_mandate_for_data_opens_that_persons_data_and_the_read_is_marked_as_such(
    api: httpx.AsyncClient, registry: Registry
) -> None:
    anne, bert = await registry.register("Anne"), await registry.register("Bert")
    await registry.enter_in_registers(anne)
    await registry.step_up_to_high(anne)
    granted = await api.post(
        "/api/v1/me/relations",
        headers=anne.bearer("high"),
        json={
            "actor_national_id": bert.national_id,
            "kind": "spouse",
            "rights": ["data:read"],
            "expires_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
        },
    )
    assert granted.status_code == 201, granted.text
    context = f"relation:{granted.json()['id']}"

    entry = await api.get("/api/v1/me/data/register-entry", headers=bert.bearer(context=context))
    refused = await api.post(
        "/api/v1/me/data/reports",
        headers=bert.bearer(context=context),
        json={"field": "person.surname", "comment": "Reading is not writing, is it?"},
    )

    assert entry.status_code == 200, entry.text
    assert entry.json()["national_id"] == anne.national_id
    assert refused.status_code == 403, refused.text
    [read] = (await api.get("/api/v1/me/data/accesses", headers=anne.bearer())).json()["accesses"]
    assert (read["accessor_kind"], read["purpose"]) == ("mandate_holder", "citizen:self")
    # Bert's own log holds nothing of it: the read was of Anne's data.
    mine = await api.get("/api/v1/me/data/accesses", headers=bert.bearer())
    assert mine.json()["accesses"] == []
