"""Forms sent without a sign-in (register, forgotten password, e-mail confirmation): protected
against cross-site requests by a double-submit token.

There is no session to bind a token to, so the browser holds it twice: in a cookie the page sets
(HttpOnly, SameSite=Strict, `__Host-` where the address allows it, so no other site or subdomain
can plant one) and in the form's hidden field. Another site can make a browser send the form but
can neither read the cookie nor set it, so it cannot send the matching field. A signed-in form
uses the session's own token instead (web/session.py).
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from guichet_gateway.web.pages import page
from guichet_kit.problems import Problem

FIELD = "form_token"
# What `secrets.token_urlsafe(32)` makes: a cookie of another shape is not one of ours.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def _secure(request: Request) -> bool:
    """Whether browsers reach the gateway over HTTPS (loopback addresses count as such)."""
    settings = getattr(request.app.state, "settings", None)
    address = urlsplit(settings.public_url if settings is not None else str(request.url))
    return address.scheme == "https" or (address.hostname or "") in _LOOPBACK


def cookie_name(request: Request) -> str:
    return "__Host-guichet-form" if _secure(request) else "guichet-form"


def _held_token(request: Request) -> str | None:
    held = request.cookies.get(cookie_name(request), "")
    return held if _TOKEN.fullmatch(held) else None


def form_page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page holding an anonymous form: the token in `form_token` for its hidden field, and in
    the cookie (kept when the browser already has one, so two open tabs both work)."""
    token = _held_token(request) or secrets.token_urlsafe(32)
    response = page(request, template, status, form_token=token, **values)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        cookie_name(request),
        token,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


async def _same_token_twice(request: Request) -> None:
    held = _held_token(request)
    sent = (await request.form()).get(FIELD)
    if (
        held is None
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent.encode(), held.encode())
    ):
        # Answered as the "form has expired" page: open it again, it gets a token.
        raise Problem(403, "CSRF_TOKEN_INVALID")


anonymous_form_protected = Depends(_same_token_twice)
