"""Professional spaces: only collaborators see them, only administrators change them."""

from __future__ import annotations

import uuid

import grpc
import pytest

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.account.deletion import erase_person
from guichet_identity.spaces.grpc import SpaceServicer
from guichet_kit.auth import set_caller
from guichet_kit.db import transaction
from guichet_kit.errors import ServiceError

NO_CONTEXT = None


@pytest.fixture
def spaces(identity_sessions, registers) -> SpaceServicer:
    return SpaceServicer(identity_sessions, registers=registers)


@pytest.fixture
async def company(spaces, new_person, in_registers):
    """A space with an administrator, a member and a reader, and a person from outside."""
    people = {
        role: await new_person(role.capitalize())
        for role in ("administrator", "member", "reader", "outsider")
    }
    await in_registers.company_run_by("B123456", people["administrator"])
    set_caller(people["administrator"].principal)
    space = (
        await spaces.CreateSpace(
            pb.CreateSpaceRequest(company_name="Muller SARL", registry_number="b 123 456"),
            NO_CONTEXT,
        )
    ).space
    for role, value in (
        ("member", pb.COLLABORATOR_ROLE_MEMBER),
        ("reader", pb.COLLABORATOR_ROLE_READER),
    ):
        await spaces.AddCollaborator(
            pb.AddCollaboratorRequest(
                space_id=space.id, national_id=people[role].national_id, role=value
            ),
            NO_CONTEXT,
        )
    return space, people


async def test_the_creator_administers_the_new_space(spaces, new_person, in_registers) -> None:
    anne = await new_person("Anne", "Muller")
    await in_registers.company_run_by("B123456", anne)
    set_caller(anne.principal)

    created = await spaces.CreateSpace(
        pb.CreateSpaceRequest(company_name=" Muller  SARL ", registry_number="b123456"), NO_CONTEXT
    )

    assert created.space.company_name == "Muller SARL"
    assert created.space.registry_number == "B123456"
    assert created.space.my_role == pb.COLLABORATOR_ROLE_ADMINISTRATOR
    assert [(c.national_id, c.name, c.role) for c in created.space.collaborators] == [
        (anne.national_id, "Anne Muller", pb.COLLABORATOR_ROLE_ADMINISTRATOR)
    ]


async def test_each_collaborator_lists_the_space_with_their_role(spaces, company) -> None:
    space, people = company
    roles = {}
    for name in ("administrator", "member", "reader", "outsider"):
        set_caller(people[name].principal)
        listed = await spaces.ListSpaces(pb.ListSpacesRequest(), NO_CONTEXT)
        roles[name] = [(s.id, s.my_role) for s in listed.spaces]

    assert roles == {
        "administrator": [(space.id, pb.COLLABORATOR_ROLE_ADMINISTRATOR)],
        "member": [(space.id, pb.COLLABORATOR_ROLE_MEMBER)],
        "reader": [(space.id, pb.COLLABORATOR_ROLE_READER)],
        "outsider": [],
    }


async def test_an_outsider_cannot_tell_the_space_exists(spaces, company, counts) -> None:
    space, people = company
    set_caller(people["outsider"].principal)
    before = await counts()

    calls = [
        spaces.GetSpace(pb.GetSpaceRequest(space_id=space.id), NO_CONTEXT),
        spaces.UpdateSpace(
            pb.UpdateSpaceRequest(space_id=space.id, company_name="Mine"), NO_CONTEXT
        ),
        spaces.AddCollaborator(
            pb.AddCollaboratorRequest(
                space_id=space.id,
                national_id=people["outsider"].national_id,
                role=pb.COLLABORATOR_ROLE_ADMINISTRATOR,
            ),
            NO_CONTEXT,
        ),
        spaces.GetSpace(pb.GetSpaceRequest(space_id=str(uuid.uuid4())), NO_CONTEXT),
    ]
    for call in calls:
        with pytest.raises(ServiceError) as refused:
            await call
        assert (refused.value.code, refused.value.reason) == (
            grpc.StatusCode.NOT_FOUND,
            "SPACE_NOT_FOUND",
        )
    assert await counts() == before


