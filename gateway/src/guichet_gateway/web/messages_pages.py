"""The pages of "My messages" (F60 to F62): the person's conversations with administrations and
their unread answers, one conversation (the answers become read when it opens; read/unread
marks, hide/show), and a new message: theme → subject → reason (the online procedure suggested
when the taxonomy names one) → the text → a summary → sent.

Plain forms and links, so that everything works without JavaScript: the choices are GET forms
(nothing changes until the message is sent); the text and its summary are POSTed with the
session's CSRF token, and sending redirects to the conversation (POST-redirect-GET). The same
messaging calls as the API (messages.py); the service checks the message again when it is sent
and its refusals are shown next to the fields they are about.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from google.protobuf.timestamp_pb2 import Timestamp

from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet.procedures.v1 import procedures_pb2 as procedures_pb
from guichet_gateway.deps import Calls
from guichet_gateway.messages import file_response
from guichet_gateway.web.forms import FormErrors, refused_input
from guichet_gateway.web.message_files import AttachedFile, take_files
from guichet_gateway.web.pages import page, page_language
from guichet_gateway.web.session import SignedIn, WebSession, csrf_protected
from guichet_kit.i18n import N_, Catalog, Language, format_moment
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

SECTION = "messages"
# The messaging service's bounds (exchanges.proto): said here before the summary, so that the
# person does not review a message the service would refuse; the service checks them again.
TITLE_MAX = 120
BODY_MIN = 10
BODY_MAX = 750
# What is kept of a field to show it again: a flood is cut, not echoed.
KEPT = {"title": 1000, "body": 4000}
KEY_MAX = 80
WRITE_FIELDS = ("title", "body", "attachment_ids", "reason")
STEPS = ("theme", "subject", "reason")
# The administrations a reason may name (services/messaging/taxonomy.yaml).
ADMINISTRATIONS = {
    "acd": N_("Direct Tax Administration (ACD)"),
    "aed": N_("Registration Duties, Estates and VAT Authority (AED)"),
    "ccss": N_("Joint Social Security Centre (CCSS)"),
    "cae": N_("Children's Future Fund (CAE)"),
    "snca": N_("National Society for Automotive Traffic (SNCA)"),
    "commune": N_("Your commune"),
    "justice": N_("Ministry of Justice"),
    "cedies": N_("Higher education aid (CEDIES)"),
}
# After an action, what the next page says (only these: nothing typed is echoed).
DONE = {
    "hidden": N_("The conversation is hidden. Find it under “Hidden conversations”."),
    "shown": N_("The conversation is shown again in your list."),
    "unread": N_("The conversation is marked unread."),
    "read": N_("The conversation is marked read."),
    "sent": N_("Your message was sent. You will get an acknowledgement by e-mail."),
    "answered": N_("Your answer was sent."),
}


def administration_name(code: str, language: Language) -> str:
    name = ADMINISTRATIONS.get(code)
    return _.gettext(name, language) if name else code.upper()


def shown_moment(value: Timestamp, language: Language) -> dict[str, str]:
    moment = value.ToDatetime(tzinfo=UTC)
    return {"iso": moment.isoformat(), "text": format_moment(moment, language)}


def thread_id_of(text: str) -> str:
    """A conversation's id from the address; anything else is no conversation (404)."""
    try:
        return str(uuid.UUID(text[:36]))
    except ValueError:
        raise Problem(404, "NO_SUCH_THREAD") from None


def redirect_to(path: str, language: Language, **query: str) -> RedirectResponse:
    return RedirectResponse(
        f"{path}?{urlencode({'lang': language.value, **query})}", status_code=303
    )


def _done(request: Request, language: Language) -> str:
    done = DONE.get(request.query_params.get("done", ""))
    return _.gettext(done, language) if done else ""


@dataclass(frozen=True)
class ThreadRow:
    id: str
    title: str
    administration: str
    topic: str
    unread: int
    hidden: bool
    last: dict[str, str]


def thread_row(thread: pb.Thread, language: Language) -> ThreadRow:
    return ThreadRow(
        id=thread.id,
        title=thread.title,
        administration=administration_name(thread.administration, language),
        topic=thread.reason_title,
        unread=thread.unread,
        hidden=thread.hidden,
        last=shown_moment(
            thread.last_message_at if thread.HasField("last_message_at") else thread.created_at,
            language,
        ),
    )


