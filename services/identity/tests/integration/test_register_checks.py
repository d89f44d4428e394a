"""Declarations checked against the administrations' registers (F10, F11 with F50, F55): a child
must be the caller's in the national register, a company space's founder must run the company in
the trade and companies register. Each check is a purpose-bound read over mutual TLS, logged in
the person's (or company's) access log; a refusal or an outage writes nothing in identity."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from guichet.identity.v1 import identity_pb2 as pb
from guichet_authentic_data.access.models import DataAccess
from guichet_identity.relations.grpc import RelationServicer
from guichet_identity.spaces.grpc import SpaceServicer
from guichet_kit.auth import set_caller
from guichet_kit.errors import ServiceError
from guichet_testkit.processes import free_port

from .conftest import AuthenticDataServer, registers_at

NO_CONTEXT: Any = None


@pytest.fixture
def relations(identity_sessions, clock, registers) -> RelationServicer:
    return RelationServicer(identity_sessions, clock=clock, registers=registers)


@pytest.fixture
def spaces(identity_sessions, registers) -> SpaceServicer:
    return SpaceServicer(identity_sessions, registers=registers)


@pytest.fixture
def registers_down(infra: dict[str, str]):
    """The registers' address with nothing listening: authentic data is down."""
    return registers_at(f"127.0.0.1:{free_port()}", infra)


async def access_log(server: AuthenticDataServer, subject: str) -> list[DataAccess]:
    async with server.sessions() as session:
        rows = await session.scalars(
            select(DataAccess).where(DataAccess.subject == subject).order_by(DataAccess.id)
        )
        return list(rows)


def _declaration(child_id: str) -> pb.DeclareChildRequest:
    return pb.DeclareChildRequest(
        child_national_id=child_id, child_first_name="Lea", child_last_name="Weber"
    )


async def _refused(call) -> ServiceError:
    with pytest.raises(ServiceError) as refused:
        await call
    return refused.value


async def test_a_child_the_register_names_is_declared_and_the_read_is_in_the_parents_log(
    relations, clock, new_person, in_registers, authentic_data_server
) -> None:
    paul = await new_person("Paul", "Weber")
    child_id = await in_registers.child_of(paul, (clock.now - timedelta(days=365 * 6)).date())
    set_caller(paul.principal)

    declared = await relations.DeclareChild(_declaration(child_id), NO_CONTEXT)

    assert declared.relation.subject_national_id == child_id
    [read] = await access_log(authentic_data_server, f"person:{paul.national_id}")
    assert (read.accessor_kind, read.accessor, read.purpose) == (
        "platform_service",
        "identity",
        "identity:declare-child",
    )
    assert list(read.fields) == ["person.children"]
    assert read.request_reference == f"relation:{declared.relation.id}"


@pytest.mark.parametrize("case", ["someone_elses_child", "parent_not_in_register"])
async def test_a_child_the_register_does_not_link_to_the_caller_is_refused_and_nothing_written(
    relations, clock, new_person, born, in_registers, authentic_data_server, counts, case
) -> None:
    paul, anne = await new_person("Paul", "Weber"), await new_person("Anne", "Muller")
    annes_child = await in_registers.child_of(anne, (clock.now - timedelta(days=365 * 4)).date())
    if case == "someone_elses_child":
        await in_registers.person(paul)
        child_id = annes_child
    else:
        child_id = born((clock.now - timedelta(days=365 * 4)).date())
    set_caller(paul.principal)
    before = await counts()

    refused = await _refused(relations.DeclareChild(_declaration(child_id), NO_CONTEXT))

    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_CHILD_IN_REGISTER",
    )
    assert [(e.field, e.reason) for e in refused.field_errors] == [
        ("child_national_id", "not_in_register")
    ]
    assert await counts() == before
    if case == "parent_not_in_register":
        # Nobody to read: no entry claims a read of Paul's data.
        assert await access_log(authentic_data_server, f"person:{paul.national_id}") == []


async def test_a_child_declared_while_the_registers_are_down_is_refused_and_nothing_written(
    identity_sessions, clock, new_person, in_registers, registers_down, counts
) -> None:
    paul = await new_person("Paul", "Weber")
    child_id = await in_registers.child_of(paul, (clock.now - timedelta(days=365 * 6)).date())
    relations = RelationServicer(identity_sessions, clock=clock, registers=registers_down)
    set_caller(paul.principal)
    before = await counts()

    refused = await _refused(relations.DeclareChild(_declaration(child_id), NO_CONTEXT))

    assert (refused.code, refused.reason) == (grpc.StatusCode.UNAVAILABLE, "REGISTERS_UNAVAILABLE")
    assert await counts() == before


async def test_a_director_creates_the_space_and_the_read_is_in_the_companys_log(
    spaces, new_person, in_registers, authentic_data_server
) -> None:
    anne = await new_person("Anne", "Muller")
    await in_registers.company_run_by("B424242", anne)
    set_caller(anne.principal)

    created = await spaces.CreateSpace(
        pb.CreateSpaceRequest(company_name="Muller SARL", registry_number="b424242"), NO_CONTEXT
    )

    assert created.space.registry_number == "B424242"
    [read] = await access_log(authentic_data_server, "company:B424242")
    assert (read.accessor_kind, read.accessor, read.purpose) == (
        "platform_service",
        "identity",
        "identity:company-director",
    )
    assert list(read.fields) == ["company.directors"]
    assert read.request_reference == f"space:{created.space.id}"


@pytest.mark.parametrize(
    ("case", "reason"),
    [("not_in_register", "COMPANY_NOT_IN_REGISTER"), ("not_a_director", "NOT_A_DIRECTOR")],
)
async def test_a_space_for_a_company_one_does_not_run_is_refused_and_nothing_written(
    spaces, new_person, in_registers, authentic_data_server, counts, case, reason
) -> None:
    anne, bob = await new_person("Anne", "Muller"), await new_person("Bob", "Schmit")
    if case == "not_a_director":
        await in_registers.company_run_by("B424242", bob)
    set_caller(anne.principal)
    before = await counts()

    refused = await _refused(
        spaces.CreateSpace(
            pb.CreateSpaceRequest(company_name="Muller SARL", registry_number="B424242"),
            NO_CONTEXT,
        )
    )

    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, reason)
    assert [e.field for e in refused.field_errors] == ["registry_number"]
    assert await counts() == before
    # An unknown company is not read: its log has no entry claiming a read.
    if case == "not_in_register":
        assert await access_log(authentic_data_server, "company:B424242") == []


async def test_a_space_created_while_the_registers_are_down_is_refused_and_nothing_written(
    identity_sessions, new_person, in_registers, registers_down, counts
) -> None:
    anne = await new_person("Anne", "Muller")
    await in_registers.company_run_by("B424242", anne)
    spaces = SpaceServicer(identity_sessions, registers=registers_down)
    set_caller(anne.principal)
    before = await counts()

    refused = await _refused(
        spaces.CreateSpace(
            pb.CreateSpaceRequest(company_name="Muller SARL", registry_number="B424242"),
            NO_CONTEXT,
        )
    )

    assert (refused.code, refused.reason) == (grpc.StatusCode.UNAVAILABLE, "REGISTERS_UNAVAILABLE")
    assert await counts() == before
