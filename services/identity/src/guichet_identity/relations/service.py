"""Mandate rules: granting, declaring a child, revoking, checking an acting context, the audit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from guichet_identity.profile import repository as profile_repository
from guichet_identity.profile.models import Profile
from guichet_identity.registers import Registers
from guichet_identity.relations import repository
from guichet_identity.relations.mandate import (
    MandateTerms,
    Refusal,
    RelationKind,
    coming_of_age,
    in_force,
    refusal,
)
from guichet_identity.relations.models import ActOnBehalf, Relation
from guichet_identity.relations.rights import ALL_RIGHTS, Right
from guichet_identity.spaces import repository as space_repository
from guichet_identity.spaces.roles import CollaboratorRole, role_grants
from guichet_identity.spaces.service import audit_owner, space_not_found
from guichet_kit.auth import PRIVATE, ActingContext
from guichet_kit.domain import AlreadyExists, Conflict, FieldError, InvalidInput, NotFound
from guichet_kit.i18n import Catalog
from guichet_kit.national_id import NationalId

_ = Catalog("guichet_identity")

DEFAULT_ACTS = 50
MAX_ACTS = 500


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


@dataclass(frozen=True)
class ContextChoice:
    """A context a person may act in now, and whose data it opens."""

    context: ActingContext
    owner: str
    name: str
    role: CollaboratorRole | None = None  # company: the person's role in the space
    relation: Relation | None = None  # relation: the mandate


def relation_not_found() -> NotFound:
    return NotFound("RELATION_NOT_FOUND", _("You have no such relation."))


def _terms(relation: Relation) -> MandateTerms:
    return MandateTerms(
        relation.actor_national_id, relation.rights, relation.expires_at, relation.revoked_at
    )


async def _add_current(
    session: AsyncSession, relation: Relation, now: datetime, exists: AlreadyExists
) -> None:
    """The pair's one current relation. The check before is for a clear answer; the database's
    unique index decides between two grants made at once, and the loser gets the same answer."""
    await repository.end_expired(
        session, relation.actor_national_id, relation.subject_national_id, now
    )
    try:
        await repository.add_current(session, relation)
    except repository.PairHasCurrentRelation:
        raise exists from None


async def grant_mandate(
    session: AsyncSession, grantor: Profile, grant: MandateGrant, now: datetime
) -> Relation:
    if grant.actor.value == grantor.national_id:
        raise InvalidInput(
            "INVALID_MANDATE",
            _("A mandate is given to someone else."),
            [FieldError("actor_national_id", "self", _("You cannot give a mandate to yourself."))],
        )
    exists = AlreadyExists(
        "RELATION_EXISTS",
        _("This person already has an active mandate from you; revoke it first."),
    )
    if await repository.find_active(session, grant.actor.value, grantor.national_id, now):
        raise exists
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
    await _add_current(session, relation, now, exists)
    return relation


def not_child_in_register() -> Conflict:
    return Conflict(
        "NOT_CHILD_IN_REGISTER",
        _("The national register does not name you as this child's parent."),
        [
            FieldError(
                "child_national_id",
                "not_in_register",
                _("The national register has no child of yours with this number."),
            )
        ],
    )


async def declare_child(
    session: AsyncSession,
    registers: Registers,
    parent: Profile,
    child: NationalId,
    child_name: str,
    now: datetime,
) -> Relation:
    """The parent may act for the child in everything until the child comes of age, once the
    national register confirms the link (the read shows in the parent's access log)."""
    if child.value == parent.national_id:
        raise InvalidInput(
            "INVALID_CHILD",
            _("One cannot declare oneself as one's child."),
            [
                FieldError(
                    "child_national_id",
                    "self",
                    _("This is your own national identification number."),
                )
            ],
        )
    coming_of_age_at = coming_of_age(child.birth_date)
    if coming_of_age_at <= now:
        raise InvalidInput(
            "INVALID_CHILD",
            _("Only a minor child is declared; an adult child gives a mandate."),
            [FieldError("child_national_id", "not_a_minor", _("This person is 18 or older."))],
        )
    exists = AlreadyExists(
        "RELATION_EXISTS", _("You already act for this child; revoke that relation first.")
    )
    if await repository.find_active(session, parent.national_id, child.value, now):
        raise exists
    # The relation's id is the read's reference: the parent finds it in their access log.
    relation_id = uuid.uuid4()
    children = await registers.children_of(parent.national_id, f"relation:{relation_id}")
    if children is None or child.value not in children:
        raise not_child_in_register()
    relation = Relation(
        id=relation_id,
        kind=RelationKind.CHILD.value,
        actor_national_id=parent.national_id,
        subject_national_id=child.value,
        subject_name=child_name,
        rights=[str(right) for right in ALL_RIGHTS],
        expires_at=coming_of_age_at,
        created_at=now,
        created_by=parent.subject,
    )
    await _add_current(session, relation, now, exists)
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
    if relation.ended_at is None:
        relation.ended_at = now


async def _relation_decision(
    session: AsyncSession, actor: Profile, context: ActingContext, right: str, now: datetime
) -> MandateDecision:
    try:
        relation_id = uuid.UUID(context.id)
    except ValueError:
        return MandateDecision(refusal=Refusal.NO_SUCH_CONTEXT)  # never an id of ours
    relation = await repository.find(session, relation_id)
    terms = _terms(relation) if relation is not None else None
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


async def list_acts(
    session: AsyncSession, person: Profile, context: ActingContext, asked: int
) -> list[ActOnBehalf]:
    """The newest acts of the audit the person reads: their own, or in a company's context the
    company's (for its administrators); acting for another person, one still reads one's own.
    `asked` of them, the default when 0 or less, never more than the maximum."""
    limit = DEFAULT_ACTS if asked <= 0 else min(asked, MAX_ACTS)
    owner = person.person
    if context.kind == "company":
        try:
            space_id = uuid.UUID(context.id)
        except ValueError:
            raise space_not_found() from None
        owner = await audit_owner(session, person, space_id)
    return await repository.list_acts(session, owner, limit)


async def acting_contexts(
    session: AsyncSession, person: Profile, now: datetime
) -> list[ContextChoice]:
    """Where the person may act now: their private space, the spaces they collaborate in, and
    those whose mandate they hold that is neither revoked nor expired."""
    choices = [ContextChoice(PRIVATE, person.person, person.name)]
    for space_id, company_name, role in await space_repository.memberships_of(
        session, person.national_id
    ):
        choices.append(
            ContextChoice(
                ActingContext("company", str(space_id)),
                f"company:{space_id}",
                company_name,
                role=CollaboratorRole(role),
            )
        )
    relations = [
        relation
        for relation in await repository.list_acting_for(session, person.national_id)
        if in_force(_terms(relation), now)
    ]
    names = await profile_repository.names_by_national_id(
        session, {relation.subject_national_id for relation in relations}
    )
    choices.extend(
        ContextChoice(
            ActingContext("relation", str(relation.id)),
            f"person:{relation.subject_national_id}",
            names.get(relation.subject_national_id, relation.subject_name),
            relation=relation,
        )
        for relation in relations
    )
    return choices
