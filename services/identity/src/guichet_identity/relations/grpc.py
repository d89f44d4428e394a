"""RelationService: mandates, declared children, the mandate check, the audit and the contexts a
person may act in (F10)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.profile.fields import parse_name
from guichet_identity.profile.service import own_profile
from guichet_identity.registers import Registers
from guichet_identity.relations import service
from guichet_identity.relations.mandate import GRANTABLE_KINDS, mandate_expiry_problem
from guichet_identity.relations.rights import Right, UnknownRight, is_known_right, parse_rights
from guichet_identity.wire import (
    act_to_proto,
    context_choice_to_proto,
    kind_from_proto,
    relation_to_proto,
    timestamp,
)
from guichet_kit.auth import ActingContext, LevelOfAssurance
from guichet_kit.domain import FieldErrors, Forbidden, InvalidInput
from guichet_kit.i18n import Catalog
from guichet_kit.servicers import ANY_CONTEXT, Call, Db, DeclaredServicer, citizen, rpc
from guichet_kit.values import check, parse_human_text, parse_national_id, parse_uuid

_ = Catalog("guichet_identity")

Clock = Callable[[], datetime]

MAX_ACT_LENGTH = 500
# Twice the vocabulary: room for repeats, none for a flood.
MAX_RIGHTS = 24
MAX_SUBJECT_LENGTH = 64
MAX_CONTEXT_LENGTH = 80

_EXPIRY_MESSAGES = {
    "required": _("Give the date the mandate ends."),
    "in_the_past": _("The end of the mandate must be in the future."),
    "too_far": _("A mandate lasts at most 5 years."),
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def _rights(errors: FieldErrors, texts: list[str]) -> list[Right]:
    if not texts:
        errors.add("rights", "required", _("Give at least one right."))
    elif len(texts) > MAX_RIGHTS:
        errors.add("rights", "too_many", _("At most {limit} rights.", limit=MAX_RIGHTS))
    else:
        try:
            return parse_rights(texts)
        except UnknownRight:
            errors.add(
                "rights",
                "unknown",
                _("A right is written <domain>:read or <domain>:write, e.g. etracking:read."),
            )
    return []


def _grant(request: pb.GrantMandateRequest, now: datetime) -> service.MandateGrant:
    errors = FieldErrors()
    actor = check(errors, "actor_national_id", parse_national_id, request.actor_national_id)
    kind = kind_from_proto(request.kind)
    if kind is None or kind not in GRANTABLE_KINDS:
        errors.add(
            "kind", "invalid", _("Choose spouse, parent or other person (a child is declared).")
        )
    rights = _rights(errors, list(request.rights))
    expires_at = None
    try:
        if request.HasField("expires_at"):
            expires_at = request.expires_at.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        errors.add("expires_at", "out_of_range", _("Give a real date."))
    else:
        if problem := mandate_expiry_problem(expires_at, now):
            errors.add("expires_at", problem, _EXPIRY_MESSAGES[problem])
    if errors or actor is None or kind is None or expires_at is None:
        raise InvalidInput("INVALID_MANDATE", _("The mandate has errors."), errors.errors)
    return service.MandateGrant(actor, kind, rights, expires_at)


def _relation_id(text: str) -> uuid.UUID:
    errors = FieldErrors()
    relation_id = check(errors, "relation_id", parse_uuid, text[:64])
    if relation_id is None:
        raise InvalidInput(
            "INVALID_RELATION_ID", _("This relation id is not valid."), errors.errors
        )
    return relation_id


def _acting_context(text: str) -> ActingContext:
    if len(text) > MAX_CONTEXT_LENGTH:
        raise ValueError("too long")
    return ActingContext.parse(text)


def _check(request: pb.CheckMandateRequest) -> tuple[ActingContext, str]:
    errors = FieldErrors()
    if not request.actor_subject:
        errors.add("actor_subject", "required", _("Give the actor's subject."))
    elif len(request.actor_subject) > MAX_SUBJECT_LENGTH:
        errors.add("actor_subject", "invalid", _("This is not a subject of this platform."))
    context = None
    try:
        context = _acting_context(request.acting_context)
    except ValueError:
        errors.add(
            "acting_context",
            "invalid",
            _("An acting context is private, company:<id> or relation:<id>."),
        )
    if not is_known_right(request.right):
        errors.add("right", "unknown", _("This right is not in the platform's vocabulary."))
    act = check(
        errors,
        "act",
        lambda text: parse_human_text(text, max_length=MAX_ACT_LENGTH, required=False),
        request.act,
    )
    if errors or context is None or act is None:
        raise InvalidInput(
            "INVALID_MANDATE_CHECK", _("The mandate check has errors."), errors.errors
        )
    return context, act


class RelationServicer(DeclaredServicer, pb_grpc.RelationServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        events_written: Callable[[], None] = lambda: None,
        *,
        registers: Registers,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(sessions, events_written)
        # A declared child is checked against the national register.
        self._registers = registers
        # Injectable so that expiry can be tested without waiting for it.
        self._clock = clock

    # Someone will act in the caller's name: only after an eID/certificate sign-in.
    @rpc(citizen(LevelOfAssurance.HIGH))
    async def GrantMandate(
        self, request: pb.GrantMandateRequest, call: Call
    ) -> pb.GrantMandateResponse:
        now = self._clock()
        grant = _grant(request, now)
        grantor = await own_profile(call.session, call.person.subject)
        relation = await service.grant_mandate(call.session, grantor, grant, now)
        names = {grantor.national_id: grantor.name}
        return pb.GrantMandateResponse(relation=relation_to_proto(relation, names))

    # The national register must name the caller as the child's parent; the declaration stays
    # accountable too: an eID/certificate sign-in, and every act for the child is audited.
    @rpc(citizen(LevelOfAssurance.HIGH))
    async def DeclareChild(
        self, request: pb.DeclareChildRequest, call: Call
    ) -> pb.DeclareChildResponse:
        now = self._clock()
        errors = FieldErrors()
        child = check(errors, "child_national_id", parse_national_id, request.child_national_id)
        first = check(errors, "child_first_name", parse_name, request.child_first_name)
        last = check(errors, "child_last_name", parse_name, request.child_last_name)
        if errors or child is None or first is None or last is None:
            raise InvalidInput(
                "INVALID_CHILD", _("The child's details have errors."), errors.errors
            )
        parent = await own_profile(call.session, call.person.subject)
        relation = await service.declare_child(
            call.session, self._registers, parent, child, f"{first} {last}", now
        )
        names = {parent.national_id: parent.name}
        return pb.DeclareChildResponse(relation=relation_to_proto(relation, names))

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListRelations(
        self, request: pb.ListRelationsRequest, call: Call
    ) -> pb.ListRelationsResponse:
        person = await own_profile(call.session, call.person.subject)
        listing = await service.list_relations(call.session, person)
        return pb.ListRelationsResponse(
            acting_for=[relation_to_proto(r, listing.names) for r in listing.acting_for],
            acted_for_by=[relation_to_proto(r, listing.names) for r in listing.acted_for_by],
        )

    @rpc(citizen())
    async def RevokeRelation(
        self, request: pb.RevokeRelationRequest, call: Call
    ) -> pb.RevokeRelationResponse:
        relation_id = _relation_id(request.relation_id)
        person = await own_profile(call.session, call.person.subject)
        await service.revoke_relation(call.session, person, relation_id, self._clock())
        return pb.RevokeRelationResponse()

    # Asked by the gateway or a service with the caller's forwarded token, in the context being
    # checked; the actor must be that caller, so nobody can query mandates or write audit rows in
    # another's name.
    @rpc(citizen(contexts=ANY_CONTEXT))
    async def CheckMandate(
        self, request: pb.CheckMandateRequest, call: Call
    ) -> pb.CheckMandateResponse:
        acting, act = _check(request)
        if call.person.subject != request.actor_subject:
            raise Forbidden(
                "ACTOR_MISMATCH", _("A mandate can only be checked for the calling user.")
            )
        decision = await service.check_mandate(
            call.session, request.actor_subject, acting, request.right, act, self._clock()
        )
        reply = pb.CheckMandateResponse(
            allowed=decision.allowed,
            owner=decision.owner,
            refusal=decision.refusal.value if decision.refusal else "",
        )
        if decision.expires_at is not None:
            reply.expires_at.CopyFrom(timestamp(decision.expires_at))
        return reply

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListActsOnMyBehalf(
        self, request: pb.ListActsOnMyBehalfRequest, call: Call
    ) -> pb.ListActsOnMyBehalfResponse:
        person = await own_profile(call.session, call.person.subject)
        acts = await service.list_acts(call.session, person, call.acting, request.limit)
        return pb.ListActsOnMyBehalfResponse(acts=[act_to_proto(act) for act in acts])

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListActingContexts(
        self, request: pb.ListActingContextsRequest, call: Call
    ) -> pb.ListActingContextsResponse:
        person = await own_profile(call.session, call.person.subject)
        choices = await service.acting_contexts(call.session, person, self._clock())
        return pb.ListActingContextsResponse(
            contexts=[context_choice_to_proto(choice) for choice in choices]
        )
