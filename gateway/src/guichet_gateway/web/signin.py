"""Signing in and out of the web client, and Keycloak's back-channel logout.

- `GET /signin?return_to=&acr=`: a sign-in attempt (state, nonce, PKCE verifier) is stored and
  the browser sent to Keycloak, at the asked level when a page needed more (step-up, RFC 9470);
- `GET /auth/callback`: the attempt is used once, the code exchanged, a session opened, the person
  brought back where they were;
- `POST /signout`: the session ends here and at Keycloak (RP-initiated logout);
- `POST /auth/backchannel-logout`: Keycloak says a session ended elsewhere (signed out in another
  client, by an administrator, idle): its sessions here end too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

import grpc
import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from guichet.identity.v1 import identity_pb2
from guichet_gateway.store import sign_in_attempts
from guichet_gateway.web.oidc import PkceAttempt, SignInFailed, TokenSet
from guichet_gateway.web.pages import page_language
from guichet_gateway.web.session import SignedIn, csrf_protected, store_of
from guichet_kit.auth import InvalidToken, IssuerUnavailable, LevelOfAssurance, set_caller
from guichet_kit.i18n import LANGUAGES, Language
from guichet_kit.problems import Problem

log = structlog.get_logger(__name__)

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
DEFAULT_RETURN = "/dashboard"
RETURN_TO_MAX_LENGTH = 2048

router = APIRouter(include_in_schema=False)


def safe_return_to(value: str | None) -> str:
    """A path of this site only: an open redirect through the sign-in would lend it our name."""
    if not value or len(value) > RETURN_TO_MAX_LENGTH:
        return DEFAULT_RETURN
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return DEFAULT_RETURN
    if "\\" in value or any(ord(c) < 0x20 for c in value):
        return DEFAULT_RETURN
    return value


def _see_other(url: str) -> RedirectResponse:
    # Nothing of a redirect between the site and Keycloak is kept by a browser or proxy.
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/signin")
async def sign_in(request: Request, return_to: str = "", acr: str = "") -> Response:
    store = store_of(request)
    level = LevelOfAssurance.from_acr(acr) if acr else None
    attempt = PkceAttempt.new()
    settings = request.app.state.settings
    async with store.engine.begin() as connection:
        await connection.execute(
            sign_in_attempts.insert().values(
                state=attempt.state,
                code_verifier=attempt.code_verifier,
                nonce=attempt.nonce,
                return_to=safe_return_to(return_to),
                expires_at=datetime.now(UTC) + timedelta(minutes=settings.sign_in_minutes),
            )
        )
    try:
        url = await store.oidc.authorization_url(
            attempt, acr=level.acr if level else None, language=page_language(request).value
        )
    except IssuerUnavailable as error:
        raise Problem(503, "IDENTITY_PROVIDER_UNAVAILABLE") from error
    return _see_other(url)


@router.get("/auth/callback")
async def callback(request: Request, state: str = "", code: str = "", error: str = "") -> Response:
    store = store_of(request)
    async with store.engine.begin() as connection:
        # Used once: deleted as it is read, whatever comes next.
        attempt = (
            await connection.execute(
                sign_in_attempts.delete()
                .where(
                    sign_in_attempts.c.state == state,
                    sign_in_attempts.c.expires_at > datetime.now(UTC),
                )
                .returning(sign_in_attempts)
            )
        ).first()
    if attempt is None or error or not code:
        # Cancelled at Keycloak, too late, replayed, or not started here.
        log.info("web.sign_in.refused", error=error[:64], known_state=attempt is not None)
        raise Problem(400, "SIGN_IN_FAILED")
    try:
        tokens = await store.oidc.exchange(code, attempt.code_verifier, attempt.nonce)
    except SignInFailed as failed:
        log.info("web.sign_in.exchange_refused", error=str(failed)[:200])
        raise Problem(400, "SIGN_IN_FAILED") from failed
    except IssuerUnavailable as unavailable:
        raise Problem(503, "IDENTITY_PROVIDER_UNAVAILABLE") from unavailable
    response = _see_other(attempt.return_to)
    # A step-up replaces the session it raised: one browser, one session.
    previous = await store.load(request)
    if previous is not None:
        await store.end(previous.key_hash)
    await store.open(tokens, response, await _preferred_language(request, tokens))
    log.info("web.signed_in", subject=tokens.subject)
    return response


async def _preferred_language(request: Request, tokens: TokenSet) -> Language | None:
    """The person's language preference, which the pages then speak; None (the browser's
    language then) when identity cannot say now."""
    try:
        set_caller(await store_of(request).verifier.verify(tokens.access_token))
        reply = await request.app.state.stubs.profiles.GetPreferences(
            identity_pb2.GetPreferencesRequest()
        )
    except (InvalidToken, IssuerUnavailable, grpc.aio.AioRpcError) as error:
        log.info("web.sign_in.no_language_preference", error=type(error).__name__)
        return None
    language = reply.preferences.language
    return Language(language) if language in LANGUAGES else None


@router.post("/signout", dependencies=[csrf_protected])
async def sign_out(request: Request, session: SignedIn) -> Response:
    store = store_of(request)
    await store.end(session.key_hash)
    settings = request.app.state.settings
    back = f"{settings.public_url.rstrip('/')}/?lang={page_language(request).value}"
    try:
        url = await store.oidc.end_session_url(session.id_token, back)
    except IssuerUnavailable:
        url = back  # ended here; Keycloak's own session then ends by its idle timeout
    response = _see_other(url)
    store.cookie.clear(response)
    return response


@router.post("/auth/backchannel-logout")
async def backchannel_logout(
    request: Request, logout_token: Annotated[str, Form(max_length=8192)]
) -> Response:
    store = store_of(request)
    try:
        claims = await store.verifier.decode(
            logout_token, audience=store.oidc.client_id, require=("iat", "iss", "aud")
        )
    except IssuerUnavailable as error:
        raise Problem(503, "IDENTITY_PROVIDER_UNAVAILABLE") from error
    except InvalidToken as error:
        raise Problem(400, "INVALID_TOKEN", str(error)) from error
    # OpenID Connect Back-Channel Logout 1.0 §2.6: the logout event, a sid or sub, no nonce.
    events = claims.get("events")
    sid, subject = claims.get("sid"), claims.get("sub")
    if (
        not isinstance(events, dict)
        or BACKCHANNEL_LOGOUT_EVENT not in events
        or "nonce" in claims
        or not (sid or subject)
    ):
        raise Problem(400, "INVALID_TOKEN", "not a logout token")
    ended = await store.end_keycloak_session(
        str(sid) if sid else None, str(subject) if subject else None
    )
    log.info("web.backchannel_logout", ended=ended)
    return Response(status_code=200, headers={"Cache-Control": "no-store"})
