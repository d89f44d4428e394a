"""RelationService: mandates, declared children, the mandate check and the audit (F10)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.profile.fields import check_name, check_national_id
from guichet_identity.profile.grpc import caller_in_own_name
from guichet_identity.profile.service import own_profile
from guichet_identity.relations import service
from guichet_identity.relations.mandate import GRANTABLE_KINDS, mandate_expiry_problem
from guichet_identity.relations.rights import UnknownRight, is_known_right, parse_rights
from guichet_identity.spaces.service import audit_owner, space_not_found
from guichet_identity.wire import act_to_proto, kind_from_proto, relation_to_proto, timestamp
from guichet_kit.auth import (
    ActingContext,
    LevelOfAssurance,
    acting_context,
    authenticated,
    require_level,
)
from guichet_kit.db import transaction
from guichet_kit.errors import FieldError, invalid_argument, permission_denied

Context = grpc.aio.ServicerContext[Any, Any]
Clock = Callable[[], datetime]

MAX_ACT_LENGTH = 500
DEFAULT_ACTS = 50
MAX_ACTS = 500

_EXPIRY_MESSAGES = {
    "required": "Give the date the mandate ends.",
    "in_the_past": "The end of the mandate must be in the future.",
    "too_far": "A mandate lasts at most 5 years.",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def _grant(request: pb.GrantMandateRequest, now: datetime) -> service.MandateGrant:
    errors: list[FieldError] = []
    actor = check_national_id("actor_national_id", request.actor_national_id, errors)
    kind = kind_from_proto(request.kind)
    if kind is None or kind not in GRANTABLE_KINDS:
        errors.append(
            FieldError(
                "kind", "invalid", "Choose spouse, parent or other person (a child is declared)."
            )
        )
    rights = []
    if not request.rights:
        errors.append(FieldError("rights", "required", "Give at least one right."))
    try:
        rights = parse_rights(request.rights)
    except UnknownRight as error:
        errors.append(FieldError("rights", "unknown", str(error)))
    expires_at = None
    try:
        if request.HasField("expires_at"):
            expires_at = request.expires_at.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        errors.append(FieldError("expires_at", "out_of_range", "Give a real date."))
    else:
        if problem := mandate_expiry_problem(expires_at, now):
            errors.append(FieldError("expires_at", problem, _EXPIRY_MESSAGES[problem]))
    if errors or actor is None or kind is None or expires_at is None:
        raise invalid_argument("INVALID_MANDATE", "the mandate is invalid", errors)
    return service.MandateGrant(actor, kind, rights, expires_at)


def _relation_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as error:
        raise invalid_argument(
            "INVALID_RELATION_ID",
            "the relation id is not valid",
            [FieldError("relation_id", "invalid", "Not a relation id.")],
        ) from error


def _check(request: pb.CheckMandateRequest) -> ActingContext:
    errors: list[FieldError] = []
    if not request.actor_subject:
        errors.append(FieldError("actor_subject", "required", "Give the actor's subject."))
    context = None
    try:
        context = ActingContext.parse(request.acting_context)
    except ValueError as error:
        errors.append(FieldError("acting_context", "invalid", str(error)))
    if not is_known_right(request.right):
        errors.append(FieldError("right", "unknown", f"Unknown right {request.right!r}."))
    if len(request.act) > MAX_ACT_LENGTH:
        errors.append(FieldError("act", "too_long", f"At most {MAX_ACT_LENGTH} characters."))
    if errors or context is None:
        raise invalid_argument("INVALID_MANDATE_CHECK", "the mandate check is invalid", errors)
    return context


class RelationServicer(pb_grpc.RelationServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = utc_now) -> None:
        self._sessions = sessions
        # Injectable so that expiry can be tested without waiting for it.
        self._clock = clock

    async def GrantMandate(
        self, request: pb.GrantMandateRequest, context: Context
    ) -> pb.GrantMandateResponse:
        principal = caller_in_own_name()
        # Someone will act in the caller's name: only after an eID/certificate sign-in.
        require_level(principal, LevelOfAssurance.HIGH)
        now = self._clock()
        grant = _grant(request, now)
        async with transaction(self._sessions) as session:
            grantor = await own_profile(session, principal.subject)
            relation = await service.grant_mandate(session, grantor, grant, now)
            listing_names = {grantor.national_id: grantor.name}
            return pb.GrantMandateResponse(relation=relation_to_proto(relation, listing_names))

    async def DeclareChild(
        self, request: pb.DeclareChildRequest, context: Context
    ) -> pb.DeclareChildResponse:
        principal = caller_in_own_name()
        # Until the national register confirms parenthood (F50), the declaration is accountable:
        # it needs an eID/certificate sign-in, and every act for the child is audited.
        require_level(principal, LevelOfAssurance.HIGH)
        now = self._clock()
        errors: list[FieldError] = []
        child = check_national_id("child_national_id", request.child_national_id, errors)
        first = check_name("child_first_name", request.child_first_name, errors)
        last = check_name("child_last_name", request.child_last_name, errors)
        if errors or child is None:
            raise invalid_argument("INVALID_CHILD", "the child's details are invalid", errors)
        async with transaction(self._sessions) as session:
            parent = await own_profile(session, principal.subject)
            relation = await service.declare_child(session, parent, child, f"{first} {last}", now)
            names = {parent.national_id: parent.name}
            return pb.DeclareChildResponse(relation=relation_to_proto(relation, names))

    async def ListRelations(
        self, request: pb.ListRelationsRequest, context: Context
    ) -> pb.ListRelationsResponse:
        principal = authenticated()
        async with transaction(self._sessions) as session:
            person = await own_profile(session, principal.subject)
            listing = await service.list_relations(session, person)
            return pb.ListRelationsResponse(
                acting_for=[relation_to_proto(r, listing.names) for r in listing.acting_for],
                acted_for_by=[relation_to_proto(r, listing.names) for r in listing.acted_for_by],
            )

    async def RevokeRelation(
        self, request: pb.RevokeRelationRequest, context: Context
    ) -> pb.RevokeRelationResponse:
        principal = caller_in_own_name()
        relation_id = _relation_id(request.relation_id)
        async with transaction(self._sessions) as session:
            person = await own_profile(session, principal.subject)
            await service.revoke_relation(session, person, relation_id, self._clock())
        return pb.RevokeRelationResponse()

    async def CheckMandate(
        self, request: pb.CheckMandateRequest, context: Context
    ) -> pb.CheckMandateResponse:
        # Asked by a service on behalf of the caller whose token it forwards: the actor must be
        # that caller, so nobody can query mandates or write audit rows in another's name.
        acting = _check(request)
        if authenticated().subject != request.actor_subject:
            raise permission_denied(
                "ACTOR_MISMATCH", "a mandate can only be checked for the calling user"
            )
        async with transaction(self._sessions) as session:
            decision = await service.check_mandate(
                session,
                request.actor_subject,
                acting,
                request.right,
                request.act.strip(),
                self._clock(),
            )
        reply = pb.CheckMandateResponse(
            allowed=decision.allowed,
            owner=decision.owner,
            refusal=decision.refusal.value if decision.refusal else "",
        )
        if decision.expires_at is not None:
            reply.expires_at.CopyFrom(timestamp(decision.expires_at))
        return reply

    async def ListActsOnMyBehalf(
        self, request: pb.ListActsOnMyBehalfRequest, context: Context
    ) -> pb.ListActsOnMyBehalfResponse:
        principal = authenticated()
        limit = min(request.limit, MAX_ACTS) if request.limit > 0 else DEFAULT_ACTS
        acting = acting_context()
        async with transaction(self._sessions) as session:
            person = await own_profile(session, principal.subject)
            # In a company's context: what collaborators did for the company (administrators).
            owner = person.person
            if acting.kind == "company":
                try:
                    space_id = uuid.UUID(acting.id)
                except ValueError:
                    raise space_not_found() from None
                owner = await audit_owner(session, person, space_id)
            acts = await service.list_acts(session, owner, limit)
            return pb.ListActsOnMyBehalfResponse(acts=[act_to_proto(act) for act in acts])
