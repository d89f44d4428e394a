"""/api/v1/me/relations: mandates to act for others, and the audit of acts on one's behalf (F10)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from guichet.identity.v1 import identity_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser, require_level
from guichet_gateway.wire import enum_word, timestamp, to_timestamp
from guichet_kit.auth import LevelOfAssurance
from guichet_kit.errors import FieldError
from guichet_kit.problems import Problem

router = APIRouter(prefix="/api/v1/me", tags=["relations"])

KIND_PREFIX = "RELATION_KIND_"


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
    actor_national_id: str = Field(max_length=32)
    kind: Literal["spouse", "parent", "other_person"]
    rights: list[str] = Field(max_length=20, examples=[["etracking:read", "etracking:write"]])
    expires_at: datetime


class ChildIn(BaseModel):
    child_national_id: str = Field(max_length=32)
    child_first_name: str = Field(max_length=100)
    child_last_name: str = Field(max_length=100)


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


@router.get("/relations", response_model=RelationsOut)
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
    dependencies=[require_level(LevelOfAssurance.HIGH)],
)
async def grant_mandate(body: MandateIn, calls: Calls, user: CurrentUser) -> RelationOut:
    """Allow another person to act in the caller's name: signed in with eID/certificate only."""
    expires_at = to_timestamp(body.expires_at)
    if expires_at is None:
        raise Problem(
            422,
            "VALIDATION_FAILED",
            "",
            [FieldError("expires_at", "out_of_range", "Give a real date.")],
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
    dependencies=[require_level(LevelOfAssurance.HIGH)],
)
async def declare_child(body: ChildIn, calls: Calls, user: CurrentUser) -> RelationOut:
    """A parent declares a minor child and may act for them until they come of age."""
    reply = await calls.relations.DeclareChild(pb.DeclareChildRequest(**body.model_dump()))
    return relation_out(reply.relation)


@router.delete("/relations/{relation_id}", status_code=204)
async def revoke_relation(relation_id: str, calls: Calls, user: CurrentUser) -> Response:
    await calls.relations.RevokeRelation(pb.RevokeRelationRequest(relation_id=relation_id))
    return Response(status_code=204)


@router.get("/acts-on-my-behalf", response_model=list[ActOut])
async def list_acts_on_my_behalf(calls: Calls, user: CurrentUser, limit: int = 100) -> list[ActOut]:
    """The audit: every act someone did in the caller's name; in a company's context (its
    administrators only), every act a collaborator did for the company."""
    reply = await calls.relations.ListActsOnMyBehalf(
        pb.ListActsOnMyBehalfRequest(limit=min(max(limit, 1), 500))
    )
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
