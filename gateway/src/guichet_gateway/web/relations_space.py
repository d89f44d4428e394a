"""The signed-in pages of relations and professional spaces (F10, F11): mandates granted by and to
me with the audit of acts on my behalf, my children, my companies' spaces and their
collaborators, and the switch of the context the person acts in.

The same service calls as the API routes (relations.py, spaces.py, me.py); a service's refusal of
what was typed is shown next to the field it is about, anything else is an error page (another
person's relation or space is "not found", a too weak sign-in a step-up). Every form is a plain
POST protected by the session's CSRF token, answered POST-redirect-GET.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from google.protobuf.timestamp_pb2 import Timestamp

from guichet.identity.v1 import identity_pb2 as pb
from guichet_gateway.deps import ACTING_CONTEXT_MAX_LENGTH, Calls
from guichet_gateway.fields import (
    COMPANY_NAME_MAX_LENGTH,
    COMPANY_NUMBER_MAX_LENGTH,
    MAX_RIGHTS,
    NAME_MAX_LENGTH,
    NATIONAL_ID_MAX_LENGTH,
)
from guichet_gateway.web.forms import ABOUT_THE_INPUT, FormErrors, refused_input
from guichet_gateway.web.pages import page, page_language
from guichet_gateway.web.session import SignedIn, WebSession, csrf_protected, store_of
from guichet_gateway.wire import enum_word, timestamp, to_timestamp
from guichet_kit.auth import PRIVATE, ActingContext, LevelOfAssurance
from guichet_kit.errors import read_rpc_failure
from guichet_kit.i18n import N_, Catalog, Language, format_moment
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

LUXEMBOURG = ZoneInfo("Europe/Luxembourg")
KIND_PREFIX = "RELATION_KIND_"
ROLE_PREFIX = "COLLABORATOR_ROLE_"
# What a mandate may open, in the order of the form (identity's vocabulary: <domain>:<access>).
DOMAINS = {
    "profile": N_("Profile and address"),
    "etracking": N_("eTrackings"),
    "procedures": N_("Procedures"),
    "wallet": N_("Documents"),
    "messaging": N_("Messages"),
    "data": N_("Data held by the administrations"),
}
ACCESSES = {"read": N_("see"), "write": N_("see and change")}
KINDS = {
    "spouse": N_("Spouse or partner"),
    "parent": N_("Parent"),
    "other_person": N_("Other person"),
    "child": N_("Child"),
}
GRANTABLE_KINDS = ("spouse", "parent", "other_person")
ROLES = {
    "administrator": N_("Administrator"),
    "member": N_("Member"),
    "reader": N_("Reader"),
}
# The refusals about what was typed or about what the person may do here; NOT_FOUND (another
# person's relation or space) and UNAUTHENTICATED (step-up) are left to the error pages.
_ABOUT_THE_FORM = ABOUT_THE_INPUT | {grpc.StatusCode.PERMISSION_DENIED}
# Ids of relations and spaces are UUIDs: any other text is as unknown as another person's id.
_ID = re.compile(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")
_NATIONAL_ID = re.compile(r"[0-9 ]{1,32}")
AUDIT_SHOWN = 100

MANDATE_FIELDS = ("actor_national_id", "kind", "rights", "expires_at")
CHILD_FIELDS = ("child_national_id", "child_first_name", "child_last_name")
SPACE_FIELDS = ("company_name", "registry_number")
COLLABORATOR_FIELDS = ("national_id", "role")


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    values: dict[str, Any] = {
        key: value for key, value in form.items() if isinstance(value, str) and key != "rights"
    }
    values["rights"] = [v for v in form.getlist("rights") if isinstance(v, str)][: MAX_RIGHTS * 2]
    return values


def _kept(values: dict[str, Any], name: str, limit: int) -> str:
    """What a page repeats of a typed value: at most its field's length."""
    value = values.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _redirect(path: str, language: Language, **query: str) -> RedirectResponse:
    return RedirectResponse(
        f"{path}?{urlencode({'lang': language.value, **query})}", status_code=303
    )


def _moment(stamp: Timestamp, language: Language) -> dict[str, str] | None:
    moment = timestamp(stamp)
    if moment is None:
        return None
    return {"text": format_moment(moment, language), "iso": moment.isoformat()}


