"""Who is calling: Keycloak access tokens, levels of assurance, and the acting context.

The gateway and every service verify the caller's token themselves (issuer, audience, expiry,
signature). Signing keys come from the issuer's JWKS, fetched once and kept; an unknown `kid`
(key rotation) triggers one refetch, at most every `refetch_interval` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

import httpx
import jwt
from jwt import PyJWK

from guichet_kit.domain import Unauthenticated
from guichet_kit.i18n import Catalog

_ = Catalog("guichet_kit")

AUTHORIZATION_KEY = "authorization"
ACTING_CONTEXT_KEY = "x-acting-context"
ACTING_CONTEXT_HEADER = "X-Acting-Context"


class LevelOfAssurance(IntEnum):
    """eIDAS levels as Keycloak's `acr` claim names them."""

    LOW = 1
    SUBSTANTIAL = 2
    HIGH = 3

    @property
    def acr(self) -> str:
        return self.name.lower()

    @classmethod
    def from_acr(cls, acr: str | None) -> LevelOfAssurance | None:
        try:
            return cls[(acr or "").upper()]
        except KeyError:
            return None


ContextKind = Literal["private", "company", "relation"]


@dataclass(frozen=True)
class ActingContext:
    """In whose name a request is made: the caller's own private space, a company, a relation."""

    kind: ContextKind
    id: str = ""

    @classmethod
    def parse(cls, text: str | None) -> ActingContext:
        value = (text or "").strip()
        if value in ("", "private"):
            return PRIVATE
        kind, sep, ident = value.partition(":")
        if not sep or kind not in ("company", "relation") or not ident or len(ident) > 64:
            raise ValueError(
                f"acting context must be private, company:<id> or relation:<id>: {value!r}"
            )
        return cls(kind, ident)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.kind if self.kind == "private" else f"{self.kind}:{self.id}"


PRIVATE = ActingContext("private")


@dataclass(frozen=True)
class Principal:
    """The verified caller."""

    subject: str
    level: LevelOfAssurance
    national_id: str
    email: str
    name: str
    token: str

    @property
    def person(self) -> str:
        """Owner key of the caller's own private space."""
        return f"person:{self.national_id}"


class InvalidToken(Exception):
    """The token is missing a claim, expired, badly signed, or not for this platform."""


class RevokedToken(InvalidToken):
    """A valid token of an account that was deleted since it was issued."""


