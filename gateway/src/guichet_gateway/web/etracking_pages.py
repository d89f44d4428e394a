"""The eTracking pages: opt a paper form in to tracking (F70), its confirmation with the number
and the printable sheet (F71), and "My eTrackings" for a signed-in person.

Plain forms, POST-redirect-GET. Anonymous creation is protected like the API's: the double-submit
token (web/forms.py), the anonymous creations' rate limit and the anti-robot check (ALTCHA, solved
by the widget when the form is sent); a signed-in person's form carries the session's CSRF token
and creates the tracking in their acting context, with no anti-robot check. What is wrong with
the input is said by the etracking service itself (the API's code path: the same call), in the
page's language, next to the field it is about.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet_gateway.altcha import FIELD as ALTCHA_FIELD
from guichet_gateway.altcha import Challenges, Refusal
from guichet_gateway.deps import Calls, limit_anonymous_creations, rate_limit
from guichet_gateway.fields import PAPER_FORM_CODE_MAX_LENGTH, PHONE_MAX_LENGTH
from guichet_gateway.live import SEEN_COOKIE, compact
from guichet_gateway.ratelimit import LOOKUPS
from guichet_gateway.web.forms import FormErrors, anonymous_form_protected, form_page, refused_input
from guichet_gateway.web.pages import page, page_language
from guichet_gateway.web.session import SignedIn, csrf_protected
from guichet_kit.i18n import Catalog, Language, format_moment
from guichet_kit.values import MAX_EMAIL_LENGTH

_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

FIELDS = ("paper_form_code", "email", "phone", "language", ALTCHA_FIELD)
KEPT_LENGTH = {
    "paper_form_code": PAPER_FORM_CODE_MAX_LENGTH,
    "email": MAX_EMAIL_LENGTH,
    "phone": PHONE_MAX_LENGTH,
}
ANTI_ROBOT_MESSAGES = {
    Refusal.MISSING: _(
        "The anti-robot check was not done. It needs JavaScript: turn it on, then send the "
        "form again."
    ),
    Refusal.INVALID: _("The anti-robot check did not succeed. Please send the form again."),
    Refusal.EXPIRED: _("The anti-robot check has expired. Please send the form again."),
    Refusal.REUSED: _("The anti-robot check was already used. Please send the form again."),
}
# The service's refusals about what was typed (NOT_FOUND: no such paper form).
_ABOUT_THE_INPUT = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
# How long the browser remembers when the person last looked at their eTrackings (live badges).
SEEN_COOKIE_SECONDS = 365 * 24 * 3600
# Browsers count loopback addresses as secure origins: the cookie keeps its Secure flag there.
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Typed:
    """What the person sent, cut to the fields' bounds, to check and to show again."""

    paper_form_code: str
    notify_by_email: bool
    email: str
    notify_by_sms: bool
    phone: str
    language: str
    altcha: str

    @classmethod
    async def read(cls, request: Request) -> Typed:
        form = await request.form()

        def text(name: str) -> str:
            value = form.get(name)
            return value[: KEPT_LENGTH.get(name, 2000)] if isinstance(value, str) else ""

        language = text("language")
        if language not in {lang.value for lang in Language}:
            language = page_language(request).value
        return cls(
            paper_form_code=text("paper_form_code"),
            notify_by_email=form.get("notify_by_email") == "yes",
            email=text("email").strip(),
            notify_by_sms=form.get("notify_by_sms") == "yes",
            phone=text("phone").strip(),
            language=language,
            altcha=text(ALTCHA_FIELD),
        )

    @classmethod
    def empty(cls, language: Language) -> Typed:
        return cls("", False, "", False, "", language.value, "")


async def _creation_page(
    request: Request,
    calls: Calls,
    typed: Typed,
    errors: FormErrors,
    *,
    signed_in: bool,
) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.etracking.ListPaperForms(pb.ListPaperFormsRequest(language=language))
    values: dict[str, Any] = {
        "paper_forms": list(reply.paper_forms),
        "typed": typed,
        "errors": errors.messages,
        "summary": errors.summary(),
        "for_signed_in": signed_in,
        "action": "/my/etrackings/new" if signed_in else "/etracking/new",
        "max_length": KEPT_LENGTH,
    }
    status = 422 if errors else 200
    if signed_in:
        # The session's CSRF token reaches the template through `page()`.
        return page(request, "etracking/new.html", status, **values)
    return form_page(request, "etracking/new.html", status, **values)


async def _create(request: Request, calls: Calls, typed: Typed, errors: FormErrors) -> str | None:
    """The etracking service's CreateTracking, as the API route calls it; its number, or None
    with the service's words on the fields it refused."""
    language = page_language(request)
    try:
        reply = await calls.etracking.CreateTracking(
            pb.CreateTrackingRequest(
                paper_form_code=typed.paper_form_code,
                notify_by_email=typed.notify_by_email,
                email=typed.email,
                notify_by_sms=typed.notify_by_sms,
                phone=typed.phone,
                language=typed.language,
            )
        )
    except grpc.aio.AioRpcError as failed:
        if not refused_input(failed, errors, language, about=_ABOUT_THE_INPUT):
            raise
        return None
    return compact(reply.tracking.number)


