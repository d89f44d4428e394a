"""The public account pages: register (F1), forgotten password (F5) and the landing of the link
identity mails to confirm a new e-mail address (F6).

Plain forms, complete without JavaScript but for the anti-robot check (the ALTCHA widget solves
its proof of work in the browser; without JavaScript the form says so). Each form is checked as
the API checks the same request (the same field types, the same service call), is protected by a
double-submit token (web/forms.py) and answers POST-redirect-GET: a refused form is shown again
with an error summary linked to each field and what was typed, a done one redirects to its page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from guichet.identity.v1 import identity_pb2 as pb
from guichet_gateway.account import RegistrationIn
from guichet_gateway.altcha import FIELD as ALTCHA_FIELD
from guichet_gateway.altcha import Challenges, Refusal
from guichet_gateway.deps import Calls, rate_limit
from guichet_gateway.fields import (
    CONFIRMATION_CODE_MAX_LENGTH,
    NAME_MAX_LENGTH,
    NATIONAL_ID_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    EmailText,
)
from guichet_gateway.ratelimit import ACCOUNT_REQUESTS
from guichet_gateway.web.forms import FormErrors, anonymous_form_protected, form_page, refused_input
from guichet_gateway.web.pages import page, page_language
from guichet_kit.i18n import Catalog, Language, Text
from guichet_kit.problems import validation_problem
from guichet_kit.values import MAX_EMAIL_LENGTH

_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

# The page's words for the anti-robot check (the API's name the endpoint to call instead).
ANTI_ROBOT_MESSAGES: dict[Refusal, Text] = {
    Refusal.MISSING: _(
        "The anti-robot check was not done. It needs JavaScript: turn it on, then send the "
        "form again."
    ),
    Refusal.INVALID: _("The anti-robot check did not succeed. Please send the form again."),
    Refusal.EXPIRED: _("The anti-robot check has expired. Please send the form again."),
    Refusal.REUSED: _("The anti-robot check was already used. Please send the form again."),
}
# Refusals of identity about one field, without a field error of their own.
_FIELD_OF_REASON = {"NATIONAL_ID_TAKEN": "national_id", "EMAIL_TAKEN": "email"}
REGISTRATION_FIELDS = ("national_id", "email", "password", "first_name", "last_name")
# What a page repeats of what was typed (the inputs' own bounds; a longer text is refused).
KEPT_LENGTH = {
    "national_id": NATIONAL_ID_MAX_LENGTH,
    "email": MAX_EMAIL_LENGTH,
    "first_name": NAME_MAX_LENGTH,
    "last_name": NAME_MAX_LENGTH,
    "password": PASSWORD_MAX_LENGTH,
}


def _validate(
    model: type[BaseModel], values: dict[str, Any], errors: FormErrors, language: Language
) -> Any:
    """The API's own checks of the same request: its field types and their messages, in the
    page's language."""
    try:
        return model.model_validate(values)
    except ValidationError as invalid:
        problem = validation_problem(list(invalid.errors()))
        errors.add_field_errors(problem.errors, language)
        return None


async def _anti_robot(
    request: Request, payload: str, errors: FormErrors, language: Language
) -> None:
    challenges: Challenges = request.app.state.challenges
    refusal = await challenges.spend(payload or None)
    if refusal is not None:
        errors.add(ALTCHA_FIELD, ANTI_ROBOT_MESSAGES[refusal].render(language))


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _redirect(path: str, language: Language, **query: str) -> RedirectResponse:
    return RedirectResponse(
        f"{path}?{urlencode({'lang': language.value, **query})}", status_code=303
    )


