"""The pages "My data" (F50-F57): what the administrations' registers hold about the person (or,
in a company's context, about the company), each value with its source and the time it was read;
certificates as sealed PDFs; who looked at the data; reports of wrong values and where they stand.
And the public page a certificate's QR code points to.

The same service calls as the API's /api/v1/me/data routes, in the session's acting context. A
section the registers have nothing for (no driving licence, no VAT account) says so; a context
without the mandate says so too. Forms are plain POSTs with the session's CSRF token, answered
POST-redirect-GET (a certificate is answered with the PDF itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from google.protobuf.timestamp_pb2 import Timestamp

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet_gateway.deps import Calls, rate_limit
from guichet_gateway.my_data import (
    COMMENT_MAX_LENGTH,
    PROPOSED_VALUE_MAX_LENGTH,
    certificate_kind,
    pdf_download,
)
from guichet_gateway.ratelimit import LOOKUPS
from guichet_gateway.web.forms import FormErrors, refused_input
from guichet_gateway.web.pages import PUBLIC_PAGE, page, page_language
from guichet_gateway.web.relations_space import _acting_label
from guichet_gateway.web.session import SignedIn, WebSession, csrf_protected
from guichet_gateway.wire import enum_word
from guichet_kit.errors import read_rpc_failure
from guichet_kit.i18n import N_, Catalog, Language, format_moment
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

ACCESSES_PER_PAGE = 25
# What a page repeats of a typed text: the inputs' own bounds, generously.
KEPT_LENGTH = 1000
PAGE_TOKEN_MAX_LENGTH = 200
CERTIFICATE_FIELDS = ("kind", "language")
REPORT_FIELDS = ("comment", "proposed_value")
MAX_LENGTHS = {"comment": COMMENT_MAX_LENGTH, "proposed_value": PROPOSED_VALUE_MAX_LENGTH}
CERTIFICATE_KINDS = {
    "residence": N_("Residence certificate"),
    "household_composition": N_("Household composition certificate"),
}
LANGUAGE_NAMES = {"fr": "Français", "de": "Deutsch", "en": "English"}
# A section's refusals the page tells in place: nothing registered, or no mandate for it.
_SAID_IN_PLACE = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED}


@dataclass(frozen=True)
class Moment:
    text: str
    iso: str


@dataclass(frozen=True)
class PersonShown:
    name: str
    birth_date: str
    role: str


@dataclass(frozen=True)
class ValueShown:
    """One value of a register, as the page shows it: with its source and when it was read."""

    name: str
    label: str
    display: str
    # Set for a list of people (household, children, directors…), shown as a table.
    people: list[PersonShown] | None
    source: str
    administration: str
    read_at: Moment | None


@dataclass
class Section:
    key: str
    heading: str
    values: list[ValueShown] = field(default_factory=list)
    # Why there is nothing to show (the service's words, in the page's language).
    missing: str = ""

    @property
    def plain(self) -> list[ValueShown]:
        return [v for v in self.values if v.people is None]

    @property
    def lists(self) -> list[ValueShown]:
        return [v for v in self.values if v.people is not None]


def _moment(stamp: Timestamp, language: Language) -> Moment | None:
    if not (stamp.seconds or stamp.nanos):
        return None
    moment = stamp.ToDatetime(tzinfo=UTC)
    return Moment(format_moment(moment, language), moment.isoformat())


def _value(value: pb.DataField, language: Language) -> ValueShown:
    people = None
    if value.WhichOneof("value") == "people":
        people = [
            PersonShown(f"{p.given_names} {p.surname}", p.birth_date, p.role_label or p.role)
            for p in value.people.people
        ]
    return ValueShown(
        name=value.name,
        label=value.label,
        display=value.display,
        people=people,
        source=value.source.name,
        administration=value.source.administration,
        read_at=_moment(value.source.read_at, language),
    )


async def _section(key: str, heading: str, call: Awaitable[Any], language: Language) -> Section:
    section = Section(key, heading)
    try:
        reply = await call
    except grpc.aio.AioRpcError as failed:
        if failed.code() not in _SAID_IN_PLACE:
            raise
        section.missing = read_rpc_failure(failed).message
        return section
    section.values = [_value(v, language) for v in reply.fields]
    return section


def _sections_to_read(calls: Calls, session: WebSession) -> list[tuple[str, str, Awaitable[Any]]]:
    """What the registers say about the acting context's owner: a company's entry and VAT
    account, or a person's entry, driving licence and tax credit."""
    data = calls.data
    if session.acting_context.kind == "company":
        return [
            (
                "company",
                N_("Company register"),
                data.GetMyCompanyEntry(pb.GetMyCompanyEntryRequest()),
            ),
            ("vat", N_("VAT account"), data.GetMyVatBalance(pb.GetMyVatBalanceRequest())),
        ]
    return [
        (
            "register",
            N_("National register"),
            data.GetMyRegisterEntry(pb.GetMyRegisterEntryRequest()),
        ),
        (
            "licence",
            N_("Driving licence"),
            data.GetMyDrivingLicencePoints(pb.GetMyDrivingLicencePointsRequest()),
        ),
        (
            "tax",
            N_("Tax credit on notarial deeds"),
            data.GetMyTaxCredit(pb.GetMyTaxCreditRequest()),
        ),
    ]


