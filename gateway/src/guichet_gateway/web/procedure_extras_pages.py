"""A request's appointment (F32), the prefill of its form with consent (F24) and its electronic
signature (F26), as pages of "my space".

- The appointment: the free slots of the request's procedure by place and day, in the person's
  language and Luxembourg time; a slot chosen for a draft is held while the form is finished
  (until when is said), booked on submission, then changed, cancelled or added to a calendar.
- Prefill: before the form is filled, each field that names a source, its value there, the
  source and when it was read; the person consents or fills the form by hand.
- The signature: a person signs with their eID card's middleware, outside the browser. The page
  gives the data to sign (the answers' SHA-256 digest, also as a file) and takes back the
  certificate and the signature file; the service verifies them and submits.

The same ProceduresService calls as the API; every form works without JavaScript (POST-redirect-
GET, the session's CSRF token); what the service refuses is said at the top of the page and next
to the input it is about, and nothing changes.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import grpc
from babel.dates import format_date, format_time
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.datastructures import UploadFile

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_gateway.deps import Calls
from guichet_gateway.web.forms import ABOUT_THE_INPUT
from guichet_gateway.web.pages import page, page_language
from guichet_gateway.web.relations_space import _acting_label
from guichet_gateway.web.session import SignedIn, WebSession, csrf_protected
from guichet_kit.errors import read_rpc_failure
from guichet_kit.i18n import LOCALES, LUXEMBOURG, Catalog, Language, format_moment, render
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

SECTION = "requests"
_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_PLACE = re.compile(r"[a-z][a-z0-9-]{1,39}")
# What a certificate and a signature value can be, well above any real one.
CERTIFICATE_MAX_BYTES = 16 * 1024
SIGNATURE_MAX_BYTES = 1024
ALGORITHMS = {
    "ecdsa-sha256": _("ECDSA with SHA-256 (eID card)"),
    "rsa-pss-sha256": _("RSA-PSS with SHA-256"),
    "rsa-pkcs1v15-sha256": _("RSA PKCS #1 v1.5 with SHA-256"),
}
# The refusals of the service a page shows (anything else is the error pages'): what was chosen
# or sent cannot be taken, or the request's state does not allow it.
ABOUT_THE_CHOICE = ABOUT_THE_INPUT | {grpc.StatusCode.OUT_OF_RANGE}
APPOINTMENT_DONE = {
    "held": _("The slot is held for you while you finish the form."),
    "changed": _("Your appointment was changed."),
    "cancelled": _("Your appointment was cancelled."),
}
DECISIONS = {
    "accepted": _("You accepted that the form be prefilled with these values."),
    "refused": _("You chose to fill the form by hand."),
}
OPEN_STATES = (pb.REQUEST_STATE_SUBMITTED, pb.REQUEST_STATE_ACTION_NEEDED)


def _redirect(path: str, language: Language, **query: str) -> RedirectResponse:
    return RedirectResponse(
        f"{path}?{urlencode({'lang': language.value, **query})}", status_code=303
    )


def _request_id(text: str) -> str:
    # Any other text is as unknown as another person's request.
    if not _ID.fullmatch(text):
        raise Problem(404, "NOT_FOUND")
    return text


def _moment(stamp: Timestamp, language: Language) -> dict[str, str] | None:
    if not stamp.seconds and not stamp.nanos:
        return None
    moment = stamp.ToDatetime(tzinfo=UTC)
    return {"text": format_moment(moment, language), "iso": moment.isoformat()}


async def _request(calls: Calls, request_id: str, language: Language) -> pb.Request:
    reply = await calls.procedures.GetRequest(
        pb.GetRequestRequest(request_id=_request_id(request_id), language=language)
    )
    return reply.request


async def _space_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    template: str,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    language = page_language(request)
    return page(
        request,
        template,
        status,
        section=SECTION,
        acting_label=await _acting_label(calls, session, language),
        **values,
    )


def _about(request: pb.Request, language: Language) -> dict[str, Any]:
    """What every page of a request says of it."""
    lang = language.value
    return {
        "id": request.id,
        "title": request.title,
        "reference": request.reference,
        "draft": request.state == pb.REQUEST_STATE_DRAFT,
        "open": request.state in OPEN_STATES,
        "next_step": request.next_step,
        "href": f"/my/requests/{request.id}?lang={lang}",
        "continue_href": f"/my/requests/{request.id}/steps/{request.next_step}?lang={lang}"
        if request.next_step
        else f"/my/requests/{request.id}/summary?lang={lang}",
    }


def _refused(failed: grpc.aio.AioRpcError, language: Language) -> str | None:
    """The service's words when it refused what was chosen; None for anything else."""
    failure = read_rpc_failure(failed)
    if failure.code not in ABOUT_THE_CHOICE:
        return None
    if failure.field_errors:
        return render(failure.field_errors[0].message, language)
    return failure.message


