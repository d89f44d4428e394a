"""F56: the access log is append-only and tamper-evident. Entries are chained by their hashes;
`verify-log` walks the chain and names the first broken link; the database refuses deleting an
entry or changing one other than by a purge."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet_authentic_data.access import repository
from guichet_authentic_data.access.verify import verify_log
from guichet_authentic_data.api.citizen import MyDataServicer
from guichet_authentic_data.purge import purge_account
from guichet_kit.db import transaction

from .conftest import ANNE, BOB, NO_CONTEXT, PAUL, a_citizen, log_entries, refusal


async def _append(sessions: async_sessionmaker[AsyncSession], subject: str, n: int) -> None:
    for index in range(n):
        async with transaction(sessions) as session:
            await repository.append(
                session,
                repository.NewEntry(
                    subject=f"person:{subject}",
                    accessor_kind="administration" if index % 2 else "self",
                    accessor="ccss" if index % 2 else subject,
                    purpose="ccss:affiliation" if index % 2 else "citizen:self",
                    fields=["person.surname", "person.address"],
                    agent="agent-3" if index % 2 else "",
                    request_reference=f"R-{index}",
                ),
            )


async def _verify(sessions: async_sessionmaker[AsyncSession]):  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return await verify_log(session)


async def _tamper(sessions: async_sessionmaker[AsyncSession], statement: str) -> None:
    """What someone with the database owner's rights could do: switch the guard off, change."""
    async with transaction(sessions) as session:
        await session.execute(text("ALTER TABLE data_accesses DISABLE TRIGGER USER"))
        await session.execute(text(statement))
        await session.execute(text("ALTER TABLE data_accesses ENABLE TRIGGER USER"))


async def test_an_intact_log_verifies_from_first_to_last_entry(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _append(sessions, ANNE, 6)

    result = await _verify(sessions)

    assert (result.intact, result.entries) == (True, 6)
    entries = await log_entries(sessions)
    assert result.head == entries[-1].entry_hash
    assert entries[0].previous_hash == bytes(32)
    assert all(b.previous_hash == a.entry_hash for a, b in itertools.pairwise(entries))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("UPDATE data_accesses SET purpose = 'citizen:self' WHERE id = 4", "content"),
        ("UPDATE data_accesses SET fields = '{person.surname}' WHERE id = 4", "content"),
        ("UPDATE data_accesses SET accessor = 'cae' WHERE id = 4", "content"),
        (
            "UPDATE data_accesses SET accessed_at = accessed_at + interval '1 second' WHERE id = 4",
            "content",
        ),
        ("UPDATE data_accesses SET subject = 'person:1975060600018' WHERE id = 4", "personal"),
        ("UPDATE data_accesses SET agent = 'someone-else' WHERE id = 4", "personal"),
        ("DELETE FROM data_accesses WHERE id = 4", "follow"),
        ("UPDATE data_accesses SET entry_hash = sha256(entry_hash) WHERE id = 4", "content"),
    ],
    ids=["purpose", "fields", "reader", "time", "subject", "agent", "removed", "hash"],
)
async def test_a_row_altered_with_sql_is_found_at_its_place_in_the_chain(
    sessions: async_sessionmaker[AsyncSession], change: str, why: str
) -> None:
    await _append(sessions, ANNE, 6)
    await _tamper(sessions, change)

    result = await _verify(sessions)

    assert not result.intact
    assert result.broken is not None
    # A removed entry shows at the next one; any other change at the entry itself.
    assert result.broken.id == (5 if why == "follow" else 4)
    assert result.entries == 3
    assert why in result.broken.why


