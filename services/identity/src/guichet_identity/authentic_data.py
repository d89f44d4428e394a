"""The registers as the authentic-data service answers them: a purpose-bound read over mutual TLS
with identity's platform certificate (PlatformDataService.ReadData)."""

from __future__ import annotations

from pathlib import Path

import grpc

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet.authentic_data.v1 import authentic_data_pb2_grpc as pb_grpc
from guichet_identity.registers import registers_unavailable
from guichet_kit.auth import in_own_name
from guichet_kit.grpc_client import mutual_tls_channel

# The purposes granted to identity in authentic-data's registry of purposes.
DECLARE_CHILD = "identity:declare-child"
COMPANY_DIRECTOR = "identity:company-director"
CHILDREN = "person.children"
DIRECTORS = "company.directors"
# A platform service that cannot answer is an outage for the caller, not a bug here.
_OUTAGES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def authentic_data_channel(
    address: str, certificate: Path, private_key: Path, platform_ca: Path, *, timeout: float
) -> grpc.aio.Channel:
    """Identity's certificate says who calls; the platform CA says who answers."""
    return mutual_tls_channel(
        address,
        ca=platform_ca.read_bytes(),
        certificate=certificate.read_bytes(),
        private_key=private_key.read_bytes(),
        timeout=timeout,
    )


class AuthenticDataRegisters:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = pb_grpc.PlatformDataServiceStub(channel)

    async def _people(
        self, purpose: str, subject: pb.DataSubject, field: str, request_reference: str
    ) -> frozenset[str] | None:
        request = pb.ReadDataRequest(
            purpose=purpose, subject=subject, fields=[field], request_reference=request_reference
        )
        try:
            # Identity's own read (its certificate says who reads): the person's token stays here.
            with in_own_name():
                reply = await self._stub.ReadData(request)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None  # no entry for the subject in its register
            if error.code() in _OUTAGES:
                raise registers_unavailable() from error
            raise
        return frozenset(
            person.national_id
            for value in reply.fields
            if value.name == field
            for person in value.people.people
        )

    async def children_of(self, national_id: str, request_reference: str) -> frozenset[str] | None:
        subject = pb.DataSubject(national_id=national_id)
        return await self._people(DECLARE_CHILD, subject, CHILDREN, request_reference)

    async def directors_of(
        self, company_number: str, request_reference: str
    ) -> frozenset[str] | None:
        subject = pb.DataSubject(company_number=company_number)
        return await self._people(COMPANY_DIRECTOR, subject, DIRECTORS, request_reference)