async def _sections(calls: Calls, session: WebSession, language: Language) -> list[Section]:
    return list(
        await asyncio.gather(
            *(
                _section(key, _.gettext(heading, language), call, language)
                for key, heading, call in _sections_to_read(calls, session)
            )
        )
    )


def _back_to(path: str, language: Language, **query: str) -> RedirectResponse:
    """POST-redirect-GET: the page again, saying what was done."""
    return RedirectResponse(
        f"{path}?{urlencode({'lang': language.value, **query})}", status_code=303
    )


async def _typed(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    form = await request.form()
    values: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        values[name] = value[:KEPT_LENGTH] if isinstance(value, str) else ""
    return values


# ---- the data, and certificates ---------------------------------------------------------------


async def _data_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    status: int = 200,
    *,
    errors: FormErrors | None = None,
    chosen: Mapping[str, str] | None = None,
) -> HTMLResponse:
    language = page_language(request)
    wrong = errors or FormErrors(CERTIFICATE_FIELDS)
    sections, label = await asyncio.gather(
        _sections(calls, session, language), _acting_label(calls, session, language)
    )
    return page(
        request,
        "my/data.html",
        status,
        section="data",
        tab="data",
        acting_label=label,
        sections=sections,
        company=session.acting_context.kind == "company",
        kinds=[(kind, _.gettext(text, language)) for kind, text in CERTIFICATE_KINDS.items()],
        certificate_languages=LANGUAGE_NAMES,
        chosen=chosen or {"kind": "residence", "language": language.value},
        errors=wrong.messages,
        summary=wrong.summary(),
    )