def _kind(value: pb.RelationKind.ValueType) -> str:
    return enum_word(pb.RelationKind.Name(value), KIND_PREFIX)


def _role(value: pb.CollaboratorRole.ValueType) -> str:
    return enum_word(pb.CollaboratorRole.Name(value), ROLE_PREFIX)


def _word(table: dict[str, str], key: str, language: Language) -> str:
    return _.gettext(table[key], language) if key in table else key


def _right_label(right: str, language: Language) -> str:
    domain, _sep, access = right.partition(":")
    return _(
        "{domain}: {access}",
        domain=_word(DOMAINS, domain, language),
        access=_word(ACCESSES, access, language),
    ).render(language)


def _relation(relation: pb.Relation, language: Language, now: datetime) -> dict[str, Any]:
    expires = timestamp(relation.expires_at)
    return {
        "id": relation.id,
        "kind": _word(KINDS, _kind(relation.kind), language),
        "actor_name": relation.actor_name or relation.actor_national_id,
        "actor_national_id": relation.actor_national_id,
        "subject_name": relation.subject_name or relation.subject_national_id,
        "subject_national_id": relation.subject_national_id,
        "rights": [_right_label(r, language) for r in relation.rights],
        "expires": _moment(relation.expires_at, language),
        "created": _moment(relation.created_at, language),
        "revoked": relation.revoked,
        "active": not relation.revoked and (expires is None or expires > now),
    }


async def _acting_label(calls: Calls, session: WebSession, language: Language) -> str:
    """Whom the person acts for, as the side menu says it (only asked when not private)."""
    if session.acting_context.kind == "private":
        return ""
    reply = await calls.relations.ListActingContexts(pb.ListActingContextsRequest())
    for choice in reply.contexts:
        if choice.context == str(session.acting_context):
            return _context_label(choice, session, language)
    return str(session.acting_context)


def _context_label(choice: pb.ActingContext, session: WebSession, language: Language) -> str:
    if choice.kind == pb.ACTING_CONTEXT_KIND_RELATION:
        return _(
            "{name} ({kind})",
            name=choice.name,
            kind=_word(KINDS, _kind(choice.relation_kind), language),
        ).render(language)
    if choice.kind == pb.ACTING_CONTEXT_KIND_COMPANY:
        return _(
            "{name} (company, {role})",
            name=choice.name,
            role=_word(ROLES, _role(choice.role), language),
        ).render(language)
    return _("Myself, {name}", name=choice.name or session.principal.name).render(language)


