"""Mandate rules: granting, declaring a child, revoking, checking an acting context, the audit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_identity.national_id import NationalId
from guichet_identity.profile import repository as profile_repository
from guichet_identity.profile.models import Profile
from guichet_identity.relations import repository
from guichet_identity.relations.mandate import (
    MandateTerms,
    Refusal,
    RelationKind,
    coming_of_age,
    refusal,
)
from guichet_identity.relations.models import ActOnBehalf, Relation
from guichet_identity.relations.rights import ALL_RIGHTS, Right
from guichet_identity.spaces import repository as space_repository
from guichet_identity.spaces.roles import CollaboratorRole, role_grants
from guichet_kit.auth import ActingContext
from guichet_kit.errors import FieldError, ServiceError, invalid_argument, not_found


@dataclass(frozen=True)
class MandateGrant:
    """A checked GrantMandate."""

    actor: NationalId
    kind: RelationKind
    rights: list[Right]
    expires_at: datetime


@dataclass(frozen=True)
class RelationListing:
    acting_for: list[Relation]
    acted_for_by: list[Relation]
    # National id → name, for those with an account.
    names: dict[str, str]


@dataclass(frozen=True)
class MandateDecision:
    owner: str = ""
    expires_at: datetime | None = None
    refusal: Refusal | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def relation_not_found() -> ServiceError:
    return not_found("RELATION_NOT_FOUND", "no such relation of yours")


def _already_related(what: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.ALREADY_EXISTS,
        "RELATION_EXISTS",
        f"{what} already has an active relation with you; revoke it first",
    )


async def grant_mandate(
    session: AsyncSession, grantor: Profile, grant: MandateGrant, now: datetime
) -> Relation:
    if grant.actor.value == grantor.national_id:
        raise invalid_argument(
            "INVALID_MANDATE",
            "a mandate is given to someone else",
            [FieldError("actor_national_id", "self", "You cannot give a mandate to yourself.")],
        )
    if await repository.find_active(session, grant.actor.value, grantor.national_id, now):
        raise _already_related("this person")
    relation = Relation(
        kind=grant.kind.value,
        actor_national_id=grant.actor.value,
        subject_national_id=grantor.national_id,
        subject_name=grantor.name,
        rights=[str(right) for right in grant.rights],
        expires_at=grant.expires_at,
        created_at=now,
        created_by=grantor.subject,
    )
    session.add(relation)
    await session.flush()
    return relation


async def declare_child(
    session: AsyncSession, parent: Profile, child: NationalId, child_name: str, now: datetime
) -> Relation:
    """The parent may act for the child in everything until the child comes of age."""
    if child.value == parent.national_id:
        raise invalid_argument(
            "INVALID_CHILD",
            "one cannot declare oneself as one's child",
            [FieldError("child_national_id", "self", "This is your own national identifier.")],
        )
    coming_of_age_at = coming_of_age(child.birth_date)
    if coming_of_age_at <= now:
        raise invalid_argument(
            "INVALID_CHILD",
            "only a minor child is declared; an adult child gives a mandate",
            [FieldError("child_national_id", "not_a_minor", "This person is 18 or older.")],
        )
    if await repository.find_active(session, parent.national_id, child.value, now):
        raise _already_related("this child")
    relation = Relation(
        kind=RelationKind.CHILD.value,
        actor_national_id=parent.national_id,
        subject_national_id=child.value,
        subject_name=child_name,
        rights=[str(right) for right in ALL_RIGHTS],
        expires_at=coming_of_age_at,
        created_at=now,
        created_by=parent.subject,
    )
    session.add(relation)
    await session.flush()
    return relation


async def list_relations(session: AsyncSession, person: Profile) -> RelationListing:
    relations = await repository.list_involving(session, person.national_id)
    names = await profile_repository.names_by_national_id(
        session,
        {r.actor_national_id for r in relations} | {r.subject_national_id for r in relations},
    )
    return RelationListing(
        acting_for=[r for r in relations if r.actor_national_id == person.national_id],
        acted_for_by=[r for r in relations if r.subject_national_id == person.national_id],
        names=names,
    )


async def revoke_relation(
    session: AsyncSession, person: Profile, relation_id: uuid.UUID, now: datetime
) -> None:
    """The subject withdraws the mandate, or the actor gives it up; revoking twice is a no-op."""
    relation = await repository.find_involving(
        session, relation_id, person.national_id, for_update=True
    )
    if relation is None:
        raise relation_not_found()
    if relation.revoked_at is None:
        relation.revoked_at = now


async def _relation_decision(
    session: AsyncSession, actor: Profile, context: ActingContext, right: str, now: datetime
) -> MandateDecision:
    try:
        relation_id = uuid.UUID(context.id)
    except ValueError:
        return MandateDecision(refusal=Refusal.NO_SUCH_CONTEXT)  # never an id of ours
    relation = await repository.find(session, relation_id)
    terms = (
        MandateTerms(
            relation.actor_national_id, relation.rights, relation.expires_at, relation.revoked_at
        )
        if relation is not None
        else None
    )
    refused = refusal(terms, actor.national_id, right, now)
    if relation is None or refused is Refusal.NO_SUCH_CONTEXT:
        return MandateDecision(refusal=Refusal.NO_SUCH_CONTEXT)
    return MandateDecision(
        owner=f"person:{relation.subject_national_id}",
        expires_at=relation.expires_at,
        refusal=refused,
    )


async def _company_decision(
    session: AsyncSession, actor: Profile, context: ActingContext, right: str
) -> MandateDecision:
    try:
        space_id = uuid.UUID(context.id)
    except ValueError:
        return MandateDecision(refusal=Refusal.NO_SUCH_CONTEXT)
    collaborator = await space_repository.find_collaborator(session, space_id, actor.national_id)
    if collaborator is None:
        return MandateDecision(refusal=Refusal.NO_SUCH_CONTEXT)
    owner = f"company:{space_id}"
    if not role_grants(CollaboratorRole(collaborator.role), right):
        return MandateDecision(owner=owner, refusal=Refusal.RIGHT_NOT_GRANTED)
    return MandateDecision(owner=owner)


async def check_mandate(
    session: AsyncSession,
    actor_subject: str,
    context: ActingContext,
    right: str,
    act: str,
    now: datetime,
) -> MandateDecision:
    """May the actor use `right` in `context` now? An allowed act is written to the audit."""
    actor = await profile_repository.find_by_subject(session, actor_subject)
    if actor is None:
        return MandateDecision(refusal=Refusal.NO_SUCH_CONTEXT)
    if context.kind == "private":
        # One's own space: nothing to audit, nobody else's data.
        return MandateDecision(owner=actor.person)
    if context.kind == "relation":
        decision = await _relation_decision(session, actor, context, right, now)
    else:
        decision = await _company_decision(session, actor, context, right)
    if decision.allowed and act:
        session.add(
            ActOnBehalf(
                occurred_at=now,
                actor_subject=actor.subject,
                actor_national_id=actor.national_id,
                actor_name=actor.name,
                acting_context=str(context),
                owner=decision.owner,
                right=right,
                act=act,
            )
        )
        await session.flush()
    if not decision.allowed:
        # A refusal does not say whose data it would have been.
        return MandateDecision(expires_at=decision.expires_at, refusal=decision.refusal)
    return decision


async def list_acts(session: AsyncSession, owner: str, limit: int) -> list[ActOnBehalf]:
    """The audit of one owner: `person:<national id>` or `company:<space id>`."""
    return await repository.list_acts(session, owner, limit)