# --- the appointment (F32) --------------------------------------------------------------------


def _local(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC).astimezone(LUXEMBOURG)


def _slot(slot: pb.Slot, language: Language) -> dict[str, Any]:
    locale = LOCALES[language]
    starts, ends = _local(slot.starts_at), _local(slot.ends_at)
    return {
        "id": slot.id,
        "place": slot.place.name or slot.place.code,
        "place_code": slot.place.code,
        "address": slot.place.address,
        "day": format_date(starts, "full", locale=locale),
        "date_iso": starts.date().isoformat(),
        "starts": format_time(starts, "HH:mm", locale=locale),
        "ends": format_time(ends, "HH:mm", locale=locale),
        "starts_iso": starts.isoformat(),
        "free": slot.free,
    }


def _places(slots: Sequence[pb.Slot], language: Language) -> list[dict[str, Any]]:
    """The slots by place, then by day, in the order of their start."""
    places: dict[str, dict[str, Any]] = {}
    for slot in slots:
        shown = _slot(slot, language)
        place = places.setdefault(
            slot.place.code,
            {"code": slot.place.code, "name": shown["place"], "address": shown["address"]},
        )
        days: dict[str, dict[str, Any]] = place.setdefault("days", {})
        days.setdefault(shown["date_iso"], {"day": shown["day"], "slots": []})["slots"].append(
            shown
        )
    return [{**place, "days": list(place["days"].values())} for place in places.values()]


def _appointment(request: pb.Request, language: Language) -> dict[str, Any] | None:
    given = request.appointment
    if not request.HasField("appointment") or not given.slot.id:
        return None
    held_until = _moment(given.held_until, language) if given.state == "held" else None
    lapsed = held_until is not None and given.held_until.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)
    return {
        "state": given.state,
        "slot": _slot(given.slot, language),
        "held_until": held_until,
        "held_until_time": format_time(_local(given.held_until), "HH:mm", locale=LOCALES[language])
        if held_until
        else "",
        "lapsed": lapsed,
        "reason": given.reason,
    }


async def _appointment_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    found: pb.Request,
    *,
    place: str = "",
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    language = page_language(request)
    slots: list[pb.Slot] = []
    offered = True
    changeable = found.state == pb.REQUEST_STATE_DRAFT or found.state in OPEN_STATES
    all_places: list[dict[str, str]] = []
    if changeable:
        try:
            reply = await calls.procedures.ListFreeSlots(
                pb.ListFreeSlotsRequest(request_id=found.id, language=language)
            )
            slots = list(reply.slots)
        except grpc.aio.AioRpcError as failed:
            if read_rpc_failure(failed).reason != "APPOINTMENT_NOT_OFFERED":
                raise
            offered = False
    seen: dict[str, str] = {}
    for slot in slots:
        seen.setdefault(slot.place.code, slot.place.name or slot.place.code)
    all_places = [{"code": code, "name": name} for code, name in seen.items()]
    chosen = place if place in seen else ""
    shown = [slot for slot in slots if not chosen or slot.place.code == chosen]
    appointment = _appointment(found, language)
    done = APPOINTMENT_DONE.get(request.query_params.get("done", ""))
    return await _space_page(
        request,
        calls,
        session,
        "procedures/appointment.html",
        status,
        req=_about(found, language),
        appointment=appointment,
        offered=offered,
        changeable=changeable,
        places=_places(shown, language),
        all_places=all_places,
        chosen_place=chosen,
        error=error,
        done=done.render(language) if done else "",
        calendar_href=f"/my/requests/{found.id}/appointment/calendar"
        if appointment and appointment["state"] == "booked"
        else "",
    )


