"""The gateway as a confidential OpenID Connect client of Keycloak (code flow with PKCE S256).

Keycloak's endpoints come from its discovery document, fetched on the first sign-in (the public
pages work while Keycloak is down). Every token answer is checked before it is kept: the ID token's
signature, audience and nonce; the access token is verified like any API token by the caller.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from guichet_kit.auth import InvalidToken, IssuerUnavailable, TokenVerifier

# A refresh answer without `refresh_expires_in` (offline tokens) keeps the session this long.
_DEFAULT_REFRESH_SECONDS = 1800


class SignInFailed(Exception):
    """Keycloak refused the code or the refresh token (expired, used, session ended)."""


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    id_token: str
    subject: str
    keycloak_session: str


@dataclass(frozen=True)
class PkceAttempt:
    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> PkceAttempt:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64))

    @property
    def code_challenge(self) -> str:
        digest = hashlib.sha256(self.code_verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OidcClient:
    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        verifier: TokenVerifier,
        *,
        ca_file: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self._secret = client_secret
        self._verifier = verifier
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        )
        self._http = httpx.AsyncClient(verify=verify, timeout=timeout)
        self._metadata: dict[str, Any] | None = None

    async def close(self) -> None:
        await self._http.aclose()

    async def _endpoint(self, name: str) -> str:
        if self._metadata is None:
            try:
                response = await self._http.get(f"{self.issuer}/.well-known/openid-configuration")
                response.raise_for_status()
            except httpx.HTTPError as error:
                raise IssuerUnavailable(f"discovery: {error!r}") from error
            self._metadata = response.json()
        return str(self._metadata[name])

    async def authorization_url(
        self, attempt: PkceAttempt, *, acr: str | None, language: str
    ) -> str:
        params = {
            "client_id": self.client_id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": self.redirect_uri,
            "state": attempt.state,
            "nonce": attempt.nonce,
            "code_challenge": attempt.code_challenge,
            "code_challenge_method": "S256",
            "ui_locales": language,
        }
        if acr:
            params["acr_values"] = acr
        return f"{await self._endpoint('authorization_endpoint')}?{urlencode(params)}"

    async def end_session_url(self, id_token: str, post_logout_redirect_uri: str) -> str:
        params = {
            "client_id": self.client_id,
            "id_token_hint": id_token,
            "post_logout_redirect_uri": post_logout_redirect_uri,
        }
        return f"{await self._endpoint('end_session_endpoint')}?{urlencode(params)}"

    async def _token_call(self, form: dict[str, str]) -> dict[str, Any]:
        endpoint = await self._endpoint("token_endpoint")
        try:
            response = await self._http.post(
                endpoint, data=form, auth=(self.client_id, self._secret)
            )
        except httpx.HTTPError as error:
            raise IssuerUnavailable(f"token endpoint: {error!r}") from error
        if response.status_code in (400, 401):
            raise SignInFailed(response.json().get("error", "refused"))
        if response.status_code != 200:
            raise IssuerUnavailable(f"token endpoint answered {response.status_code}")
        body: dict[str, Any] = response.json()
        return body

    async def exchange(self, code: str, attempt_verifier: str, nonce: str) -> TokenSet:
        body = await self._token_call(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": attempt_verifier,
            }
        )
        return await self._token_set(body, nonce)

    async def refresh(self, refresh_token: str) -> TokenSet:
        body = await self._token_call(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        return await self._token_set(body, None)

    async def _token_set(self, body: dict[str, Any], nonce: str | None) -> TokenSet:
        try:
            id_token = str(body["id_token"])
            claims = await self._verifier.decode(
                id_token, audience=self.client_id, require=("exp", "iat", "iss", "aud", "sub")
            )
        except (KeyError, InvalidToken) as error:
            raise SignInFailed(f"unacceptable ID token: {error}") from error
        # The nonce binds the ID token to this browser's sign-in (replayed answers are refused).
        if nonce is not None and claims.get("nonce") != nonce:
            raise SignInFailed("the ID token's nonce is not this sign-in's")
        now = datetime.now(UTC)
        refresh_seconds = int(body.get("refresh_expires_in") or _DEFAULT_REFRESH_SECONDS)
        return TokenSet(
            access_token=str(body["access_token"]),
            access_expires_at=now + timedelta(seconds=int(body["expires_in"])),
            refresh_token=str(body["refresh_token"]),
            refresh_expires_at=now + timedelta(seconds=refresh_seconds),
            id_token=id_token,
            subject=str(claims["sub"]),
            keycloak_session=str(claims.get("sid", "")),
        )
