"""Reading and writing procedures' rows; the rules live in `service`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, cast, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from guichet_procedures.requests.models import (
    ACTION_NEEDED,
    ANONYMOUS_PREFIX,
    CANCELLED,
    CLOSED,
    DRAFT,
    EXPIRED,
    INCOMING_SEQUENCE,
    SUBMITTED,
    AnonymousAccess,
    Procedure,
    ProcedureVersion,
    Proof,
    Request,
    RequestHistory,
)

ListFilter = Literal["active", "draft", "submitted", "action_needed", "closed", "archived"]
ListSort = Literal["updated", "name", "reference"]

STATES_OF: dict[ListFilter, tuple[str, ...]] = {
    "active": (DRAFT, SUBMITTED, ACTION_NEEDED, CLOSED),
    "draft": (DRAFT,),
    "submitted": (SUBMITTED,),
    "action_needed": (ACTION_NEEDED,),
    "closed": (CLOSED,),
    "archived": (CANCELLED, EXPIRED),
}


# ---- published versions and the catalogue ----


async def find_version(session: AsyncSession, code: str, version: int) -> ProcedureVersion | None:
    return await session.get(ProcedureVersion, (code, version))


async def versions_of(session: AsyncSession, codes: Sequence[str]) -> dict[tuple[str, int], str]:
    """(code, version) -> content hash of every published version of `codes`."""
    rows = await session.execute(
        select(
            ProcedureVersion.code, ProcedureVersion.version, ProcedureVersion.content_hash
        ).where(ProcedureVersion.code.in_(codes))
    )
    return {(code, version): content_hash for code, version, content_hash in rows}


async def find_procedure(session: AsyncSession, code: str) -> Procedure | None:
    return await session.get(Procedure, code)


async def current_versions(session: AsyncSession, codes: Sequence[str]) -> dict[str, int]:
    rows = await session.execute(
        select(Procedure.code, Procedure.current_version).where(Procedure.code.in_(codes))
    )
    return {code: version for code, version in rows}


async def theme_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Procedure.theme, func.count()).group_by(Procedure.theme))
    return {theme: int(count) for theme, count in rows}


def _search_column(language: str) -> Any:
    return {"fr": Procedure.search_fr, "de": Procedure.search_de}.get(language, Procedure.search_en)


async def search(
    session: AsyncSession,
    *,
    query: str,
    language: str,
    theme: str,
    audience: str,
    offset: int,
    limit: int,
) -> tuple[list[Procedure], int]:
    """Procedures matching every word of `query` (unaccented, stemmed in `language`), ranked
    title > keywords > summary; without a query, by title in that language."""
    conditions: list[ColumnElement[bool]] = []
    if theme:
        conditions.append(Procedure.theme == theme)
    if audience:
        conditions.append(literal(audience) == func.any(Procedure.audience))
    order: list[Any] = []
    if query:
        configuration = cast(literal(f"guichet_{language}"), REGCONFIG)
        ts_query = func.websearch_to_tsquery(configuration, query)
        column = _search_column(language)
        conditions.append(column.bool_op("@@")(ts_query))
        order.append(func.ts_rank_cd(column, ts_query).desc())
    order += [Procedure.titles[language].astext, Procedure.code]
    total = await session.scalar(select(func.count()).select_from(Procedure).where(*conditions))
    rows = await session.scalars(
        select(Procedure).where(*conditions).order_by(*order).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


# ---- requests ----


def _with_history(statement: Select[Request]) -> Select[Request]:
    return statement.options(selectinload(Request.history))


async def request_of(
    session: AsyncSession,
    owner: str,
    *,
    request_id: uuid.UUID | None = None,
    reference: str | None = None,
    for_update: bool = False,
) -> Request | None:
    """The owner's request by id or by reference, with its history; None for anyone else's."""
    statement = _with_history(select(Request).where(Request.owner == owner))
    if request_id is not None:
        statement = statement.where(Request.id == request_id)
    else:
        statement = statement.where(Request.reference == reference)
    if for_update:
        statement = statement.with_for_update(of=Request)
    return (await session.scalars(statement)).one_or_none()


async def request_by_reference(session: AsyncSession, reference: str) -> Request | None:
    return await session.scalar(select(Request).where(Request.reference == reference))


async def reference_taken(session: AsyncSession, reference: str) -> bool:
    return bool(await session.scalar(select(func.count()).where(Request.reference == reference)))


async def next_incoming_sequence(session: AsyncSession) -> int:
    return int(await session.scalar(INCOMING_SEQUENCE.next_value()) or 0)


async def list_requests(
    session: AsyncSession,
    owner: str,
    *,
    states: Sequence[str],
    sort: ListSort,
    language: str,
    offset: int,
    limit: int,
) -> tuple[list[Request], int]:
    conditions = [Request.owner == owner, Request.state.in_(states)]
    order: list[Any]
    if sort == "name":
        order = [Request.title[language].astext, Request.updated_at.desc(), Request.id]
    elif sort == "reference":
        order = [Request.reference.asc().nulls_last(), Request.updated_at.desc(), Request.id]
    else:
        order = [Request.updated_at.desc(), Request.id]
    total = await session.scalar(select(func.count()).select_from(Request).where(*conditions))
    rows = await session.scalars(
        select(Request).where(*conditions).order_by(*order).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


async def all_of(session: AsyncSession, owner: str) -> list[Request]:
    """Every request of the owner with its history, oldest first (the export)."""
    rows = await session.scalars(
        _with_history(select(Request).where(Request.owner == owner)).order_by(
            Request.created_at, Request.id
        )
    )
    return list(rows)


async def latest_proof(session: AsyncSession, request_id: uuid.UUID) -> Proof | None:
    return await session.scalar(
        select(Proof).where(Proof.request_id == request_id).order_by(Proof.id.desc()).limit(1)
    )


async def proof_issued(session: AsyncSession, request_id: uuid.UUID, sha256: str) -> Proof | None:
    """The proof of this request that is exactly this file, if it was handed out."""
    return await session.scalar(
        select(Proof).where(Proof.request_id == request_id, Proof.sha256 == sha256).limit(1)
    )


# ---- the upkeep ----


async def drafts_to_warn(
    session: AsyncSession, now: datetime, warn_until: datetime, limit: int
) -> list[Request]:
    """Drafts expiring by `warn_until`, not yet warned, locked (others' passes skip them)."""
    rows = await session.scalars(
        select(Request)
        .where(
            Request.state == DRAFT,
            Request.warned_at.is_(None),
            Request.expires_at <= warn_until,
            Request.expires_at > now,
        )
        .order_by(Request.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def drafts_expired(session: AsyncSession, now: datetime, limit: int) -> list[Request]:
    rows = await session.scalars(
        _with_history(select(Request))
        .where(Request.state == DRAFT, Request.expires_at <= now)
        .order_by(Request.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def purge_detached(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Delete requests no account holds any more whose record ended before `cutoff`."""
    ended = func.coalesce(Request.closed_at, Request.cancelled_at, Request.updated_at)
    ids = (
        select(Request.id)
        .where(Request.owner.is_(None), ended < cutoff)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(delete(Request).where(Request.id.in_(ids)))
    return int(getattr(result, "rowcount", 0) or 0)


# ---- account deletion ----


async def delete_unsubmitted(session: AsyncSession, owner: str) -> int:
    """Drafts, tombstones and cancelled drafts of `owner`: only theirs, never submitted."""
    result = await session.execute(
        delete(Request).where(Request.owner == owner, Request.reference.is_(None))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def detach(session: AsyncSession, owner: str, now: datetime) -> int:
    """Submitted requests of `owner` stay for their administration, in no one's space."""
    result = await session.execute(
        update(Request)
        .where(Request.owner == owner, Request.reference.is_not(None))
        .values(owner=None, created_by=None, updated_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def forget_creator(session: AsyncSession, person: str) -> None:
    """Requests `person` made for a company or a relation stay theirs, without the person."""
    await session.execute(
        update(Request).where(Request.created_by == person).values(created_by=None)
    )


def add_history(
    request: Request,
    kind: str,
    actor: str,
    now: datetime,
    *,
    status: str | None = None,
    text: str = "",
    fields: Sequence[str] = (),
) -> RequestHistory:
    entry = RequestHistory(
        kind=kind, actor=actor, status=status, text=text, fields=list(fields), occurred_at=now
    )
    request.history.append(entry)
    return entry


async def anonymous_address(session: AsyncSession, request: Request) -> str:
    """The checked address of a request filed without an account, for its events (the only way
    a notification reaches its applicant); empty for any other request."""
    if not (request.owner or "").startswith(ANONYMOUS_PREFIX):
        return ""
    access = await session.get(AnonymousAccess, request.id)
    if access is None or not access.email_confirmed:
        return ""
    return access.email or ""