@router.get("/my/requests/{request_id}/appointment", response_class=HTMLResponse)
async def appointment_page(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> HTMLResponse:
    language = page_language(request)
    found = await _request(calls, request_id, language)
    place = request.query_params.get("place", "")
    return await _appointment_page(
        request, calls, session, found, place=place if _PLACE.fullmatch(place) else ""
    )


@router.post(
    "/my/requests/{request_id}/appointment",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def choose_slot(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    """A draft's slot is held; a submitted request's booking moves to it."""
    language = page_language(request)
    chosen = (await request.form()).get("slot_id")
    error = ""
    if not isinstance(chosen, str) or not _ID.fullmatch(chosen):
        error = _("Choose one of the free slots.").render(language)
    else:
        try:
            await calls.procedures.ChangeAppointment(
                pb.ChangeAppointmentRequest(
                    request_id=_request_id(request_id), slot_id=chosen, language=language
                )
            )
        except grpc.aio.AioRpcError as failed:
            refused = _refused(failed, language)
            if refused is None:
                raise
            error = refused
    found = await _request(calls, request_id, language)
    if error:
        return await _appointment_page(request, calls, session, found, error=error, status=422)
    done = "held" if found.state == pb.REQUEST_STATE_DRAFT else "changed"
    return _redirect(f"/my/requests/{found.id}/appointment", language, done=done)


@router.post(
    "/my/requests/{request_id}/appointment/cancel",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def cancel_appointment(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    try:
        await calls.procedures.CancelAppointment(
            pb.CancelAppointmentRequest(request_id=_request_id(request_id), language=language)
        )
    except grpc.aio.AioRpcError as failed:
        refused = _refused(failed, language)
        if refused is None:
            raise
        found = await _request(calls, request_id, language)
        return await _appointment_page(request, calls, session, found, error=refused, status=409)
    return _redirect(f"/my/requests/{request_id}/appointment", language, done="cancelled")


@router.get("/my/requests/{request_id}/appointment/calendar")
async def appointment_calendar(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    reply = await calls.procedures.GetAppointmentCalendar(
        pb.GetAppointmentCalendarRequest(request_id=_request_id(request_id), language=language)
    )
    name = reply.filename or "appointment.ics"
    return Response(
        reply.ics,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- prefill with consent (F24) ---------------------------------------------------------------


def _prefilled(field: pb.PrefilledField, language: Language) -> dict[str, Any]:
    return {
        "id": field.field_id,
        "label": field.label,
        "value": field.value_display,
        "source": field.source_name or field.source,
        "read_at": _moment(field.read_at, language),
        "locked": field.locked,
        "available": field.available,
    }


def _first_step(found: pb.Request) -> str:
    return next((s.id for s in found.steps if s.applicable), "")


@router.get("/my/requests/{request_id}/prefill", response_class=HTMLResponse)
async def prefill_page(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    found = await _request(calls, request_id, language)
    if found.state != pb.REQUEST_STATE_DRAFT:
        return _redirect(f"/my/requests/{found.id}", language)
    offers: list[dict[str, Any]] = []
    decision = DECISIONS.get(found.prefill_decision)
    if not found.prefill_decision:
        reply = await calls.procedures.PreviewPrefill(
            pb.PreviewPrefillRequest(request_id=found.id, language=language)
        )
        offers = [_prefilled(field, language) for field in reply.fields]
    first = _first_step(found)
    return await _space_page(
        request,
        calls,
        session,
        "procedures/prefill.html",
        req=_about(found, language),
        offers=offers,
        decided=decision.render(language) if decision else "",
        prefilled=[_prefilled(field, language) for field in found.prefilled],
        form_href=f"/my/requests/{found.id}/steps/{first}?lang={language.value}"
        if first
        else f"/my/requests/{found.id}/summary?lang={language.value}",
    )


@router.post(
    "/my/requests/{request_id}/prefill",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def decide_prefill(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    decision = (await request.form()).get("decision")
    if decision not in ("accept", "by_hand"):
        return _redirect(f"/my/requests/{_request_id(request_id)}/prefill", language)
    reply = await calls.procedures.ConsentPrefill(
        pb.ConsentPrefillRequest(
            request_id=_request_id(request_id), accept=decision == "accept", language=language
        )
    )
    first = _first_step(reply.request)
    if not first:
        return _redirect(f"/my/requests/{reply.request.id}/summary", language)
    return _redirect(f"/my/requests/{reply.request.id}/steps/{first}", language)


# --- the electronic signature (F26) -----------------------------------------------------------

SIGN_INPUTS = ("certificate", "signature", "algorithm", "chain")


async def _sign_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    found: pb.Request,
    errors: dict[str, str] | None = None,
    algorithm: str = "ecdsa-sha256",
    status: int = 200,
) -> HTMLResponse:
    language = page_language(request)
    errors = errors or {}
    return await _space_page(
        request,
        calls,
        session,
        "procedures/sign.html",
        status,
        req=_about(found, language),
        digest=found.answers_sha256,
        complete=not found.next_step and not found.exit_message,
        errors=errors,
        summary=[(f"sign-{name}", errors[name]) for name in SIGN_INPUTS if name in errors],
        algorithms=[(key, label.render(language)) for key, label in ALGORITHMS.items()],
        algorithm=algorithm if algorithm in ALGORITHMS else "ecdsa-sha256",
        idempotency_key=str(uuid.uuid4()),
        digest_href=f"/my/requests/{found.id}/sign/digest",
    )


@router.get("/my/requests/{request_id}/sign", response_class=HTMLResponse)
async def sign_page(request: Request, calls: Calls, session: SignedIn, request_id: str) -> Response:
    language = page_language(request)
    found = await _request(calls, request_id, language)
    if found.state != pb.REQUEST_STATE_DRAFT:
        return _redirect(f"/my/requests/{found.id}", language)
    return await _sign_page(request, calls, session, found)


@router.get("/my/requests/{request_id}/sign/digest")
async def data_to_sign(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    """The 32 bytes the signature covers, for the card's signing software."""
    language = page_language(request)
    found = await _request(calls, request_id, language)
    if found.state != pb.REQUEST_STATE_DRAFT or not found.answers_sha256:
        raise Problem(404, "NOT_FOUND")
    return Response(
        bytes.fromhex(found.answers_sha256),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="answers-{found.id}.sha256"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def _file(sent: object, limit: int) -> bytes | None:
    """An uploaded file's bytes, read up to `limit` (None: no file, or larger)."""
    if not isinstance(sent, UploadFile) or not sent.filename:
        return None
    data = await sent.read(limit + 1)
    return data if 0 < len(data) <= limit else None


def _signature_value(data: bytes) -> bytes:
    """The value as sent: raw bytes, or their base64 text (what some signing tools write)."""
    text = data.strip()
    if text and re.fullmatch(rb"[A-Za-z0-9+/=\r\n]+", text):
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            return data
    return data


SIGNATURE_FIELDS = {
    "signature": "signature",
    "signature.value": "signature",
    "signature.certificate": "certificate",
    "signature.chain": "chain",
    "signature.algorithm": "algorithm",
}


@router.post(
    "/my/requests/{request_id}/sign",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def sign_and_submit(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    found = await _request(calls, request_id, language)
    if found.state != pb.REQUEST_STATE_DRAFT:
        return _redirect(f"/my/requests/{found.id}/submitted", language)
    form = await request.form(max_files=3)
    algorithm = form.get("algorithm")
    algorithm = algorithm if isinstance(algorithm, str) else ""
    errors: dict[str, str] = {}
    certificate = await _file(form.get("certificate"), CERTIFICATE_MAX_BYTES)
    if certificate is None:
        errors["certificate"] = _("Choose your certificate file (PEM or DER).").render(language)
    value = await _file(form.get("signature"), SIGNATURE_MAX_BYTES * 2)
    if value is None:
        errors["signature"] = _("Choose the signature file your card's software made.").render(
            language
        )
    if algorithm not in ALGORITHMS:
        errors["algorithm"] = _("Choose how the data was signed.").render(language)
    chain = await _file(form.get("chain"), CERTIFICATE_MAX_BYTES)
    if errors or certificate is None or value is None:
        return await _sign_page(request, calls, session, found, errors, algorithm, 422)
    key = form.get("idempotency_key")
    key = key if isinstance(key, str) and _ID.fullmatch(key) else str(uuid.uuid4())
    signature = pb.Signature(
        certificate=certificate,
        chain=[chain] if chain else [],
        value=_signature_value(value),
        algorithm=algorithm,
    )
    try:
        reply = await calls.procedures.SubmitRequest(
            pb.SubmitRequestRequest(
                request_id=found.id, idempotency_key=key, language=language, signature=signature
            )
        )
    except grpc.aio.AioRpcError as failed:
        failure = read_rpc_failure(failed)
        # Someone else's certificate is refused as not theirs (403): said on the form too.
        theirs = failure.reason == "SIGNER_NOT_APPLICANT"
        if failure.code not in ABOUT_THE_CHOICE and not theirs:
            raise
        for refused in failure.field_errors:
            errors.setdefault(
                SIGNATURE_FIELDS.get(refused.field, "signature"), render(refused.message, language)
            )
        if not failure.field_errors:
            errors["signature"] = failure.message
        again = await _request(calls, request_id, language)
        if again.state != pb.REQUEST_STATE_DRAFT:
            return _redirect(f"/my/requests/{again.id}/submitted", language)
        return await _sign_page(request, calls, session, again, errors, algorithm, 422)
    return _redirect(f"/my/requests/{reply.request.id}/submitted", language)
