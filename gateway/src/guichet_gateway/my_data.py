"""/api/v1/me/data: what the administrations' registers hold about the caller (F50-F57), the
certificates built from it, who read it, and reports of wrong values; and the public check of a
certificate (what its QR code points to).

Each route calls the authentic-data service in the acting context the client sent: one's own
data (private), a person one holds a `data:read` mandate for (relation), or the company of a
professional space (company: its entry and VAT account). Whose data it is, and whether the context
allows it, is the service's to decide; the gateway maps its refusals.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser, acts_in_context, rate_limit
from guichet_gateway.fields import UUID_EXAMPLE, UuidPath
from guichet_gateway.openapi import refusals
from guichet_gateway.ratelimit import LOOKUPS
from guichet_gateway.wire import enum_word, timestamp
from guichet_kit.i18n import Language

router = APIRouter(tags=["data"])

# The service's bounds.
MAX_ACCESSES = 200
DEFAULT_ACCESSES = 50
PAGE_TOKEN_MAX_LENGTH = 200
FIELD_NAME_PATTERN = r"^[a-z_]{1,30}\.[a-z_]{1,40}$"
FIELD_NAME_MAX_LENGTH = 72
COMMENT_MAX_LENGTH = 1000
PROPOSED_VALUE_MAX_LENGTH = 300
SHA256_PATTERN = r"^[0-9A-Fa-f]{64}$"
PDF = "application/pdf"
# What a file name in Content-Disposition may hold without quoting rules of its own.
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]")

_IN_CONTEXT = [acts_in_context]
_PERSON_ONLY = (
    "In a company's context there is no person's entry: the company's is at "
    "/api/v1/me/data/company-entry."
)
_COMPANY_ONLY = "Only in a company's context (X-Acting-Context: company:<space id>)."


# ---- values, each with its source and the moment it was read ----


class SourceOut(BaseModel):
    code: str = Field(
        description="national-register, company-register, driving-licences, tax-credits or "
        "vat-accounts"
    )
    name: str = Field(description="The register's name in the caller's language")
    administration: str = Field(description="The administration keeping it, e.g. ctie")
    read_at: datetime | None = Field(description="When the value was read from the register")


class MoneyOut(BaseModel):
    amount_cents: int
    currency: str = Field(examples=["EUR"])


class RegisterAddressOut(BaseModel):
    street: str
    house_number: str
    postal_code: str
    locality: str
    commune: str
    country: str


class PersonOut(BaseModel):
    national_id: str
    given_names: str
    surname: str
    birth_date: str = Field(description="YYYY-MM-DD")
    role: str = Field(
        description="self, spouse, child, parent, member (household), manager, director"
    )
    role_label: str


ValueKind = Literal["text", "date", "integer", "money", "address", "people", "none"]


class DataFieldOut(BaseModel):
    name: str = Field(examples=["person.address"], description="Stable field id")
    label: str = Field(description="The field's name in the caller's language")
    display: str = Field(description="The value written for a person, in their language")
    kind: ValueKind = Field(description="Which type `value` has (none: no value)")
    value: str | int | MoneyOut | RegisterAddressOut | list[PersonOut] | None
    source: SourceOut | None


class RegisterEntryOut(BaseModel):
    national_id: str
    fields: list[DataFieldOut]


class CompanyEntryOut(BaseModel):
    company_number: str
    fields: list[DataFieldOut]


class FieldsOut(BaseModel):
    fields: list[DataFieldOut]


def _source(source: pb.Source) -> SourceOut:
    return SourceOut(
        code=source.code,
        name=source.name,
        administration=source.administration,
        read_at=timestamp(source.read_at),
    )


def _value(field: pb.DataField) -> tuple[ValueKind, Any]:
    kind = field.WhichOneof("value")
    if kind in ("text", "date", "integer"):
        return kind, getattr(field, kind)
    if kind == "money":
        return "money", MoneyOut(
            amount_cents=field.money.amount_cents, currency=field.money.currency
        )
    if kind == "address":
        a = field.address
        return "address", RegisterAddressOut(
            street=a.street,
            house_number=a.house_number,
            postal_code=a.postal_code,
            locality=a.locality,
            commune=a.commune,
            country=a.country,
        )
    if kind == "people":
        return "people", [
            PersonOut(
                national_id=p.national_id,
                given_names=p.given_names,
                surname=p.surname,
                birth_date=p.birth_date,
                role=p.role,
                role_label=p.role_label,
            )
            for p in field.people.people
        ]
    return "none", None


def field_out(field: pb.DataField) -> DataFieldOut:
    kind, value = _value(field)
    return DataFieldOut(
        name=field.name,
        label=field.label,
        display=field.display,
        kind=kind,
        value=value,
        source=_source(field.source) if field.HasField("source") else None,
    )


def _fields(fields: Any) -> list[DataFieldOut]:
    return [field_out(f) for f in fields]


@router.get(
    "/api/v1/me/data/register-entry",
    response_model=RegisterEntryOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: f"No `data:read` mandate for the acting context. {_PERSON_ONLY}",
            404: "The national register has no entry for this person.",
        }
    ),
)
async def get_register_entry(calls: Calls, user: CurrentUser) -> RegisterEntryOut:
    """F50: identity, address, marital status and household in the national register, each
    value with its source and the time it was read."""
    reply = await calls.data.GetMyRegisterEntry(pb.GetMyRegisterEntryRequest())
    return RegisterEntryOut(national_id=reply.national_id, fields=_fields(reply.fields))


@router.get(
    "/api/v1/me/data/driving-licence",
    response_model=FieldsOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: f"No `data:read` mandate for the acting context. {_PERSON_ONLY}",
            404: "No driving licence is registered for this person.",
        }
    ),
)
async def get_driving_licence_points(calls: Calls, user: CurrentUser) -> FieldsOut:
    """F52: the driving licence and the points left on it (of 12)."""
    reply = await calls.data.GetMyDrivingLicencePoints(pb.GetMyDrivingLicencePointsRequest())
    return FieldsOut(fields=_fields(reply.fields))


@router.get(
    "/api/v1/me/data/tax-credit",
    response_model=FieldsOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: f"No `data:read` mandate for the acting context. {_PERSON_ONLY}",
            404: "No tax credit is registered for this person.",
        }
    ),
)
async def get_tax_credit(calls: Calls, user: CurrentUser) -> FieldsOut:
    """F53: the tax credit on notarial deeds: its ceiling, what was used and what is left."""
    reply = await calls.data.GetMyTaxCredit(pb.GetMyTaxCreditRequest())
    return FieldsOut(fields=_fields(reply.fields))


@router.get(
    "/api/v1/me/data/company-entry",
    response_model=CompanyEntryOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: f"No role in this company's space. {_COMPANY_ONLY}",
            404: "The company register has no entry for this company.",
        }
    ),
)
async def get_company_entry(calls: Calls, user: CurrentUser) -> CompanyEntryOut:
    """The acting company's entry in the trade and companies register (name, legal form,
    registered office, managers and directors)."""
    reply = await calls.data.GetMyCompanyEntry(pb.GetMyCompanyEntryRequest())
    return CompanyEntryOut(company_number=reply.company_number, fields=_fields(reply.fields))


@router.get(
    "/api/v1/me/data/vat-balance",
    response_model=FieldsOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: f"No role in this company's space. {_COMPANY_ONLY}",
            404: "No VAT account is registered for this company.",
        }
    ),
)
async def get_vat_balance(calls: Calls, user: CurrentUser) -> FieldsOut:
    """F54: the acting company's VAT account: its balance (positive: owed by the company) and
    the last return filed."""
    reply = await calls.data.GetMyVatBalance(pb.GetMyVatBalanceRequest())
    return FieldsOut(fields=_fields(reply.fields))


# ---- certificates (F51) ----

CertificateKindWord = Literal["residence", "household_composition"]
_KIND_PREFIX = "CERTIFICATE_KIND_"


class CertificateIn(BaseModel):
    kind: CertificateKindWord
    language: Language | None = Field(
        default=None, description="fr, de or en; left out: the caller's language"
    )


class CertificateOut(BaseModel):
    id: str = Field(examples=[UUID_EXAMPLE])
    kind: str = Field(description="residence or household_composition")
    kind_label: str
    language: str
    issued_at: datetime | None
    sha256: str = Field(description="Hex SHA-256 of the sealed PDF")
    verify_url: str = Field(description="The public page the PDF's QR code points to")


class VerificationOut(BaseModel):
    """The platform issued this certificate (one it did not issue is answered 404)."""

    certificate: CertificateOut
    sha256_given: bool
    sha256_matches: bool = Field(description="Whether the file one holds is the issued one")


def certificate_out(certificate: pb.Certificate) -> CertificateOut:
    return CertificateOut(
        id=certificate.id,
        kind=enum_word(pb.CertificateKind.Name(certificate.kind), _KIND_PREFIX),
        kind_label=certificate.kind_label,
        language=certificate.language,
        issued_at=timestamp(certificate.issued_at),
        sha256=certificate.sha256,
        verify_url=certificate.verify_url,
    )


def certificate_kind(word: str) -> pb.CertificateKind.ValueType:
    return pb.CertificateKind.Value(_KIND_PREFIX + word.upper())


def pdf_download(reply: pb.IssueCertificateResponse, status: int = 201) -> Response:
    """The sealed PDF as an attachment, never kept by a cache; where to check it in Location."""
    certificate = reply.certificate
    name = _UNSAFE_IN_FILE_NAME.sub("-", reply.filename)[:100] or f"certificate-{certificate.id}"
    if not name.endswith(".pdf"):
        name += ".pdf"
    return Response(
        reply.pdf,
        status_code=status,
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "Location": f"/api/v1/certificates/{certificate.id}/verification",
            "X-Certificate-Id": certificate.id,
        },
    )


_HEADER = {"schema": {"type": "string"}}


@router.post(
    "/api/v1/me/data/certificates",
    status_code=201,
    response_class=Response,
    dependencies=_IN_CONTEXT,
    responses={
        201: {
            "description": "The certificate, a PDF sealed by the platform (PAdES), with a QR code "
            "to its public verification page",
            "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "Content-Disposition": {"description": "attachment; filename=…", **_HEADER},
                "Location": {"description": "Where anyone checks this certificate", **_HEADER},
                "X-Certificate-Id": {"description": "The certificate's id", **_HEADER},
            },
        },
        **refusals(
            {
                403: f"No `data:read` mandate for the acting context. {_PERSON_ONLY}",
                404: "The national register has no entry for this person.",
                422: "An unknown kind, or a language other than fr, de or en.",
            }
        ),
    },
)
async def issue_certificate(body: CertificateIn, calls: Calls, user: CurrentUser) -> Response:
    """F51: a residence or household composition certificate from the national register, as a
    PDF sealed by the platform, in French, German or English."""
    reply = await calls.data.IssueCertificate(
        pb.IssueCertificateRequest(
            kind=certificate_kind(body.kind),
            language=body.language.value if body.language else "",
        )
    )
    return pdf_download(reply)


@router.get(
    "/api/v1/certificates/{certificate_id}/verification",
    response_model=VerificationOut,
    dependencies=[rate_limit(LOOKUPS)],
    responses=refusals({404: "The platform issued no certificate with this id."}),
)
async def verify_certificate(
    certificate_id: Annotated[UuidPath, Path()],
    calls: Calls,
    sha256: Annotated[
        str | None,
        Query(
            pattern=SHA256_PATTERN,
            max_length=64,
            description="The hex SHA-256 of the file one holds: is it the issued one?",
        ),
    ] = None,
) -> VerificationOut:
    """Public: whether the platform issued this certificate (its kind, language and date, no
    personal data), and whether the file one holds is that very file."""
    reply = await calls.certificates.VerifyCertificate(
        pb.VerifyCertificateRequest(certificate_id=certificate_id, sha256=sha256 or "")
    )
    return VerificationOut(
        certificate=certificate_out(reply.certificate),
        sha256_given=reply.sha256_given,
        sha256_matches=reply.sha256_matches,
    )


# ---- who read my data (F56) ----


class AccessOut(BaseModel):
    id: str
    accessed_at: datetime | None
    accessor_kind: str = Field(
        description="self, mandate_holder, platform_service or administration"
    )
    accessor: str = Field(description="The service, the administration's code or a person's id")
    accessor_label: str
    agent: str = Field(description="The administration's agent, when it named one")
    purpose: str = Field(examples=["identity:declare-child"])
    purpose_label: str
    fields: list[str]
    request_reference: str


class AccessesOut(BaseModel):
    accesses: list[AccessOut]
    next_page_token: str = Field(description="For `page_token`; empty on the last page")


def access_out(access: pb.DataAccess) -> AccessOut:
    return AccessOut(
        id=access.id,
        accessed_at=timestamp(access.accessed_at),
        accessor_kind=enum_word(pb.AccessorKind.Name(access.accessor_kind), "ACCESSOR_KIND_"),
        accessor=access.accessor,
        accessor_label=access.accessor_label,
        agent=access.agent,
        purpose=access.purpose,
        purpose_label=access.purpose_label,
        fields=list(access.fields),
        request_reference=access.request_reference,
    )


@router.get(
    "/api/v1/me/data/accesses",
    response_model=AccessesOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: "No `data:read` mandate or role for the acting context.",
            422: "A page token that is not one of this list's.",
        }
    ),
)
async def list_accesses(
    calls: Calls,
    user: CurrentUser,
    limit: Annotated[
        int, Query(ge=1, le=MAX_ACCESSES, description="How many, newest first")
    ] = DEFAULT_ACCESSES,
    page_token: Annotated[
        str,
        Query(max_length=PAGE_TOKEN_MAX_LENGTH, description="next_page_token of the last page"),
    ] = "",
) -> AccessesOut:
    """F56: who read the data of the acting context's owner — the person themselves, those
    acting for them, platform services and administrations — when, for what purpose, which
    fields and for which request."""
    reply = await calls.data.ListMyDataAccesses(
        pb.ListMyDataAccessesRequest(limit=limit, page_token=page_token)
    )
    return AccessesOut(
        accesses=[access_out(a) for a in reply.accesses], next_page_token=reply.next_page_token
    )


# ---- reports of wrong data (F57) ----


class ReportIn(BaseModel):
    field: str = Field(
        max_length=FIELD_NAME_MAX_LENGTH,
        pattern=FIELD_NAME_PATTERN,
        examples=["person.address"],
        description="The id of the wrong value (`name` of a field above)",
    )
    comment: str = Field(
        max_length=COMMENT_MAX_LENGTH, description="Why it is wrong: 10 to 1000 characters"
    )
    proposed_value: str = Field(
        default="",
        max_length=PROPOSED_VALUE_MAX_LENGTH,
        description="What the value should be, if one knows",
    )


class ReportOut(BaseModel):
    id: str
    field: str
    field_label: str
    comment: str
    proposed_value: str
    status: str = Field(description="sent, received, corrected or rejected")
    status_label: str
    resolution: str = Field(description="The source's answer once corrected or rejected")
    source: SourceOut | None
    filed_at: datetime | None
    updated_at: datetime | None


def report_out(report: pb.DataReport) -> ReportOut:
    return ReportOut(
        id=report.id,
        field=report.field,
        field_label=report.field_label,
        comment=report.comment,
        proposed_value=report.proposed_value,
        status=enum_word(pb.ReportStatus.Name(report.status), "REPORT_STATUS_"),
        status_label=report.status_label,
        resolution=report.resolution,
        source=_source(report.source) if report.HasField("source") else None,
        filed_at=timestamp(report.filed_at),
        updated_at=timestamp(report.updated_at),
    )


@router.get(
    "/api/v1/me/data/reports",
    response_model=list[ReportOut],
    dependencies=_IN_CONTEXT,
    responses=refusals({403: "No `data:read` mandate or role for the acting context."}),
)
async def list_reports(calls: Calls, user: CurrentUser) -> list[ReportOut]:
    """F57: the reports of wrong data made about the acting context's owner, newest first, and
    where each stands."""
    reply = await calls.data.ListMyDataReports(pb.ListMyDataReportsRequest())
    return [report_out(r) for r in reply.reports]


@router.post(
    "/api/v1/me/data/reports",
    status_code=201,
    response_model=ReportOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: "No `data:write` mandate or role for the acting context.",
            422: "An unknown field, or a comment shorter than 10 characters…",
        }
    ),
)
async def report_wrong_data(body: ReportIn, calls: Calls, user: CurrentUser) -> ReportOut:
    """F57: tell the register a value comes from that it is wrong; the report goes to the
    source, which acknowledges it, then corrects the value or says why it keeps it."""
    reply = await calls.data.ReportWrongData(
        pb.ReportWrongDataRequest(
            field=body.field, comment=body.comment, proposed_value=body.proposed_value
        )
    )
    return report_out(reply.report)