def _kept(values: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    return {f: values.get(f, "")[: KEPT_LENGTH.get(f, 200)] for f in fields}


# --- register (F1) ----------------------------------------------------------------------------


def _register_page(
    request: Request, status: int, values: dict[str, str], errors: FormErrors
) -> HTMLResponse:
    language = page_language(request)
    chosen = values.get("language") or language.value
    return form_page(
        request,
        "account/register.html",
        status,
        values=values,
        chosen_language=chosen if chosen in {lang.value for lang in Language} else language.value,
        errors=errors.messages,
        summary=errors.summary(),
        max_length=KEPT_LENGTH,
    )


@router.get("/account/register", response_class=HTMLResponse)
async def register_form(request: Request) -> HTMLResponse:
    return _register_page(request, 200, {}, FormErrors(REGISTRATION_FIELDS))


@router.post(
    "/account/register",
    response_class=HTMLResponse,
    dependencies=[anonymous_form_protected, rate_limit(ACCOUNT_REQUESTS)],
)
async def register(request: Request, calls: Calls) -> Response:
    language = page_language(request)
    typed = await _form(request)
    errors = FormErrors((*REGISTRATION_FIELDS, "language", ALTCHA_FIELD))
    values = _kept(typed, REGISTRATION_FIELDS)
    # The password is never sent back into the page.
    shown = {**values, "password": "", "language": typed.get("language", "")}
    body = {
        **values,
        "language": typed.get("language", language.value),
        "altcha": typed.get(ALTCHA_FIELD, ""),
    }
    registration = _validate(RegistrationIn, body, errors, language)
    if errors:
        return _register_page(request, 422, shown, errors)
    await _anti_robot(request, typed.get(ALTCHA_FIELD, ""), errors, language)
    if errors:
        return _register_page(request, 422, shown, errors)
    try:
        await calls.accounts.Register(
            pb.RegisterRequest(**registration.model_dump(mode="json", exclude={"altcha"}))
        )
    except grpc.aio.AioRpcError as failed:
        if not refused_input(failed, errors, language, field_of_reason=_FIELD_OF_REASON):
            raise
        return _register_page(request, 422, shown, errors)
    return _redirect("/account/register/done", language)


@router.get("/account/register/done", response_class=HTMLResponse)
async def registered(request: Request) -> HTMLResponse:
    return page(request, "account/registered.html")


# --- forgotten password (F5) ------------------------------------------------------------------


class _PasswordResetForm(BaseModel):
    email: EmailText


def _reset_page(
    request: Request, status: int, values: dict[str, str], errors: FormErrors
) -> HTMLResponse:
    return form_page(
        request,
        "account/password_reset.html",
        status,
        values=values,
        errors=errors.messages,
        summary=errors.summary(),
        max_length=KEPT_LENGTH,
    )


@router.get("/account/password-reset", response_class=HTMLResponse)
async def password_reset_form(request: Request) -> HTMLResponse:
    return _reset_page(request, 200, {"email": ""}, FormErrors(("email",)))


@router.post(
    "/account/password-reset",
    response_class=HTMLResponse,
    dependencies=[anonymous_form_protected, rate_limit(ACCOUNT_REQUESTS)],
)
async def password_reset(request: Request, calls: Calls) -> Response:
    language = page_language(request)
    typed = await _form(request)
    errors = FormErrors(("email", ALTCHA_FIELD))
    values = _kept(typed, ("email",))
    if not values["email"].strip():
        errors.add("email", _("Enter your e-mail address.").render(language))
    else:
        _validate(_PasswordResetForm, values, errors, language)
    if errors:
        return _reset_page(request, 422, values, errors)
    await _anti_robot(request, typed.get(ALTCHA_FIELD, ""), errors, language)
    if errors:
        return _reset_page(request, 422, values, errors)
    try:
        await calls.accounts.RequestPasswordReset(
            pb.RequestPasswordResetRequest(email=values["email"])
        )
    except grpc.aio.AioRpcError as failed:
        if not refused_input(failed, errors, language, field_of_reason=_FIELD_OF_REASON):
            raise
        return _reset_page(request, 422, values, errors)
    # The same answer whether an account has this address or not.
    return _redirect("/account/password-reset/sent", language)


@router.get("/account/password-reset/sent", response_class=HTMLResponse)
async def password_reset_sent(request: Request) -> HTMLResponse:
    return page(request, "account/password_reset_sent.html")


# --- the e-mail confirmation link (F6) --------------------------------------------------------
# The link identity mails (IDENTITY_PUBLIC_BASE_URL + /account/confirm-email?token=…) opens a page
# with a button: opening a link changes nothing (mail scanners open links too); sending the form
# confirms, through the same call as POST /api/v1/accounts/email-confirmation.


def _confirm_page(request: Request, status: int, token: str, error: str | None) -> HTMLResponse:
    return form_page(request, "account/confirm_email.html", status, token=token, error=error)


@router.get("/account/confirm-email", response_class=HTMLResponse)
async def confirm_email_form(request: Request, token: str = "") -> HTMLResponse:
    return _confirm_page(request, 200, token[:CONFIRMATION_CODE_MAX_LENGTH], None)


@router.post(
    "/account/confirm-email",
    response_class=HTMLResponse,
    dependencies=[anonymous_form_protected, rate_limit(ACCOUNT_REQUESTS)],
)
async def confirm_email(request: Request, calls: Calls) -> Response:
    language = page_language(request)
    token = (await _form(request)).get("token", "")[:CONFIRMATION_CODE_MAX_LENGTH]
    try:
        await calls.accounts.ConfirmEmailChange(pb.ConfirmEmailChangeRequest(token=token))
    except grpc.aio.AioRpcError as failed:
        errors = FormErrors(("token",))
        if not refused_input(failed, errors, language, field_of_reason=_FIELD_OF_REASON):
            raise
        status = 422 if failed.code() == grpc.StatusCode.INVALID_ARGUMENT else 409
        return _confirm_page(request, status, token, errors.messages["token"])
    return _redirect("/account/confirm-email/done", language)


@router.get("/account/confirm-email/done", response_class=HTMLResponse)
async def email_confirmed(request: Request) -> HTMLResponse:
    return page(request, "account/email_confirmed.html")
