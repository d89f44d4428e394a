"""Request-scoped dependencies: the caller, service stubs, the caller's language, rate limits.

Each dependency also says what it means for the routes using it (`DECLARED`): the OpenAPI
document is written from these declarations (a token required or optional, the acting context,
a rate limit, service calls), so the spec and the checks cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from guichet.authentic_data.v1 import authentic_data_pb2_grpc as authentic_data_grpc
from guichet.etracking.v1 import etracking_pb2_grpc as etracking_grpc
from guichet.identity.v1 import identity_pb2_grpc as identity_grpc
from guichet.messaging.v1 import exchanges_pb2_grpc as exchanges_grpc
from guichet.messaging.v1 import messaging_pb2_grpc as messaging_grpc
from guichet.procedures.v1 import procedures_pb2_grpc as procedures_grpc
from guichet.wallet.v1 import wallet_pb2_grpc as wallet_grpc
from guichet_gateway.ratelimit import ANONYMOUS_CREATIONS, LimitFamily, RateLimiter
from guichet_kit.auth import (
    ACTING_CONTEXT_HEADER,
    PRIVATE,
    ActingContext,
    InvalidToken,
    IssuerUnavailable,
    Principal,
    RevokedToken,
    TokenVerifier,
    bearer_token,
    set_caller,
)
from guichet_kit.errors import FieldError
from guichet_kit.i18n import Catalog, Language, pick_language
from guichet_kit.problems import Problem, www_authenticate

_ = Catalog("guichet_gateway")

# private, company:<space id> or relation:<relation id>, exactly (no spaces, no empty value).
ACTING_CONTEXT_PATTERN = r"^(?:private|(?:company|relation):[0-9A-Za-z-]{1,64})$"
ACTING_CONTEXT_MAX_LENGTH = 73
_ACTING_CONTEXT = re.compile(ACTING_CONTEXT_PATTERN)


@dataclass(frozen=True)
class Declared:
    """What a dependency means for the routes using it, as the API documentation tells it."""

    bearer: Literal["required", "optional"] | None = None
    limit: LimitFamily | None = None
    calls_services: bool = False
    acts_in_context: bool = False


DECLARED: dict[Callable[..., Any], Declared] = {}


def _declare(declared: Declared) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        DECLARED[function] = declared
        return function

    return register


@dataclass(frozen=True)
class ServiceStubs:
    data: authentic_data_grpc.MyDataServiceAsyncStub
    certificates: authentic_data_grpc.CertificateVerificationServiceAsyncStub
    etracking: etracking_grpc.TrackingServiceAsyncStub
    accounts: identity_grpc.AccountServiceAsyncStub
    profiles: identity_grpc.ProfileServiceAsyncStub
    relations: identity_grpc.RelationServiceAsyncStub
    spaces: identity_grpc.SpaceServiceAsyncStub
    procedures: procedures_grpc.ProceduresServiceAsyncStub
    # F21: requests filed without an account, and their claim.
    procedures_anonymous: procedures_grpc.AnonymousProceduresServiceAsyncStub
    wallet: wallet_grpc.WalletServiceAsyncStub
    # Uploads go through a threaded channel (uploads.stream_into says why).
    wallet_uploads: wallet_grpc.WalletServiceStub
    # F25: a request's files, streamed the same way.
    procedures_uploads: procedures_grpc.ProceduresServiceStub
    # F65: the person's notification centre.
    messaging: messaging_grpc.MessagingServiceAsyncStub
    # F60 to F62, F66: the person's exchanges with administrations.
    exchanges: exchanges_grpc.ExchangeServiceAsyncStub
    # Their files, streamed the same way.
    exchanges_uploads: exchanges_grpc.ExchangeServiceStub


# Every dependency is `async def`: FastAPI runs a plain `def` one in the thread pool, which cost
# the gateway a sixth of its time under load.


@_declare(Declared(calls_services=True))
async def _calls(request: Request) -> ServiceStubs:
    stubs: ServiceStubs = request.app.state.stubs
    return stubs


async def _language(
    request: Request,
    lang: Annotated[
        Language | None, Query(description="fr, de or en; else Accept-Language")
    ] = None,
) -> Language:
    return pick_language(request.headers.get("accept-language"), lang)


def _acting_context(request: Request) -> ActingContext:
    text = request.headers.get(ACTING_CONTEXT_HEADER)
    if text is None:
        return PRIVATE
    if len(text) > ACTING_CONTEXT_MAX_LENGTH or not _ACTING_CONTEXT.fullmatch(text):
        # The value is not repeated: it is the caller's own input, of any length.
        message = _("Give private, company:<space id> or relation:<relation id>.")
        raise Problem(
            422,
            "INVALID_ACTING_CONTEXT",
            "",
            [FieldError(ACTING_CONTEXT_HEADER, "format", message)],
        )
    return ActingContext.parse(text)


async def verify_caller(request: Request, required: bool) -> Principal | None:
    """Verify the bearer token; what is forwarded to the services is set for this request."""
    context = _acting_context(request)
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        if required or context != PRIVATE:
            # Acting for a company or a person needs to be someone first.
            raise Problem(401, "AUTHENTICATION_REQUIRED", headers={"WWW-Authenticate": "Bearer"})
        set_caller(None)
        return None
    verifier: TokenVerifier = request.app.state.verifier
    try:
        principal = await verifier.verify(token)
    except IssuerUnavailable as error:
        raise Problem(503, "IDENTITY_PROVIDER_UNAVAILABLE") from error
    except RevokedToken as error:
        raise Problem(
            401,
            "TOKEN_REVOKED",
            headers={"WWW-Authenticate": www_authenticate("INVALID_TOKEN", {})},
        ) from error
    except InvalidToken as error:
        raise Problem(
            401,
            "INVALID_TOKEN",
            str(error),
            headers={"WWW-Authenticate": www_authenticate("INVALID_TOKEN", {})},
        ) from error
    # The services check the context against identity's mandates; the gateway only forwards it.
    set_caller(principal, context)
    return principal


@_declare(Declared(bearer="required"))
async def _required_caller(request: Request) -> Principal:
    principal = await verify_caller(request, required=True)
    assert principal is not None
    return principal


@_declare(Declared(bearer="optional"))
async def _optional_caller(request: Request) -> Principal | None:
    return await verify_caller(request, required=False)


@_declare(Declared(acts_in_context=True))
async def _acts_in_context() -> None:
    """Marks a route that acts in the context of `X-Acting-Context` (read with the token)."""


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refuse_when_spent(request: Request, family: LimitFamily) -> None:
    limiter: RateLimiter = request.app.state.limiters[family.name]
    wait = limiter.acquire(_client(request))
    if wait:
        raise Problem(429, family.reason, headers={"Retry-After": str(max(1, round(wait)))})


def _limit(family: LimitFamily) -> Any:
    @_declare(Declared(limit=family))
    async def check(request: Request) -> None:
        _refuse_when_spent(request, family)

    return Depends(check)


@_declare(Declared(limit=ANONYMOUS_CREATIONS))
async def _limit_anonymous_creations(
    request: Request, principal: Annotated[Principal | None, Depends(_optional_caller)]
) -> None:
    if principal is None:
        _refuse_when_spent(request, ANONYMOUS_CREATIONS)


Calls = Annotated[ServiceStubs, Depends(_calls)]
LanguageDep = Annotated[Language, Depends(_language)]
CurrentUser = Annotated[Principal, Depends(_required_caller)]
OptionalUser = Annotated[Principal | None, Depends(_optional_caller)]
acts_in_context = Depends(_acts_in_context)
rate_limit = _limit
limit_anonymous_creations = Depends(_limit_anonymous_creations)
