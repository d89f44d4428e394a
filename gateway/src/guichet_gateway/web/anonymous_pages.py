"""Pages of a request filed without an account (F21): starting a procedure open without login
(behind the anti-robot check), its steps, the address confirmed by a mailed code, submission,
and the follow-up page the acknowledgement's link opens (status, history, proof, cancelling).

The follow-up token is the only key. The mail's link carries it once (`/procedures/follow?token=`):
the page moves it into an HttpOnly cookie scoped to /procedures/follow and sends the browser to
the same page without it, so it leaves the address bar, the history and any Referer. Every form
works without JavaScript and is protected like the other anonymous forms (`form_token`).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_gateway.altcha import FIELD as ALTCHA_FIELD
from guichet_gateway.altcha import Challenges
from guichet_gateway.deps import Calls, limit_anonymous_creations
from guichet_gateway.wallet import content_disposition
from guichet_gateway.web.account_pages import ANTI_ROBOT_MESSAGES
from guichet_gateway.web.forms import anonymous_form_protected, form_page
from guichet_gateway.web.pages import page, page_language
from guichet_gateway.web.procedures_pages import (
    ABOUT_THE_ANSWERS,
    Errors,
    Labels,
    _after_step,
    _answered_steps,
    _answers,
    _draft,
    _find_step,
    _indicator,
    _one,
    _refusal,
    _step_order_ok,
    change_rows,
    collect,
    compact_groups,
    controls,
    read_typed,
    typed_from_answers,
)
from guichet_kit.errors import read_rpc_failure
from guichet_kit.i18n import Catalog, Language
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")

router = APIRouter(include_in_schema=False)

FOLLOW = "/procedures/follow"
COOKIE = "guichet_follow"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_CODE = re.compile(r"[a-z][a-z0-9-]{2,59}")
_DIGITS = re.compile(r"[0-9]{6}")


def _to(path: str, language: Language) -> RedirectResponse:
    return RedirectResponse(f"{path}?lang={language.value}", status_code=303)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _keep(response: Response, request: Request, token: str) -> Response:
    response.set_cookie(
        COOKIE,
        token,
        path=FOLLOW,
        secure=_secure(request),
        httponly=True,
        # Lax: the mail's link is a top-level navigation from another site.
        samesite="lax",
    )
    return response


def _token(request: Request) -> str:
    held = request.cookies.get(COOKIE, "")
    if not _TOKEN.fullmatch(held):
        # As unknown as a wrong token: the page says the link is not valid.
        raise Problem(404, "FOLLOW_UP_NOT_FOUND")
    return held


# ---- starting without an account ----


async def _start_page(
    request: Request, calls: Calls, code: str, errors: dict[str, str], status: int = 200
) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.procedures.GetProcedure(
        pb.GetProcedureRequest(code=code, language=language)
    )
    summary = list(errors.items())
    return form_page(
        request,
        "procedures/anonymous/start.html",
        status,
        procedure=reply.form.procedure,
        errors=errors,
        summary=summary,
    )


@router.get("/procedures/{code}/without-account", response_class=HTMLResponse)
async def start_form(request: Request, calls: Calls, code: str) -> Response:
    if not _CODE.fullmatch(code):
        raise Problem(404, "NOT_FOUND")
    return await _start_page(request, calls, code, {})


@router.post(
    "/procedures/{code}/without-account",
    response_class=HTMLResponse,
    dependencies=[anonymous_form_protected, limit_anonymous_creations],
)
async def start(request: Request, calls: Calls, code: str) -> Response:
    language = page_language(request)
    if not _CODE.fullmatch(code):
        raise Problem(404, "NOT_FOUND")
    sent = (await request.form()).get(ALTCHA_FIELD)
    challenges: Challenges = request.app.state.challenges
    refusal = await challenges.spend(sent if isinstance(sent, str) and sent else None)
    if refusal is not None:
        message = ANTI_ROBOT_MESSAGES[refusal].render(language)
        return await _start_page(request, calls, code, {ALTCHA_FIELD: message}, 422)
    reply = await calls.procedures_anonymous.StartAnonymousDraft(
        pb.StartAnonymousDraftRequest(procedure_code=code, language=language)
    )
    return _keep(_to(FOLLOW, language), request, reply.follow_up_token)


# ---- the follow-up page ----


async def _followed(calls: Calls, token: str, language: Language) -> pb.AnonymousRequest:
    reply = await calls.procedures_anonymous.GetAnonymousRequest(
        pb.GetAnonymousRequestRequest(follow_up_token=token, language=language)
    )
    return reply.request


def _history(request: pb.Request, language: Language) -> list[dict[str, str]]:
    from guichet_gateway.web.procedures_pages import HISTORY, _moment

    shown = []
    for entry in request.history:
        kind = HISTORY.get(entry.kind)
        moment = _moment(entry.occurred_at, language)
        shown.append(
            {
                "kind": kind.render(language) if kind is not None else entry.kind,
                "when": moment["text"] if moment else "",
                "status": entry.status_text,
                "text": entry.text,
            }
        )
    return shown


async def _follow_page(
    request: Request,
    followed: pb.AnonymousRequest,
    errors: Errors | None = None,
    status: int = 200,
    done: str = "",
) -> HTMLResponse:
    language = page_language(request)
    errors = errors or Errors()
    draft = followed.request
    shown = _draft(draft, language)
    return form_page(
        request,
        "procedures/anonymous/follow.html",
        status,
        request_view=shown,
        followed=followed,
        steps=[
            {
                "id": s.id,
                "title": s.title,
                "complete": s.complete,
                "href": f"{FOLLOW}/steps/{s.id}?lang={language.value}",
            }
            for s in draft.steps
            if s.applicable
        ],
        answered=_answered_steps(draft, language, False),
        history=_history(draft, language),
        errors=errors,
        summary=errors.summary("email"),
        complete=draft.state == pb.REQUEST_STATE_DRAFT
        and not draft.next_step
        and not draft.exit_message,
        is_draft=draft.state == pb.REQUEST_STATE_DRAFT,
        idempotency_key=str(uuid.uuid4()),
        done=done,
    )


@router.get(FOLLOW, response_class=HTMLResponse)
async def follow(request: Request, calls: Calls) -> Response:
    language = page_language(request)
    given = request.query_params.get("token")
    if given is not None:
        # From the mail's link: into the cookie, and out of the address bar.
        if not _TOKEN.fullmatch(given):
            return page(request, "procedures/anonymous/invalid.html", 404)
        return _keep(_to(FOLLOW, language), request, given)
    held = request.cookies.get(COOKIE, "")
    try:
        followed = await _followed(calls, held if _TOKEN.fullmatch(held) else "", language)
    except grpc.aio.AioRpcError as failed:
        if failed.code() != grpc.StatusCode.NOT_FOUND:
            raise
        # Said on its own page: a wrong link is the common mistake here.
        return page(request, "procedures/anonymous/invalid.html", 404)
    done = {
        "email": _("A code was sent to your address: type it below."),
        "confirmed": _("Your e-mail address is confirmed."),
        "submitted": _("Your request was submitted. The acknowledgement was sent by e-mail."),
        "cancelled": _("The request was cancelled."),
    }.get(request.query_params.get("done", ""))
    return await _follow_page(
        request, followed, done=done.render(language) if done is not None else ""
    )


def _with_done(language: Language, done: str) -> RedirectResponse:
    return RedirectResponse(f"{FOLLOW}?lang={language.value}&done={done}", status_code=303)


async def _refused(
    request: Request, calls: Calls, token: str, failed: grpc.aio.AioRpcError, field: str
) -> HTMLResponse:
    """The service's refusal of what was typed, next to its input; anything else raises."""
    language = page_language(request)
    failure = read_rpc_failure(failed)
    if failure.code not in ABOUT_THE_ANSWERS | {grpc.StatusCode.RESOURCE_EXHAUSTED}:
        raise failed
    errors = Errors()
    errors.add(field, failure.message)
    errors.focus[field] = field  # the summary leads to the input (or the button) concerned
    return await _follow_page(request, await _followed(calls, token, language), errors, 422)


