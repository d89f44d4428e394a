"""Request-scoped dependencies: the caller, service stubs, the caller's language, rate limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from guichet.etracking.v1 import etracking_pb2_grpc as etracking_grpc
from guichet.identity.v1 import identity_pb2_grpc as identity_grpc
from guichet_gateway.ratelimit import RateLimiter
from guichet_kit.auth import (
    ACTING_CONTEXT_HEADER,
    ActingContext,
    InvalidToken,
    IssuerUnavailable,
    LevelOfAssurance,
    Principal,
    TokenVerifier,
    bearer_token,
    set_caller,
)
from guichet_kit.errors import FieldError
from guichet_kit.i18n import Language, pick_language
from guichet_kit.problems import Problem, www_authenticate


@dataclass(frozen=True)
class ServiceStubs:
    etracking: etracking_grpc.TrackingServiceAsyncStub
    accounts: identity_grpc.AccountServiceAsyncStub
    profiles: identity_grpc.ProfileServiceAsyncStub
    relations: identity_grpc.RelationServiceAsyncStub
    spaces: identity_grpc.SpaceServiceAsyncStub


def _calls(request: Request) -> ServiceStubs:
    stubs: ServiceStubs = request.app.state.stubs
    return stubs


def _language(
    request: Request,
    lang: Annotated[
        Language | None, Query(description="fr, de or en; else Accept-Language")
    ] = None,
) -> Language:
    return pick_language(request.headers.get("accept-language"), lang)


async def verify_caller(request: Request, required: bool) -> Principal | None:
    """Verify the bearer token; what is forwarded to the services is set for this request."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        if required:
            raise Problem(401, "AUTHENTICATION_REQUIRED", headers={"WWW-Authenticate": "Bearer"})
        set_caller(None)
        return None
    verifier: TokenVerifier = request.app.state.verifier
    try:
        principal = await verifier.verify(token)
    except IssuerUnavailable as error:
        raise Problem(503, "IDENTITY_PROVIDER_UNAVAILABLE") from error
    except InvalidToken as error:
        raise Problem(
            401,
            "INVALID_TOKEN",
            str(error),
            headers={"WWW-Authenticate": www_authenticate("INVALID_TOKEN", {})},
        ) from error
    try:
        context = ActingContext.parse(request.headers.get(ACTING_CONTEXT_HEADER))
    except ValueError as error:
        raise Problem(
            422,
            "INVALID_ACTING_CONTEXT",
            str(error),
            [FieldError(ACTING_CONTEXT_HEADER, "format", str(error))],
        ) from error
    # The services check the context against identity's mandates; the gateway only forwards it.
    set_caller(principal, context)
    return principal


async def _required_caller(request: Request) -> Principal:
    principal = await verify_caller(request, required=True)
    assert principal is not None
    return principal


async def _optional_caller(request: Request) -> Principal | None:
    return await verify_caller(request, required=False)


def require_level(level: LevelOfAssurance) -> Any:
    """A route dependency answering a lower token with the RFC 9470 step-up challenge."""

    async def check(principal: Annotated[Principal, Depends(_required_caller)]) -> None:
        if principal.level < level:
            raise Problem(
                401,
                "INSUFFICIENT_USER_AUTHENTICATION",
                f"this needs the {level.acr} level of assurance",
                headers={
                    "WWW-Authenticate": www_authenticate(
                        "INSUFFICIENT_USER_AUTHENTICATION", {"acr_values": level.acr}
                    )
                },
            )

    return Depends(check)


def _limit(name: str) -> Any:
    def check(request: Request) -> None:
        limiter: RateLimiter = getattr(request.app.state, name)
        client = request.client.host if request.client else "unknown"
        wait = limiter.acquire(client)
        if wait:
            raise Problem(429, "RATE_LIMITED", headers={"Retry-After": str(max(1, round(wait)))})

    return Depends(check)


Calls = Annotated[ServiceStubs, Depends(_calls)]
LanguageDep = Annotated[Language, Depends(_language)]
CurrentUser = Annotated[Principal, Depends(_required_caller)]
OptionalUser = Annotated[Principal | None, Depends(_optional_caller)]
limit_lookups = _limit("lookup_limiter")
# Account creation and password reset: public, and mail-sending, so limited like lookups.
limit_account_requests = _limit("account_limiter")
