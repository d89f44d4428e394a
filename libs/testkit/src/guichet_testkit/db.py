"""A database per service and xdist worker, migrated once per session, emptied between tests.

Tables are found from the SQLAlchemy metadata, never from a list kept by hand: a table added
to a service's models is emptied and counted by its tests without anyone remembering to.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy import Connection, MetaData, Table, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from guichet_kit.db import Base, create_engine, session_factory
from guichet_kit.infra import postgres_url

Database = AsyncEngine | async_sessionmaker[AsyncSession]


async def connect_admin(env: Mapping[str, str]) -> asyncpg.Connection:
    """A connection to the server's `postgres` database, for what concerns whole databases."""
    return await asyncpg.connect(
        host=env["GUICHET_PG_HOST"],
        port=int(env["GUICHET_PG_PORT"]),
        user=env["GUICHET_PG_USER"],
        password=env["GUICHET_PG_PASSWORD"],
        database="postgres",
    )


async def recreate_database(env: Mapping[str, str], name: str) -> None:
    """Drop `name` (even with connections left open by a crashed run) and create it empty."""
    admin = await connect_admin(env)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def migrated_database(env: Mapping[str, str], service_dir: Path, name: str) -> str:
    """A fresh database `name` at the head of the service's migrations; returns its URL."""
    await recreate_database(env, name)
    url = postgres_url(dict(env), name)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alembic",
        "-c",
        str(service_dir / "alembic.ini"),
        "-x",
        f"url={url}",
        "upgrade",
        "head",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"migrations of {service_dir.name} failed:\n{output.decode()}")
    return url


@asynccontextmanager
async def migrated_sessions(
    env: Mapping[str, str], service_dir: Path, name: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions of a fresh database `name` at the head of the service's migrations."""
    engine = create_engine(await migrated_database(env, service_dir, name))
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def service_metadata(package: str) -> MetaData:
    """The metadata holding every table of a service: its `models` modules imported (as its
    migrations' env.py does), and the kit's outbox and processed events."""
    importlib.import_module("guichet_kit.outbox")
    importlib.import_module("guichet_kit.events")
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, f"{package}."):
        if module.name.rpartition(".")[2] == "models":
            importlib.import_module(module.name)
    return Base.metadata


def _engine(database: Database) -> AsyncEngine:
    if isinstance(database, AsyncEngine):
        return database
    bind = database.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the session factory is not bound to an engine")
    return bind


def _present(connection: Connection, metadatas: tuple[MetaData, ...]) -> list[Table]:
    """The metadata's tables this database has, parents before children.

    Every service's models share one declarative base: in a test process that imported two
    services, the metadata also holds the other service's tables, which live elsewhere.
    """
    existing = set(inspect(connection).get_table_names())
    return [
        table
        for metadata in metadatas
        for table in metadata.sorted_tables
        if table.schema is None and table.name in existing
    ]


async def tables_of(database: Database, *metadatas: MetaData) -> list[Table]:
    async with _engine(database).connect() as connection:
        return await connection.run_sync(_present, metadatas)


async def truncate_tables(database: Database, *metadatas: MetaData) -> list[str]:
    """Empty every table of `metadatas` present in the database, in one statement (CASCADE
    covers the foreign keys); identity columns restart. Returns the names of the tables."""
    engine = _engine(database)
    async with engine.begin() as connection:
        tables = await connection.run_sync(_present, metadatas)
        if tables:
            quote = connection.dialect.identifier_preparer.format_table
            names = ", ".join(quote(table) for table in tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return [table.name for table in tables]


async def row_counts(database: Database, *metadatas: MetaData) -> dict[str, int]:
    """Rows per table of `metadatas` present in the database: a refused call must leave them
    as they were."""
    engine = _engine(database)
    async with engine.connect() as connection:
        tables = await connection.run_sync(_present, metadatas)
        return {
            table.name: int(await connection.scalar(select(func.count()).select_from(table)) or 0)
            for table in tables
        }
