"""/api/v1/me/relations: mandates to act for others, and the audit of acts on one's behalf (F10)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from guichet.identity.v1 import identity_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser, acts_in_context
from guichet_gateway.fields import (
    MAX_RIGHTS,
    ChildFirstName,
    ChildNationalIdText,
    DateTimeText,
    LastName,
    NationalIdText,
    RightText,
    UuidPath,
)
from guichet_gateway.openapi import needs_level, refusals
from guichet_gateway.wire import enum_word, timestamp, to_timestamp
from guichet_kit.auth import LevelOfAssurance
from guichet_kit.errors import FieldError
from guichet_kit.i18n import Catalog
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")

router = APIRouter(prefix="/api/v1/me", tags=["relations"])

KIND_PREFIX = "RELATION_KIND_"
# The bounds the identity service applies to the audit it returns.
DEFAULT_ACTS = 100
MAX_ACTS = 500


class RelationOut(BaseModel):
    id: str
    kind: str
    actor_national_id: str
    subject_national_id: str
    actor_name: str
    subject_name: str
    rights: list[str]
    expires_at: datetime | None
    created_at: datetime | None
    revoked: bool
    acting_context: str


class RelationsOut(BaseModel):
    acting_for: list[RelationOut]
    acted_for_by: list[RelationOut]


class MandateIn(BaseModel):
    actor_national_id: NationalIdText = Field(description="Who may act for the caller")
    kind: Literal["spouse", "parent", "other_person"]
    rights: list[RightText] = Field(
        max_length=MAX_RIGHTS,
        examples=[["etracking:read", "profile:write"]],
        json_schema_extra={"x-value-type": "rights"},
    )
    expires_at: DateTimeText = Field(description="In the future, at most 5 years ahead")


class ChildIn(BaseModel):
    child_national_id: ChildNationalIdText
    child_first_name: ChildFirstName
    child_last_name: LastName


class ActOut(BaseModel):
    occurred_at: datetime | None
    actor_national_id: str
    actor_name: str
    acting_context: str
    right: str
    act: str


def relation_out(relation: pb.Relation) -> RelationOut:
    return RelationOut(
        id=relation.id,
        kind=enum_word(pb.RelationKind.Name(relation.kind), KIND_PREFIX),
        actor_national_id=relation.actor_national_id,
        subject_national_id=relation.subject_national_id,
        actor_name=relation.actor_name,
        subject_name=relation.subject_name,
        rights=list(relation.rights),
        expires_at=timestamp(relation.expires_at),
        created_at=timestamp(relation.created_at),
        revoked=relation.revoked,
        acting_context=f"relation:{relation.id}",
    )


@router.get(
    "/relations",
    response_model=RelationsOut,
    responses=refusals({404: "No profile for this account (PROFILE_NOT_FOUND)."}),
)
async def list_relations(calls: Calls, user: CurrentUser) -> RelationsOut:
    """Whom the caller may act for, and who may act for the caller."""
    reply = await calls.relations.ListRelations(pb.ListRelationsRequest())
    return RelationsOut(
        acting_for=[relation_out(r) for r in reply.acting_for],
        acted_for_by=[relation_out(r) for r in reply.acted_for_by],
    )


@router.post(
    "/relations",
    status_code=201,
    response_model=RelationOut,
    openapi_extra=needs_level(LevelOfAssurance.HIGH),
    responses=refusals(
        {
            404: "No account has this national identification number.",
            409: "This person holds a mandate of the caller already (RELATION_EXISTS).",
            422: "INVALID_MANDATE: unknown right, expiry in the past or beyond 5 years…",
        }
    ),
)
async def grant_mandate(body: MandateIn, calls: Calls, user: CurrentUser) -> RelationOut:
    """Allow another person to act in the caller's name: signed in with eID/certificate only."""
    expires_at = to_timestamp(body.expires_at)
    if expires_at is None:
        raise Problem(
            422,
            "VALIDATION_FAILED",
            "",
            [FieldError("expires_at", "out_of_range", _("Give a real date."))],
        )
    reply = await calls.relations.GrantMandate(
        pb.GrantMandateRequest(
            actor_national_id=body.actor_national_id,
            kind=pb.RelationKind.Value(KIND_PREFIX + body.kind.upper()),
            rights=body.rights,
            expires_at=expires_at,
        )
    )
    return relation_out(reply.relation)


@router.post(
    "/children",
    status_code=201,
    response_model=RelationOut,
    openapi_extra=needs_level(LevelOfAssurance.HIGH),
    responses=refusals(
        {
            409: "This child is declared already (RELATION_EXISTS), or the national register does "
            "not name the caller as the child's parent (NOT_CHILD_IN_REGISTER).",
            422: "INVALID_CHILD: not a minor, wrong check digits…",
        }
    ),
)
async def declare_child(body: ChildIn, calls: Calls, user: CurrentUser) -> RelationOut:
    """A parent declares a minor child and may act for them until they come of age."""
    reply = await calls.relations.DeclareChild(
        pb.DeclareChildRequest(**body.model_dump(mode="json"))
    )
    return relation_out(reply.relation)


@router.delete(
    "/relations/{relation_id}",
    status_code=204,
    response_class=Response,
    responses=refusals({404: "No such relation of the caller's (RELATION_NOT_FOUND)."}),
)
async def revoke_relation(
    relation_id: Annotated[UuidPath, Path()], calls: Calls, user: CurrentUser
) -> Response:
    """End a mandate one granted, or one's authority over a declared child."""
    await calls.relations.RevokeRelation(pb.RevokeRelationRequest(relation_id=relation_id))
    return Response(status_code=204)


@router.get(
    "/acts-on-my-behalf",
    response_model=list[ActOut],
    dependencies=[acts_in_context],
    responses=refusals(
        {
            403: "In a company's context, only its administrators read its audit.",
            404: "No such space of the caller's (SPACE_NOT_FOUND).",
        }
    ),
)
async def list_acts_on_my_behalf(
    calls: Calls,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=MAX_ACTS, description="How many, newest first")] = (
        DEFAULT_ACTS
    ),
) -> list[ActOut]:
    """The audit: every act someone did in the caller's name; in a company's context (its
    administrators only), every act a collaborator did for the company."""
    reply = await calls.relations.ListActsOnMyBehalf(pb.ListActsOnMyBehalfRequest(limit=limit))
    return [
        ActOut(
            occurred_at=timestamp(a.occurred_at),
            actor_national_id=a.actor_national_id,
            actor_name=a.actor_name,
            acting_context=a.acting_context,
            right=a.right,
            act=a.act,
        )
        for a in reply.acts
    ]
