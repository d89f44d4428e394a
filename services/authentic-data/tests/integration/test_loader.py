"""Filling the synthetic registers: in bulk by COPY for a seed, and one entry for a test's person
(identity's test people come with national ids of their own)."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_authentic_data.registers import generator as g
from guichet_authentic_data.registers.loader import PersonEntry, enter_person, load_registers
from guichet_authentic_data.registers.models import RegisteredCompany, RegisteredPerson
from guichet_authentic_data.registers.repository import SyntheticRegisters
from guichet_kit.db import transaction


def _url(sessions: async_sessionmaker[AsyncSession]) -> str:
    return str(sessions.kw["bind"].url.render_as_string(hide_password=False))


async def _count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_seed_is_loaded_by_copy_and_read_back_entry_by_entry(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    report = await load_registers(_url(sessions), seed=11, persons=2000)

    expected = [row for batch in g.generate(11, 2000) for row in batch.persons]
    assert report.persons == len(expected) == await _count(sessions, RegisteredPerson)
    assert report.companies == await _count(sessions, RegisteredCompany) > 0
    # A married person with children, read as any caller reads the register.
    columns = g.PERSON_COLUMNS
    parent_ids = {row[columns.index("parent1_id")] for row in expected} - {None}
    parent = next(row for row in expected if row[0] in parent_ids and row[15])
    async with sessions() as session:
        record = await SyntheticRegisters(session).person(str(parent[0]))
        indexes = set(
            await session.scalars(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'register_persons'")
            )
        )
    assert record is not None
    assert (record.given_names, record.surname, record.birth_date) == parent[1:4]
    assert record.spouse is not None and record.spouse.national_id == parent[15]
    assert record.children and all(child.role == "child" for child in record.children)
    assert {member.role for member in record.household} >= {"self", "spouse", "child"}
    # The indexes dropped for the load are back.
    assert {
        "ix_register_persons_household_id",
        "ix_register_persons_parent1_id",
        "ix_register_persons_parent2_id",
    } <= indexes


async def test_loading_again_replaces_the_registers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await load_registers(_url(sessions), seed=1, persons=1500)
    second = await load_registers(_url(sessions), seed=2, persons=500)

    assert await _count(sessions, RegisteredPerson) == second.persons


async def test_a_test_persons_entry_replaces_whatever_the_register_held_for_that_id(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await load_registers(_url(sessions), seed=3, persons=500)
    async with sessions() as session:
        taken = await session.scalar(select(RegisteredPerson.national_id).limit(1))
    assert taken is not None

    async with transaction(sessions) as session:
        await enter_person(
            session,
            PersonEntry(taken, "Test", "Person", licence_points=12, tax_credit_used_cents=0),
        )

    async with sessions() as session:
        registers = SyntheticRegisters(session)
        person = await registers.person(taken)
        licence = await registers.driving_licence(taken)
    assert person is not None and (person.given_names, person.surname) == ("Test", "Person")
    assert [member.national_id for member in person.household] == [taken]
    assert licence is not None and licence.points == 12