async def test_the_database_refuses_deleting_or_rewriting_an_entry(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _append(sessions, ANNE, 2)
    for statement in (
        "DELETE FROM data_accesses WHERE id = 1",
        "UPDATE data_accesses SET purpose = 'x' WHERE id = 1",
        "UPDATE data_accesses SET subject = NULL WHERE id = 1",  # a purge must empty it all
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with transaction(sessions) as session:
                await session.execute(text(statement))
    assert (await _verify(sessions)).entries == 2


async def test_concurrent_reads_are_chained_one_after_the_other(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await asyncio.gather(*(_append(sessions, who, 5) for who in (ANNE, PAUL, BOB, ANNE)))

    result = await _verify(sessions)

    assert (result.intact, result.entries) == (True, 20)


async def test_a_purged_persons_entries_lose_their_personal_part_and_the_chain_still_verifies(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _append(sessions, ANNE, 3)
    await _append(sessions, PAUL, 2)
    await _append(sessions, ANNE, 1)

    async with transaction(sessions) as session:
        await purge_account(session, "deletion-1", ANNE)

    result = await _verify(sessions)
    assert (result.intact, result.entries) == (True, 6)
    entries = await log_entries(sessions)
    purged = [entry for entry in entries if entry.purged_at is not None]
    assert len(purged) == 4
    for entry in purged:
        assert (entry.subject, entry.agent, entry.request_reference, entry.salt) == (
            None,
            None,
            None,
            None,
        )
        # The public part stays: which administration read what, and when.
        assert entry.accessor == ("ccss" if entry.accessor_kind == "administration" else None)
    assert {entry.subject for entry in entries if entry.purged_at is None} == {f"person:{PAUL}"}
    assert ANNE not in str([(e.subject, e.accessor, e.request_reference) for e in entries])


async def test_a_purged_entry_altered_afterwards_is_still_found(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _append(sessions, ANNE, 3)
    async with transaction(sessions) as session:
        await purge_account(session, "deletion-1", ANNE)
    await _tamper(sessions, "UPDATE data_accesses SET purpose = 'cae:family-benefits' WHERE id = 2")

    result = await _verify(sessions)

    assert result.broken is not None and result.broken.id == 2


async def test_a_persons_log_lists_their_reads_newest_first_marked_as_their_own(
    my_data: MyDataServicer, family: None, signed_in, sessions: async_sessionmaker[AsyncSession]
) -> None:
    signed_in(a_citizen(ANNE))
    await my_data.GetMyRegisterEntry(pb.GetMyRegisterEntryRequest(), NO_CONTEXT)
    await my_data.GetMyTaxCredit(pb.GetMyTaxCreditRequest(), NO_CONTEXT)
    await _append(sessions, PAUL, 2)  # someone else's reads are not in Anne's log

    first = await my_data.ListMyDataAccesses(pb.ListMyDataAccessesRequest(limit=1), NO_CONTEXT)
    rest = await my_data.ListMyDataAccesses(
        pb.ListMyDataAccessesRequest(limit=1, page_token=first.next_page_token), NO_CONTEXT
    )

    [newest], [oldest] = first.accesses, rest.accesses
    assert rest.next_page_token == ""
    assert newest.fields == ["tax_credit.ceiling", "tax_credit.used", "tax_credit.remaining"]
    assert oldest.fields[0] == "person.national_id"
    assert newest.accessor_kind == pb.ACCESSOR_KIND_SELF
    assert newest.accessor_label == "Vous"  # the default language of a call: French
    assert newest.purpose == "citizen:self"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.ListMyDataAccessesRequest(limit=201), "limit"),
        (pb.ListMyDataAccessesRequest(limit=-1), "limit"),
        (pb.ListMyDataAccessesRequest(page_token="abc"), "page_token"),
    ],
)
async def test_a_bad_page_request_is_refused(
    my_data: MyDataServicer, signed_in, request_: pb.ListMyDataAccessesRequest, field: str
) -> None:
    signed_in(a_citizen(ANNE))

    refused = await refusal(my_data.ListMyDataAccesses(request_, NO_CONTEXT))

    assert (refused.reason, refused.fields) == ("INVALID_PAGE_REQUEST", [field])


def _verify_command(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guichet_authentic_data", "verify-log"],
        env={**os.environ, "AUTHENTIC_DATA_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_verify_log_command_reports_the_first_broken_link(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _append(sessions, ANNE, 4)
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)

    intact = await asyncio.to_thread(_verify_command, url)
    await _tamper(sessions, "UPDATE data_accesses SET fields = '{person.household}' WHERE id = 3")
    broken = await asyncio.to_thread(_verify_command, url)

    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("access log intact: 4 entries")
    assert broken.returncode == 1, broken.stderr
    assert broken.stdout.startswith("access log broken at entry 3 ")
    assert "its content was altered" in broken.stdout