@router.get("/my/data", response_class=HTMLResponse)
async def data_page(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    return await _data_page(request, calls, session)


@router.post("/my/data/certificates", response_model=None, dependencies=[csrf_protected])
async def get_certificate(request: Request, calls: Calls, session: SignedIn) -> Response:
    """The sealed PDF itself, as a download; a refusal shows the page with what was wrong."""
    language = page_language(request)
    typed = await _typed(request, CERTIFICATE_FIELDS)
    kind = (
        certificate_kind(typed["kind"])
        if typed["kind"] in CERTIFICATE_KINDS
        else pb.CERTIFICATE_KIND_UNSPECIFIED  # refused by the service, said next to the choice
    )
    try:
        reply = await calls.data.IssueCertificate(
            pb.IssueCertificateRequest(kind=kind, language=typed["language"][:8])
        )
    except grpc.aio.AioRpcError as failed:
        errors = FormErrors(CERTIFICATE_FIELDS)
        about = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
        if not refused_input(failed, errors, language, fallback="kind", about=about):
            raise
        return await _data_page(request, calls, session, 422, errors=errors, chosen=typed)
    return pdf_download(reply, status=200)


# ---- who looked at my data --------------------------------------------------------------------


@dataclass(frozen=True)
class AccessShown:
    when: Moment | None
    who: str
    agent: str
    own: bool
    purpose: str
    fields: list[str]
    reference: str


@router.get("/my/data/accesses", response_class=HTMLResponse)
async def accesses_page(
    request: Request, calls: Calls, session: SignedIn, page_token: str = ""
) -> HTMLResponse:
    language = page_language(request)
    token = page_token[:PAGE_TOKEN_MAX_LENGTH]
    try:
        reply = await calls.data.ListMyDataAccesses(
            pb.ListMyDataAccessesRequest(limit=ACCESSES_PER_PAGE, page_token=token)
        )
    except grpc.aio.AioRpcError as failed:
        if failed.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise
        # A page token that is not one of this list's (an old or edited link): no such page.
        raise Problem(404, "NOT_FOUND") from failed
    accesses = [
        AccessShown(
            when=_moment(a.accessed_at, language),
            who=a.accessor_label or a.accessor,
            agent=a.agent,
            own=a.accessor_kind == pb.ACCESSOR_KIND_SELF,
            purpose=a.purpose_label or a.purpose,
            fields=list(a.fields),
            reference=a.request_reference,
        )
        for a in reply.accesses
    ]
    return page(
        request,
        "my/data_accesses.html",
        section="data",
        tab="accesses",
        acting_label=await _acting_label(calls, session, language),
        accesses=accesses,
        next_page_token=reply.next_page_token,
        first_page=not token,
    )


# ---- reports of wrong data --------------------------------------------------------------------

# Which view holds a field, by its id's prefix (person.address → the register entry).
_VIEWS = {
    "person": ("register", "GetMyRegisterEntry", pb.GetMyRegisterEntryRequest),
    "driving_licence": (
        "licence",
        "GetMyDrivingLicencePoints",
        pb.GetMyDrivingLicencePointsRequest,
    ),
    "tax_credit": ("tax", "GetMyTaxCredit", pb.GetMyTaxCreditRequest),
    "company": ("company", "GetMyCompanyEntry", pb.GetMyCompanyEntryRequest),
    "vat": ("vat", "GetMyVatBalance", pb.GetMyVatBalanceRequest),
}


@dataclass(frozen=True)
class ReportShown:
    id: str
    field: str
    comment: str
    proposed_value: str
    status: str
    status_label: str
    resolution: str
    source: str
    filed: Moment | None
    updated: Moment | None


async def _current_value(calls: Calls, name: str, language: Language) -> ValueShown:
    """The value being reported, read afresh (the person sees what they report)."""
    view = _VIEWS.get(name.partition(".")[0]) if len(name) <= 72 else None
    if view is None:
        raise Problem(404, "NOT_FOUND")
    _key, method, request_type = view
    try:
        reply = await getattr(calls.data, method)(request_type())
    except grpc.aio.AioRpcError as failed:
        if failed.code() not in _SAID_IN_PLACE:
            raise
        raise Problem(404, "NOT_FOUND") from failed
    for value in reply.fields:
        if value.name == name:
            return _value(value, language)
    raise Problem(404, "NOT_FOUND")


async def _report_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    name: str,
    status: int = 200,
    *,
    typed: Mapping[str, str] | None = None,
    errors: FormErrors | None = None,
) -> HTMLResponse:
    language = page_language(request)
    wrong = errors or FormErrors(REPORT_FIELDS)
    value, label = await asyncio.gather(
        _current_value(calls, name, language), _acting_label(calls, session, language)
    )
    return page(
        request,
        "my/data_report.html",
        status,
        section="data",
        tab="reports",
        acting_label=label,
        value=value,
        typed=typed or {"comment": "", "proposed_value": ""},
        errors=wrong.messages,
        summary=wrong.summary(),
        max_length=MAX_LENGTHS,
    )


@router.get("/my/data/report", response_class=HTMLResponse)
async def report_form(
    request: Request, calls: Calls, session: SignedIn, field: str = ""
) -> HTMLResponse:
    return await _report_page(request, calls, session, field)