# --- the list and a conversation ---------------------------------------------------------------


def outside_own_space(request: Request, session: WebSession) -> HTMLResponse | None:
    """Exchanges are the person's own (the service serves the private space only): acting for
    someone else, the page says so and how to come back, instead of a refusal."""
    if session.acting_context.kind == "private":
        return None
    return page(request, "messages/private_only.html", section=SECTION)


@router.get("/my/messages", response_class=HTMLResponse)
async def my_messages(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    if (elsewhere := outside_own_space(request, session)) is not None:
        return elsewhere
    language = page_language(request)
    hidden = request.query_params.get("hidden") == "1"
    reply = await calls.exchanges.ListMyThreads(pb.ListMyThreadsRequest(hidden=hidden))
    return page(
        request,
        "messages/list.html",
        section=SECTION,
        threads=[thread_row(t, language) for t in reply.threads],
        hidden=hidden,
        done=_done(request, language),
    )


async def _conversation_page(
    request: Request, calls: Calls, thread_id: str, typed: str, errors: FormErrors
) -> HTMLResponse:
    language = page_language(request)
    # Opening it marks the administration's answers read (the service does it).
    reply = await calls.exchanges.GetMyThread(pb.GetMyThreadRequest(thread_id=thread_id))
    thread = reply.thread
    messages = [
        {
            "id": m.id,
            "mine": m.side == pb.SIDE_PERSON,
            "body": m.body,
            "sent": shown_moment(m.sent_at, language),
            "read": shown_moment(m.read_at, language) if m.HasField("read_at") else None,
            "attachments": [{"id": a.id, "name": a.file_name} for a in m.attachments],
        }
        for m in reply.messages
    ]
    return page(
        request,
        "messages/thread.html",
        422 if errors else 200,
        section=SECTION,
        thread=thread_row(thread, language),
        messages=messages,
        answered=any(not m["mine"] for m in messages),
        typed=typed,
        errors=errors.messages,
        summary=errors.summary(),
        body_max=BODY_MAX,
        done=_done(request, language),
    )


async def _form_text(request: Request, name: str) -> str:
    value = (await request.form()).get(name)
    return value[: KEPT.get(name, KEY_MAX)] if isinstance(value, str) else ""


@router.post("/my/messages/{thread_id}/read", dependencies=[csrf_protected])
async def mark_conversation(
    request: Request, calls: Calls, session: SignedIn, thread_id: str
) -> Response:
    language = page_language(request)
    thread = thread_id_of(thread_id)
    read = await _form_text(request, "read") == "yes"
    await calls.exchanges.MarkMyThread(pb.MarkMyThreadRequest(thread_id=thread, read=read))
    # Marked unread: back to the list (opening the conversation would read it again).
    return redirect_to("/my/messages", language, done="read" if read else "unread")


@router.post("/my/messages/{thread_id}/hidden", dependencies=[csrf_protected])
async def hide_conversation(
    request: Request, calls: Calls, session: SignedIn, thread_id: str
) -> Response:
    language = page_language(request)
    thread = thread_id_of(thread_id)
    hidden = await _form_text(request, "hidden") == "yes"
    await calls.exchanges.HideMyThread(pb.HideMyThreadRequest(thread_id=thread, hidden=hidden))
    if hidden:
        return redirect_to("/my/messages", language, done="hidden")
    return redirect_to("/my/messages", language, hidden="1", done="shown")


@router.post(
    "/my/messages/{thread_id}/answer", response_class=HTMLResponse, dependencies=[csrf_protected]
)
async def answer_conversation(
    request: Request, calls: Calls, session: SignedIn, thread_id: str
) -> Response:
    language = page_language(request)
    thread = thread_id_of(thread_id)
    body = await _form_text(request, "body")
    errors = FormErrors(("body",))
    check_body(body, errors, language)
    if not errors:
        try:
            await calls.exchanges.ReplyToMyThread(
                pb.ReplyToMyThreadRequest(thread_id=thread, body=body)
            )
        except grpc.aio.AioRpcError as failed:
            if not refused_input(failed, errors, language, fallback="body"):
                raise
    if errors:
        return await _conversation_page(request, calls, thread, body, errors)
    return redirect_to(f"/my/messages/{thread}", language, done="answered")


# --- a new message: theme → subject → reason → text → summary → sent ---------------------------


@dataclass(frozen=True)
class Chosen:
    theme: pb.Theme | None = None
    subject: pb.Subject | None = None
    reason: pb.Reason | None = None

    @property
    def keys(self) -> dict[str, str]:
        return {
            "theme": self.theme.key if self.theme else "",
            "subject": self.subject.key if self.subject else "",
            "reason": self.reason.key if self.reason else "",
        }


def _find(items: Any, key: str) -> Any:
    return next((item for item in items if item.key == key), None) if key else None


def pick_topic(topics: pb.ListTopicsResponse, theme: str, subject: str, reason: str) -> Chosen:
    """What the keys name in the taxonomy; a key of nothing (or under another choice) is none."""
    found_theme = _find(topics.themes, theme)
    found_subject = _find(found_theme.subjects, subject) if found_theme else None
    found_reason = _find(found_subject.reasons, reason) if found_subject else None
    return Chosen(found_theme, found_subject, found_reason)


def query_key(request: Request, name: str) -> str:
    return request.query_params.get(name, "")[:KEY_MAX]


@router.get("/my/messages/new", response_class=HTMLResponse, name="new_message")
async def new_message(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    """One address for the choices: what is chosen so far is in the query; the first missing
    choice is the step shown. A step sent with nothing chosen says so."""
    if (elsewhere := outside_own_space(request, session)) is not None:
        return elsewhere
    language = page_language(request)
    topics = await calls.exchanges.ListTopics(pb.ListTopicsRequest())
    keys = {name: query_key(request, name) for name in STEPS}
    chosen = pick_topic(topics, **keys)
    sent_step = request.query_params.get("step", "")
    missing = next((name for name in STEPS if getattr(chosen, name) is None), None)
    if missing is not None:
        errors = FormErrors(STEPS)
        if sent_step == missing or keys[missing]:
            errors.add(missing, _.gettext(CHOOSE_STEP[missing], language))
        options = {
            "theme": topics.themes,
            "subject": chosen.theme.subjects if chosen.theme else [],
            "reason": chosen.subject.reasons if chosen.subject else [],
        }[missing]
        return page(
            request,
            "messages/choose.html",
            422 if errors else 200,
            section=SECTION,
            step=missing,
            chosen=chosen,
            keys=chosen.keys,
            options=options,
            errors=errors.messages,
            summary=errors.summary(),
        )
    assert chosen.reason is not None
    if chosen.reason.procedure and request.query_params.get("write") != "1":
        return page(
            request,
            "messages/suggestion.html",
            section=SECTION,
            chosen=chosen,
            keys=chosen.keys,
            procedure_title=await _procedure_title(calls, chosen.reason.procedure, language),
            procedure_href=f"/procedures/{chosen.reason.procedure}?lang={language.value}",
            write_href="/my/messages/new?"
            + urlencode({**chosen.keys, "write": "1", "lang": language.value}),
        )
    return _write_page(request, chosen, {"title": "", "body": ""}, FormErrors(WRITE_FIELDS), [])


CHOOSE_STEP = {
    "theme": N_("Choose a theme."),
    "subject": N_("Choose a subject."),
    "reason": N_("Choose a reason."),
}


async def _procedure_title(calls: Calls, code: str, language: Language) -> str:
    try:
        reply = await calls.procedures.GetProcedure(
            procedures_pb.GetProcedureRequest(code=code, language=language)
        )
    except grpc.aio.AioRpcError as failed:
        # The suggestion stays (a link to the procedure) without its title.
        if failed.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return ""
    return reply.form.procedure.title


def _write_page(
    request: Request,
    chosen: Chosen,
    typed: dict[str, str],
    errors: FormErrors,
    files: list[AttachedFile],
) -> HTMLResponse:
    return page(
        request,
        "messages/write.html",
        422 if errors else 200,
        section=SECTION,
        chosen=chosen,
        keys=chosen.keys,
        administration=administration_name(
            chosen.reason.administration if chosen.reason else "", page_language(request)
        ),
        typed=typed,
        files=files,
        errors=errors.messages,
        summary=errors.summary(),
        title_max=TITLE_MAX,
        body_max=BODY_MAX,
    )


def check_body(body: str, errors: FormErrors, language: Language) -> None:
    if len(body.strip()) < BODY_MIN or len(body) > BODY_MAX:
        errors.add(
            "body",
            _(
                "Write a message of {min} to {max} characters (you wrote {count}).",
                min=BODY_MIN,
                max=BODY_MAX,
                count=len(body.strip()),
            ).render(language),
        )


async def _read_message(
    request: Request, calls: Calls
) -> tuple[Chosen, dict[str, str], FormErrors, list[AttachedFile]]:
    """The message POSTed by the text or the summary step, checked against the bounds; its files
    (one more taken through the file pipeline when the text step has one)."""
    language = page_language(request)
    form = await request.form()

    def text(name: str) -> str:
        value = form.get(name)
        return value[: KEPT.get(name, KEY_MAX)] if isinstance(value, str) else ""

    topics = await calls.exchanges.ListTopics(pb.ListTopicsRequest())
    chosen = pick_topic(topics, text("theme"), text("subject"), text("reason"))
    typed = {"title": text("title").strip(), "body": text("body")}
    errors = FormErrors(WRITE_FIELDS)
    if not typed["title"]:
        errors.add("title", _("Write a subject line.").render(language))
    elif len(typed["title"]) > TITLE_MAX:
        errors.add(
            "title",
            _("Write a subject line of at most {max} characters.", max=TITLE_MAX).render(language),
        )
    check_body(typed["body"], errors, language)
    if chosen.reason is None:
        errors.add("reason", _("Choose the theme, subject and reason again.").render(language))
    files = await take_files(form, calls, errors, language)
    return chosen, typed, errors, files


@router.post("/my/messages/new/summary", response_class=HTMLResponse, dependencies=[csrf_protected])
async def message_summary(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    """The summary before sending (nothing is stored yet): the text again, to send or change."""
    chosen, typed, errors, files = await _read_message(request, calls)
    if errors:
        return _write_page(request, chosen, typed, errors, files)
    language = page_language(request)
    assert chosen.reason is not None
    return page(
        request,
        "messages/summary.html",
        section=SECTION,
        chosen=chosen,
        keys=chosen.keys,
        administration=administration_name(chosen.reason.administration, language),
        typed=typed,
        files=files,
    )


@router.post("/my/messages/new/write", response_class=HTMLResponse, dependencies=[csrf_protected])
async def change_message(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    """ "Change" on the summary: the text step again with what was written."""
    chosen, typed, _errors, files = await _read_message(request, calls)
    return _write_page(request, chosen, typed, FormErrors(WRITE_FIELDS), files)


@router.post("/my/messages/new/send", response_class=HTMLResponse, dependencies=[csrf_protected])
async def send_message(request: Request, calls: Calls, session: SignedIn) -> Response:
    language = page_language(request)
    chosen, typed, errors, files = await _read_message(request, calls)
    if not errors:
        try:
            reply = await calls.exchanges.SendMessage(
                pb.SendMessageRequest(
                    **chosen.keys,
                    title=typed["title"],
                    body=typed["body"],
                    attachment_ids=[file.id for file in files],
                )
            )
        except grpc.aio.AioRpcError as failed:
            if not refused_input(failed, errors, language, fallback="body"):
                raise
        else:
            return redirect_to(f"/my/messages/{reply.thread.id}", language, done="sent")
    return _write_page(request, chosen, typed, errors, files)


@router.get("/my/messages/files/{file_id}")
async def message_file(request: Request, calls: Calls, session: SignedIn, file_id: str) -> Response:
    """A file of one of the person's conversations (or uploaded by them), as the API gives it."""
    try:
        checked = str(uuid.UUID(file_id))
    except ValueError:
        raise Problem(404, "NO_SUCH_FILE") from None
    return await file_response(calls, checked)


# Last: /my/messages/new is not a conversation.
@router.get("/my/messages/{thread_id}", response_class=HTMLResponse)
async def conversation(
    request: Request, calls: Calls, session: SignedIn, thread_id: str
) -> HTMLResponse:
    if (elsewhere := outside_own_space(request, session)) is not None:
        return elsewhere
    return await _conversation_page(
        request, calls, thread_id_of(thread_id), "", FormErrors(("body",))
    )
