"""The public pages: home and the eTracking lookup by number (F73).

Server-rendered and complete without JavaScript: the lookup is a GET form whose answer is a page.
Every text goes through the gateway's catalogue in the page's language (`?lang=`, else
Accept-Language); each page is sent with a strict Content-Security-Policy (no inline script or
style, nothing from elsewhere).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet_gateway.deps import Calls, rate_limit
from guichet_gateway.ratelimit import LOOKUPS
from guichet_gateway.web.session import optional_session
from guichet_kit.errors import read_rpc_failure
from guichet_kit.i18n import N_, Catalog, Language, format_moment, pick_language, render
from guichet_kit.problems import Problem

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
_ = Catalog("guichet_gateway")


def content_security_policy(sign_in_origin: str) -> str:
    """No inline script or style, nothing from elsewhere; forms post here only, and may lead to
    the sign-in service (signing out ends its session there too: RP-initiated logout)."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"font-src 'self'; frame-ancestors 'none'; form-action 'self' {sign_in_origin}; "
        "base-uri 'none'"
    )


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The lookup's URL holds an eTracking number: it never leaves in a Referer.
    "Referrer-Policy": "no-referrer",
}
# The languages' own names, never translated, for the switch on every page.
LANGUAGE_NAMES = {Language.FR: "Français", Language.DE: "Deutsch", Language.EN: "English"}
# What is kept of a typed number: the service says what is wrong with it, the page repeats it.
TYPED_NUMBER_MAX_LENGTH = 100
# Codes whose message is about what the person typed; any other failure is the platform's.
_ABOUT_THE_INPUT = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}

# A public page shows "sign out" to a signed-in person: their session is loaded when the
# browser has a cookie (no database call otherwise). Public routers of other modules do the same.
PUBLIC_PAGE = [Depends(optional_session)]
router = APIRouter(include_in_schema=False, dependencies=PUBLIC_PAGE)


def _environment(language: Language) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def gettext(message: str) -> str:
        return _.gettext(message, language)

    def ngettext(singular: str, plural: str, count: int) -> str:
        return _.gettext(singular if count == 1 else plural, language)

    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True
    )
    return environment


# One environment per language: its gettext is bound once, templates are compiled once each.
ENVIRONMENTS = {language: _environment(language) for language in Language}


@dataclass(frozen=True)
class LanguageLink:
    language: str
    name: str
    href: str
    current: bool


def page_language(request: Request) -> Language:
    """`?lang=` (the switch on every page), else a signed-in person's preference, else the
    browser's Accept-Language."""
    explicit = request.query_params.get("lang")
    if explicit is None:
        session = getattr(request.state, "web_session", None)
        explicit = session.language if session is not None else None
    return pick_language(request.headers.get("accept-language"), explicit)


def _here_in(request: Request, language: Language) -> str:
    # The same page (and query) in another language, as a path relative to this site.
    url = request.url.include_query_params(lang=language.value)
    return f"{url.path}?{url.query}"


