"""Acting for someone else: the acting context checked against identity's mandates.

A request in a company's or a relation's context is allowed only when identity says the caller
holds that mandate with the right needed; the answer is cached briefly (never past the mandate's
expiry), except for acts, which are always checked so that each is written to the audit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc

from guichet.identity.v1 import identity_pb2 as identity
from guichet.identity.v1 import identity_pb2_grpc as identity_grpc
from guichet_kit.auth import ActingContext, Principal
from guichet_kit.domain import Forbidden
from guichet_kit.i18n import Catalog, Text

_ = Catalog("guichet_kit")

CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class _Decision:
    owner: str
    refusal: str
    valid_until: float


class MandateChecker:
    def __init__(self, identity_channel: grpc.aio.Channel, cache_seconds: float = CACHE_SECONDS):
        self._stub = identity_grpc.RelationServiceStub(identity_channel)
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str, str], _Decision] = {}

    async def owner(
        self, principal: Principal, context: ActingContext, right: str, act: str = ""
    ) -> str:
        """Whose data the caller acts on: `person:<id>` or `company:<id>`; refuses otherwise."""
        if context.kind == "private":
            return principal.person
        key = (principal.subject, str(context), right)
        now = time.monotonic()
        decision = self._cache.get(key)
        if act or decision is None or decision.valid_until <= now:
            decision = await self._ask(principal, context, right, act, now)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = decision
        if decision.refusal:
            raise Forbidden(
                "MANDATE_REFUSED",
                _refusal_text(decision.refusal, right),
                metadata={"refusal": decision.refusal},
            )
        return decision.owner

    async def _ask(
        self, principal: Principal, context: ActingContext, right: str, act: str, now: float
    ) -> _Decision:
        reply = await self._stub.CheckMandate(
            identity.CheckMandateRequest(
                actor_subject=principal.subject, acting_context=str(context), right=right, act=act
            )
        )
        valid_until = now + self._cache_seconds
        if reply.HasField("expires_at"):
            remaining = reply.expires_at.ToSeconds() - time.time()
            valid_until = min(valid_until, now + max(remaining, 0.0))
        if reply.allowed:
            return _Decision(reply.owner, "", valid_until)
        return _Decision("", reply.refusal or "NOT_ALLOWED", valid_until)


def _refusal_text(refusal: str, right: str) -> Text:
    """Why, for the person: a mandate that ended says so (identity tells only its own actor)."""
    if refusal == "EXPIRED":
        return _("Your mandate in this context has expired: ask for a new one.")
    if refusal == "REVOKED":
        return _("Your mandate in this context was revoked.")
    return _("You hold no mandate with the right {right} in this context.", right=right)
