"""SpaceService: professional spaces and their collaborators (F11)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.profile.fields import check_national_id
from guichet_identity.profile.models import Profile
from guichet_identity.profile.service import own_profile
from guichet_identity.spaces import service
from guichet_identity.spaces.registry import InvalidRegistryNumber, normalise_registry_number
from guichet_identity.spaces.roles import CollaboratorRole
from guichet_identity.wire import role_from_proto, space_to_proto
from guichet_kit.auth import authenticated
from guichet_kit.db import transaction
from guichet_kit.errors import FieldError, ServiceError, invalid_argument

Context = grpc.aio.ServicerContext[Any, Any]

MAX_COMPANY_NAME_LENGTH = 200


def _company_name(text: str, errors: list[FieldError]) -> str:
    value = " ".join(text.split())
    if not value:
        errors.append(FieldError("company_name", "required", "Give the company's name."))
    elif len(value) > MAX_COMPANY_NAME_LENGTH:
        errors.append(
            FieldError("company_name", "too_long", f"At most {MAX_COMPANY_NAME_LENGTH} characters.")
        )
    return value


def _space_id(text: str, errors: list[FieldError]) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        errors.append(FieldError("space_id", "invalid", "Not a space id."))
        return None


def _role(value: pb.CollaboratorRole.ValueType, errors: list[FieldError]) -> CollaboratorRole:
    role = role_from_proto(value)
    if role is None:
        errors.append(FieldError("role", "required", "Choose administrator, member or reader."))
        return CollaboratorRole.READER
    return role


def _refused(errors: list[FieldError]) -> ServiceError:
    return invalid_argument("INVALID_SPACE_REQUEST", "the request is invalid", errors)


def _reply(view: service.SpaceView, person: Profile) -> pb.Space:
    return space_to_proto(view.space, person.national_id, view.names)


class SpaceServicer(pb_grpc.SpaceServiceServicer):
    """Spaces are reached through the caller's own collaborations, whatever the acting context."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def CreateSpace(
        self, request: pb.CreateSpaceRequest, context: Context
    ) -> pb.CreateSpaceResponse:
        principal = authenticated()
        errors: list[FieldError] = []
        company_name = _company_name(request.company_name, errors)
        registry_number = ""
        try:
            registry_number = normalise_registry_number(request.registry_number)
        except InvalidRegistryNumber as error:
            errors.append(FieldError("registry_number", "invalid", str(error)))
        if errors:
            raise _refused(errors)
        async with transaction(self._sessions) as session:
            founder = await own_profile(session, principal.subject)
            view = await service.create_space(session, founder, company_name, registry_number)
            return pb.CreateSpaceResponse(space=_reply(view, founder))

    async def ListSpaces(
        self, request: pb.ListSpacesRequest, context: Context
    ) -> pb.ListSpacesResponse:
        principal = authenticated()
        async with transaction(self._sessions) as session:
            person = await own_profile(session, principal.subject)
            views = await service.list_spaces(session, person)
            return pb.ListSpacesResponse(spaces=[_reply(view, person) for view in views])

    async def GetSpace(self, request: pb.GetSpaceRequest, context: Context) -> pb.GetSpaceResponse:
        principal = authenticated()
        errors: list[FieldError] = []
        space_id = _space_id(request.space_id, errors)
        if errors or space_id is None:
            raise _refused(errors)
        async with transaction(self._sessions) as session:
            person = await own_profile(session, principal.subject)
            view = await service.get_space(session, person, space_id)
            return pb.GetSpaceResponse(space=_reply(view, person))

    async def UpdateSpace(
        self, request: pb.UpdateSpaceRequest, context: Context
    ) -> pb.UpdateSpaceResponse:
        principal = authenticated()
        errors: list[FieldError] = []
        space_id = _space_id(request.space_id, errors)
        company_name = _company_name(request.company_name, errors)
        if errors or space_id is None:
            raise _refused(errors)
        async with transaction(self._sessions) as session:
            person = await own_profile(session, principal.subject)
            view = await service.rename_space(session, person, space_id, company_name)
            return pb.UpdateSpaceResponse(space=_reply(view, person))

    async def AddCollaborator(
        self, request: pb.AddCollaboratorRequest, context: Context
    ) -> pb.AddCollaboratorResponse:
        principal = authenticated()
        errors: list[FieldError] = []
        space_id = _space_id(request.space_id, errors)
        national_id = check_national_id("national_id", request.national_id, errors)
        role = _role(request.role, errors)
        if errors or space_id is None or national_id is None:
            raise _refused(errors)
        async with transaction(self._sessions) as session:
            person = await own_profile(session, principal.subject)
            view = await service.add_collaborator(
                session, person, space_id, national_id.value, role
            )
            return pb.AddCollaboratorResponse(space=_reply(view, person))

    async def ChangeCollaboratorRole(
        self, request: pb.ChangeCollaboratorRoleRequest, context: Context
    ) -> pb.ChangeCollaboratorRoleResponse:
        principal = authenticated()
        errors: list[FieldError] = []
        space_id = _space_id(request.space_id, errors)
        national_id = check_national_id("national_id", request.national_id, errors)
        role = _role(request.role, errors)
        if errors or space_id is None or national_id is None:
            raise _refused(errors)
        async with transaction(self._sessions) as session:
            person = await own_profile(session, principal.subject)
            view = await service.change_role(session, person, space_id, national_id.value, role)
            return pb.ChangeCollaboratorRoleResponse(space=_reply(view, person))

    async def RemoveCollaborator(
        self, request: pb.RemoveCollaboratorRequest, context: Context
    ) -> pb.RemoveCollaboratorResponse:
        principal = authenticated()
        errors: list[FieldError] = []
        space_id = _space_id(request.space_id, errors)
        national_id = check_national_id("national_id", request.national_id, errors)
        if errors or space_id is None or national_id is None:
            raise _refused(errors)
        async with transaction(self._sessions) as session:
            person = await own_profile(session, principal.subject)
            view = await service.remove_collaborator(session, person, space_id, national_id.value)
            return pb.RemoveCollaboratorResponse(space=_reply(view, person))
