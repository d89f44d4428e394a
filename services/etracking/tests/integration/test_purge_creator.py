"""F8: a deleted person's contact data also leaves the trackings they created for a child or a
company (those trackings stay: they belong to the child or the company)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import identity_pb2 as identity_events
from guichet_etracking.tracking import service
from guichet_etracking.tracking.catalogue import find_paper_form
from guichet_etracking.tracking.contact import notification_choice
from guichet_etracking.tracking.models import Tracking
from guichet_etracking.tracking.purge import on_account_deleted
from guichet_kit.db import transaction

ANNE, CHILD, BOB = "1980010112345", "2015030300123", "1975060600123"


async def _track(
    sessions: async_sessionmaker[AsyncSession], owner: str, created_by: str, email: str
) -> str:
    choice = notification_choice(True, email, True, "+352 621 123 456", "fr")
    async with transaction(sessions) as session:
        tracking = await service.create_tracking(
            session, find_paper_form("ACD-IR-100"), choice, owner, created_by
        )
        return tracking.number


async def _contact(
    sessions: async_sessionmaker[AsyncSession], number: str
) -> tuple[str | None, ...]:
    async with sessions() as session:
        tracking = await session.scalar(select(Tracking).where(Tracking.number == number))
        assert tracking is not None, f"tracking {number} is gone"
        return tracking.email, tracking.phone, tracking.created_by


async def test_the_creators_contact_data_leaves_trackings_made_for_others(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for_child = await _track(sessions, f"person:{CHILD}", f"person:{ANNE}", "anne@example.lu")
    for_company = await _track(sessions, "company:acme", f"person:{ANNE}", "anne@example.lu")
    bobs = await _track(sessions, "company:acme", f"person:{BOB}", "bob@example.lu")

    async with transaction(sessions) as session:
        await on_account_deleted(
            session,
            identity_events.AccountDeleted(
                deletion_id=str(uuid.uuid4()), national_id=ANNE, subject="kc-anne"
            ),
        )

    assert await _contact(sessions, for_child) == (None, None, None)
    assert await _contact(sessions, for_company) == (None, None, None)
    assert await _contact(sessions, bobs) == (
        "bob@example.lu",
        "+352621123456",
        f"person:{BOB}",
    )
