"""CertificateVerificationService: the public check behind a certificate's QR code."""

from __future__ import annotations

import hmac

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet.authentic_data.v1 import authentic_data_pb2_grpc as pb_grpc
from guichet_authentic_data.api import wire
from guichet_authentic_data.certificates import service as certificates
from guichet_kit.domain import FieldErrors, InvalidInput
from guichet_kit.i18n import Catalog, current_language
from guichet_kit.servicers import Call, Db, DeclaredServicer, public, rpc
from guichet_kit.values import InvalidValue, parse_uuid

_ = Catalog("guichet_authentic_data")

_HEX = frozenset("0123456789abcdef")


class VerificationServicer(DeclaredServicer, pb_grpc.CertificateVerificationServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, public_base_url: str) -> None:
        super().__init__(sessions)
        self._public_base_url = public_base_url

    @rpc(public(), db=Db.READ)
    async def VerifyCertificate(
        self, request: pb.VerifyCertificateRequest, call: Call
    ) -> pb.VerifyCertificateResponse:
        errors = FieldErrors()
        certificate_id = None
        try:
            certificate_id = parse_uuid(request.certificate_id)
        except InvalidValue as error:
            errors.add("certificate_id", error.reason, _("This is not a certificate id."))
        given = request.sha256.strip().lower()
        if given and (len(given) != 64 or not set(given) <= _HEX):
            errors.add("sha256", "invalid", _("A SHA-256 is 64 hexadecimal characters."))
        if errors:
            raise InvalidInput(
                "INVALID_VERIFICATION", _("The verification request has errors."), errors.errors
            )
        assert certificate_id is not None
        certificate = await certificates.find_certificate(call.session, certificate_id)
        url = certificates.verify_url(self._public_base_url, certificate.id)
        return pb.VerifyCertificateResponse(
            certificate=wire.certificate_to_proto(certificate, url, current_language()),
            sha256_given=bool(given),
            sha256_matches=bool(given) and hmac.compare_digest(given, certificate.sha256),
        )
