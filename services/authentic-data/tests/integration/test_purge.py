"""F8: identity deleted an account; authentic-data forgets what it keeps about that person (the
registers stay: they are the administrations') and confirms it, in one transaction."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet.events.v1 import identity_pb2 as identity_events
from guichet_authentic_data.access.verify import verify_log
from guichet_authentic_data.api.citizen import MyDataServicer
from guichet_authentic_data.certificates.models import IssuedCertificate
from guichet_authentic_data.purge import ACCOUNT_PURGED, on_account_deleted
from guichet_authentic_data.registers.models import RegisteredPerson
from guichet_authentic_data.reports.models import DataReport
from guichet_kit.db import transaction
from guichet_kit.events import PoisonMessage

from .conftest import ANNE, NO_CONTEXT, NOBODY, PAUL, a_citizen, log_entries, outbox

COMMENT = "This value is not right at all."


def deleted(national_id: str) -> identity_events.AccountDeleted:
    return identity_events.AccountDeleted(
        deletion_id=str(uuid.uuid4()), national_id=national_id, subject="kc-someone"
    )


async def _consume(
    sessions: async_sessionmaker[AsyncSession], event: identity_events.AccountDeleted
) -> None:
    async with transaction(sessions) as session:
        await on_account_deleted(session, event)


async def _confirmations(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    found = []
    for event in await outbox(sessions):
        if event.subject == ACCOUNT_PURGED:
            purged = identity_events.AccountPurged.FromString(event.payload)
            found.append((purged.deletion_id, purged.service))
    return found


@pytest.fixture
async def a_life(my_data: MyDataServicer, family: None, signed_in) -> None:
    """Anne read her data, got a certificate and reported a value; Paul did the same."""
    for person in (ANNE, PAUL):
        signed_in(a_citizen(person))
        await my_data.GetMyRegisterEntry(pb.GetMyRegisterEntryRequest(), NO_CONTEXT)
        await my_data.IssueCertificate(
            pb.IssueCertificateRequest(kind=pb.CERTIFICATE_KIND_RESIDENCE), NO_CONTEXT
        )
        await my_data.ReportWrongData(
            pb.ReportWrongDataRequest(field="person.birth_place", comment=COMMENT), NO_CONTEXT
        )
    signed_in(None)


async def test_the_deleted_persons_log_reports_and_certificates_are_forgotten_and_confirmed(
    sessions: async_sessionmaker[AsyncSession], a_life: None
) -> None:
    event = deleted(ANNE)
    await _consume(sessions, event)

    async with sessions() as session:
        reports = list(await session.scalars(select(DataReport.subject)))
        holders = sorted(str(h) for h in await session.scalars(select(IssuedCertificate.subject)))
        register = list(await session.scalars(select(RegisteredPerson.national_id)))
        chain = await verify_log(session)
    assert reports == [f"person:{PAUL}"]
    assert holders == ["None", f"person:{PAUL}"]  # Anne's certificate stays verifiable
    assert ANNE in register  # the register is not hers to delete
    entries = await log_entries(sessions)
    assert {e.subject for e in entries} == {None, f"person:{PAUL}"}
    assert ANNE not in repr([(e.subject, e.accessor, e.request_reference) for e in entries])
    assert (chain.intact, chain.entries) == (True, 4)
    assert await _confirmations(sessions) == [(event.deletion_id, "authentic-data")]


async def test_the_purge_and_its_confirmation_stand_or_fall_together(
    sessions: async_sessionmaker[AsyncSession], a_life: None, counts
) -> None:
    before = await counts()

    async def purge_then_lose_the_connection() -> None:
        async with transaction(sessions) as session:
            await on_account_deleted(session, deleted(ANNE))
            raise ConnectionError("the connection dropped before the commit")

    with pytest.raises(ConnectionError):
        await purge_then_lose_the_connection()

    assert await counts() == before
    assert await _confirmations(sessions) == []


async def test_a_person_of_whom_nothing_is_kept_is_still_confirmed(
    sessions: async_sessionmaker[AsyncSession], a_life: None
) -> None:
    event = deleted(NOBODY)
    await _consume(sessions, event)

    assert len(await log_entries(sessions)) == 4
    assert await _confirmations(sessions) == [(event.deletion_id, "authentic-data")]


@pytest.mark.parametrize("missing", ["national_id", "deletion_id"])
async def test_a_deletion_without_its_ids_is_poison_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], a_life: None, counts, missing: str
) -> None:
    event = deleted(ANNE)
    event.ClearField(missing)  # type: ignore[arg-type]
    before = await counts()

    with pytest.raises(PoisonMessage):
        await _consume(sessions, event)

    assert await counts() == before
