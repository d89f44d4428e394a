"""The pages' forms: one way to say what is wrong in a form (`FormErrors`, `refused_input`), and
the anonymous forms' protection against cross-site requests.

Forms sent without a sign-in (register, forgotten password, e-mail confirmation) are protected
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
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import grpc
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from guichet_gateway.web.pages import page
from guichet_kit.errors import FieldError, read_rpc_failure
from guichet_kit.i18n import Language, render
from guichet_kit.problems import Problem

# The services' refusals about what was typed; any other failure is the platform's (error page).
ABOUT_THE_INPUT: frozenset[grpc.StatusCode] = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
    }
)


@dataclass
class FormErrors:
    """A form's wrong inputs, each with its message for the person, in the order of the form."""

    order: tuple[str, ...]
    messages: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def input_of(self, service_field: str, fallback: str | None = None) -> str:
        """The form input a service's field is about (`address.postal_code` → `postal_code`);
        one not on the form goes to `fallback`, else to the form's first input."""
        name = service_field.rsplit(".", 1)[-1]
        if name in self.order or not self.order:
            return name
        return fallback if fallback is not None else self.order[0]

    def add(self, service_field: str, message: str, fallback: str | None = None) -> None:
        """The first message about an input is the one shown."""
        self.messages.setdefault(self.input_of(service_field, fallback), message)

    def add_field_errors(
        self, found: Iterable[FieldError], language: Language, fallback: str | None = None
    ) -> None:
        for error in found:
            self.add(error.field, render(error.message, language), fallback)

    def get(self, name: str) -> str | None:
        return self.messages.get(name)

    def summary(self) -> list[tuple[str, str]]:
        """For the summary at the top of the page: in the order of the form, then the rest."""
        known = [(name, self.messages[name]) for name in self.order if name in self.messages]
        return known + [(n, m) for n, m in self.messages.items() if n not in self.order]


def refused_input(
    failed: grpc.aio.AioRpcError,
    errors: FormErrors,
    language: Language,
    *,
    fallback: str | None = None,
    about: Collection[grpc.StatusCode] = ABOUT_THE_INPUT,
    field_of_reason: Mapping[str, str] | None = None,
) -> bool:
    """Whether the service refused what was typed (a failure of a code in `about`): its words,
    in the page's language, go next to the inputs they are about; a refusal naming no field
    goes to the input of its reason (`field_of_reason`), else to `fallback`, else to the first
    input. Anything else is the caller's to re-raise (an error page)."""
    failure = read_rpc_failure(failed)
    if failure.code not in about:
        return False
    errors.add_field_errors(failure.field_errors, language, fallback)
    if not failure.field_errors:
        reason_input = (field_of_reason or {}).get(failure.reason)
        errors.add(reason_input or errors.input_of("", fallback), failure.message, fallback)
    return True


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