@router.post(
    f"{FOLLOW}/email", response_class=HTMLResponse, dependencies=[anonymous_form_protected]
)
async def give_email(request: Request, calls: Calls) -> Response:
    language = page_language(request)
    token = _token(request)
    email = (await request.form()).get("email")
    try:
        await calls.procedures_anonymous.SendEmailCode(
            pb.SendEmailCodeRequest(
                follow_up_token=token,
                email=email[:400] if isinstance(email, str) else "",
                language=language,
            )
        )
    except grpc.aio.AioRpcError as failed:
        return await _refused(request, calls, token, failed, "email")
    return _with_done(language, "email")


@router.post(
    f"{FOLLOW}/email-confirmation",
    response_class=HTMLResponse,
    dependencies=[anonymous_form_protected],
)
async def confirm_email(request: Request, calls: Calls) -> Response:
    language = page_language(request)
    token = _token(request)
    code = (await request.form()).get("code")
    try:
        await calls.procedures_anonymous.ConfirmEmail(
            pb.ConfirmEmailRequest(
                follow_up_token=token,
                code=code[:20] if isinstance(code, str) else "",
                language=language,
            )
        )
    except grpc.aio.AioRpcError as failed:
        return await _refused(request, calls, token, failed, "code")
    return _with_done(language, "confirmed")


@router.post(
    f"{FOLLOW}/submission", response_class=HTMLResponse, dependencies=[anonymous_form_protected]
)
async def submit(request: Request, calls: Calls) -> Response:
    language = page_language(request)
    token = _token(request)
    key = (await request.form()).get("idempotency_key")
    key = key if isinstance(key, str) and 8 <= len(key) <= 100 else str(uuid.uuid4())
    try:
        await calls.procedures_anonymous.SubmitAnonymousRequest(
            pb.SubmitAnonymousRequestRequest(
                follow_up_token=token, idempotency_key=key, language=language
            )
        )
    except grpc.aio.AioRpcError as failed:
        return await _refused(request, calls, token, failed, "submit")
    return _with_done(language, "submitted")


