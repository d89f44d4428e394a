"""Purpose-bound reads by platform services and by administrations, over mutual TLS (F55).

The subject is named in the request (a service or an administration reads about someone else),
so it is validated here: a national id with its check digits, a company number in its form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet.authentic_data.v1 import authentic_data_pb2_grpc as pb_grpc
from guichet_authentic_data.access import service as access
from guichet_authentic_data.api import wire
from guichet_authentic_data.api.peers import Authorities, issued_by
from guichet_authentic_data.registers.repository import SyntheticRegisters
from guichet_kit.domain import FieldErrors, InvalidInput
from guichet_kit.i18n import Catalog, current_language
from guichet_kit.servicers import Call, DeclaredServicer, administration, platform_service, rpc
from guichet_kit.values import (
    InvalidValue,
    parse_company_number,
    parse_human_text,
    parse_national_id,
)

_ = Catalog("guichet_authentic_data")

MAX_REFERENCE = 200
MAX_AGENT = 100
PLATFORM_READERS = ("identity", "procedures")


class ReadRequest(Protocol):
    @property
    def purpose(self) -> str: ...
    @property
    def subject(self) -> pb.DataSubject: ...
    @property
    def fields(self) -> Sequence[str]: ...
    @property
    def request_reference(self) -> str: ...


def _subject(request: ReadRequest, errors: FieldErrors) -> access.Subject | None:
    which = request.subject.WhichOneof("subject")
    try:
        if which == "national_id":
            return access.Subject("person", parse_national_id(request.subject.national_id).value)
        if which == "company_number":
            return access.Subject("company", parse_company_number(request.subject.company_number))
    except InvalidValue as error:
        errors.add(f"subject.{which}", error.reason, error.message)
        return None
    errors.add("subject", "required", _("Name the person (national id) or the company."))
    return None


def _text(errors: FieldErrors, field: str, text: str, limit: int) -> str:
    try:
        return parse_human_text(text, max_length=limit)
    except InvalidValue as error:
        errors.add(field, error.reason, error.message)
        return ""


def _checked(request: ReadRequest, errors: FieldErrors) -> tuple[access.Subject, str]:
    if not request.purpose:
        errors.add("purpose", "required", _("Declare the purpose of the read."))
    subject = _subject(request, errors)
    reference = _text(errors, "request_reference", request.request_reference, MAX_REFERENCE)
    if errors or subject is None:
        raise InvalidInput("INVALID_DATA_READ", _("The read request has errors."), errors.errors)
    return subject, reference


class _Reading(DeclaredServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        authorities: Authorities,
        events_written: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(sessions, events_written)
        self.authorities = authorities

    async def _read(
        self,
        call: Call,
        request: ReadRequest,
        reader: access.Reader,
        subject: access.Subject,
        reference: str,
    ) -> access.Read:
        return await access.read_for_purpose(
            call.session,
            SyntheticRegisters(call.session),
            purpose=request.purpose,
            subject=subject,
            fields=list(request.fields),
            reader=reader,
            request_reference=reference,
        )


class PlatformDataServicer(_Reading, pb_grpc.PlatformDataServiceServicer):
    @issued_by("platform")
    @rpc(platform_service(*PLATFORM_READERS))
    async def ReadData(self, request: pb.ReadDataRequest, call: Call) -> pb.ReadDataResponse:
        subject, reference = _checked(request, FieldErrors())
        reader = access.Reader("platform_service", call.service or "")
        read = await self._read(call, request, reader, subject, reference)
        return pb.ReadDataResponse(
            fields=wire.fields_to_proto(read.values, current_language()),
            access_id=str(read.access.access_id),
        )


class AdministrationDataServicer(_Reading, pb_grpc.AdministrationDataServiceServicer):
    @issued_by("administrations")
    @rpc(administration())
    async def ReadAdministrationData(
        self, request: pb.ReadAdministrationDataRequest, call: Call
    ) -> pb.ReadAdministrationDataResponse:
        errors = FieldErrors()
        agent = _text(errors, "agent", request.agent, MAX_AGENT)
        subject, reference = _checked(request, errors)
        reader = access.Reader("administration", call.administration or "", agent=agent)
        read = await self._read(call, request, reader, subject, reference)
        return pb.ReadAdministrationDataResponse(
            fields=wire.fields_to_proto(read.values, current_language()),
            access_id=str(read.access.access_id),
        )
