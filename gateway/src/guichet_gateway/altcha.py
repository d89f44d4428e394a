"""Anti-automation without a puzzle: ALTCHA proof-of-work challenges.

The gateway issues a signed challenge (`GET /api/v1/challenge`); the person's browser (the widget)
or an app finds the counter that solves it and sends the payload with the form (`altcha`). The
gateway then checks that the challenge is its own (HMAC), unexpired and solved, and records it as
spent in its database, shared by replicas: a solution is good for one request only. Nothing
else is kept, nothing about the person.

Registration, forgotten password and anonymous eTracking creation need one, on top of the rate
limits (a proof of work makes each request cost the client; the limits bound a client's rate).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import altcha
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from guichet_gateway.deps import rate_limit
from guichet_gateway.ratelimit import CHALLENGES
from guichet_gateway.store import metadata
from guichet_kit.errors import FieldError
from guichet_kit.i18n import Catalog, Text
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")

ALGORITHM = "PBKDF2/SHA-256"
# Long enough to solve and send a form (the widget solves when the form is sent), short enough
# that the spent records stay few.
LIFETIME = timedelta(minutes=5)
FIELD = "altcha"
# A payload is about 700 characters; anything much longer is not one.
PAYLOAD_MAX_LENGTH = 2000
REASON = "ANTI_ROBOT_CHECK_FAILED"

# Spent challenges, by their signature (an HMAC of the random nonce and salt: one per challenge),
# kept until they expire, after which the signature check refuses them anyway.
spent_challenges = sa.Table(
    "spent_challenges",
    metadata,
    sa.Column("signature", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


class Refusal(StrEnum):
    """Why a payload is refused (the field error's `reason`)."""

    MISSING = "missing"
    INVALID = "invalid"  # unreadable, not signed by this gateway, or not solved
    EXPIRED = "expired"
    REUSED = "reused"


MESSAGES: dict[Refusal, Text] = {
    Refusal.MISSING: _("Solve an anti-robot challenge (GET /api/v1/challenge) and send it."),
    Refusal.INVALID: _("The anti-robot challenge is not solved or not valid: solve a new one."),
    Refusal.EXPIRED: _("The anti-robot challenge has expired: solve a new one."),
    Refusal.REUSED: _("This anti-robot challenge was already used: solve a new one."),
}


def _key_signature_secret(key: bytes) -> bytes:
    # A second secret, derived, for the derived key's signature (fast verification): the
    # challenge's signature and the key's are never made with the same secret.
    return hmac.new(key, b"altcha derived key signature", hashlib.sha256).digest()


@dataclass(frozen=True)
class Solved:
    """A payload that passed every check but the single-use one."""

    signature: str
    expires_at: datetime


class Challenges:
    """Issues and checks this gateway's challenges. `cost` is PBKDF2's iterations per try and
    the order of the number of tries (the counter is drawn from [cost, 2 cost))."""

    def __init__(self, key: str, cost: int, engine: AsyncEngine | None = None) -> None:
        if not key:
            raise ValueError("the ALTCHA key must not be empty")
        self._key = key.encode()
        self._key_secret = _key_signature_secret(self._key)
        self.cost = cost
        self.engine = engine

    def issue(self, now: datetime | None = None) -> dict[str, Any]:
        """A fresh challenge, as the widget reads it (`parameters`, `signature`)."""
        now = now or datetime.now(UTC)
        challenge = altcha.create_challenge(
            ALGORITHM,
            self.cost,
            counter=self.cost + secrets.randbelow(self.cost),
            expires_at=now + LIFETIME,
            hmac_secret=self._key,
            hmac_key_secret=self._key_secret,
        )
        return challenge.to_dict()

    def check(self, payload: str | None) -> Solved | Refusal:
        """Every check that needs no database: the payload is this gateway's, unexpired, solved."""
        if not payload:
            return Refusal.MISSING
        if len(payload) > PAYLOAD_MAX_LENGTH:
            return Refusal.INVALID
        parsed = _parse(payload)
        if parsed is None:
            return Refusal.INVALID
        result = altcha.verify_solution(parsed, self._key, hmac_key_secret=self._key_secret)
        if result.expired:
            return Refusal.EXPIRED
        if not result.verified:
            return Refusal.INVALID
        expires_at = parsed.challenge.parameters.expires_at
        signature = parsed.challenge.signature
        if not isinstance(expires_at, int) or not isinstance(signature, str):
            return Refusal.INVALID  # every challenge this gateway issues expires
        return Solved(signature, datetime.fromtimestamp(expires_at, UTC))

    async def spend(self, payload: str | None, now: datetime | None = None) -> Refusal | None:
        """Checks the payload and records it as spent; None when it was good and unused."""
        checked = self.check(payload)
        if isinstance(checked, Refusal):
            return checked
        if self.engine is None:
            raise RuntimeError("no database to record spent challenges in")
        now = now or datetime.now(UTC)
        async with self.engine.begin() as connection:
            # What expired is refused by its signed expiry: its record is useless now.
            await connection.execute(
                sa.delete(spent_challenges).where(spent_challenges.c.expires_at < now)
            )
            recorded = await connection.execute(
                insert(spent_challenges)
                .values(signature=checked.signature, expires_at=checked.expires_at)
                .on_conflict_do_nothing()
                .returning(spent_challenges.c.signature)
            )
            if recorded.first() is None:
                return Refusal.REUSED
        return None


def _parse(payload: str) -> altcha.Payload | None:
    try:
        document = json.loads(base64.b64decode(payload, validate=True))
        parsed = altcha.Payload.from_dict(document)
        parameters = parsed.challenge.parameters
        # Types the library trusts: a forged payload must be refused, not crash the check.
        if not (
            isinstance(parameters.nonce, str)
            and isinstance(parameters.salt, str)
            and isinstance(parameters.key_prefix, str)
            and isinstance(parameters.cost, int)
            and isinstance(parameters.key_length, int)
            and isinstance(parsed.solution.derived_key, str)
        ):
            return None
        return parsed
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, binascii.Error):
        return None