@router.post(
    f"{FOLLOW}/cancellation",
    response_class=HTMLResponse,
    dependencies=[anonymous_form_protected],
)
async def cancel(request: Request, calls: Calls) -> Response:
    language = page_language(request)
    token = _token(request)
    try:
        await calls.procedures_anonymous.CancelAnonymousRequest(
            pb.CancelAnonymousRequestRequest(follow_up_token=token, language=language)
        )
    except grpc.aio.AioRpcError as failed:
        return await _refused(request, calls, token, failed, "cancel")
    return _with_done(language, "cancelled")


@router.get(f"{FOLLOW}/proof")
async def proof(request: Request, calls: Calls) -> Response:
    reply = await calls.procedures_anonymous.GetAnonymousProof(
        pb.GetAnonymousProofRequest(follow_up_token=_token(request))
    )
    return Response(
        reply.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(reply.filename or "proof.pdf"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


# ---- the steps ----


async def _form(calls: Calls, draft: pb.Request, language: Language) -> pb.ProcedureForm:
    reply = await calls.procedures.GetProcedure(
        pb.GetProcedureRequest(
            code=draft.procedure_code, version=draft.procedure_version, language=language
        )
    )
    return reply.form


def _step_page(
    request: Request,
    draft: pb.Request,
    form: pb.ProcedureForm,
    step: pb.Step,
    typed: Any,
    errors: Errors,
    status: int = 200,
) -> HTMLResponse:
    language = page_language(request)
    shown = controls(step.fields, typed, errors, Labels.of(form.steps), language)
    applicable = [s.id for s in draft.steps if s.applicable]
    index = applicable.index(step.id) if step.id in applicable else -1
    previous = applicable[index - 1] if index > 0 else ""
    first_input = shown[0]["id"] if shown else "step-form"
    return form_page(
        request,
        "procedures/anonymous/step.html",
        status,
        procedure_title=form.procedure.title,
        step={"id": step.id, "title": step.title},
        controls=shown,
        errors=errors,
        summary=errors.summary(first_input),
        indicator=_indicator(draft, step.id),
        previous_href=f"{FOLLOW}/steps/{previous}?lang={language.value}" if previous else "",
        exit_message=draft.exit_message,
    )


@router.get(f"{FOLLOW}/steps/{{step_id}}", response_class=HTMLResponse)
async def step_page(request: Request, calls: Calls, step_id: str) -> Response:
    language = page_language(request)
    draft = (await _followed(calls, _token(request), language)).request
    if draft.state != pb.REQUEST_STATE_DRAFT:
        return _to(FOLLOW, language)
    form = await _form(calls, draft, language)
    step = _find_step(form, step_id)
    if not _step_order_ok(draft, step.id):
        target = draft.next_step
        if target and target != step.id:
            return _to(f"{FOLLOW}/steps/{target}", language)
        return _to(FOLLOW, language)
    typed = typed_from_answers(step.fields, _answers(draft))
    return _step_page(request, draft, form, step, typed, Errors())


@router.post(
    f"{FOLLOW}/steps/{{step_id}}",
    response_class=HTMLResponse,
    dependencies=[anonymous_form_protected],
)
async def save_step(request: Request, calls: Calls, step_id: str) -> Response:
    language = page_language(request)
    token = _token(request)
    draft = (await _followed(calls, token, language)).request
    if draft.state != pb.REQUEST_STATE_DRAFT:
        return _to(FOLLOW, language)
    form = await _form(calls, draft, language)
    step = _find_step(form, step_id)
    typed = read_typed(await request.form())
    if change_rows(step.fields, typed, _one(typed, "action")):
        return _step_page(request, draft, form, step, typed, Errors())
    compact_groups(step.fields, typed)
    found = collect(step.fields, typed, language)
    errors = Errors()
    try:
        reply = await calls.procedures_anonymous.SaveAnonymousStep(
            pb.SaveAnonymousStepRequest(
                follow_up_token=token,
                step_id=step.id,
                answers_json=json.dumps(found.answers, ensure_ascii=False),
                language=language,
            )
        )
    except grpc.aio.AioRpcError as failed:
        if not _refusal(failed, errors, language):
            raise
        failure = read_rpc_failure(failed)
        if failure.reason == "NOT_ELIGIBLE":
            draft.exit_message = failure.message
            errors.general = ""
        for path, message in found.problems.items():
            errors.messages[path] = message
        return _step_page(request, draft, form, step, typed, errors, 422 if errors else 200)
    saved = reply.request.request
    if saved.exit_message:
        return _to(f"{FOLLOW}/steps/{step.id}", language)
    target = _after_step(saved, step.id, False)
    if target == "summary":
        return _to(FOLLOW, language)
    return _to(f"{FOLLOW}/steps/{target}", language)