@pytest.mark.parametrize("role", ["member", "reader"])
async def test_only_an_administrator_changes_the_space(spaces, company, counts, role) -> None:
    space, people = company
    set_caller(people[role].principal)
    before = await counts()

    calls = [
        spaces.UpdateSpace(
            pb.UpdateSpaceRequest(space_id=space.id, company_name="Renamed"), NO_CONTEXT
        ),
        spaces.AddCollaborator(
            pb.AddCollaboratorRequest(
                space_id=space.id,
                national_id=people["outsider"].national_id,
                role=pb.COLLABORATOR_ROLE_READER,
            ),
            NO_CONTEXT,
        ),
        spaces.ChangeCollaboratorRole(
            pb.ChangeCollaboratorRoleRequest(
                space_id=space.id,
                national_id=people[role].national_id,
                role=pb.COLLABORATOR_ROLE_ADMINISTRATOR,
            ),
            NO_CONTEXT,
        ),
        spaces.RemoveCollaborator(
            pb.RemoveCollaboratorRequest(
                space_id=space.id, national_id=people["administrator"].national_id
            ),
            NO_CONTEXT,
        ),
    ]
    for call in calls:
        with pytest.raises(ServiceError) as refused:
            await call
        assert (refused.value.code, refused.value.reason) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "SPACE_ADMINISTRATOR_REQUIRED",
        )
    assert await counts() == before
    seen = await spaces.GetSpace(pb.GetSpaceRequest(space_id=space.id), NO_CONTEXT)
    assert seen.space.company_name == "Muller SARL"


async def test_an_administrator_manages_collaborators(spaces, company) -> None:
    space, people = company
    set_caller(people["administrator"].principal)

    await spaces.UpdateSpace(
        pb.UpdateSpaceRequest(space_id=space.id, company_name="Muller SA"), NO_CONTEXT
    )
    await spaces.ChangeCollaboratorRole(
        pb.ChangeCollaboratorRoleRequest(
            space_id=space.id,
            national_id=people["reader"].national_id,
            role=pb.COLLABORATOR_ROLE_ADMINISTRATOR,
        ),
        NO_CONTEXT,
    )
    removed = await spaces.RemoveCollaborator(
        pb.RemoveCollaboratorRequest(space_id=space.id, national_id=people["member"].national_id),
        NO_CONTEXT,
    )

    assert removed.space.company_name == "Muller SA"
    assert {(c.national_id, c.role) for c in removed.space.collaborators} == {
        (people["administrator"].national_id, pb.COLLABORATOR_ROLE_ADMINISTRATOR),
        (people["reader"].national_id, pb.COLLABORATOR_ROLE_ADMINISTRATOR),
    }
    set_caller(people["member"].principal)
    with pytest.raises(ServiceError) as refused:
        await spaces.GetSpace(pb.GetSpaceRequest(space_id=space.id), NO_CONTEXT)
    assert refused.value.code == grpc.StatusCode.NOT_FOUND


async def test_the_last_administrator_stays(spaces, company, counts) -> None:
    space, people = company
    set_caller(people["administrator"].principal)
    me = people["administrator"].national_id
    before = await counts()

    for call in (
        spaces.ChangeCollaboratorRole(
            pb.ChangeCollaboratorRoleRequest(
                space_id=space.id, national_id=me, role=pb.COLLABORATOR_ROLE_MEMBER
            ),
            NO_CONTEXT,
        ),
        spaces.RemoveCollaborator(
            pb.RemoveCollaboratorRequest(space_id=space.id, national_id=me), NO_CONTEXT
        ),
    ):
        with pytest.raises(ServiceError) as refused:
            await call
        assert (refused.value.code, refused.value.reason) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "LAST_ADMINISTRATOR",
        )
    assert await counts() == before


async def test_a_collaborator_needs_an_account(spaces, company, born, counts) -> None:
    from datetime import date

    space, people = company
    set_caller(people["administrator"].principal)
    before = await counts()

    with pytest.raises(ServiceError) as refused:
        await spaces.AddCollaborator(
            pb.AddCollaboratorRequest(
                space_id=space.id,
                national_id=born(date(1990, 5, 17)),
                role=pb.COLLABORATOR_ROLE_MEMBER,
            ),
            NO_CONTEXT,
        )

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_SUCH_ACCOUNT",
    )
    assert await counts() == before


async def test_a_collaborator_is_added_once(spaces, company, counts) -> None:
    space, people = company
    set_caller(people["administrator"].principal)
    before = await counts()

    with pytest.raises(ServiceError) as refused:
        await spaces.AddCollaborator(
            pb.AddCollaboratorRequest(
                space_id=space.id,
                national_id=people["member"].national_id,
                role=pb.COLLABORATOR_ROLE_READER,
            ),
            NO_CONTEXT,
        )

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "COLLABORATOR_EXISTS",
    )
    assert await counts() == before