class RevokedSubjects:
    """Subjects whose account was deleted: their tokens, still unexpired, are refused.

    Fed by the deletion events (`guichet_kit.revocation`); an entry is kept as long as a token
    issued before the deletion can live, then forgotten.
    """

    def __init__(self, keep_seconds: float = 3600.0) -> None:
        self._keep = keep_seconds
        self._until: dict[str, float] = {}
        self._listeners: list[Callable[[str], None]] = []

    def revoke(self, subject: str) -> None:
        now = time.monotonic()
        self._until = {s: t for s, t in self._until.items() if t > now}
        self._until[subject] = now + self._keep
        for listener in self._listeners:
            listener(subject)

    def on_revoke(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def __contains__(self, subject: object) -> bool:
        until = self._until.get(subject) if isinstance(subject, str) else None
        return until is not None and until > time.monotonic()


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    expires_at: float  # the token's own `exp`, in time.time() seconds


class IssuerUnavailable(Exception):
    """The issuer's signing keys could not be fetched: an outage, not the caller's fault."""


class TokenVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        ca_file: Path | None = None,
        leeway_seconds: float = 30.0,
        refetch_interval: float = 30.0,
        revoked: RevokedSubjects | None = None,
        cache_size: int = 10_000,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._audience = audience
        self._jwks_url = f"{self._issuer}/protocol/openid-connect/certs"
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        )
        self._leeway = leeway_seconds
        self._refetch_interval = refetch_interval
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        # A token is verified once per process, then served from here until it expires: keyed by
        # its hash (the token itself is a credential), bounded, dropped when its subject is revoked.
        self._verified: dict[bytes, _Verified] = {}
        self._cache_size = cache_size
        self.revoked = revoked or RevokedSubjects()
        self.revoked.on_revoke(self._forget_subject)

    def _forget_subject(self, subject: str) -> None:
        self._verified = {
            key: entry
            for key, entry in self._verified.items()
            if entry.principal.subject != subject
        }

    async def _refresh_keys(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._refetch_interval:
                return
            try:
                async with httpx.AsyncClient(verify=self._verify, timeout=5.0) as client:
                    response = await client.get(self._jwks_url)
                    response.raise_for_status()
            except httpx.HTTPError as error:
                # Try again in a couple of seconds, not on every request meanwhile.
                self._fetched_at = time.monotonic() - self._refetch_interval + 2.0
                raise IssuerUnavailable(f"{self._jwks_url}: {error!r}") from error
            keys: dict[str, PyJWK] = {}
            for entry in response.json().get("keys", []):
                if entry.get("use", "sig") != "sig" or "kid" not in entry:
                    continue
                try:
                    keys[entry["kid"]] = PyJWK(entry)
                except jwt.PyJWTError:
                    continue  # an algorithm this platform does not accept
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> PyJWK:
        if kid not in self._keys:
            await self._refresh_keys()
        try:
            return self._keys[kid]
        except KeyError:
            raise InvalidToken("signed with an unknown key") from None

    async def verify(self, token: str) -> Principal:
        key = hashlib.sha256(token.encode()).digest()
        cached = self._verified.get(key)
        if cached is not None and cached.expires_at > time.time():
            principal = cached.principal
            if principal.subject in self.revoked:
                raise RevokedToken("the account of this token was deleted")
            return principal
        principal, expires_at = await self._verify_signature(token)
        if principal.subject in self.revoked:
            raise RevokedToken("the account of this token was deleted")
        if len(self._verified) >= self._cache_size:
            self._verified.pop(next(iter(self._verified)))  # the oldest entry
        self._verified[key] = _Verified(principal, expires_at)
        return principal

    async def decode(
        self, token: str, *, audience: str, require: tuple[str, ...] = ("exp", "iat", "iss", "aud")
    ) -> dict[str, Any]:
        """The claims of any JWT this issuer signed for `audience` (e.g. a logout token sent to
        a client), signature, issuer, audience and expiry checked."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidToken(f"not a JWT: {error}") from error
        key = await self._key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[key.algorithm_name],
                audience=audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": list(require)},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from error
        return claims

    async def _verify_signature(self, token: str) -> tuple[Principal, float]:
        claims = await self.decode(
            token, audience=self._audience, require=("exp", "iat", "iss", "aud", "sub")
        )
        level = LevelOfAssurance.from_acr(claims.get("acr"))
        if level is None:
            raise InvalidToken(f"unknown level of assurance {claims.get('acr')!r}")
        if not claims.get("national_id"):
            # Every citizen's data is keyed by it: a token without one would share a space.
            raise InvalidToken("no national identifier in the token")
        principal = Principal(
            subject=str(claims["sub"]),
            level=level,
            national_id=str(claims.get("national_id", "")),
            email=str(claims.get("email", "")),
            name=str(claims.get("name", "")),
            token=token,
        )
        return principal, float(claims["exp"])


# The caller of the current gRPC call (set by the kit's interceptor), and what an outgoing call
# forwards (set by the gateway for the request it serves).
_caller: ContextVar[Principal | None] = ContextVar("caller", default=None)
_context: ContextVar[ActingContext] = ContextVar("acting_context", default=PRIVATE)


def set_caller(principal: Principal | None, context: ActingContext = PRIVATE) -> None:
    _caller.set(principal)
    _context.set(context)


def caller() -> Principal | None:
    return _caller.get()


def acting_context() -> ActingContext:
    return _context.get()


def sign_in_required() -> Unauthenticated:
    return Unauthenticated("AUTHENTICATION_REQUIRED", _("Sign in to do this."))


def authenticated() -> Principal:
    principal = _caller.get()
    if principal is None:
        raise sign_in_required()
    return principal


def insufficient_level(required: LevelOfAssurance) -> Unauthenticated:
    """RFC 9470: the gateway answers 401 with `insufficient_user_authentication`."""
    return Unauthenticated(
        "INSUFFICIENT_USER_AUTHENTICATION",
        _("This needs the {level} level of assurance.", level=required.acr),
        metadata={"acr_values": required.acr},
    )


def require_level(principal: Principal, required: LevelOfAssurance) -> None:
    if principal.level < required:
        raise insufficient_level(required)


def forwarded_metadata() -> tuple[tuple[str, str], ...]:
    """Metadata an outgoing call carries so the callee knows the caller and the context."""
    principal = _caller.get()
    if principal is None:
        return ()
    return (
        (AUTHORIZATION_KEY, f"Bearer {principal.token}"),
        (ACTING_CONTEXT_KEY, str(_context.get())),
    )


@contextmanager
def in_own_name() -> Iterator[None]:
    """Calls made inside are the service's own (a platform service reading with its certificate):
    the signed-in person's token and acting context are not forwarded, nor needed."""
    caller_token = _caller.set(None)
    context_token = _context.set(PRIVATE)
    try:
        yield
    finally:
        _context.reset(context_token)
        _caller.reset(caller_token)


def bearer_token(value: str | None) -> str | None:
    scheme, _, token = (value or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
