"""Professional space rules: who sees a space, who manages it, and its last administrator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_identity.profile import repository as profile_repository
from guichet_identity.profile.models import Profile
from guichet_identity.registers import Registers
from guichet_identity.spaces import repository
from guichet_identity.spaces.models import Collaborator, Space
from guichet_identity.spaces.roles import CollaboratorRole
from guichet_kit.domain import AlreadyExists, Conflict, FieldError, Forbidden, NotFound
from guichet_kit.i18n import Catalog, Text

_ = Catalog("guichet_identity")


@dataclass(frozen=True)
class SpaceView:
    """A space as one collaborator sees it: with everyone's names."""

    space: Space
    names: dict[str, str]


def space_not_found() -> NotFound:
    # Also for spaces that exist but are not the caller's, so ids cannot be probed.
    return NotFound("SPACE_NOT_FOUND", _("You have no such professional space."))


def _registry_number_taken() -> AlreadyExists:
    return AlreadyExists(
        "REGISTRY_NUMBER_TAKEN",
        _("A professional space already exists for this company."),
        [
            FieldError(
                "registry_number",
                "taken",
                _("This company already has a space; ask its administrator."),
            )
        ],
    )


def _administrator_required(what: Text) -> Forbidden:
    return Forbidden("SPACE_ADMINISTRATOR_REQUIRED", what)


async def _view(session: AsyncSession, space: Space) -> SpaceView:
    names = await profile_repository.names_by_national_id(
        session, [c.national_id for c in space.collaborators]
    )
    return SpaceView(space, names)


def _role_of(space: Space, national_id: str) -> CollaboratorRole | None:
    for collaborator in space.collaborators:
        if collaborator.national_id == national_id:
            return CollaboratorRole(collaborator.role)
    return None


async def _visible_space(
    session: AsyncSession, person: Profile, space_id: uuid.UUID, *, for_update: bool = False
) -> Space:
    space = await repository.find(session, space_id, for_update=for_update)
    if space is None or _role_of(space, person.national_id) is None:
        raise space_not_found()
    return space


async def _administered_space(session: AsyncSession, person: Profile, space_id: uuid.UUID) -> Space:
    space = await _visible_space(session, person, space_id, for_update=True)
    if _role_of(space, person.national_id) != CollaboratorRole.ADMINISTRATOR:
        raise _administrator_required(_("Only the space's administrators may change it."))
    return space


async def audit_owner(session: AsyncSession, person: Profile, space_id: uuid.UUID) -> str:
    """Owner key of a space's audit, which only its administrators read."""
    space = await _visible_space(session, person, space_id)
    if _role_of(space, person.national_id) != CollaboratorRole.ADMINISTRATOR:
        raise _administrator_required(_("Only the space's administrators read its audit."))
    return f"company:{space.id}"


def _collaborator(space: Space, national_id: str) -> Collaborator:
    for collaborator in space.collaborators:
        if collaborator.national_id == national_id:
            return collaborator
    raise NotFound("COLLABORATOR_NOT_FOUND", _("This person does not collaborate in this space."))


def _keep_an_administrator(space: Space, leaving: Collaborator) -> None:
    others = [
        c
        for c in space.collaborators
        if c is not leaving and c.role == CollaboratorRole.ADMINISTRATOR.value
    ]
    if leaving.role == CollaboratorRole.ADMINISTRATOR.value and not others:
        raise Conflict(
            "LAST_ADMINISTRATOR",
            _("A space keeps at least one administrator; name another one first."),
        )


def company_not_in_register() -> Conflict:
    return Conflict(
        "COMPANY_NOT_IN_REGISTER",
        _("The trade and companies register has no company with this number."),
        [
            FieldError(
                "registry_number",
                "not_in_register",
                _("No company has this number in the register; check it on your extract."),
            )
        ],
    )


def not_a_director() -> Conflict:
    return Conflict(
        "NOT_A_DIRECTOR",
        _("Only a manager or director of the company in its register may create its space."),
        [
            FieldError(
                "registry_number",
                "not_a_director",
                _("The register does not name you as a manager or director of this company."),
            )
        ],
    )


async def create_space(
    session: AsyncSession,
    registers: Registers,
    founder: Profile,
    company_name: str,
    registry_number: str,
) -> SpaceView:
    """The founder, its first administrator, must run the company in the company register (the
    read shows in the company's access log)."""
    if await repository.registry_number_taken(session, registry_number):
        raise _registry_number_taken()
    # The space's id is the read's reference.
    space_id = uuid.uuid4()
    directors = await registers.directors_of(registry_number, f"space:{space_id}")
    if directors is None:
        raise company_not_in_register()
    if founder.national_id not in directors:
        raise not_a_director()
    now = datetime.now(UTC)
    space = Space(
        id=space_id,
        company_name=company_name,
        registry_number=registry_number,
        created_at=now,
        created_by=founder.subject,
        collaborators=[
            Collaborator(
                national_id=founder.national_id,
                role=CollaboratorRole.ADMINISTRATOR.value,
                added_at=now,
            )
        ],
    )
    try:
        # A savepoint: the same company registered twice at once loses cleanly.
        async with session.begin_nested():
            session.add(space)
    except IntegrityError as error:
        raise _registry_number_taken() from error
    return await _view(session, space)


async def list_spaces(session: AsyncSession, person: Profile) -> list[SpaceView]:
    return [
        await _view(session, space)
        for space in await repository.list_for(session, person.national_id)
    ]


async def get_space(session: AsyncSession, person: Profile, space_id: uuid.UUID) -> SpaceView:
    return await _view(session, await _visible_space(session, person, space_id))


async def rename_space(
    session: AsyncSession, person: Profile, space_id: uuid.UUID, company_name: str
) -> SpaceView:
    space = await _administered_space(session, person, space_id)
    space.company_name = company_name
    await session.flush()
    return await _view(session, space)


async def add_collaborator(
    session: AsyncSession,
    person: Profile,
    space_id: uuid.UUID,
    national_id: str,
    role: CollaboratorRole,
) -> SpaceView:
    space = await _administered_space(session, person, space_id)
    if await profile_repository.find_by_national_id(session, national_id) is None:
        raise Conflict(
            "NO_SUCH_ACCOUNT",
            _("A collaborator needs an account on the platform first."),
            [
                FieldError(
                    "national_id", "no_account", _("This person has no account on the platform.")
                )
            ],
        )
    if _role_of(space, national_id) is not None:
        raise AlreadyExists(
            "COLLABORATOR_EXISTS",
            _("This person already collaborates in this space."),
            [FieldError("national_id", "exists", _("Already a collaborator; change the role."))],
        )
    space.collaborators.append(
        Collaborator(national_id=national_id, role=role.value, added_at=datetime.now(UTC))
    )
    await session.flush()
    return await _view(session, space)


async def change_role(
    session: AsyncSession,
    person: Profile,
    space_id: uuid.UUID,
    national_id: str,
    role: CollaboratorRole,
) -> SpaceView:
    space = await _administered_space(session, person, space_id)
    collaborator = _collaborator(space, national_id)
    if role != CollaboratorRole.ADMINISTRATOR:
        _keep_an_administrator(space, collaborator)
    collaborator.role = role.value
    await session.flush()
    return await _view(session, space)


async def remove_collaborator(
    session: AsyncSession, person: Profile, space_id: uuid.UUID, national_id: str
) -> SpaceView:
    space = await _administered_space(session, person, space_id)
    collaborator = _collaborator(space, national_id)
    _keep_an_administrator(space, collaborator)
    space.collaborators.remove(collaborator)
    await session.flush()
    return await _view(session, space)
