"""Headless login agent for tests: real Keycloak tokens obtained the way a person gets them.

`LoginAgent` plays the browser side of the OpenID Connect authorization code flow with PKCE (S256)
against a public client (`guichet-web` by default): it opens the authorization endpoint, fills the
HTML forms of Keycloak's login theme (e-mail and password, TOTP code, TOTP enrolment, new password),
optionally presents an X.509 client certificate in the TLS handshake (level of assurance `high`),
catches the redirect to the client's redirect URI and exchanges the code for tokens. Nothing is
mocked; every login is a fresh browser (no cookies are shared between calls).

It also follows the action links of Keycloak's mails (verify e-mail, reset password, execute
actions): find the mail with `guichet_testkit.mail`, the citizen's certificate with
`guichet_testkit.pki`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pyotp
from bs4 import BeautifulSoup, Tag

__all__ = [
    "LoginAgent",
    "LoginRefused",
    "Tokens",
    "decode_jwt_unverified",
    "totp_code",
]

_MAX_STEPS = 25
_TOTP_PERIOD = 30
# Keycloak refuses a TOTP code used before (otpPolicyCodeReusable=false) but accepts the codes of
# the neighbouring time steps (look-around window 1): remember the last step used per secret and
# move on.
_used_totp_steps: dict[str, int] = {}


class LoginRefused(Exception):
    """Keycloak did not issue tokens; `message` is the text its page showed (or the OAuth error)."""

    def __init__(self, message: str, *, page: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.page = page


@dataclass(frozen=True)
class Tokens:
    """Tokens from the token endpoint; `claims` are the access token's claims, decoded WITHOUT
    verification."""

    access_token: str
    refresh_token: str | None
    id_token: str | None
    claims: dict[str, Any] = field(default_factory=dict)
    totp_secret: str | None = None  # set when this login enrolled a TOTP device

    @property
    def acr(self) -> str | None:
        value = self.claims.get("acr")
        return str(value) if value is not None else None


def decode_jwt_unverified(token: str) -> dict[str, Any]:
    """The payload of a JWT, not verified (tests only; services verify with guichet_kit.auth)."""
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return claims


def totp_code(secret: str) -> str:
    """A TOTP code for `secret` that this process has not used yet (current step, else the next
    one)."""
    step = int(time.time()) // _TOTP_PERIOD
    last = _used_totp_steps.get(secret, -1)
    if last >= step + 1:  # both usable steps consumed: wait for the clock
        time.sleep((last - step) * _TOTP_PERIOD - time.time() % _TOTP_PERIOD + 0.5)
        step = int(time.time()) // _TOTP_PERIOD
    if last >= step:
        step = last + 1
    _used_totp_steps[secret] = step
    return str(pyotp.TOTP(secret).at(step * _TOTP_PERIOD))


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    return verifier, challenge


def _page_message(soup: BeautifulSoup) -> str:
    """The most specific user-facing message on a Keycloak login-theme page."""
    selectors = [
        "[id^=input-error]",
        ".kc-feedback-text",
        "#kc-error-message",
        ".pf-v5-c-alert__title",
        ".alert-error",
        ".instruction",
        "#kc-page-title",
        "title",
    ]
    for selector in selectors:
        for node in soup.select(selector):
            text = " ".join(node.get_text(" ", strip=True).split())
            if text:
                return text
    return ""


def _form_fields(form: Tag) -> dict[str, str]:
    """The values a browser would submit for a form (text, hidden, checked boxes); no submit
    buttons."""
    fields: dict[str, str] = {}
    for node in form.find_all(["input", "select", "textarea"]):
        if not isinstance(node, Tag):
            continue
        name = node.get("name")
        if not isinstance(name, str) or not name:
            continue
        kind = str(node.get("type") or "text").lower()
        if kind in {"submit", "button", "image", "reset"}:
            continue
        if kind in {"checkbox", "radio"} and not node.has_attr("checked"):
            continue
        value = node.get("value")
        fields[name] = value if isinstance(value, str) else ""
    return fields


def _main_form(soup: BeautifulSoup) -> Tag | None:
    for form in soup.find_all("form"):
        if isinstance(form, Tag) and str(form.get("method") or "get").lower() == "post":
            return form
    return None


def _has_input(form: Tag | None, name: str) -> bool:
    return form is not None and form.select_one(f'[name="{name}"]') is not None


def _proceed_link(soup: BeautifulSoup) -> str | None:
    """The 'click here to proceed' link of Keycloak's info page (action tokens, required
    actions)."""
    for anchor in soup.find_all("a", href=True):
        if not isinstance(anchor, Tag):
            continue
        href = str(anchor["href"])
        if "/login-actions/" in href or "key=" in href:
            return href
    return None


class LoginAgent:
    """A scripted browser for Keycloak's login pages (see the module docstring).

    `issuer_url` is the realm's issuer (`GUICHET_KEYCLOAK_ISSUER`, e.g.
    https://localhost:58443/realms/guichet); `ca_file` the CA that signed Keycloak's HTTPS
    certificate (`GUICHET_CA_FILE`); `client_certificate` an optional (certificate, private key)
    pair presented in every TLS handshake, as a browser with an eID card reader would.
    """

    def __init__(
        self,
        issuer_url: str,
        *,
        ca_file: Path,
        client_id: str = "guichet-web",
        redirect_uri: str = "http://127.0.0.1:8000/callback",
        client_certificate: tuple[Path, Path] | None = None,
        ui_locales: str | None = "en",
        timeout: float = 30.0,
    ) -> None:
        self.issuer_url = issuer_url.rstrip("/")
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.ca_file = ca_file
        self.client_certificate = client_certificate
        self.ui_locales = ui_locales
        self.timeout = timeout

    def _client(self, client_certificate: tuple[Path, Path] | None = None) -> httpx.AsyncClient:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        pair = client_certificate or self.client_certificate
        if pair is not None:
            context.load_cert_chain(str(pair[0]), str(pair[1]))
        return httpx.AsyncClient(verify=context, timeout=self.timeout, follow_redirects=False)

    # ---- public API ------------------------------------------------------------------------------
    async def login(
        self,
        email: str,
        password: str,
        *,
        acr_values: str | None = None,
        totp_secret: str | None = None,
        new_password: str | None = None,
        kc_action: str | None = None,
        client_certificate: tuple[Path, Path] | None = None,
        extra_params: Mapping[str, str] | None = None,
    ) -> Tokens:
        """Log in through the browser flow and return the tokens.

        `acr_values` asks for a level of assurance (`low`, `substantial`, `high`); `totp_secret`
        answers the TOTP form (and a TOTP enrolment page is answered with a fresh secret, returned
        in `Tokens.totp_secret`); `new_password` answers an "update password" required action;
        `kc_action` asks Keycloak for an application-initiated action (e.g. `CONFIGURE_TOTP`);
        `client_certificate` overrides the agent's certificate for this login. Raises `LoginRefused`
        with Keycloak's message.
        """
        verifier, challenge = _pkce_pair()
        state = secrets.token_urlsafe(16)
        params: dict[str, str] = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": "openid",
            "state": state,
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if acr_values:
            params["acr_values"] = acr_values
        if self.ui_locales:
            params["ui_locales"] = self.ui_locales
        if kc_action:
            params["kc_action"] = kc_action
        params.update(extra_params or {})
        url = f"{self.issuer_url}/protocol/openid-connect/auth?{urlencode(params)}"
        async with self._client(client_certificate) as client:
            code, enrolled = await self._drive(
                client,
                url,
                email=email,
                password=password,
                totp_secret=totp_secret,
                new_password=new_password,
            )
            query = parse_qs(urlsplit(code).query)
            if query.get("state", [""])[0] != state:
                raise LoginRefused("state mismatch in the redirect")
            if "error" in query:
                description = query.get("error_description", [""])[0]
                raise LoginRefused(f"{query['error'][0]}: {description}".rstrip(": "))
            response = await client.post(
                f"{self.issuer_url}/protocol/openid-connect/token",
                data={
                    "grant_type": "authorization_code",
                    "code": query["code"][0],
                    "redirect_uri": self.redirect_uri,
                    "client_id": self.client_id,
                    "code_verifier": verifier,
                },
            )
        if response.status_code != 200:
            raise LoginRefused(f"token endpoint answered {response.status_code}: {response.text}")
        body = response.json()
        return Tokens(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            id_token=body.get("id_token"),
            claims=decode_jwt_unverified(body["access_token"]),
            totp_secret=enrolled,
        )

    async def login_with_certificate(
        self,
        certificate: tuple[Path, Path],
        *,
        acr_values: str = "high",
        email: str = "",
        password: str = "",
    ) -> Tokens:
        """Log in presenting a citizen certificate (level `high`): no password is needed when the
        certificate maps to a user; `email`/`password` are only used if Keycloak asks for them."""
        return await self.login(
            email, password, acr_values=acr_values, client_certificate=certificate
        )

    async def enrol_totp(self, email: str, password: str) -> str:
        """Enrol a TOTP device for the user (kc_action=CONFIGURE_TOTP) and return its base32
        secret."""
        tokens = await self.login(email, password, kc_action="CONFIGURE_TOTP")
        if tokens.totp_secret is None:
            raise LoginRefused("Keycloak did not show the TOTP enrolment page")
        return tokens.totp_secret

    async def follow_email_link(self, url: str, *, new_password: str | None = None) -> str:
        """Open an action link from a Keycloak e-mail (verify e-mail, reset password, execute
        actions) in a fresh browser, submit what follows ("click here to proceed", the new password
        form with `new_password`) and return the text of the last page. Raises `LoginRefused` on an
        error page."""
        async with self._client() as client:
            response = await client.get(url)
            for _ in range(_MAX_STEPS):
                if response.is_redirect:
                    target = urljoin(str(response.url), response.headers["location"])
                    if target.startswith(self.redirect_uri) or not target.startswith(
                        ("http://", "https://")
                    ):
                        return "redirected to the application"
                    response = await client.get(target)
                    continue
                soup = BeautifulSoup(response.text, "html.parser")
                message = _page_message(soup)
                form = _main_form(soup)
                if _has_input(form, "password-new") and form is not None:
                    if new_password is None:
                        raise LoginRefused(
                            f"a new password is asked for: {message}", page=response.text
                        )
                    fields = _form_fields(form)
                    fields.update({"password-new": new_password, "password-confirm": new_password})
                    before = message
                    response = await client.post(
                        urljoin(str(response.url), str(form["action"])), data=fields
                    )
                    if not response.is_redirect:
                        after = BeautifulSoup(response.text, "html.parser")
                        again = _main_form(after)
                        if _has_input(again, "password-new"):
                            raise LoginRefused(_page_message(after) or before, page=response.text)
                    continue
                link = _proceed_link(soup)
                if link is not None:
                    response = await client.get(urljoin(str(response.url), html.unescape(link)))
                    continue
                if response.status_code >= 400 or soup.select_one("#kc-error-message"):
                    raise LoginRefused(
                        message or f"HTTP {response.status_code}", page=response.text
                    )
                return message
        raise LoginRefused("too many steps following the e-mail link")

    # ---- the browser loop ------------------------------------------------------------------------
    async def _drive(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        email: str,
        password: str,
        totp_secret: str | None,
        new_password: str | None,
    ) -> tuple[str, str | None]:
        """Follow redirects and answer pages until the redirect to the client; returns (redirect
        URL, TOTP secret enrolled on the way)."""
        response = await client.get(url)
        submitted: set[str] = set()
        enrolled: str | None = None
        for _ in range(_MAX_STEPS):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if target.startswith(self.redirect_uri):
                    return target, enrolled
                response = await client.get(target)
                continue
            soup = BeautifulSoup(response.text, "html.parser")
            message = _page_message(soup)
            form = _main_form(soup)
            if form is None:
                link = _proceed_link(soup)
                if link is not None and "proceed" in link.lower():
                    response = await client.get(urljoin(str(response.url), html.unescape(link)))
                    continue
                raise LoginRefused(
                    message or f"unexpected page (HTTP {response.status_code})", page=response.text
                )
            fields = _form_fields(form)
            if "password" in fields and ("username" in fields or _has_input(form, "username")):
                kind = "password"
                fields.update({"username": email, "password": password})
            elif (
                "password" in fields
            ):  # re-authentication: the user is known, only the password is asked
                kind = "password"
                fields["password"] = password
            elif "totpSecret" in fields:
                kind = "configure-totp"
                raw = fields["totpSecret"]
                enrolled = base64.b32encode(raw.encode()).decode().rstrip("=")
                fields["totp"] = totp_code(enrolled)
                fields.setdefault("userLabel", "tests")
            elif "otp" in fields or _has_input(form, "otp"):
                kind = "otp"
                if totp_secret is None:
                    raise LoginRefused(f"a TOTP code is asked for: {message}", page=response.text)
                fields["otp"] = totp_code(totp_secret)
            elif "password-new" in fields:
                kind = "update-password"
                if new_password is None:
                    raise LoginRefused(
                        f"a new password is asked for: {message}", page=response.text
                    )
                fields.update({"password-new": new_password, "password-confirm": new_password})
            else:
                raise LoginRefused(message or "unexpected form", page=response.text)
            if kind in submitted and message:
                # the same form again after our answer: Keycloak refused it and says why
                raise LoginRefused(message, page=response.text)
            submitted.add(kind)
            response = await client.post(
                urljoin(str(response.url), str(form["action"])), data=fields
            )
        raise LoginRefused("too many steps in the login flow")
