"""Emptying and counting tables from the metadata, on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from guichet_kit.db import create_engine
from guichet_kit.infra import postgres_url
from guichet_testkit import worker_name
from guichet_testkit.db import recreate_database, row_counts, truncate_tables

MODELS = MetaData()
PARENTS = Table("parents", MODELS, Column("id", Integer, primary_key=True))
CHILDREN = Table(
    "children",
    MODELS,
    Column("id", Integer, primary_key=True),
    Column("parent_id", ForeignKey("parents.id"), nullable=False),
)
# A model of another service imported in the same test process: not in this database.
Table("elsewhere", MODELS, Column("id", Integer, primary_key=True))


@pytest.fixture(scope="module")
async def engine(infra: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    name = f"testkit_test_{worker_name()}"
    await recreate_database(infra, name)
    engine = create_engine(postgres_url(infra, name))
    async with engine.begin() as connection:
        await connection.run_sync(MODELS.create_all, tables=[PARENTS, CHILDREN])
        # What Alembic keeps for itself, outside the models.
        await connection.execute(text("CREATE TABLE alembic_version (version_num text)"))
    yield engine
    await engine.dispose()


async def test_every_table_of_the_models_here_is_emptied_children_included(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO parents VALUES (1), (2)"))
        await connection.execute(text("INSERT INTO children VALUES (1, 1)"))
        await connection.execute(text("INSERT INTO alembic_version VALUES ('head')"))
    assert await row_counts(engine, MODELS) == {"parents": 2, "children": 1}

    emptied = await truncate_tables(engine, MODELS)

    assert sorted(emptied) == ["children", "parents"]
    assert await row_counts(engine, MODELS) == {"parents": 0, "children": 0}
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1