def refusal_problem(refusal: Refusal) -> Problem:
    return Problem(422, REASON, "", [FieldError(FIELD, refusal.value, MESSAGES[refusal])])


def _challenges(request: Request) -> Challenges:
    challenges: Challenges = request.app.state.challenges
    return challenges


ChallengesDep = Annotated[Challenges, Depends(_challenges)]


async def require_solved(challenges: Challenges, payload: str | None) -> None:
    """For API routes: the payload spent, else a 422 problem naming the `altcha` field."""
    refusal = await challenges.spend(payload)
    if refusal is not None:
        raise refusal_problem(refusal)


# --- the API: a fresh challenge --------------------------------------------------------------

PAYLOAD_DESCRIPTION = (
    "The solved anti-robot challenge: a challenge from `GET /api/v1/challenge`, solved (ALTCHA "
    "proof of work, e.g. the `altcha` widget or library), as the base64 payload the widget "
    "makes. Good for one request; refused when missing, forged, expired or used "
    "(ANTI_ROBOT_CHECK_FAILED)."
)
PayloadField = Annotated[str, Field(max_length=PAYLOAD_MAX_LENGTH, description=PAYLOAD_DESCRIPTION)]

router = APIRouter(prefix="/api/v1", tags=["anti-automation"])


class ChallengeParametersOut(BaseModel):
    algorithm: str = Field(examples=[ALGORITHM])
    cost: int
    keyLength: int  # the widget's names
    keyPrefix: str
    nonce: str
    salt: str
    keySignature: str
    expiresAt: int = Field(description="Unix time, seconds")


class ChallengeOut(BaseModel):
    """An ALTCHA challenge (proof of work, PBKDF2): find the counter whose derived key starts
    with `keyPrefix`."""

    parameters: ChallengeParametersOut
    signature: str


@router.get("/challenge", response_model=ChallengeOut, dependencies=[rate_limit(CHALLENGES)])
async def get_challenge(challenges: ChallengesDep) -> dict[str, Any]:
    """A fresh anti-robot challenge, to solve before a registration, a password reset or an
    eTracking creation without sign-in; it expires after five minutes and serves once."""
    return challenges.issue()
