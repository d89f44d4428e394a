"""/api/v1/spaces: professional spaces of companies and their collaborators (F11)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel

from guichet.identity.v1 import identity_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser
from guichet_gateway.fields import (
    CompanyName,
    CompanyNumberText,
    NationalIdPath,
    NationalIdText,
    UuidPath,
)
from guichet_gateway.openapi import refusals
from guichet_gateway.wire import enum_word, timestamp

router = APIRouter(prefix="/api/v1/spaces", tags=["spaces"])

ROLE_PREFIX = "COLLABORATOR_ROLE_"
Role = Literal["administrator", "member", "reader"]


class CollaboratorOut(BaseModel):
    national_id: str
    name: str
    role: str
    added_at: datetime | None


class SpaceOut(BaseModel):
    id: str
    company_name: str
    registry_number: str
    my_role: str
    collaborators: list[CollaboratorOut]
    created_at: datetime | None
    acting_context: str


class SpaceIn(BaseModel):
    company_name: CompanyName
    registry_number: CompanyNumberText


class SpaceUpdateIn(BaseModel):
    company_name: CompanyName


class CollaboratorIn(BaseModel):
    national_id: NationalIdText
    role: Role


SpaceId = Annotated[UuidPath, Path()]
CollaboratorId = Annotated[NationalIdPath, Path(description="The collaborator's national id")]
NO_SPACE = "No such space of the caller's (SPACE_NOT_FOUND)."
ADMINISTRATORS_ONLY = "Only the space's administrators may (SPACE_ADMINISTRATOR_REQUIRED)."


class RoleIn(BaseModel):
    role: Role


def _role(value: pb.CollaboratorRole.ValueType) -> str:
    return enum_word(pb.CollaboratorRole.Name(value), ROLE_PREFIX)


def _role_value(role: Role) -> pb.CollaboratorRole.ValueType:
    return pb.CollaboratorRole.Value(ROLE_PREFIX + role.upper())


def space_out(space: pb.Space) -> SpaceOut:
    return SpaceOut(
        id=space.id,
        company_name=space.company_name,
        registry_number=space.registry_number,
        my_role=_role(space.my_role),
        collaborators=[
            CollaboratorOut(
                national_id=c.national_id,
                name=c.name,
                role=_role(c.role),
                added_at=timestamp(c.added_at),
            )
            for c in space.collaborators
        ],
        created_at=timestamp(space.created_at),
        acting_context=f"company:{space.id}",
    )


@router.get(
    "",
    response_model=list[SpaceOut],
    responses=refusals({404: "No profile for this account (PROFILE_NOT_FOUND)."}),
)
async def list_spaces(calls: Calls, user: CurrentUser) -> list[SpaceOut]:
    reply = await calls.spaces.ListSpaces(pb.ListSpacesRequest())
    return [space_out(space) for space in reply.spaces]


@router.post(
    "",
    status_code=201,
    response_model=SpaceOut,
    responses=refusals(
        {
            404: "No profile for this account (PROFILE_NOT_FOUND).",
            409: "This company has a space already (REGISTRY_NUMBER_TAKEN), the company register "
            "has no such company (COMPANY_NOT_IN_REGISTER) or does not name the caller as its "
            "manager or director (NOT_A_DIRECTOR).",
            422: "INVALID_SPACE_REQUEST: not a register number, an empty name…",
        }
    ),
)
async def create_space(body: SpaceIn, calls: Calls, user: CurrentUser) -> SpaceOut:
    """Create a company's professional space; the caller becomes its administrator."""
    reply = await calls.spaces.CreateSpace(pb.CreateSpaceRequest(**body.model_dump(mode="json")))
    return space_out(reply.space)


@router.get("/{space_id}", response_model=SpaceOut, responses=refusals({404: NO_SPACE}))
async def get_space(space_id: SpaceId, calls: Calls, user: CurrentUser) -> SpaceOut:
    reply = await calls.spaces.GetSpace(pb.GetSpaceRequest(space_id=space_id))
    return space_out(reply.space)


@router.patch(
    "/{space_id}",
    response_model=SpaceOut,
    responses=refusals({403: ADMINISTRATORS_ONLY, 404: NO_SPACE}),
)
async def update_space(
    space_id: SpaceId, body: SpaceUpdateIn, calls: Calls, user: CurrentUser
) -> SpaceOut:
    reply = await calls.spaces.UpdateSpace(
        pb.UpdateSpaceRequest(space_id=space_id, company_name=body.company_name)
    )
    return space_out(reply.space)


@router.post(
    "/{space_id}/collaborators",
    status_code=201,
    response_model=SpaceOut,
    responses=refusals(
        {
            403: ADMINISTRATORS_ONLY,
            404: f"{NO_SPACE} Or no account has this national identification number.",
            409: "This person collaborates in the space already (COLLABORATOR_EXISTS).",
        }
    ),
)
async def add_collaborator(
    space_id: SpaceId, body: CollaboratorIn, calls: Calls, user: CurrentUser
) -> SpaceOut:
    reply = await calls.spaces.AddCollaborator(
        pb.AddCollaboratorRequest(
            space_id=space_id, national_id=body.national_id, role=_role_value(body.role)
        )
    )
    return space_out(reply.space)


COLLABORATOR_REFUSALS = refusals(
    {
        403: ADMINISTRATORS_ONLY,
        404: f"{NO_SPACE} Or no such collaborator (COLLABORATOR_NOT_FOUND).",
        409: "A space keeps at least one administrator (LAST_ADMINISTRATOR).",
    }
)


@router.put(
    "/{space_id}/collaborators/{national_id}",
    response_model=SpaceOut,
    responses=COLLABORATOR_REFUSALS,
)
async def change_collaborator_role(
    space_id: SpaceId, national_id: CollaboratorId, body: RoleIn, calls: Calls, user: CurrentUser
) -> SpaceOut:
    reply = await calls.spaces.ChangeCollaboratorRole(
        pb.ChangeCollaboratorRoleRequest(
            space_id=space_id, national_id=national_id, role=_role_value(body.role)
        )
    )
    return space_out(reply.space)


@router.delete(
    "/{space_id}/collaborators/{national_id}",
    response_model=SpaceOut,
    responses=COLLABORATOR_REFUSALS,
)
async def remove_collaborator(
    space_id: SpaceId, national_id: CollaboratorId, calls: Calls, user: CurrentUser
) -> SpaceOut:
    reply = await calls.spaces.RemoveCollaborator(
        pb.RemoveCollaboratorRequest(space_id=space_id, national_id=national_id)
    )
    return space_out(reply.space)
