"""The signed-in person's own account pages in "my space": profile and address (F7), preferences
(F9), sign-in and security (F4, F6, F12), export of one's data (F13), deleting the account (F8).

Each page calls the same services with the same requests as the API's /api/v1/me routes: the
service checks what was typed, and its field errors, already in the page's language, are shown
next to the fields with a summary at the top; what was typed is kept. A saved form answers
POST-redirect-GET with a success alert. A refusal for a stronger sign-in is not caught: the page
hook sends the person to sign in at that level and back (step-up).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from functools import cache
from typing import Any
from urllib.parse import urlencode

import grpc
from babel import Locale
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from guichet.identity.v1 import identity_pb2 as pb
from guichet_gateway.account import export_my_data
from guichet_gateway.deps import Calls, rate_limit
from guichet_gateway.fields import (
    HOUSE_NUMBER_MAX_LENGTH,
    LOCALITY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    PHONE_MAX_LENGTH,
    POSTAL_CODE_MAX_LENGTH,
    STREET_MAX_LENGTH,
)
from guichet_gateway.ratelimit import ACCOUNT_REQUESTS
from guichet_gateway.web.forms import FormErrors, refused_input
from guichet_gateway.web.pages import page, page_language
from guichet_gateway.web.relations_space import _acting_label
from guichet_gateway.web.session import SignedIn, WebSession, csrf_protected, store_of
from guichet_kit.auth import PRIVATE, LevelOfAssurance, insufficient_level, set_caller
from guichet_kit.i18n import (
    LOCALES,
    N_,
    Catalog,
    Language,
    format_moment,
    parse_language,
)
from guichet_kit.problems import Problem, www_authenticate
from guichet_kit.values import MAX_EMAIL_LENGTH

_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

# How much of a typed text a page repeats: the inputs' own bounds, generously (a longer text is
# the service's to refuse, never cut here).
KEPT_LENGTH = 1000
PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "street",
    "house_number",
    "postal_code",
    "locality",
    "country",
)
ADDRESS_FIELDS = ("street", "house_number", "postal_code", "locality", "country")
MAX_LENGTHS = {
    "first_name": NAME_MAX_LENGTH,
    "last_name": NAME_MAX_LENGTH,
    "phone": PHONE_MAX_LENGTH,
    "street": STREET_MAX_LENGTH,
    "house_number": HOUSE_NUMBER_MAX_LENGTH,
    "postal_code": POSTAL_CODE_MAX_LENGTH,
    "locality": LOCALITY_MAX_LENGTH,
    "current_password": PASSWORD_MAX_LENGTH,
    "new_password": PASSWORD_MAX_LENGTH,
    "new_password_again": PASSWORD_MAX_LENGTH,
    "new_email": MAX_EMAIL_LENGTH,
    "confirm_email": MAX_EMAIL_LENGTH,
}
FLAGS = ("email_notifications", "sms_notifications", "edelivery_subscribed")
# Region codes the locale data names that are not countries (EU, UN, pseudo-regions).
_NOT_COUNTRIES = {"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"}
# What the sign-in activity's Keycloak event types mean for the person.
SIGN_IN_EVENTS = {
    "LOGIN": N_("Signed in"),
    "LOGIN_ERROR": N_("Failed sign-in"),
    "LOGOUT": N_("Signed out"),
    "CODE_TO_TOKEN": N_("Sign-in completed"),
    "CODE_TO_TOKEN_ERROR": N_("Sign-in not completed"),
    "UPDATE_PASSWORD": N_("Password changed"),
    "UPDATE_CREDENTIAL": N_("Sign-in method changed"),
    "UPDATE_TOTP": N_("Authenticator app set up"),
    "REMOVE_TOTP": N_("Authenticator app removed"),
    "RESET_PASSWORD": N_("Password reset"),
    "VERIFY_EMAIL": N_("E-mail address confirmed"),
}
SIGN_INS_SHOWN = 20


def _in_own_name(session: WebSession) -> None:
    """One's own account is changed in one's own name, whatever context the person acts in on
    other pages (identity refuses these changes in another's name), as the API's export does."""
    set_caller(session.principal, PRIVATE)


async def _typed(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    form = await request.form()
    values: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        values[name] = value[:KEPT_LENGTH] if isinstance(value, str) else ""
    return values


async def _checked(request: Request, names: tuple[str, ...]) -> dict[str, bool]:
    form = await request.form()
    return {name: form.get(name) == "on" for name in names}


def _back_to(path: str, language: Language, **query: str) -> RedirectResponse:
    """POST-redirect-GET: the page again, saying what was done."""
    return RedirectResponse(
        f"{path}?{urlencode({'lang': language.value, **query})}", status_code=303
    )


def _sort_key(name: str) -> str:
    # Åland next to Albania, not after Zimbabwe.
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


@cache
def countries(language: Language) -> tuple[tuple[str, str], ...]:
    """ISO 3166-1 alpha-2 codes with their names in the language, in its alphabetical order."""
    names = Locale.parse(LOCALES[language]).territories
    found = [
        (code, name)
        for code, name in names.items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    ]
    return tuple(sorted(found, key=lambda pair: _sort_key(pair[1]).casefold()))


# --- profile and address (F7) -----------------------------------------------------------------


def _profile_values(profile: pb.Profile) -> dict[str, str]:
    address = profile.address
    return {
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "phone": profile.phone,
        "street": address.street,
        "house_number": address.house_number,
        "postal_code": address.postal_code,
        "locality": address.locality,
        "country": address.country,
    }


def _profile_page(
    request: Request,
    acting_label: str,
    status: int,
    profile: pb.Profile,
    values: Mapping[str, str],
    errors: FormErrors,
    saved: bool = False,
) -> HTMLResponse:
    language = page_language(request)
    return page(
        request,
        "my/profile.html",
        status,
        section="profile",
        acting_label=acting_label,
        profile=profile,
        values=values,
        errors=errors.messages,
        summary=errors.summary(),
        saved=saved,
        countries=countries(language),
        max_length=MAX_LENGTHS,
    )


@router.get("/my/profile", response_class=HTMLResponse)
async def profile_page(
    request: Request, calls: Calls, session: SignedIn, saved: str = ""
) -> HTMLResponse:
    reply = await calls.profiles.GetProfile(pb.GetProfileRequest())
    values = _profile_values(reply.profile)
    label = await _acting_label(calls, session, page_language(request))
    return _profile_page(
        request, label, 200, reply.profile, values, FormErrors(PROFILE_FIELDS), bool(saved)
    )


@router.post("/my/profile", response_class=HTMLResponse, dependencies=[csrf_protected])
async def save_profile(request: Request, calls: Calls, session: SignedIn) -> Response:
    _in_own_name(session)
    language = page_language(request)
    typed = await _typed(request, PROFILE_FIELDS)
    address = {name: typed[name] for name in ADDRESS_FIELDS}
    try:
        await calls.profiles.UpdateProfile(
            pb.UpdateProfileRequest(
                first_name=typed["first_name"],
                last_name=typed["last_name"],
                phone=typed["phone"],
                address=pb.Address(**address),
            )
        )
    except grpc.aio.AioRpcError as failed:
        errors = FormErrors(PROFILE_FIELDS)
        if not refused_input(failed, errors, language, fallback="first_name"):
            raise
        current = await calls.profiles.GetProfile(pb.GetProfileRequest())
        label = await _acting_label(calls, session, language)
        return _profile_page(request, label, 422, current.profile, typed, errors)
    return _back_to("/my/profile", language, saved="1")


# --- preferences (F9) -------------------------------------------------------------------------

PREFERENCE_FIELDS = (*FLAGS, "language")


def _preferences_page(
    request: Request,
    acting_label: str,
    status: int,
    chosen: Mapping[str, Any],
    errors: FormErrors,
    phone: str,
    saved: bool = False,
) -> HTMLResponse:
    return page(
        request,
        "my/preferences.html",
        status,
        section="preferences",
        acting_label=acting_label,
        chosen=chosen,
        errors=errors.messages,
        summary=errors.summary(),
        phone=phone,
        saved=saved,
    )


@router.get("/my/preferences", response_class=HTMLResponse)
async def preferences_page(
    request: Request, calls: Calls, session: SignedIn, saved: str = ""
) -> HTMLResponse:
    preferences = (await calls.profiles.GetPreferences(pb.GetPreferencesRequest())).preferences
    profile = (await calls.profiles.GetProfile(pb.GetProfileRequest())).profile
    chosen = {
        "email_notifications": preferences.email_notifications,
        "sms_notifications": preferences.sms_notifications,
        "edelivery_subscribed": preferences.edelivery_subscribed,
        "language": preferences.language,
    }
    label = await _acting_label(calls, session, page_language(request))
    return _preferences_page(
        request, label, 200, chosen, FormErrors(PREFERENCE_FIELDS), profile.phone, bool(saved)
    )


@router.post("/my/preferences", response_class=HTMLResponse, dependencies=[csrf_protected])
async def save_preferences(request: Request, calls: Calls, session: SignedIn) -> Response:
    _in_own_name(session)
    language = page_language(request)
    flags = await _checked(request, FLAGS)
    chosen_language = (await _typed(request, ("language",)))["language"]
    try:
        await calls.profiles.UpdatePreferences(
            pb.UpdatePreferencesRequest(
                preferences=pb.Preferences(language=chosen_language, **flags)
            )
        )
    except grpc.aio.AioRpcError as failed:
        errors = FormErrors(PREFERENCE_FIELDS)
        if not refused_input(failed, errors, language, fallback="email_notifications"):
            raise
        profile = (await calls.profiles.GetProfile(pb.GetProfileRequest())).profile
        chosen = {**flags, "language": chosen_language}
        label = await _acting_label(calls, session, language)
        return _preferences_page(request, label, 422, chosen, errors, profile.phone)
    # The person's new language is the page's from now on, and the session's.
    if (preferred := parse_language(chosen_language)) is not None:
        await store_of(request).set_language(session.key_hash, preferred)
    return _back_to("/my/preferences", parse_language(chosen_language) or language, saved="1")


# --- sign-in and security (F4, F6, F12) -------------------------------------------------------

PASSWORD_FIELDS = ("current_password", "new_password", "new_password_again")
EMAIL_FIELDS = ("new_email",)


@dataclass(frozen=True)
class SignInShown:
    what: str
    when: str
    iso: str
    ip_address: str
    failed: bool


async def _sign_ins(calls: Any, language: Language) -> list[SignInShown]:
    reply = await calls.accounts.ListSignIns(pb.ListSignInsRequest(limit=SIGN_INS_SHOWN))
    shown = []
    for event in reply.sign_ins:
        moment = event.occurred_at.ToDatetime(tzinfo=UTC)
        label = SIGN_IN_EVENTS.get(event.type)
        shown.append(
            SignInShown(
                what=_.gettext(label, language) if label else event.type,
                when=format_moment(moment, language),
                iso=moment.isoformat(),
                ip_address=event.ip_address,
                failed=event.type.endswith("_ERROR"),
            )
        )
    return shown


async def _security_page(
    request: Request,
    calls: Any,
    session: WebSession,
    status: int = 200,
    *,
    errors: FormErrors | None = None,
    new_email: str = "",
    done: str = "",
) -> HTMLResponse:
    language = page_language(request)
    wrong = errors or FormErrors(())
    return page(
        request,
        "my/security.html",
        status,
        section="security",
        acting_label=await _acting_label(calls, session, language),
        email=session.principal.email,
        sign_ins=await _sign_ins(calls, language),
        errors=wrong.messages,
        summary=wrong.summary(),
        new_email=new_email,
        done=done,
        max_length=MAX_LENGTHS,
    )


@router.get("/my/security", response_class=HTMLResponse)
async def security_page(
    request: Request, calls: Calls, session: SignedIn, done: str = ""
) -> HTMLResponse:
    return await _security_page(
        request, calls, session, done=done if done in {"password", "email"} else ""
    )


@router.post("/my/security/password", response_class=HTMLResponse, dependencies=[csrf_protected])
async def change_password(request: Request, calls: Calls, session: SignedIn) -> Response:
    _in_own_name(session)
    language = page_language(request)
    typed = await _typed(request, PASSWORD_FIELDS)
    errors = FormErrors(PASSWORD_FIELDS)
    if typed["new_password"] != typed["new_password_again"]:
        errors.add(
            "new_password_again",
            _("The two new passwords are not the same.").render(language),
        )
    else:
        try:
            await calls.accounts.ChangePassword(
                pb.ChangePasswordRequest(
                    current_password=typed["current_password"],
                    new_password=typed["new_password"],
                )
            )
        except grpc.aio.AioRpcError as failed:
            if not refused_input(failed, errors, language, fallback="new_password"):
                raise
    if errors:
        # Passwords are never sent back into a page.
        return await _security_page(request, calls, session, 422, errors=errors)
    return _back_to("/my/security", language, done="password")


@router.post(
    "/my/security/email",
    response_class=HTMLResponse,
    dependencies=[csrf_protected, rate_limit(ACCOUNT_REQUESTS)],
)
async def change_email(request: Request, calls: Calls, session: SignedIn) -> Response:
    _in_own_name(session)
    language = page_language(request)
    typed = await _typed(request, EMAIL_FIELDS)
    try:
        await calls.accounts.RequestEmailChange(
            pb.RequestEmailChangeRequest(new_email=typed["new_email"])
        )
    except grpc.aio.AioRpcError as failed:
        errors = FormErrors(EMAIL_FIELDS)
        if not refused_input(failed, errors, language, fallback="new_email"):
            raise
        return await _security_page(
            request, calls, session, 422, errors=errors, new_email=typed["new_email"]
        )
    return _back_to("/my/security", language, done="email")


# --- export of my data (F13) ------------------------------------------------------------------


@dataclass(frozen=True)
class ExportPart:
    label: str
    count: int


def _parts(document: dict[str, Any], language: Language) -> list[ExportPart]:
    """What the export holds, by kind, for the page to say before the download."""
    person = document["identity"].get("person") or {}
    counted = (
        (N_("Relations and mandates"), person.get("relations", [])),
        (N_("Professional spaces"), person.get("spaces", [])),
        (N_("Acts done on my behalf"), person.get("acts_on_my_behalf", [])),
        (N_("Acts done for others"), person.get("acts_for_others", [])),
        (N_("Sign-ins"), document["identity"].get("sign_ins", [])),
        (N_("eTrackings"), document["etracking"]),
        (N_("Notifications sent to me"), document["messaging"].get("notifications", [])),
        (N_("Conversations with administrations"), document["messaging"].get("threads", [])),
        (N_("eDocuments received"), document["messaging"].get("edocuments", [])),
    )
    return [ExportPart(_.gettext(label, language), len(items)) for label, items in counted]


@router.get("/my/account/export", response_class=HTMLResponse)
async def export_page(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    # The API's export itself: identity asks for a substantial sign-in and the page hook steps
    # up; the page then says what the download holds.
    exported = await export_my_data(calls, session.principal)
    document = json.loads(bytes(exported.body))
    language = page_language(request)
    return page(
        request,
        "my/account_export.html",
        section="export",
        acting_label=await _acting_label(calls, session, language),
        parts=_parts(document, language),
    )


@router.get("/my/account/export/download")
async def download_export(calls: Calls, session: SignedIn) -> Response:
    """The download: reading only, so a plain link (GET); the same document as the API's, as an
    attachment, never kept by the browser's cache."""
    exported = await export_my_data(calls, session.principal)
    exported.headers["Cache-Control"] = "no-store"
    return exported


# --- deleting the account (F8) ----------------------------------------------------------------

DELETE_FIELDS = ("confirm_email", "understood")
# Identity deletes at this level only; the form is offered once the sign-in has it, so what the
# person types is not lost to a step-up on sending.
DELETION_LEVEL = LevelOfAssurance.SUBSTANTIAL


def _needs_stronger_sign_in(session: WebSession) -> None:
    if session.principal.level < DELETION_LEVEL:
        refusal = insufficient_level(DELETION_LEVEL)
        raise Problem(
            401,
            refusal.reason,
            headers={"WWW-Authenticate": www_authenticate(refusal.reason, refusal.metadata)},
        )


def _delete_page(
    request: Request, acting_label: str, status: int, typed: Mapping[str, Any], errors: FormErrors
) -> HTMLResponse:
    return page(
        request,
        "my/delete.html",
        status,
        section="delete",
        acting_label=acting_label,
        typed=typed,
        errors=errors.messages,
        summary=errors.summary(),
        max_length=MAX_LENGTHS,
    )


@router.get("/my/account/delete", response_class=HTMLResponse)
async def delete_page(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    _needs_stronger_sign_in(session)
    label = await _acting_label(calls, session, page_language(request))
    return _delete_page(
        request, label, 200, {"confirm_email": "", "understood": False}, FormErrors(DELETE_FIELDS)
    )


@router.post("/my/account/delete", response_class=HTMLResponse, dependencies=[csrf_protected])
async def delete_account(request: Request, calls: Calls, session: SignedIn) -> Response:
    _in_own_name(session)
    language = page_language(request)
    confirm_email = (await _typed(request, ("confirm_email",)))["confirm_email"]
    understood = (await _checked(request, ("understood",)))["understood"]
    typed = {"confirm_email": confirm_email, "understood": understood}
    errors = FormErrors(DELETE_FIELDS)
    if not understood:
        errors.add(
            "understood",
            _("Tick the box to confirm that you want to delete your account.").render(language),
        )
    if errors:
        label = await _acting_label(calls, session, language)
        return _delete_page(request, label, 422, typed, errors)
    try:
        await calls.accounts.DeleteAccount(pb.DeleteAccountRequest(confirm_email=confirm_email))
    except grpc.aio.AioRpcError as failed:
        if not refused_input(failed, errors, language, fallback="confirm_email"):
            raise
        label = await _acting_label(calls, session, language)
        return _delete_page(request, label, 422, typed, errors)
    # The account is gone: this browser's session ends with it, and any other of the person's
    # (Keycloak's ended with the user).
    store = store_of(request)
    await store.end(session.key_hash)
    await store.end_subject(session.principal.subject)
    response = _back_to("/my/account/deleted", language)
    store.cookie.clear(response)
    return response


@router.get("/my/account/deleted", response_class=HTMLResponse)
async def account_deleted(request: Request) -> HTMLResponse:
    return page(request, "my/_account_deleted.html")
