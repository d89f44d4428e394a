"""SpaceService: professional spaces and their collaborators (F11).

Spaces are reached through the caller's own collaborations: they are read in any acting context,
and changed in one's own name or a company's, never while acting for another person.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.profile.models import Profile
from guichet_identity.profile.service import own_profile
from guichet_identity.registers import Registers
from guichet_identity.spaces import service
from guichet_identity.spaces.roles import CollaboratorRole
from guichet_identity.wire import role_from_proto, space_to_proto
from guichet_kit.domain import FieldErrors, InvalidInput
from guichet_kit.i18n import Catalog
from guichet_kit.national_id import NationalId
from guichet_kit.servicers import (
    ANY_CONTEXT,
    Call,
    ContextKind,
    Db,
    DeclaredServicer,
    citizen,
    rpc,
)
from guichet_kit.values import (
    check,
    parse_company_number,
    parse_human_text,
    parse_national_id,
    parse_uuid,
)

_ = Catalog("guichet_identity")

MAX_COMPANY_NAME_LENGTH = 200
# Managing a space is done for oneself or for a company, not while acting for another person.
OWN_OR_COMPANY: tuple[ContextKind, ...] = ("private", "company")


def _company_name(text: str) -> str:
    return parse_human_text(text, max_length=MAX_COMPANY_NAME_LENGTH)


def _space_id(errors: FieldErrors, text: str) -> uuid.UUID | None:
    return check(errors, "space_id", parse_uuid, text[:64])


def _national_id(errors: FieldErrors, text: str) -> NationalId | None:
    return check(errors, "national_id", parse_national_id, text)


def _role(errors: FieldErrors, value: pb.CollaboratorRole.ValueType) -> CollaboratorRole | None:
    role = role_from_proto(value)
    if role is None:
        errors.add("role", "required", _("Choose administrator, member or reader."))
    return role


def _refused(errors: FieldErrors) -> InvalidInput:
    return InvalidInput(
        "INVALID_SPACE_REQUEST", _("The professional space request has errors."), errors.errors
    )


def _reply(view: service.SpaceView, person: Profile) -> pb.Space:
    return space_to_proto(view.space, person.national_id, view.names)


class SpaceServicer(DeclaredServicer, pb_grpc.SpaceServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        events_written: Callable[[], None] = lambda: None,
        *,
        registers: Registers,
    ) -> None:
        super().__init__(sessions, events_written)
        # A space's founder is checked against the company register.
        self._registers = registers

    @rpc(citizen(contexts=OWN_OR_COMPANY))
    async def CreateSpace(
        self, request: pb.CreateSpaceRequest, call: Call
    ) -> pb.CreateSpaceResponse:
        errors = FieldErrors()
        company_name = check(errors, "company_name", _company_name, request.company_name)
        registry_number = check(
            errors, "registry_number", parse_company_number, request.registry_number
        )
        if errors or company_name is None or registry_number is None:
            raise _refused(errors)
        founder = await own_profile(call.session, call.person.subject)
        view = await service.create_space(
            call.session, self._registers, founder, company_name, registry_number
        )
        return pb.CreateSpaceResponse(space=_reply(view, founder))

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListSpaces(self, request: pb.ListSpacesRequest, call: Call) -> pb.ListSpacesResponse:
        person = await own_profile(call.session, call.person.subject)
        views = await service.list_spaces(call.session, person)
        return pb.ListSpacesResponse(spaces=[_reply(view, person) for view in views])

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def GetSpace(self, request: pb.GetSpaceRequest, call: Call) -> pb.GetSpaceResponse:
        errors = FieldErrors()
        space_id = _space_id(errors, request.space_id)
        if errors or space_id is None:
            raise _refused(errors)
        person = await own_profile(call.session, call.person.subject)
        view = await service.get_space(call.session, person, space_id)
        return pb.GetSpaceResponse(space=_reply(view, person))

    @rpc(citizen(contexts=OWN_OR_COMPANY))
    async def UpdateSpace(
        self, request: pb.UpdateSpaceRequest, call: Call
    ) -> pb.UpdateSpaceResponse:
        errors = FieldErrors()
        space_id = _space_id(errors, request.space_id)
        company_name = check(errors, "company_name", _company_name, request.company_name)
        if errors or space_id is None or company_name is None:
            raise _refused(errors)
        person = await own_profile(call.session, call.person.subject)
        view = await service.rename_space(call.session, person, space_id, company_name)
        return pb.UpdateSpaceResponse(space=_reply(view, person))

    @rpc(citizen(contexts=OWN_OR_COMPANY))
    async def AddCollaborator(
        self, request: pb.AddCollaboratorRequest, call: Call
    ) -> pb.AddCollaboratorResponse:
        errors = FieldErrors()
        space_id = _space_id(errors, request.space_id)
        national_id = _national_id(errors, request.national_id)
        role = _role(errors, request.role)
        if errors or space_id is None or national_id is None or role is None:
            raise _refused(errors)
        person = await own_profile(call.session, call.person.subject)
        view = await service.add_collaborator(
            call.session, person, space_id, national_id.value, role
        )
        return pb.AddCollaboratorResponse(space=_reply(view, person))

    @rpc(citizen(contexts=OWN_OR_COMPANY))
    async def ChangeCollaboratorRole(
        self, request: pb.ChangeCollaboratorRoleRequest, call: Call
    ) -> pb.ChangeCollaboratorRoleResponse:
        errors = FieldErrors()
        space_id = _space_id(errors, request.space_id)
        national_id = _national_id(errors, request.national_id)
        role = _role(errors, request.role)
        if errors or space_id is None or national_id is None or role is None:
            raise _refused(errors)
        person = await own_profile(call.session, call.person.subject)
        view = await service.change_role(call.session, person, space_id, national_id.value, role)
        return pb.ChangeCollaboratorRoleResponse(space=_reply(view, person))

    @rpc(citizen(contexts=OWN_OR_COMPANY))
    async def RemoveCollaborator(
        self, request: pb.RemoveCollaboratorRequest, call: Call
    ) -> pb.RemoveCollaboratorResponse:
        errors = FieldErrors()
        space_id = _space_id(errors, request.space_id)
        national_id = _national_id(errors, request.national_id)
        if errors or space_id is None or national_id is None:
            raise _refused(errors)
        person = await own_profile(call.session, call.person.subject)
        view = await service.remove_collaborator(call.session, person, space_id, national_id.value)
        return pb.RemoveCollaboratorResponse(space=_reply(view, person))
