"""Async SQLAlchemy: a declarative base with predictable constraint names, engines, transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

# Predictable names make Alembic migrations reviewable and the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Base(DeclarativeBase):
    """Base of every service's models; each service has its own database and migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(url: str, *, pool_size: int = 16, max_overflow: int = 8) -> AsyncEngine:
    """A pool big enough for a process's concurrent calls, so connections are reused rather than
    opened and closed under load. No ping before each checkout (a round trip per query): a
    connection found dead fails its call once as an outage and the pool is invalidated."""
    connect_args: dict[str, Any] = {}
    parsed = make_url(url)
    if parsed.host in LOOPBACK_HOSTS and "ssl" not in parsed.query:
        # TLS to a server on the same machine protects nothing and costs a round trip per
        # connection (asyncpg tries it first by default).
        connect_args["ssl"] = False
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, connect_args=connect_args
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction per RPC or consumed event: committed at the edge, rolled back on error."""
    async with sessions() as session, session.begin():
        yield session