async def test_a_company_has_one_space(spaces, company, new_person, in_registers, counts) -> None:
    other = await new_person("Other")
    _, people = company
    await in_registers.company_run_by("B123456", people["administrator"], other)
    set_caller(other.principal)
    before = await counts()

    with pytest.raises(ServiceError) as refused:
        await spaces.CreateSpace(
            pb.CreateSpaceRequest(company_name="Also Muller", registry_number="B123456"), NO_CONTEXT
        )

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "REGISTRY_NUMBER_TAKEN",
    )
    assert [error.field for error in refused.value.field_errors] == ["registry_number"]
    assert await counts() == before


@pytest.mark.parametrize(
    ("call", "request_", "fields"),
    [
        (
            "CreateSpace",
            pb.CreateSpaceRequest(company_name="", registry_number="B1"),
            ["company_name"],
        ),
        (
            "CreateSpace",
            pb.CreateSpaceRequest(company_name="X" * 201, registry_number="B1"),
            ["company_name"],
        ),
        (
            "CreateSpace",
            pb.CreateSpaceRequest(company_name="Muller", registry_number="123456"),
            ["registry_number"],
        ),
        ("GetSpace", pb.GetSpaceRequest(space_id="not-an-id"), ["space_id"]),
        (
            "UpdateSpace",
            pb.UpdateSpaceRequest(space_id="SPACE", company_name=" "),
            ["company_name"],
        ),
        (
            "AddCollaborator",
            pb.AddCollaboratorRequest(
                space_id="SPACE", national_id="1980010100018", role=pb.COLLABORATOR_ROLE_MEMBER
            ),
            ["national_id"],
        ),
        (
            "AddCollaborator",
            pb.AddCollaboratorRequest(space_id="SPACE", national_id="MEMBER"),
            ["role"],
        ),
        (
            "ChangeCollaboratorRole",
            pb.ChangeCollaboratorRoleRequest(space_id="SPACE", national_id="MEMBER"),
            ["role"],
        ),
        (
            "RemoveCollaborator",
            pb.RemoveCollaboratorRequest(space_id="", national_id=""),
            ["space_id", "national_id"],
        ),
    ],
)
async def test_bad_input_is_refused_with_its_fields_and_nothing_is_written(
    spaces, company, counts, call, request_, fields
) -> None:
    space, people = company
    for name in ("space_id", "national_id"):
        if getattr(request_, name, None) == "SPACE":
            setattr(request_, name, space.id)
        if getattr(request_, name, None) == "MEMBER":
            setattr(request_, name, people["member"].national_id)
    set_caller(people["administrator"].principal)
    before = await counts()

    with pytest.raises(ServiceError) as refused:
        await getattr(spaces, call)(request_, NO_CONTEXT)

    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [error.field for error in refused.value.field_errors] == fields
    assert await counts() == before


async def test_when_the_last_administrator_leaves_a_member_takes_over_never_a_reader(
    spaces, company, identity_sessions
) -> None:
    space, people = company
    async with transaction(identity_sessions) as session:
        await erase_person(session, people["administrator"].subject)

    set_caller(people["member"].principal)
    roles = {
        c.national_id: c.role
        for c in (
            await spaces.GetSpace(pb.GetSpaceRequest(space_id=space.id), NO_CONTEXT)
        ).space.collaborators
    }
    assert roles == {
        people["member"].national_id: pb.COLLABORATOR_ROLE_ADMINISTRATOR,
        people["reader"].national_id: pb.COLLABORATOR_ROLE_READER,
    }

    async with transaction(identity_sessions) as session:
        await erase_person(session, people["member"].subject)
    set_caller(people["reader"].principal)
    left = (await spaces.GetSpace(pb.GetSpaceRequest(space_id=space.id), NO_CONTEXT)).space
    assert [c.role for c in left.collaborators] == [pb.COLLABORATOR_ROLE_READER]


@pytest.mark.parametrize("name", ["Muller\u202e LRAS", "Muller\u001b[31m SARL", "\u2066Muller"])
async def test_a_company_name_with_control_or_bidi_characters_is_refused(
    spaces, company, counts, name
) -> None:
    space, people = company
    set_caller(people["administrator"].principal)
    before = await counts()

    for call in (
        spaces.CreateSpace(
            pb.CreateSpaceRequest(company_name=name, registry_number="B99"), NO_CONTEXT
        ),
        spaces.UpdateSpace(pb.UpdateSpaceRequest(space_id=space.id, company_name=name), NO_CONTEXT),
    ):
        with pytest.raises(ServiceError) as refused:
            await call
        assert refused.value.reason == "INVALID_SPACE_REQUEST"
        assert [(e.field, e.reason) for e in refused.value.field_errors] == [
            ("company_name", "control_character")
        ]
    assert await counts() == before
    seen = await spaces.GetSpace(pb.GetSpaceRequest(space_id=space.id), NO_CONTEXT)
    assert seen.space.company_name == "Muller SARL"