@router.post("/my/data/report", response_class=HTMLResponse, dependencies=[csrf_protected])
async def report_wrong_data(request: Request, calls: Calls, session: SignedIn) -> Response:
    language = page_language(request)
    name = (await _typed(request, ("field",)))["field"][:72]
    typed = await _typed(request, REPORT_FIELDS)
    try:
        await calls.data.ReportWrongData(
            pb.ReportWrongDataRequest(
                field=name, comment=typed["comment"], proposed_value=typed["proposed_value"]
            )
        )
    except grpc.aio.AioRpcError as failed:
        errors = FormErrors(REPORT_FIELDS)
        if not refused_input(failed, errors, language, fallback="comment"):
            raise
        return await _report_page(request, calls, session, name, 422, typed=typed, errors=errors)
    return _back_to("/my/data/reports", language, filed="1")


@router.get("/my/data/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request, calls: Calls, session: SignedIn, filed: str = ""
) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.data.ListMyDataReports(pb.ListMyDataReportsRequest())
    reports = [
        ReportShown(
            id=r.id,
            field=r.field_label or r.field,
            comment=r.comment,
            proposed_value=r.proposed_value,
            status=enum_word(pb.ReportStatus.Name(r.status), "REPORT_STATUS_"),
            status_label=r.status_label,
            resolution=r.resolution,
            source=r.source.name,
            filed=_moment(r.filed_at, language),
            updated=_moment(r.updated_at, language),
        )
        for r in reply.reports
    ]
    return page(
        request,
        "my/data_reports.html",
        section="data",
        tab="reports",
        acting_label=await _acting_label(calls, session, language),
        reports=reports,
        filed=bool(filed),
    )


# ---- the public verification of a certificate (its QR code) ---------------------------------

SHA256_LENGTH = 64


def _verify_page(
    request: Request,
    status: int,
    certificate_id: str,
    certificate: pb.Certificate | None = None,
    *,
    fingerprint: str = "",
    matches: bool = False,
    errors: FormErrors | None = None,
) -> HTMLResponse:
    language = page_language(request)
    wrong = errors or FormErrors(("sha256",))
    return page(
        request,
        "verify.html",
        status,
        certificate_id=certificate_id,
        certificate=certificate,
        issued=_moment(certificate.issued_at, language) if certificate else None,
        language_name=LANGUAGE_NAMES.get(certificate.language, "") if certificate else "",
        fingerprint=fingerprint,
        matches=matches,
        errors=wrong.messages,
        summary=wrong.summary(),
    )


@router.get(
    "/verify/{certificate_id}",
    response_class=HTMLResponse,
    dependencies=[*PUBLIC_PAGE, rate_limit(LOOKUPS)],
)
async def verify_page(
    request: Request, calls: Calls, certificate_id: str, sha256: str = ""
) -> HTMLResponse:
    """Public: whether the platform issued this certificate, and whether a file one holds (by
    its SHA-256) is that very one. No personal data."""
    language = page_language(request)
    certificate_id = certificate_id[:64]
    fingerprint = sha256.strip()[:KEPT_LENGTH]
    try:
        reply = await calls.certificates.VerifyCertificate(
            pb.VerifyCertificateRequest(certificate_id=certificate_id, sha256=fingerprint)
        )
    except grpc.aio.AioRpcError as failed:
        failure = read_rpc_failure(failed)
        about_fingerprint = any(e.field == "sha256" for e in failure.field_errors)
        if failure.code == grpc.StatusCode.INVALID_ARGUMENT and about_fingerprint:
            errors = FormErrors(("sha256",))
            refused_input(failed, errors, language, fallback="sha256")
            return _verify_page(
                request, 422, certificate_id, fingerprint=fingerprint, errors=errors
            )
        if failure.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            # Not one the platform issued (or not even a certificate number).
            return _verify_page(request, 404, certificate_id)
        raise
    return _verify_page(
        request,
        200,
        reply.certificate.id,
        reply.certificate,
        fingerprint=fingerprint if reply.sha256_given else "",
        matches=reply.sha256_matches,
    )