def _check_choice(typed: Typed, errors: FormErrors, language: Language) -> None:
    # Said here rather than by the service: no anti-robot check is spent on an empty form.
    if not typed.paper_form_code:
        errors.add("paper_form_code", _("Choose the paper form you will send.").render(language))


def _to_confirmation(number: str, language: Language) -> RedirectResponse:
    query = urlencode({"lang": language.value})
    return RedirectResponse(f"/etracking/created/{number}?{query}", status_code=303)


# --- anonymous --------------------------------------------------------------------------------


@router.get("/etracking/new", response_class=HTMLResponse)
async def new_tracking_form(request: Request, calls: Calls) -> HTMLResponse:
    typed = Typed.empty(page_language(request))
    return await _creation_page(request, calls, typed, FormErrors(FIELDS), signed_in=False)


@router.post(
    "/etracking/new",
    response_class=HTMLResponse,
    dependencies=[anonymous_form_protected, limit_anonymous_creations],
)
async def create_tracking_anonymously(request: Request, calls: Calls) -> Response:
    language = page_language(request)
    typed = await Typed.read(request)
    errors = FormErrors(FIELDS)
    _check_choice(typed, errors, language)
    if not errors:
        challenges: Challenges = request.app.state.challenges
        refusal = await challenges.spend(typed.altcha or None)
        if refusal is not None:
            errors.add(ALTCHA_FIELD, ANTI_ROBOT_MESSAGES[refusal].render(language))
    number = None if errors else await _create(request, calls, typed, errors)
    if number is None:
        return await _creation_page(request, calls, typed, errors, signed_in=False)
    return _to_confirmation(number, language)


# --- signed in --------------------------------------------------------------------------------


@router.get("/my/etrackings/new", response_class=HTMLResponse)
async def new_tracking_form_signed_in(
    request: Request, calls: Calls, session: SignedIn
) -> HTMLResponse:
    typed = Typed.empty(page_language(request))
    return await _creation_page(request, calls, typed, FormErrors(FIELDS), signed_in=True)


@router.post("/my/etrackings/new", response_class=HTMLResponse, dependencies=[csrf_protected])
async def create_tracking_signed_in(request: Request, calls: Calls, session: SignedIn) -> Response:
    language = page_language(request)
    typed = await Typed.read(request)
    errors = FormErrors(FIELDS)
    _check_choice(typed, errors, language)
    # The caller is set by the session: the tracking goes to the space it acts for.
    number = None if errors else await _create(request, calls, typed, errors)
    if number is None:
        return await _creation_page(request, calls, typed, errors, signed_in=True)
    return _to_confirmation(number, language)


# --- after creation, and the list -------------------------------------------------------------


@router.get(
    "/etracking/created/{number}",
    response_class=HTMLResponse,
    dependencies=[rate_limit(LOOKUPS)],
)
async def tracking_created(request: Request, calls: Calls, number: str) -> HTMLResponse:
    language = page_language(request)
    # The public lookup's call: a page anyone with the number may see, with nothing personal.
    reply = await calls.etracking.LookupTracking(
        pb.LookupTrackingRequest(number=number[:40], language=language)
    )
    tracking = reply.tracking
    shown = compact(tracking.number)
    lookup = urlencode({"number": tracking.number, "lang": language.value})
    return page(
        request,
        "etracking/created.html",
        number=tracking.number,
        form_title=tracking.paper_form.title,
        administration=tracking.paper_form.administration,
        # The API's sheet route (the same PDF, its rate limit): the sheet in the page's language.
        sheet_url=f"/api/v1/etracking/trackings/{shown}/sheet?lang={language.value}",
        lookup_url=f"/etracking/lookup?{lookup}",
    )


@router.get("/my/etrackings", response_class=HTMLResponse)
async def my_trackings(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.etracking.ListMyTrackings(pb.ListMyTrackingsRequest(language=language))
    rows = []
    for tracking in reply.trackings:
        last = tracking.history[-1].occurred_at if tracking.history else tracking.created_at
        moment = last.ToDatetime(tzinfo=UTC)
        rows.append(
            {
                "number": tracking.number,
                "form_title": tracking.paper_form.title,
                "status": tracking.status_label,
                "when": format_moment(moment, language),
                "iso": moment.isoformat(),
                "href": "/etracking/lookup?"
                + urlencode({"number": tracking.number, "lang": language.value}),
            }
        )
    response = page(request, "etracking/mine.html", trackings=rows)
    # Looked at now: the live badge counts news from this moment on.
    response.set_cookie(
        SEEN_COOKIE,
        str(int(time.time())),
        max_age=SEEN_COOKIE_SECONDS,
        path="/",
        secure=request.url.scheme == "https" or request.url.hostname in _LOOPBACK,
        httponly=True,
        samesite="lax",
    )
    return response
