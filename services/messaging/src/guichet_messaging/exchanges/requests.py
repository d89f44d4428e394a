"""Procedures confirms a request for its thread (F60): messaging asks procedures' own RPCs with the
person's token (forwarded by the kit's channel), so only a request the person may read is found —
procedures decides, as for the person's own page — and the request's procedure names the
administration that receives the messages."""

from __future__ import annotations

import grpc

from guichet.procedures.v1 import procedures_pb2 as procedures
from guichet.procedures.v1 import procedures_pb2_grpc as procedures_grpc
from guichet_kit.domain import NotFound, Unavailable
from guichet_kit.i18n import Catalog
from guichet_kit.references import InvalidReference, Reference
from guichet_messaging.exchanges.service import RequestFacts

_ = Catalog("guichet_messaging")

# A request that went to an administration (a draft has none yet).
_SENT = frozenset(
    {
        procedures.REQUEST_STATE_SUBMITTED,
        procedures.REQUEST_STATE_ACTION_NEEDED,
        procedures.REQUEST_STATE_CLOSED,
        procedures.REQUEST_STATE_CANCELLED,
    }
)


class RequestReference(Reference):
    """procedures' reference scheme, read here only to refuse a malformed one before asking."""

    __slots__ = ()
    PREFIX = "PR"


def no_such_request() -> NotFound:
    return NotFound("NO_SUCH_REQUEST", _("You have no submitted request with this reference."))


def parse_request_reference(text: str) -> str:
    """The display form (PR-XXXX-XXXX-C), or NO_SUCH_REQUEST for a text that is none."""
    try:
        return RequestReference.parse(text).display
    except InvalidReference:
        raise no_such_request() from None


class ProcedureRequests:
    """procedures' internal port (the gateway's too): GetRequest, then GetProcedure."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = procedures_grpc.ProceduresServiceStub(channel)

    async def find(self, reference: str) -> RequestFacts:
        try:
            found = (
                await self._stub.GetRequest(procedures.GetRequestRequest(request_id=reference))
            ).request
            if found.state not in _SENT or not found.reference:
                raise no_such_request()
            form = (
                await self._stub.GetProcedure(
                    procedures.GetProcedureRequest(
                        code=found.procedure_code, version=found.procedure_version
                    )
                )
            ).form
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise no_such_request() from None
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise Unavailable(
                    "PROCEDURES_UNAVAILABLE",
                    _("Your requests cannot be read just now: try again in a few minutes."),
                ) from error
            raise
        return RequestFacts(
            reference=found.reference,
            title=found.title,
            procedure_code=found.procedure_code,
            administration=form.procedure.administration,
        )
