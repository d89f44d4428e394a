"""Request-scoped dependencies: service stubs, the caller's language, the lookup rate limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from guichet.etracking.v1 import etracking_pb2_grpc as etracking_grpc
from guichet_kit.i18n import Language, pick_language
from guichet_kit.problems import Problem

from guichet_gateway.ratelimit import RateLimiter


@dataclass(frozen=True)
class ServiceStubs:
    etracking: etracking_grpc.TrackingServiceAsyncStub


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


def _limit_lookups(request: Request) -> None:
    limiter: RateLimiter = request.app.state.lookup_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.acquire(client)
    if wait:
        raise Problem(429, "RATE_LIMITED", headers={"Retry-After": str(max(1, round(wait)))})


Calls = Annotated[ServiceStubs, Depends(_calls)]
LanguageDep = Annotated[Language, Depends(_language)]
limit_lookups = Depends(_limit_lookups)
