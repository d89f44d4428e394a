"""Two exchanges of "My messages" reached from elsewhere (F60, F66).

- A submitted request's page lists the person's conversation about it and holds a plain form to
  write to the administration handling it: the message goes in the request's one thread
  (WriteAboutRequest) and the person lands on that conversation (POST-redirect-GET). A draft has
  no such section: nothing went to an administration yet.
- "Send a document": theme → subject → reason (the new message's choices and helpers), then
  what is sent (a few words, the files through the wallet's file pipeline as a message's files,
  an optional note), a summary, sent, and an acknowledgement with its reference (DP-…) and each
  file's name.

Everything works without JavaScript: the choices are GET forms, the rest is POSTed with the
session's CSRF token; the service checks everything again when it is sent and its refusals are
shown next to the fields they are about.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet.procedures.v1 import procedures_pb2 as procedures_pb
from guichet_gateway.deps import Calls
from guichet_gateway.web.forms import FormErrors, refused_input
from guichet_gateway.web.message_files import INPUT, MAX_FILES, AttachedFile, take_files
from guichet_gateway.web.messages_pages import (
    BODY_MAX,
    CHOOSE_STEP,
    KEPT,
    KEY_MAX,
    SECTION,
    STEPS,
    TITLE_MAX,
    Chosen,
    ThreadRow,
    administration_name,
    check_body,
    outside_own_space,
    pick_topic,
    query_key,
    redirect_to,
    shown_moment,
    thread_id_of,
    thread_row,
)
from guichet_gateway.web.pages import page, page_language
from guichet_gateway.web.session import SignedIn, WebSession, csrf_protected
from guichet_kit.i18n import Catalog, Language
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

# The request's page is in the menu's "My requests" (procedures_pages.SECTION).
REQUESTS_SECTION = "requests"
# A request that went to an administration: it has a reference and may be written about.
_SENT = frozenset(
    {
        procedures_pb.REQUEST_STATE_SUBMITTED,
        procedures_pb.REQUEST_STATE_ACTION_NEEDED,
        procedures_pb.REQUEST_STATE_CLOSED,
        procedures_pb.REQUEST_STATE_CANCELLED,
    }
)
# The request form's one input ("body" would be the service's name: its refusals land here).
MESSAGE = "message"
# Messaging unreachable: the request's own page still shows, the section says so.
_UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


# --- the section "Messages about this request" -----------------------------------------------


@dataclass
class RequestExchanges:
    """What the request's page shows of its exchanges and the form to write (see
    templates/messages/request_section.html)."""

    request_id: str
    private: bool = True
    unavailable: bool = False
    threads: list[ThreadRow] = field(default_factory=list)
    typed: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    body_max: int = BODY_MAX

    @property
    def action(self) -> str:
        return f"/my/requests/{self.request_id}/messages"


async def request_exchanges(
    calls: Calls, session: WebSession, sent: procedures_pb.Request, language: Language
) -> RequestExchanges | None:
    """The section's data for a request's page; None for a draft (nothing went out yet)."""
    if sent.state not in _SENT or not sent.reference:
        return None
    shown = RequestExchanges(sent.id)
    if session.acting_context.kind != "private":
        # Exchanges are the person's own: the page says how to write them.
        shown.private = False
        return shown
    try:
        reply = await calls.exchanges.ListMyThreads(
            pb.ListMyThreadsRequest(request_reference=sent.reference)
        )
    except grpc.aio.AioRpcError as failed:
        if failed.code() not in _UNREACHABLE:
            raise
        shown.unavailable = True
        return shown
    shown.threads = [thread_row(thread, language) for thread in reply.threads]
    return shown


def _request_id(text: str) -> str:
    """A request's id from the address; any other text is as unknown as another's request."""
    try:
        if len(text) == 36:
            return str(uuid.UUID(text))
    except ValueError:
        pass
    raise Problem(404, "NOT_FOUND")


@router.post(
    "/my/requests/{request_id}/messages",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def write_about_request(
    request: Request, calls: Calls, session: SignedIn, request_id: str
) -> Response:
    language = page_language(request)
    # Another person's request (or none) is not found: a 404 page, nothing written.
    sent = (
        await calls.procedures.GetRequest(
            procedures_pb.GetRequestRequest(request_id=_request_id(request_id), language=language)
        )
    ).request
    if (elsewhere := outside_own_space(request, session)) is not None:
        return elsewhere
    if sent.state not in _SENT or not sent.reference:
        return redirect_to(f"/my/requests/{sent.id}", language)
    value = (await request.form()).get(MESSAGE)
    text = value[: KEPT["body"]] if isinstance(value, str) else ""
    errors = FormErrors((MESSAGE,))
    check_body(text, errors, language)
    if not errors:
        try:
            reply = await calls.exchanges.WriteAboutRequest(
                pb.WriteAboutRequestRequest(request_reference=sent.reference, body=text)
            )
        except grpc.aio.AioRpcError as failed:
            if not refused_input(failed, errors, language, fallback=MESSAGE):
                raise
        else:
            # The first message made the thread (same instant): it is acknowledged by mail.
            first = reply.thread.created_at == reply.message.sent_at
            return redirect_to(
                f"/my/messages/{reply.thread.id}", language, done="sent" if first else "answered"
            )
    return page(
        request,
        "messages/request_write.html",
        422,
        section=REQUESTS_SECTION,
        sent={"id": sent.id, "title": sent.title, "reference": sent.reference},
        exchanges=RequestExchanges(sent.id, typed=text, errors=errors.messages),
        summary=errors.summary(),
    )


# --- send a document: theme → subject → reason → what is sent → summary → acknowledged ---------

DOCUMENT_FIELDS = ("title", INPUT, "body", "reason")
NEW = "/my/messages/documents/new"


@router.get(NEW, response_class=HTMLResponse)
async def new_document(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    """As a new message: what is chosen so far is in the query, the first missing choice is the
    step shown; once all are chosen, what is sent."""
    if (elsewhere := outside_own_space(request, session)) is not None:
        return elsewhere
    language = page_language(request)
    topics = await calls.exchanges.ListTopics(pb.ListTopicsRequest())
    keys = {name: query_key(request, name) for name in STEPS}
    chosen = pick_topic(topics, **keys)
    missing = next((name for name in STEPS if getattr(chosen, name) is None), None)
    if missing is None:
        return _document_page(request, chosen, {"title": "", "body": ""}, _no_errors(), [])
    errors = FormErrors(STEPS)
    if request.query_params.get("step", "") == missing or keys[missing]:
        errors.add(missing, _.gettext(CHOOSE_STEP[missing], language))
    options = {
        "theme": topics.themes,
        "subject": chosen.theme.subjects if chosen.theme else [],
        "reason": chosen.subject.reasons if chosen.subject else [],
    }[missing]
    return page(
        request,
        "messages/documents_choose.html",
        422 if errors else 200,
        section=SECTION,
        step=missing,
        chosen=chosen,
        keys=chosen.keys,
        options=options,
        errors=errors.messages,
        summary=errors.summary(),
    )


def _no_errors() -> FormErrors:
    return FormErrors(DOCUMENT_FIELDS)


def _document_page(
    request: Request,
    chosen: Chosen,
    typed: dict[str, str],
    errors: FormErrors,
    files: list[AttachedFile],
) -> HTMLResponse:
    return page(
        request,
        "messages/documents_write.html",
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
        max_files=MAX_FILES,
    )


def _form_value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[: KEPT.get(name, KEY_MAX)] if isinstance(value, str) else ""


async def _read_document(
    request: Request, calls: Calls
) -> tuple[Chosen, dict[str, str], FormErrors, list[AttachedFile]]:
    """The deposit POSTed by its page or its summary, checked against the service's bounds; its
    files (one more taken through the file pipeline when the page sends one)."""
    language = page_language(request)
    form = await request.form()
    topics = await calls.exchanges.ListTopics(pb.ListTopicsRequest())
    chosen = pick_topic(
        topics,
        _form_value(form, "theme"),
        _form_value(form, "subject"),
        _form_value(form, "reason"),
    )
    typed = {"title": _form_value(form, "title").strip(), "body": _form_value(form, "body")}
    errors = _no_errors()
    if not typed["title"]:
        errors.add("title", _("Say in a few words what you are sending.").render(language))
    elif len(typed["title"]) > TITLE_MAX:
        errors.add(
            "title", _("Say it in at most {max} characters.", max=TITLE_MAX).render(language)
        )
    if len(typed["body"].strip()) > BODY_MAX:
        errors.add(
            "body",
            _(
                "Write a note of at most {max} characters (you wrote {count}).",
                max=BODY_MAX,
                count=len(typed["body"].strip()),
            ).render(language),
        )
    if chosen.reason is None:
        errors.add("reason", _("Choose the theme, subject and reason again.").render(language))
    files = await take_files(form, calls, errors, language)
    if not files and not errors.get(INPUT):
        errors.add(INPUT, _("Choose the document to send.").render(language))
    return chosen, typed, errors, files


@router.post(f"{NEW}/summary", response_class=HTMLResponse, dependencies=[csrf_protected])
async def document_summary(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    """The summary before sending (nothing is sent yet): to send, or change."""
    chosen, typed, errors, files = await _read_document(request, calls)
    if errors:
        return _document_page(request, chosen, typed, errors, files)
    assert chosen.reason is not None
    return page(
        request,
        "messages/documents_summary.html",
        section=SECTION,
        chosen=chosen,
        keys=chosen.keys,
        administration=administration_name(chosen.reason.administration, page_language(request)),
        typed=typed,
        files=files,
    )


@router.post(f"{NEW}/write", response_class=HTMLResponse, dependencies=[csrf_protected])
async def change_document(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    """ "Change" on the summary: the page again with what was given."""
    chosen, typed, _errors, files = await _read_document(request, calls)
    return _document_page(request, chosen, typed, _no_errors(), files)


@router.post(f"{NEW}/send", response_class=HTMLResponse, dependencies=[csrf_protected])
async def send_document(request: Request, calls: Calls, session: SignedIn) -> Response:
    language = page_language(request)
    chosen, typed, errors, files = await _read_document(request, calls)
    if not errors:
        try:
            reply = await calls.exchanges.SendDocument(
                pb.SendDocumentRequest(
                    **chosen.keys,
                    title=typed["title"],
                    body=typed["body"],
                    attachment_ids=[file.id for file in files],
                )
            )
        except grpc.aio.AioRpcError as failed:
            if not refused_input(failed, errors, language, fallback=INPUT):
                raise
        else:
            acknowledgement = f"/my/messages/documents/{reply.thread.id}/acknowledgement"
            return redirect_to(acknowledgement, language)
    return _document_page(request, chosen, typed, errors, files)


@router.get("/my/messages/documents/{thread_id}/acknowledgement", response_class=HTMLResponse)
async def document_acknowledgement(
    request: Request, calls: Calls, session: SignedIn, thread_id: str
) -> HTMLResponse:
    """The acknowledgement of a deposit, as often as the person opens it: its reference, when it
    was received, by whom, and each file."""
    if (elsewhere := outside_own_space(request, session)) is not None:
        return elsewhere
    language = page_language(request)
    reply = await calls.exchanges.GetMyThread(
        pb.GetMyThreadRequest(thread_id=thread_id_of(thread_id))
    )
    deposit = next((m for m in reply.messages if m.side == pb.SIDE_PERSON), None)
    if reply.thread.kind != "document" or deposit is None:
        raise Problem(404, "NO_SUCH_THREAD")
    return page(
        request,
        "messages/documents_sent.html",
        section=SECTION,
        thread=thread_row(reply.thread, language),
        reference=reply.thread.reference,
        received=shown_moment(deposit.sent_at, language),
        note=deposit.body,
        files=[AttachedFile(a.id, a.size, a.file_name) for a in deposit.attachments],
        conversation_href=f"/my/messages/{reply.thread.id}?" + urlencode({"lang": language.value}),
    )