def page(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    language = page_language(request)
    switch = [
        LanguageLink(
            other.value, LANGUAGE_NAMES[other], _here_in(request, other), other == language
        )
        for other in Language
    ]
    session = getattr(request.state, "web_session", None)
    html = (
        ENVIRONMENTS[language]
        .get_template(template)
        .render(
            lang=language.value,
            languages=switch,
            session=session,
            csrf_token=session.csrf_token if session else "",
            # A cookie not checked on this public page: "my space" then leads to sign-in.
            has_session_cookie=_has_session_cookie(request),
            here=_here(request),
            **values,
        )
    )
    extra = {
        **SECURITY_HEADERS,
        "Content-Security-Policy": request.app.state.content_security_policy,
    }
    if session is not None:
        # A private page is never kept: after sign-out, Back shows nothing of it.
        extra["Cache-Control"] = "no-store"
    if request.url.scheme == "https":
        extra["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    headers = {**extra, **(headers or {}), "Content-Language": language.value}
    response = HTMLResponse(html, status_code=status, headers=headers)
    if getattr(request.state, "ended_session", False):
        request.app.state.sessions.cookie.clear(response)
    return response


def _has_session_cookie(request: Request) -> bool:
    if getattr(request.state, "ended_session", False):
        return False
    sessions = getattr(request.app.state, "sessions", None)
    return sessions is not None and sessions.cookie.name in request.cookies


def _here(request: Request) -> str:
    """This page's path and query, to come back to after signing in."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


@dataclass(frozen=True)
class ErrorPage:
    """What a page says of a refusal that is not about what was typed: what happened, and what
    the person can do about it."""

    title: str
    advice: str
    kind: str  # the USWDS alert's: warning or info
    home_link: bool = False


_UNAVAILABLE = ErrorPage(
    N_("Service temporarily unavailable"),
    N_("This service is temporarily unavailable. Please try again in a few minutes."),
    "warning",
)
ERROR_PAGES = {
    400: ErrorPage(
        N_("Sign-in not completed"),
        N_("The sign-in was cancelled or took too long. Please sign in again."),
        "warning",
        home_link=True,
    ),
    403: ErrorPage(
        N_("Not allowed"),
        N_("This is not open to you, or not in the name you act in now."),
        "warning",
        home_link=True,
    ),
    404: ErrorPage(
        N_("Page not found"),
        N_("This page does not exist. Check the address, or start again from the home page."),
        "info",
        home_link=True,
    ),
    429: ErrorPage(
        N_("Too many requests"),
        N_("You made many requests in a short time. Please try again in a minute."),
        "warning",
    ),
    500: _UNAVAILABLE,
    502: _UNAVAILABLE,
    503: _UNAVAILABLE,
    504: _UNAVAILABLE,
}
# A refusal whose reason says more than its status (which limit was reached).
REASON_PAGES = {
    # A form's token did not match (an old tab, a session renewed since the page was shown).
    "CSRF_TOKEN_INVALID": ErrorPage(
        N_("This form has expired"),
        N_("Open the page again and send the form anew."),
        "warning",
        home_link=True,
    ),
    "ACTING_CONTEXT_NOT_ALLOWED": ErrorPage(
        N_("Not available while acting for someone else"),
        N_("Switch back to your own name with “Act for” in your space, then try again."),
        "warning",
        home_link=True,
    ),
    "LOOKUPS_RATE_LIMITED": ErrorPage(
        N_("Too many lookups"),
        N_("You made many lookups in a short time. Please try again in a minute."),
        "warning",
    ),
    "REGISTRATIONS_RATE_LIMITED": ErrorPage(
        N_("Too many account requests"),
        N_("You sent many account requests in a short time. Please try again in a minute."),
        "warning",
    ),
}
# Everything else the gateway serves is for programs and keeps answering problem JSON.
NOT_PAGES = (
    "/api/",
    "/auth/backchannel-logout",
    "/static/",
    "/docs",
    "/openapi.json",
    "/healthz",
    "/metrics",
)


def is_page_path(path: str) -> bool:
    return not any(path == p.rstrip("/") or path.startswith(p) for p in NOT_PAGES)


def error_page(request: Request, problem: Problem) -> Response | None:
    """The problem handlers' hook: a page's refusal is answered as a page on the same layout,
    with its status and headers (e.g. Retry-After); anything else stays a problem."""
    if not is_page_path(request.url.path):
        return None
    if problem.status == 401:
        return _sign_in_first(request, problem)
    shown = REASON_PAGES.get(problem.reason) or ERROR_PAGES.get(problem.status)
    if shown is None:
        return None
    language = page_language(request)
    return page(
        request,
        "error.html",
        problem.status,
        problem.headers,
        title=_.gettext(shown.title, language),
        advice=_.gettext(shown.advice, language),
        kind=shown.kind,
        home_link=shown.home_link,
    )


_ACR_VALUES = re.compile(r'acr_values="([a-z ]*)"')


def _sign_in_first(request: Request, problem: Problem) -> Response:
    """A page that needs a sign-in, or a stronger one (RFC 9470 challenge from a service), sends
    the person to sign in at that level and back to this page (a form's page for a POST)."""
    challenge = _ACR_VALUES.search(problem.headers.get("WWW-Authenticate", ""))
    back = _here(request) if request.method == "GET" else request.url.path
    query = {"return_to": back, "lang": page_language(request).value}
    if challenge and challenge.group(1):
        query["acr"] = challenge.group(1).split()[0]
    return RedirectResponse(
        f"/signin?{urlencode(query)}", status_code=303, headers={"Cache-Control": "no-store"}
    )


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    return page(request, "home.html")


@router.get("/etracking", response_class=HTMLResponse)
async def lookup_form(request: Request) -> HTMLResponse:
    return page(request, "lookup.html", number="", error=None)


@router.get("/etracking/lookup", response_class=HTMLResponse, dependencies=[rate_limit(LOOKUPS)])
async def lookup(request: Request, calls: Calls, number: str = "") -> HTMLResponse:
    typed = number[:TYPED_NUMBER_MAX_LENGTH]
    language = page_language(request)
    if not typed.strip():
        error = _("Enter the eTracking number.").render(language)
        return page(request, "lookup.html", 422, number=typed, error=error)
    try:
        reply = await calls.etracking.LookupTracking(
            pb.LookupTrackingRequest(number=typed.strip(), language=language)
        )
    except grpc.aio.AioRpcError as failed:
        failure = read_rpc_failure(failed)
        if failure.code not in _ABOUT_THE_INPUT:
            raise
        # The service's own words, already in the page's language (forwarded as x-language).
        messages = [render(e.message, language) for e in failure.field_errors]
        error = messages[0] if messages else failure.message
        status = 404 if failure.code == grpc.StatusCode.NOT_FOUND else 422
        return page(request, "lookup.html", status, number=typed, error=error)
    tracking = reply.tracking
    history = [
        {
            "status": change.status_label,
            "when": format_moment(change.occurred_at.ToDatetime(tzinfo=UTC), language),
            "iso": change.occurred_at.ToDatetime(tzinfo=UTC).isoformat(),
        }
        for change in tracking.history
    ]
    return page(
        request,
        "tracking.html",
        number=tracking.number,
        form_title=tracking.paper_form.title,
        tracking_status=tracking.status_label,
        history=history,
    )
