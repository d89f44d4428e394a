"""MyDataService: a signed-in person's data, certificates, access log and reports.

Whose data is never taken from the request: it is the caller's own (private context), the person
a mandate lets them act for (relation context, checked with identity), or the company of the
professional space they act for (company context: identity says whether they may, and which
company number the space is for).
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet.authentic_data.v1 import authentic_data_pb2_grpc as pb_grpc
from guichet.identity.v1 import identity_pb2 as identity_pb
from guichet.identity.v1 import identity_pb2_grpc as identity_grpc
from guichet_authentic_data.access import service as access
from guichet_authentic_data.access.purposes import CITIZEN_COMPANY, CITIZEN_SELF
from guichet_authentic_data.api import wire
from guichet_authentic_data.certificates import service as certificates
from guichet_authentic_data.registers.fields import fields_of
from guichet_authentic_data.registers.repository import SyntheticRegisters
from guichet_authentic_data.registers.sources import SourceCode
from guichet_authentic_data.reports import service as reports
from guichet_kit.domain import FieldError, Forbidden, InvalidInput
from guichet_kit.i18n import Catalog, Language, current_language
from guichet_kit.mandates import MandateChecker
from guichet_kit.seal import Sealer
from guichet_kit.servicers import (
    ANY_CONTEXT,
    Call,
    ContextKind,
    Db,
    DeclaredServicer,
    citizen,
    request_language,
    rpc,
)

_ = Catalog("guichet_authentic_data")

PERSON_CONTEXTS: tuple[ContextKind, ...] = ("private", "relation")
COMPANY_CONTEXT: tuple[ContextKind, ...] = ("company",)
DEFAULT_PAGE = 50


class SpaceDirectory:
    """Which company a professional space is for: identity's answer, asked with the caller's own
    token (forwarded by the kit's client), so it answers only for a space the caller is in."""

    def __init__(self, identity_channel: grpc.aio.Channel) -> None:
        self._stub = identity_grpc.SpaceServiceStub(identity_channel)

    async def company_number(self, space_id: str) -> str:
        reply = await self._stub.GetSpace(identity_pb.GetSpaceRequest(space_id=space_id))
        return reply.space.registry_number


class MyDataServicer(DeclaredServicer, pb_grpc.MyDataServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        events_written: Callable[[], None],
        *,
        mandates: MandateChecker,
        spaces: SpaceDirectory,
        sealer: Sealer,
        public_base_url: str,
    ) -> None:
        super().__init__(sessions, events_written)
        self._mandates = mandates
        self._spaces = spaces
        self._sealer = sealer
        self._public_base_url = public_base_url

    # ---- whose data ----

    async def _owner(self, call: Call, right: str, act: str) -> str:
        # Reading for someone else is an act on their behalf: it goes to their audit too.
        audited = act if call.acting.kind != "private" else ""
        return await self._mandates.owner(call.person, call.acting, right, act=audited)

    def _reader(self, call: Call) -> access.Reader:
        if call.acting.kind == "relation":
            return access.Reader("mandate_holder", call.person.national_id)
        return access.Reader("self", call.person.national_id)

    async def _person(self, call: Call, right: str, act: str) -> access.Subject:
        owner = await self._owner(call, right, act)
        kind, _sep, key = owner.partition(":")
        if kind != "person":
            raise Forbidden(
                "ACTING_CONTEXT_NOT_ALLOWED",
                _("This is a person's data: act in your own name or for a person."),
            )
        return access.Subject("person", key)

    async def _subject(self, call: Call, right: str, act: str) -> access.Subject:
        """The person or the company of the acting context."""
        owner = await self._owner(call, right, act)
        kind, _sep, key = owner.partition(":")
        if kind == "company":
            return access.Subject("company", await self._spaces.company_number(key))
        return access.Subject("person", key)

    async def _read(
        self, call: Call, subject: access.Subject, purpose: str, source: SourceCode
    ) -> list[pb.DataField]:
        read = await access.read_for_purpose(
            call.session,
            SyntheticRegisters(call.session),
            purpose=purpose,
            subject=subject,
            fields=list(fields_of(source)),
            reader=self._reader(call),
            required=source,
        )
        return wire.fields_to_proto(read.values, current_language())

    # ---- views ----

    @rpc(citizen(contexts=PERSON_CONTEXTS))
    async def GetMyRegisterEntry(
        self, request: pb.GetMyRegisterEntryRequest, call: Call
    ) -> pb.GetMyRegisterEntryResponse:
        subject = await self._person(call, "data:read", "read the national register entry")
        fields = await self._read(call, subject, CITIZEN_SELF, SourceCode.NATIONAL_REGISTER)
        return pb.GetMyRegisterEntryResponse(national_id=subject.key, fields=fields)

    @rpc(citizen(contexts=PERSON_CONTEXTS))
    async def GetMyDrivingLicencePoints(
        self, request: pb.GetMyDrivingLicencePointsRequest, call: Call
    ) -> pb.GetMyDrivingLicencePointsResponse:
        subject = await self._person(call, "data:read", "read the driving licence points")
        fields = await self._read(call, subject, CITIZEN_SELF, SourceCode.DRIVING_LICENCES)
        return pb.GetMyDrivingLicencePointsResponse(fields=fields)

    @rpc(citizen(contexts=PERSON_CONTEXTS))
    async def GetMyTaxCredit(
        self, request: pb.GetMyTaxCreditRequest, call: Call
    ) -> pb.GetMyTaxCreditResponse:
        subject = await self._person(call, "data:read", "read the tax credit")
        fields = await self._read(call, subject, CITIZEN_SELF, SourceCode.TAX_CREDITS)
        return pb.GetMyTaxCreditResponse(fields=fields)

    @rpc(citizen(contexts=COMPANY_CONTEXT))
    async def GetMyCompanyEntry(
        self, request: pb.GetMyCompanyEntryRequest, call: Call
    ) -> pb.GetMyCompanyEntryResponse:
        subject = await self._subject(call, "data:read", "read the company register entry")
        fields = await self._read(call, subject, CITIZEN_COMPANY, SourceCode.COMPANY_REGISTER)
        return pb.GetMyCompanyEntryResponse(company_number=subject.key, fields=fields)

    @rpc(citizen(contexts=COMPANY_CONTEXT))
    async def GetMyVatBalance(
        self, request: pb.GetMyVatBalanceRequest, call: Call
    ) -> pb.GetMyVatBalanceResponse:
        subject = await self._subject(call, "data:read", "read the VAT balance")
        fields = await self._read(call, subject, CITIZEN_COMPANY, SourceCode.VAT_ACCOUNTS)
        return pb.GetMyVatBalanceResponse(fields=fields)

    # ---- certificates ----

    @rpc(citizen(contexts=PERSON_CONTEXTS))
    async def IssueCertificate(
        self, request: pb.IssueCertificateRequest, call: Call
    ) -> pb.IssueCertificateResponse:
        errors: list[FieldError] = []
        kind = wire.CERTIFICATE_KINDS.get(request.kind)
        if kind is None:
            errors.append(
                FieldError(
                    "kind",
                    "unknown",
                    _("Choose a residence or a household composition certificate."),
                )
            )
        language: Language | None = None
        try:
            language = request_language(
                request.language, message=_("Certificates are issued in fr, de or en.")
            )
        except InvalidInput as error:
            errors.extend(error.fields)
        if errors or kind is None or language is None:
            raise InvalidInput(
                "INVALID_CERTIFICATE_REQUEST", _("The certificate request has errors."), errors
            )
        subject = await self._person(call, "data:read", f"issued a {kind.value} certificate")
        issued = await certificates.issue_certificate(
            call.session,
            SyntheticRegisters(call.session),
            self._sealer,
            kind=kind,
            language=language,
            subject=subject,
            reader=self._reader(call),
            public_base_url=self._public_base_url,
        )
        certificate = issued.certificate
        return pb.IssueCertificateResponse(
            certificate=wire.certificate_to_proto(
                certificate, issued.verify_url, current_language()
            ),
            pdf=issued.pdf,
            filename=f"{kind.value}-certificate-{certificate.id}.pdf",
        )

    # ---- access log ----

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListMyDataAccesses(
        self, request: pb.ListMyDataAccessesRequest, call: Call
    ) -> pb.ListMyDataAccessesResponse:
        errors: list[FieldError] = []
        if not 0 <= request.limit <= access.MAX_PAGE:
            errors.append(
                FieldError(
                    "limit",
                    "out_of_range",
                    _("Ask for 1 to {limit} entries.", limit=access.MAX_PAGE),
                )
            )
        before: int | None = None
        if request.page_token:
            if (
                request.page_token.isascii()
                and request.page_token.isdigit()
                and len(request.page_token) < 19
            ):
                before = int(request.page_token)
            else:
                errors.append(
                    FieldError(
                        "page_token", "invalid", _("Use the page token of the previous page.")
                    )
                )
        if errors:
            raise InvalidInput("INVALID_PAGE_REQUEST", _("The page request has errors."), errors)
        subject = await self._subject(call, "data:read", "read who accessed the data")
        limit = request.limit or DEFAULT_PAGE
        entries = await access.accesses_of(call.session, subject, limit + 1, before)
        page = entries[:limit]
        language = current_language()
        return pb.ListMyDataAccessesResponse(
            accesses=[
                wire.access_to_proto(
                    entry, call.person.national_id, language, company=subject.kind == "company"
                )
                for entry in page
            ],
            next_page_token=str(page[-1].id) if len(entries) > limit else "",
        )

    # ---- reports ----

    @rpc(citizen(contexts=ANY_CONTEXT))
    async def ReportWrongData(
        self, request: pb.ReportWrongDataRequest, call: Call
    ) -> pb.ReportWrongDataResponse:
        subject = await self._subject(call, "data:write", "reported wrong data")
        report = await reports.file_report(
            call.session,
            subject,
            call.person.national_id,
            request.field,
            request.comment,
            request.proposed_value,
        )
        return pb.ReportWrongDataResponse(report=wire.report_to_proto(report, current_language()))

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListMyDataReports(
        self, request: pb.ListMyDataReportsRequest, call: Call
    ) -> pb.ListMyDataReportsResponse:
        subject = await self._subject(call, "data:read", "read the reports of wrong data")
        language = current_language()
        return pb.ListMyDataReportsResponse(
            reports=[
                wire.report_to_proto(report, language)
                for report in await reports.reports_of(call.session, subject)
            ]
        )
