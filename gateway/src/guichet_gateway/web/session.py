"""The web client's sessions: the gateway keeps a signed-in person's tokens, the browser a cookie.

A backend-for-frontend (DESIGN §5): the access, refresh and ID tokens stay in the gateway's
database; the browser holds only a random key in an `HttpOnly; Secure; SameSite=Lax` cookie
(`__Host-` prefixed), of which the database keeps the SHA-256. A page's dependency loads the
session, refreshes the access token shortly before it expires (the refresh token is single use:
rotated at each refresh, one replica at a time thanks to a row lock), verifies it like any API
token and sets the caller, so a page calls the services exactly as an API route does.

Every state-changing form carries the session's CSRF token (synchronizer pattern), checked by
`csrf_protected` before the route runs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import cryptography.fernet
import sqlalchemy as sa
import structlog
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from guichet_gateway.store import sign_in_attempts, web_sessions
from guichet_gateway.web.oidc import OidcClient, SignInFailed, TokenSet
from guichet_kit.auth import (
    ActingContext,
    InvalidToken,
    IssuerUnavailable,
    Principal,
    TokenVerifier,
    set_caller,
)
from guichet_kit.i18n import LANGUAGES, Language, set_language
from guichet_kit.problems import Problem

log = structlog.get_logger(__name__)

# Refresh this long before the access token expires: a page's calls then never carry a token
# that expires on the way.
REFRESH_MARGIN = timedelta(seconds=30)
CSRF_FIELD = "csrf_token"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class CookiePolicy:
    """The session cookie's name and flags for the address browsers use.

    `Secure` and the `__Host-` prefix need an HTTPS origin; browsers count loopback addresses as
    one (so development and tests keep both). A plain-HTTP public name gets neither.
    """

    name: str
    secure: bool

    @classmethod
    def for_url(cls, public_url: str) -> CookiePolicy:
        parts = urlsplit(public_url)
        secure = parts.scheme == "https" or (parts.hostname or "") in _LOOPBACK
        return cls("__Host-guichet-session" if secure else "guichet-session", secure)

    def set(self, response: Response, key: str, max_age: int) -> None:
        response.set_cookie(
            self.name,
            key,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            self.name, path="/", secure=self.secure, httponly=True, samesite="lax"
        )


class TokenVault:
    """The tokens are stored encrypted (Fernet: AES-CBC and an HMAC, the key derived from the
    gateway's session key), so the table or a backup of it alone gives nobody's tokens."""

    def __init__(self, secret: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"guichet web session tokens"
        ).derive(secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def open(self, sealed: str) -> str:
        """The token; InvalidToken when it was sealed with another key."""
        return self._fernet.decrypt(sealed.encode()).decode()


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser, as a page sees it."""

    key_hash: bytes
    principal: Principal
    csrf_token: str
    acting_context: ActingContext
    id_token: str
    language: Language | None


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _now() -> datetime:
    return datetime.now(UTC)


class SessionStore:
    """Sessions in the gateway's database, and the Keycloak calls that keep them alive."""

    def __init__(
        self,
        engine: AsyncEngine,
        oidc: OidcClient,
        verifier: TokenVerifier,
        cookie: CookiePolicy,
        vault: TokenVault,
    ) -> None:
        self.engine = engine
        self.oidc = oidc
        self.verifier = verifier
        self.cookie = cookie
        self.vault = vault

    async def open(
        self, tokens: TokenSet, response: Response, language: Language | None = None
    ) -> str:
        """Store a new session for these tokens and give the browser its cookie."""
        key = secrets.token_urlsafe(32)
        now = _now()
        async with self.engine.begin() as connection:
            await connection.execute(
                web_sessions.insert().values(
                    key_hash=_hash(key),
                    subject=tokens.subject,
                    keycloak_session=tokens.keycloak_session,
                    access_token=self.vault.seal(tokens.access_token),
                    access_expires_at=tokens.access_expires_at,
                    refresh_token=self.vault.seal(tokens.refresh_token),
                    id_token=self.vault.seal(tokens.id_token),
                    csrf_token=secrets.token_urlsafe(32),
                    acting_context="private",
                    language=language.value if language else None,
                    created_at=now,
                    expires_at=tokens.refresh_expires_at,
                )
            )
        self.cookie.set(response, key, int((tokens.refresh_expires_at - now).total_seconds()))
        return key

    async def load(self, request: Request) -> WebSession | None:
        """The browser's session, its access token fresh and verified; None when there is none
        (no cookie, unknown, ended here or at Keycloak, account deleted)."""
        key = request.cookies.get(self.cookie.name)
        if not key:
            return None
        key_hash = _hash(key)
        async with self.engine.begin() as connection:
            row = (
                await connection.execute(
                    sa.select(web_sessions).where(
                        web_sessions.c.key_hash == key_hash, web_sessions.c.expires_at > _now()
                    )
                )
            ).first()
            if row is None:
                return None
            if row.access_expires_at - REFRESH_MARGIN <= _now():
                row = await self._refresh(connection, key_hash)
                if row is None:
                    return None
        try:
            principal = await self.verifier.verify(self.vault.open(row.access_token))
            id_token = self.vault.open(row.id_token)
        except IssuerUnavailable as error:
            raise Problem(503, "IDENTITY_PROVIDER_UNAVAILABLE") from error
        except (InvalidToken, cryptography.fernet.InvalidToken):
            # Revoked (account deleted), no longer acceptable, or sealed with a key since
            # replaced: the session ends here.
            await self.end(key_hash)
            return None
        return WebSession(
            key_hash=key_hash,
            principal=principal,
            csrf_token=row.csrf_token,
            acting_context=ActingContext.parse(row.acting_context),
            id_token=id_token,
            language=Language(row.language) if row.language in LANGUAGES else None,
        )

    async def _refresh(self, connection: AsyncConnection, key_hash: bytes) -> Any:
        # The row lock makes one request refresh; the others wait and read its new tokens
        # (a refresh token is single use: a second refresh with it would end the session).
        row = (
            await connection.execute(
                sa.select(web_sessions).where(web_sessions.c.key_hash == key_hash).with_for_update()
            )
        ).first()
        if row is None:
            return None
        if row.access_expires_at - REFRESH_MARGIN > _now():
            return row
        try:
            tokens = await self.oidc.refresh(self.vault.open(row.refresh_token))
        except (SignInFailed, cryptography.fernet.InvalidToken):
            # Keycloak ended the session (signed out elsewhere, idle, revoked).
            await connection.execute(
                web_sessions.delete().where(web_sessions.c.key_hash == key_hash)
            )
            log.info("web.session.refresh_refused")
            return None
        except IssuerUnavailable as error:
            raise Problem(503, "IDENTITY_PROVIDER_UNAVAILABLE") from error
        await connection.execute(
            web_sessions.update()
            .where(web_sessions.c.key_hash == key_hash)
            .values(
                access_token=self.vault.seal(tokens.access_token),
                access_expires_at=tokens.access_expires_at,
                refresh_token=self.vault.seal(tokens.refresh_token),
                id_token=self.vault.seal(tokens.id_token) if tokens.id_token else row.id_token,
                expires_at=tokens.refresh_expires_at,
            )
        )
        return (
            await connection.execute(
                sa.select(web_sessions).where(web_sessions.c.key_hash == key_hash)
            )
        ).first()

    async def end(self, key_hash: bytes) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                web_sessions.delete().where(web_sessions.c.key_hash == key_hash)
            )

    async def end_keycloak_session(self, keycloak_session: str | None, subject: str | None) -> int:
        """Back-channel logout: end the sessions Keycloak names (by `sid`, else every session
        of the subject). Returns how many ended."""
        condition = (
            web_sessions.c.keycloak_session == keycloak_session
            if keycloak_session
            else web_sessions.c.subject == subject
        )
        async with self.engine.begin() as connection:
            result = await connection.execute(web_sessions.delete().where(condition))
        return int(result.rowcount)

    async def end_subject(self, subject: str) -> None:
        """Every session of a deleted account."""
        await self.end_keycloak_session(None, subject)

    async def set_acting_context(self, key_hash: bytes, context: ActingContext) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                web_sessions.update()
                .where(web_sessions.c.key_hash == key_hash)
                .values(acting_context=str(context))
            )

    async def set_language(self, key_hash: bytes, language: Language) -> None:
        """The person changed their language preference: the session follows it."""
        async with self.engine.begin() as connection:
            await connection.execute(
                web_sessions.update()
                .where(web_sessions.c.key_hash == key_hash)
                .values(language=language.value)
            )

    async def purge(self) -> int:
        """Remove ended sessions and abandoned sign-ins (run periodically by each replica)."""
        now = _now()
        async with self.engine.begin() as connection:
            ended = await connection.execute(
                web_sessions.delete().where(web_sessions.c.expires_at <= now)
            )
            await connection.execute(
                sign_in_attempts.delete().where(sign_in_attempts.c.expires_at <= now)
            )
        return int(ended.rowcount)


