"""The public pages: home and the eTracking lookup by number (F73).

Server-rendered and complete without JavaScript: the lookup is a GET form whose answer is a page.
Every text goes through the gateway's catalogue in the page's language (`?lang=`, else
Accept-Language); each page is sent with a strict Content-Security-Policy (no inline script or
style, nothing from elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import grpc
import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet_gateway.deps import Calls, rate_limit
from guichet_gateway.ratelimit import LOOKUPS
from guichet_kit.errors import read_rpc_failure
from guichet_kit.i18n import N_, Catalog, Language, format_moment, pick_language, render
from guichet_kit.problems import Problem

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
_ = Catalog("guichet_gateway")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
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

router = APIRouter(include_in_schema=False)


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
    return pick_language(request.headers.get("accept-language"), request.query_params.get("lang"))


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
    html = (
        ENVIRONMENTS[language]
        .get_template(template)
        .render(lang=language.value, languages=switch, **values)
    )
    headers = {**SECURITY_HEADERS, **(headers or {}), "Content-Language": language.value}
    return HTMLResponse(html, status_code=status, headers=headers)


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
    404: ErrorPage(
        N_("Page not found"),
        N_("This page does not exist. Check the address, or start again from the home page."),
        "info",
        home_link=True,
    ),
    429: ErrorPage(
        N_("Too many lookups"),
        N_("You made many lookups in a short time. Please try again in a minute."),
        "warning",
    ),
    500: _UNAVAILABLE,
    502: _UNAVAILABLE,
    503: _UNAVAILABLE,
    504: _UNAVAILABLE,
}
# Everything else the gateway serves is for programs and keeps answering problem JSON.
NOT_PAGES = ("/api/", "/static/", "/docs", "/openapi.json", "/healthz", "/metrics")


def is_page_path(path: str) -> bool:
    return not any(path == p.rstrip("/") or path.startswith(p) for p in NOT_PAGES)


def error_page(request: Request, problem: Problem) -> HTMLResponse | None:
    """The problem handlers' hook: a page's refusal is answered as a page on the same layout,
    with its status and headers (e.g. Retry-After); anything else stays a problem."""
    shown = ERROR_PAGES.get(problem.status)
    if shown is None or not is_page_path(request.url.path):
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