def _space_page(
    request: Request,
    template: str,
    section: str,
    session: WebSession,
    acting_label: str,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    return page(
        request,
        template,
        status,
        section=section,
        acting_label=acting_label,
        acting_privately=session.acting_context.kind == "private",
        high_level=session.principal.level >= LevelOfAssurance.HIGH,
        **values,
    )


# ---- relations and mandates ------------------------------------------------------------------


async def _relations_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    status: int = 200,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    language = page_language(request)
    now = datetime.now(UTC)
    listing = await calls.relations.ListRelations(pb.ListRelationsRequest())
    acts: list[pb.ActOnBehalf] = []
    audit_refusal = ""
    try:
        reply = await calls.relations.ListActsOnMyBehalf(
            pb.ListActsOnMyBehalfRequest(limit=AUDIT_SHOWN)
        )
        acts = list(reply.acts)
    except grpc.aio.AioRpcError as failed:
        # In a company's context only its administrators read its audit; the rest of the page
        # is still the person's own.
        if failed.code() != grpc.StatusCode.PERMISSION_DENIED:
            raise
        audit_refusal = read_rpc_failure(failed).message
    values = values or {}
    errors = errors or FormErrors(MANDATE_FIELDS)
    return _space_page(
        request,
        "my/relations.html",
        "relations",
        session,
        await _acting_label(calls, session, language),
        status,
        granted_by_me=[_relation(r, language, now) for r in listing.acted_for_by],
        granted_to_me=[
            _relation(r, language, now)
            for r in listing.acting_for
            if r.kind != pb.RELATION_KIND_CHILD
        ],
        acts=[
            {
                "when": _moment(act.occurred_at, language),
                "actor": act.actor_name or act.actor_national_id,
                "right": _right_label(act.right, language),
                "act": act.act,
            }
            for act in acts
        ],
        audit_refusal=audit_refusal,
        company_audit=session.acting_context.kind == "company",
        errors=errors,
        summary=errors.summary(),
        domains=[(key, _.gettext(label, language)) for key, label in DOMAINS.items()],
        accesses=[(key, _.gettext(label, language)) for key, label in ACCESSES.items()],
        kinds=[(key, _.gettext(KINDS[key], language)) for key in GRANTABLE_KINDS],
        typed={
            "actor_national_id": _kept(values, "actor_national_id", NATIONAL_ID_MAX_LENGTH),
            "kind": _kept(values, "kind", 20),
            "rights": [r for r in values.get("rights", []) if isinstance(r, str)],
            "expires_at": _kept(values, "expires_at", 10),
        },
        max_length={"national_id": NATIONAL_ID_MAX_LENGTH},
        done=request.query_params.get("done", ""),
    )


@router.get("/my/relations", response_class=HTMLResponse)
async def relations_page(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    return await _relations_page(request, calls, session)


def _expiry(text: str, errors: FormErrors, language: Language) -> Timestamp | None:
    """The last day of the mandate, as typed: it ends when that day ends in Luxembourg."""
    text = text.strip()
    if not text:
        return None
    try:
        last_day = date.fromisoformat(text)
        ends = datetime.combine(last_day + timedelta(days=1), time(), LUXEMBOURG)
    except (ValueError, OverflowError):
        errors.add(
            "expires_at",
            _("Enter the date as year, month and day, e.g. 2030-12-31.").render(language),
        )
        return None
    stamp = to_timestamp(ends)
    if stamp is None:
        errors.add("expires_at", _("Give a real date.").render(language))
    return stamp


@router.post("/my/relations", response_class=HTMLResponse, dependencies=[csrf_protected])
async def grant_mandate(request: Request, calls: Calls, session: SignedIn) -> Response:
    language = page_language(request)
    values = await _form(request)
    errors = FormErrors(MANDATE_FIELDS)
    kind = _kept(values, "kind", 20)
    grant = pb.GrantMandateRequest(
        actor_national_id=_kept(values, "actor_national_id", NATIONAL_ID_MAX_LENGTH).strip(),
        kind=(
            pb.RelationKind.Value(KIND_PREFIX + kind.upper())
            if kind in GRANTABLE_KINDS
            else pb.RELATION_KIND_UNSPECIFIED
        ),
        rights=values["rights"],
    )
    expires_at = _expiry(_kept(values, "expires_at", 10), errors, language)
    if expires_at is not None:
        grant.expires_at.CopyFrom(expires_at)
    # Without an end date identity refuses too: every other wrong field is said at once.
    try:
        await calls.relations.GrantMandate(grant)
    except grpc.aio.AioRpcError as failed:
        if not refused_input(failed, errors, language, about=_ABOUT_THE_FORM):
            raise
    if errors:
        return await _relations_page(request, calls, session, 422, errors, values)
    return _redirect("/my/relations", language, done="granted")


async def _own_relation(calls: Calls, relation_id: str) -> pb.Relation:
    """One of the person's relations still in force; any other id is a page not found."""
    if not _ID.fullmatch(relation_id):
        raise Problem(404, "RELATION_NOT_FOUND")
    listing = await calls.relations.ListRelations(pb.ListRelationsRequest())
    for relation in [*listing.acted_for_by, *listing.acting_for]:
        if relation.id == relation_id and not relation.revoked:
            return relation
    raise Problem(404, "RELATION_NOT_FOUND")


@router.get("/my/relations/{relation_id}/revoke", response_class=HTMLResponse)
async def revoke_confirmation(
    request: Request, relation_id: str, calls: Calls, session: SignedIn
) -> HTMLResponse:
    language = page_language(request)
    relation = await _own_relation(calls, relation_id)
    return _space_page(
        request,
        "my/_relations_revoke.html",
        "children" if relation.kind == pb.RELATION_KIND_CHILD else "relations",
        session,
        await _acting_label(calls, session, language),
        relation=_relation(relation, language, datetime.now(UTC)),
        mine=relation.subject_national_id == session.principal.national_id,
        error=None,
    )


@router.post(
    "/my/relations/{relation_id}/revoke",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def revoke_relation(
    request: Request, relation_id: str, calls: Calls, session: SignedIn
) -> Response:
    language = page_language(request)
    relation = await _own_relation(calls, relation_id)
    try:
        await calls.relations.RevokeRelation(pb.RevokeRelationRequest(relation_id=relation.id))
    except grpc.aio.AioRpcError as failed:
        failure = read_rpc_failure(failed)
        if failure.code not in _ABOUT_THE_FORM:
            raise
        return _space_page(
            request,
            "my/_relations_revoke.html",
            "relations",
            session,
            await _acting_label(calls, session, language),
            409,
            relation=_relation(relation, language, datetime.now(UTC)),
            mine=relation.subject_national_id == session.principal.national_id,
            error=failure.message,
        )
    back = "/my/children" if relation.kind == pb.RELATION_KIND_CHILD else "/my/relations"
    return _redirect(back, language, done="revoked")


# ---- children --------------------------------------------------------------------------------


async def _children_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    status: int = 200,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    language = page_language(request)
    now = datetime.now(UTC)
    listing = await calls.relations.ListRelations(pb.ListRelationsRequest())
    values = values or {}
    errors = errors or FormErrors(CHILD_FIELDS)
    return _space_page(
        request,
        "my/children.html",
        "children",
        session,
        await _acting_label(calls, session, language),
        status,
        children=[
            _relation(r, language, now)
            for r in listing.acting_for
            if r.kind == pb.RELATION_KIND_CHILD
        ],
        errors=errors,
        summary=errors.summary(),
        typed={name: _kept(values, name, NAME_MAX_LENGTH) for name in CHILD_FIELDS},
        max_length={"national_id": NATIONAL_ID_MAX_LENGTH, "name": NAME_MAX_LENGTH},
        done=request.query_params.get("done", ""),
    )


@router.get("/my/children", response_class=HTMLResponse)
async def children_page(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    return await _children_page(request, calls, session)


@router.post("/my/children", response_class=HTMLResponse, dependencies=[csrf_protected])
async def declare_child(request: Request, calls: Calls, session: SignedIn) -> Response:
    language = page_language(request)
    values = await _form(request)
    errors = FormErrors(CHILD_FIELDS)
    try:
        await calls.relations.DeclareChild(
            pb.DeclareChildRequest(
                child_national_id=_kept(values, "child_national_id", NATIONAL_ID_MAX_LENGTH),
                child_first_name=_kept(values, "child_first_name", NAME_MAX_LENGTH),
                child_last_name=_kept(values, "child_last_name", NAME_MAX_LENGTH),
            )
        )
    except grpc.aio.AioRpcError as failed:
        if not refused_input(failed, errors, language, about=_ABOUT_THE_FORM):
            raise
        return await _children_page(request, calls, session, 422, errors, values)
    return _redirect("/my/children", language, done="declared")


# ---- professional spaces ---------------------------------------------------------------------


async def _spaces_page(
    request: Request,
    calls: Calls,
    session: WebSession,
    status: int = 200,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.spaces.ListSpaces(pb.ListSpacesRequest())
    values = values or {}
    errors = errors or FormErrors(SPACE_FIELDS)
    return _space_page(
        request,
        "my/spaces.html",
        "spaces",
        session,
        await _acting_label(calls, session, language),
        status,
        spaces=[
            {
                "id": space.id,
                "company_name": space.company_name,
                "registry_number": space.registry_number,
                "my_role": _word(ROLES, _role(space.my_role), language),
            }
            for space in reply.spaces
        ],
        errors=errors,
        summary=errors.summary(),
        typed={
            "company_name": _kept(values, "company_name", COMPANY_NAME_MAX_LENGTH),
            "registry_number": _kept(values, "registry_number", COMPANY_NUMBER_MAX_LENGTH),
        },
        max_length={"company_name": COMPANY_NAME_MAX_LENGTH, "number": COMPANY_NUMBER_MAX_LENGTH},
    )


@router.get("/my/spaces", response_class=HTMLResponse)
async def spaces_page(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    return await _spaces_page(request, calls, session)


@router.post("/my/spaces", response_class=HTMLResponse, dependencies=[csrf_protected])
async def create_space(request: Request, calls: Calls, session: SignedIn) -> Response:
    language = page_language(request)
    values = await _form(request)
    errors = FormErrors(SPACE_FIELDS)
    try:
        reply = await calls.spaces.CreateSpace(
            pb.CreateSpaceRequest(
                company_name=_kept(values, "company_name", COMPANY_NAME_MAX_LENGTH),
                registry_number=_kept(values, "registry_number", COMPANY_NUMBER_MAX_LENGTH),
            )
        )
    except grpc.aio.AioRpcError as failed:
        if not refused_input(failed, errors, language, about=_ABOUT_THE_FORM):
            raise
        return await _spaces_page(request, calls, session, 422, errors, values)
    return _redirect(f"/my/spaces/{reply.space.id}", language, done="created")


def _space_id(space_id: str) -> str:
    if not _ID.fullmatch(space_id):
        raise Problem(404, "SPACE_NOT_FOUND")
    return space_id


async def _space_detail(
    request: Request,
    calls: Calls,
    session: WebSession,
    space_id: str,
    status: int = 200,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    language = page_language(request)
    # Another person's space, or none: identity says not found, the page is the 404 page.
    reply = await calls.spaces.GetSpace(pb.GetSpaceRequest(space_id=_space_id(space_id)))
    space = reply.space
    values = values or {}
    errors = errors or FormErrors(COLLABORATOR_FIELDS)
    return _space_page(
        request,
        "my/space.html",
        "spaces",
        session,
        await _acting_label(calls, session, language),
        status,
        space={
            "id": space.id,
            "company_name": space.company_name,
            "registry_number": space.registry_number,
            "my_role": _word(ROLES, _role(space.my_role), language),
            "created": _moment(space.created_at, language),
        },
        administrator=space.my_role == pb.COLLABORATOR_ROLE_ADMINISTRATOR,
        collaborators=[
            {
                "national_id": c.national_id,
                "name": c.name or c.national_id,
                "role": _role(c.role),
                "role_label": _word(ROLES, _role(c.role), language),
                "added": _moment(c.added_at, language),
                "me": c.national_id == session.principal.national_id,
            }
            for c in space.collaborators
        ],
        roles=[(key, _.gettext(label, language)) for key, label in ROLES.items()],
        errors=errors,
        summary=errors.summary(),
        typed={
            "national_id": _kept(values, "national_id", NATIONAL_ID_MAX_LENGTH),
            "role": _kept(values, "role", 20),
        },
        max_length={"national_id": NATIONAL_ID_MAX_LENGTH},
        done=request.query_params.get("done", ""),
    )


@router.get("/my/spaces/{space_id}", response_class=HTMLResponse)
async def space_page(
    request: Request, space_id: str, calls: Calls, session: SignedIn
) -> HTMLResponse:
    return await _space_detail(request, calls, session, space_id)


def _role_value(text: str) -> pb.CollaboratorRole.ValueType:
    return (
        pb.CollaboratorRole.Value(ROLE_PREFIX + text.upper())
        if text in ROLES
        else pb.COLLABORATOR_ROLE_UNSPECIFIED
    )


@router.post(
    "/my/spaces/{space_id}/collaborators",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def add_collaborator(
    request: Request, space_id: str, calls: Calls, session: SignedIn
) -> Response:
    language = page_language(request)
    values = await _form(request)
    errors = FormErrors(COLLABORATOR_FIELDS)
    try:
        await calls.spaces.AddCollaborator(
            pb.AddCollaboratorRequest(
                space_id=_space_id(space_id),
                national_id=_kept(values, "national_id", NATIONAL_ID_MAX_LENGTH).strip(),
                role=_role_value(_kept(values, "role", 20)),
            )
        )
    except grpc.aio.AioRpcError as failed:
        if not refused_input(failed, errors, language, about=_ABOUT_THE_FORM):
            raise
        return await _space_detail(request, calls, session, space_id, 422, errors, values)
    return _redirect(f"/my/spaces/{space_id}", language, done="added")


def _collaborator_id(national_id: str) -> str:
    if not _NATIONAL_ID.fullmatch(national_id):
        raise Problem(404, "COLLABORATOR_NOT_FOUND")
    return national_id


async def _collaborator_change(
    request: Request,
    calls: Calls,
    session: WebSession,
    space_id: str,
    change: Any,
    done: str,
) -> Response:
    """A change of one collaborator; a refusal (the last administrator, not an administrator)
    is said at the top of the space's page."""
    language = page_language(request)
    try:
        await change
    except grpc.aio.AioRpcError as failed:
        errors = FormErrors(("collaborators",))
        if not refused_input(failed, errors, language, about=_ABOUT_THE_FORM):
            raise
        return await _space_detail(request, calls, session, space_id, 409, errors)
    return _redirect(f"/my/spaces/{space_id}", language, done=done)


@router.post(
    "/my/spaces/{space_id}/collaborators/{national_id}/role",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def change_role(
    request: Request, space_id: str, national_id: str, calls: Calls, session: SignedIn
) -> Response:
    values = await _form(request)
    change = calls.spaces.ChangeCollaboratorRole(
        pb.ChangeCollaboratorRoleRequest(
            space_id=_space_id(space_id),
            national_id=_collaborator_id(national_id),
            role=_role_value(_kept(values, "role", 20)),
        )
    )
    return await _collaborator_change(request, calls, session, space_id, change, "role")


@router.post(
    "/my/spaces/{space_id}/collaborators/{national_id}/remove",
    response_class=HTMLResponse,
    dependencies=[csrf_protected],
)
async def remove_collaborator(
    request: Request, space_id: str, national_id: str, calls: Calls, session: SignedIn
) -> Response:
    change = calls.spaces.RemoveCollaborator(
        pb.RemoveCollaboratorRequest(
            space_id=_space_id(space_id), national_id=_collaborator_id(national_id)
        )
    )
    return await _collaborator_change(request, calls, session, space_id, change, "removed")


# ---- acting context --------------------------------------------------------------------------


async def _context_page(
    request: Request, calls: Calls, session: WebSession, status: int = 200, error: str = ""
) -> HTMLResponse:
    language = page_language(request)
    reply = await calls.relations.ListActingContexts(pb.ListActingContextsRequest())
    offered = {choice.context: choice for choice in reply.contexts}
    current = str(session.acting_context)
    ended = current not in offered
    if ended:
        # The mandate or the membership ended since it was chosen: back to one's own name, or
        # every page would be refused.
        await store_of(request).set_acting_context(session.key_hash, PRIVATE)
        current = str(PRIVATE)
        session = replace(session, acting_context=PRIVATE)
        request.state.web_session = session
    choices = [
        {
            "value": choice.context,
            "label": _context_label(choice, session, language),
            "kind": enum_word(pb.ActingContextKind.Name(choice.kind), "ACTING_CONTEXT_KIND_"),
            "until": _moment(choice.expires_at, language),
            "rights": [_right_label(r, language) for r in choice.rights],
            "current": choice.context == current,
        }
        for choice in reply.contexts
    ]
    current_label = next((c["label"] for c in choices if c["current"]), "")
    return page(
        request,
        "my/context.html",
        status,
        section="context",
        acting_label="" if current == str(PRIVATE) else current_label,
        choices=choices,
        current_label=current_label,
        ended=ended,
        error=error,
        summary=[("context", error)] if error else [],
    )


@router.get("/my/context", response_class=HTMLResponse)
async def context_page(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    return await _context_page(request, calls, session)


@router.post("/my/context", response_class=HTMLResponse, dependencies=[csrf_protected])
async def choose_context(request: Request, calls: Calls, session: SignedIn) -> Response:
    language = page_language(request)
    chosen = _kept(await _form(request), "context", ACTING_CONTEXT_MAX_LENGTH + 1)
    reply = await calls.relations.ListActingContexts(pb.ListActingContextsRequest())
    # Only what identity offers now: a revoked or expired mandate is no longer in the list.
    if chosen not in {choice.context for choice in reply.contexts}:
        message = _("You cannot act in this context. Choose one of the list.").render(language)
        return await _context_page(request, calls, session, 422, message)
    await store_of(request).set_acting_context(session.key_hash, ActingContext.parse(chosen))
    return _redirect("/dashboard", language)