async def purge_periodically(
    store: SessionStore, stop: asyncio.Event, every_seconds: float = 300.0
) -> None:
    """Each replica purges now and then; deleting what has ended twice is harmless."""
    while not stop.is_set():
        try:
            purged = await store.purge()
            if purged:
                log.info("web.sessions.purged", count=purged)
        except (sa.exc.SQLAlchemyError, OSError) as error:
            # The database is away: try again next time; the pages say it themselves meanwhile.
            log.warning("web.sessions.purge_failed", error=repr(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_seconds)


def store_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


async def _signed_in(request: Request) -> WebSession:
    session = await store_of(request).load(request)
    if session is None:
        # The page hook answers a page's 401 with a redirect to sign in and back.
        raise Problem(401, "AUTHENTICATION_REQUIRED")
    _start_using(request, session)
    return session


def _start_using(request: Request, session: WebSession) -> None:
    request.state.web_session = session
    set_caller(session.principal, session.acting_context)
    if session.language is not None and "lang" not in request.query_params:
        # The services answer in the person's language, not the browser's.
        set_language(session.language)


async def optional_session(request: Request) -> WebSession | None:
    """The session when there is one (a public page showing "my space" or "sign in")."""
    store = store_of(request)
    session = await store.load(request)
    if session is not None:
        _start_using(request, session)
    elif store.cookie.name in request.cookies:
        # Ended (signed out elsewhere, expired): the page forgets the cookie.
        request.state.ended_session = True
    return session


async def session_principal(request: Request) -> Principal | None:
    """The person of the browser's session, for routes that also take a bearer token (the live
    badges' stream)."""
    session = await optional_session(request)
    return session.principal if session else None


async def _csrf_protected(
    request: Request, session: Annotated[WebSession, Depends(_signed_in)]
) -> None:
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf_token):
        raise Problem(403, "CSRF_TOKEN_INVALID")


SignedIn = Annotated[WebSession, Depends(_signed_in)]
OptionalSession = Annotated[WebSession | None, Depends(optional_session)]
csrf_protected = Depends(_csrf_protected)
