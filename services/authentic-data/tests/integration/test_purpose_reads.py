"""F55: platform services and administrations read only what a purpose granted to them allows;
every refusal reads nothing and leaves no access-log entry claiming a read."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet_authentic_data.api.reads import AdministrationDataServicer, PlatformDataServicer
from guichet_authentic_data.registers.loader import CompanyEntry, enter_company
from guichet_kit.db import transaction

from .conftest import ANNE, LEA, NOBODY, PAUL, certified, log_entries, refusal


def read(purpose: str, national_id: str = ANNE, *fields: str) -> pb.ReadDataRequest:
    return pb.ReadDataRequest(
        purpose=purpose,
        subject=pb.DataSubject(national_id=national_id),
        fields=list(fields),
        request_reference="DECL-2025-0042",
    )


def administration_read(
    purpose: str, national_id: str = ANNE, *fields: str, agent: str = "clerk-17"
) -> pb.ReadAdministrationDataRequest:
    return pb.ReadAdministrationDataRequest(
        purpose=purpose,
        subject=pb.DataSubject(national_id=national_id),
        fields=list(fields),
        request_reference="SNCA-DOSSIER-9",
        agent=agent,
    )


async def test_identity_checks_a_declared_child_with_only_the_children(
    platform_reads: PlatformDataServicer,
    family: None,
    pki: Path,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reply = await platform_reads.ReadData(
        read("identity:declare-child", PAUL), certified(pki / "services" / "identity.crt")
    )

    [children] = reply.fields
    assert children.name == "person.children"
    assert [child.national_id for child in children.people.people] == [LEA]
    assert children.source.code == "national-register"
    [entry] = await log_entries(sessions)
    assert (entry.subject, entry.accessor_kind, entry.accessor) == (
        f"person:{PAUL}",
        "platform_service",
        "identity",
    )
    assert (entry.purpose, list(entry.fields)) == ("identity:declare-child", ["person.children"])
    assert entry.request_reference == "DECL-2025-0042"
    assert str(entry.access_id) == reply.access_id


async def test_identity_checks_a_companys_directors(
    platform_reads: PlatformDataServicer,
    family: None,
    pki: Path,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        await enter_company(
            session, CompanyEntry("B123456", "Muller Bau SARL", directors=((ANNE, "manager"),))
        )
    request = pb.ReadDataRequest(
        purpose="identity:company-director",
        subject=pb.DataSubject(company_number="b 123 456"),
        request_reference="space-request-1",
    )

    reply = await platform_reads.ReadData(request, certified(pki / "services" / "identity.crt"))

    fields = {field.name: field for field in reply.fields}
    assert set(fields) == {"company.number", "company.name", "company.directors"}
    assert [(d.national_id, d.role) for d in fields["company.directors"].people.people] == [
        (ANNE, "manager")
    ]
    [entry] = await log_entries(sessions)
    assert entry.subject == "company:B123456"


async def test_an_administration_reads_for_its_own_purpose_and_the_agent_is_logged(
    administration_reads: AdministrationDataServicer,
    family: None,
    pki: Path,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reply = await administration_reads.ReadAdministrationData(
        administration_read("snca:licence-points", ANNE, "driving_licence.points"),
        certified(pki / "administrations" / "snca.crt"),
    )

    assert [(f.name, f.integer) for f in reply.fields] == [("driving_licence.points", 9)]
    [entry] = await log_entries(sessions)
    assert (entry.accessor_kind, entry.accessor, entry.agent) == (
        "administration",
        "snca",
        "clerk-17",
    )


# ---- refusals: each reads nothing and logs nothing ----


@pytest.mark.parametrize(
    ("request_", "certificate", "code", "reason", "fields"),
    [
        pytest.param(
            read("identity:read-everything", PAUL),
            "services/identity.crt",
            grpc.StatusCode.INVALID_ARGUMENT,
            "PURPOSE_UNKNOWN",
            ["purpose"],
            id="purpose-not-in-registry",
        ),
        pytest.param(
            read("identity:declare-child", PAUL, "person.children", "person.address"),
            "services/identity.crt",
            grpc.StatusCode.PERMISSION_DENIED,
            "FIELD_OUTSIDE_PURPOSE",
            ["fields[1]"],
            id="field-outside-purpose",
        ),
        pytest.param(
            read("identity:declare-child", PAUL, "person.no_such_field"),
            "services/identity.crt",
            grpc.StatusCode.PERMISSION_DENIED,
            "FIELD_OUTSIDE_PURPOSE",
            ["fields[0]"],
            id="unknown-field",
        ),
        pytest.param(
            read("procedures:prefill:change-of-address", PAUL),
            "services/identity.crt",
            grpc.StatusCode.PERMISSION_DENIED,
            "PURPOSE_NOT_GRANTED",
            [],
            id="another-services-purpose",
        ),
        pytest.param(
            read("citizen:self", PAUL),
            "services/identity.crt",
            grpc.StatusCode.PERMISSION_DENIED,
            "PURPOSE_NOT_GRANTED",
            [],
            id="a-citizens-purpose",
        ),
        pytest.param(
            read("identity:declare-child", PAUL[:11] + str((int(PAUL[11]) + 1) % 10) + PAUL[12]),
            "services/identity.crt",
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_DATA_READ",
            ["subject.national_id"],
            id="national-id-failing-its-check-digits",
        ),
        pytest.param(
            pb.ReadDataRequest(
                purpose="identity:declare-child",
                subject=pb.DataSubject(company_number="B123456"),
                request_reference="x",
            ),
            "services/identity.crt",
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_DATA_READ",
            ["subject"],
            id="company-for-a-persons-purpose",
        ),
        pytest.param(
            pb.ReadDataRequest(purpose="identity:declare-child", request_reference="x"),
            "services/identity.crt",
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_DATA_READ",
            ["subject"],
            id="no-subject",
        ),
        pytest.param(
            pb.ReadDataRequest(
                purpose="identity:declare-child", subject=pb.DataSubject(national_id=PAUL)
            ),
            "services/identity.crt",
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_DATA_READ",
            ["request_reference"],
            id="no-request-reference",
        ),
        pytest.param(
            read("identity:declare-child", NOBODY),
            "services/identity.crt",
            grpc.StatusCode.NOT_FOUND,
            "REGISTER_ENTRY_NOT_FOUND",
            [],
            id="not-in-the-register",
        ),
        pytest.param(
            read("identity:declare-child", PAUL),
            "services/etracking.crt",
            grpc.StatusCode.UNAUTHENTICATED,
            "SERVICE_CERTIFICATE_REQUIRED",
            [],
            id="a-service-not-allowed-to-read",
        ),
        pytest.param(
            read("identity:declare-child", PAUL),
            "administrations/acd.crt",
            grpc.StatusCode.UNAUTHENTICATED,
            "CERTIFICATE_ISSUER_REFUSED",
            [],
            id="an-administration-on-the-services-api",
        ),
        pytest.param(
            read("identity:declare-child", PAUL),
            None,
            grpc.StatusCode.UNAUTHENTICATED,
            "SERVICE_CERTIFICATE_REQUIRED",
            [],
            id="no-certificate",
        ),
    ],
)
async def test_a_platform_read_is_refused_with_its_reason_and_leaves_no_trace(
    platform_reads: PlatformDataServicer,
    family: None,
    pki: Path,
    counts,
    request_: pb.ReadDataRequest,
    certificate: str | None,
    code: grpc.StatusCode,
    reason: str,
    fields: list[str],
) -> None:
    before = await counts()

    refused = await refusal(
        platform_reads.ReadData(request_, certified(pki / certificate if certificate else None))
    )

    assert (refused.code, refused.reason, refused.fields) == (code, reason, fields)
    assert await counts() == before


@pytest.mark.parametrize(
    ("request_", "certificate", "reason"),
    [
        pytest.param(
            administration_read("snca:licence-points"),
            "administrations/acd.crt",
            "PURPOSE_NOT_GRANTED",
            id="another-administrations-purpose",
        ),
        pytest.param(
            administration_read("identity:declare-child"),
            "administrations/acd.crt",
            "PURPOSE_NOT_GRANTED",
            id="a-services-purpose",
        ),
        pytest.param(
            administration_read("acd:household-taxation", ANNE, "tax_credit.used"),
            "administrations/acd.crt",
            "FIELD_OUTSIDE_PURPOSE",
            id="field-outside-purpose",
        ),
        pytest.param(
            administration_read("acd:household-taxation", agent=""),
            "administrations/acd.crt",
            "INVALID_DATA_READ",
            id="no-agent",
        ),
        pytest.param(
            administration_read("acd:household-taxation"),
            "rogue/acd.crt",
            "CERTIFICATE_ISSUER_REFUSED",
            id="acd-certificate-of-another-ca",
        ),
        pytest.param(
            administration_read("acd:household-taxation"),
            "services/identity.crt",
            "CERTIFICATE_ISSUER_REFUSED",
            id="a-platform-certificate",
        ),
        pytest.param(
            administration_read("acd:household-taxation"),
            None,
            "CLIENT_CERTIFICATE_REQUIRED",
            id="no-certificate",
        ),
    ],
)
async def test_an_administration_read_is_refused_and_leaves_no_trace(
    administration_reads: AdministrationDataServicer,
    family: None,
    pki: Path,
    counts,
    request_: pb.ReadAdministrationDataRequest,
    certificate: str | None,
    reason: str,
) -> None:
    before = await counts()

    refused = await refusal(
        administration_reads.ReadAdministrationData(
            request_, certified(pki / certificate if certificate else None)
        )
    )

    assert refused.reason == reason
    assert await counts() == before
