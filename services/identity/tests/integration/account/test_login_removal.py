"""The login of a deleted account is removed from Keycloak, retried by the worker's sweep until
Keycloak confirms (a login already gone counts), and recorded on the deletion."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.account.deletion import remove_pending_logins, sweep_pending_logins
from guichet_identity.account.grpc import AccountServicer
from guichet_identity.account.keycloak_admin import KeycloakAccounts
from guichet_identity.account.models import AccountDeletion
from guichet_identity.settings import IdentitySettings
from guichet_kit.db import transaction
from guichet_testkit.eventually import wait_until

from .conftest import People, register_and_sign_in

NO_CONTEXT: Any = None


@pytest.fixture
async def refused_client(settings: IdentitySettings) -> AsyncIterator[KeycloakAccounts]:
    """identity's client with a wrong secret: Keycloak refuses every call it makes."""
    accounts = KeycloakAccounts(
        settings.keycloak_url,
        settings.keycloak_realm,
        settings.keycloak_client_id,
        "not-the-client-secret",
        verify=str(settings.ca_file),
    )
    yield accounts
    await accounts.aclose()


async def _pending_deletion(sessions: async_sessionmaker[AsyncSession], subject: str) -> uuid.UUID:
    """A deletion whose database part committed but whose login removal did not happen."""
    deletion_id = uuid.uuid4()
    async with transaction(sessions) as session:
        session.add(
            AccountDeletion(
                id=deletion_id,
                subject=subject,
                requested_at=datetime.now(UTC),
                awaited_services=[],
                completed_at=datetime.now(UTC),
            )
        )
    return deletion_id


async def _login_removed_at(
    sessions: async_sessionmaker[AsyncSession], deletion_id: uuid.UUID
) -> datetime | None:
    async with sessions() as session:
        return await session.scalar(
            select(AccountDeletion.login_removed_at).where(AccountDeletion.id == deletion_id)
        )


async def test_a_pending_login_removal_is_retried_until_keycloak_confirms(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    refused_client: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await register_and_sign_in(servicer, people)
    await keycloak.set_enabled(account.subject, False)  # as the protocol leaves it
    deletion_id = await _pending_deletion(account_sessions, account.subject)

    # A first attempt Keycloak refuses for real: nothing is recorded, the login is still there.
    assert await sweep_pending_logins(account_sessions, refused_client) == 0
    assert await _login_removed_at(account_sessions, deletion_id) is None
    assert await keycloak.find_user(account.subject) is not None

    # The worker's sweep runs at once on start.
    stop = asyncio.Event()
    worker = asyncio.create_task(
        remove_pending_logins(account_sessions, keycloak, stop, every=3600)
    )
    try:

        async def recorded() -> bool:
            return await _login_removed_at(account_sessions, deletion_id) is not None

        await wait_until(recorded, seconds=30, what="the login removal recorded")
    finally:
        stop.set()
        await worker
    assert await keycloak.find_user(account.subject) is None
    removed_at = await _login_removed_at(account_sessions, deletion_id)

    # Idempotent: another pass finds nothing pending and changes nothing.
    await sweep_pending_logins(account_sessions, keycloak)
    assert await _login_removed_at(account_sessions, deletion_id) == removed_at


async def test_a_login_already_gone_counts_as_removed(
    keycloak: KeycloakAccounts, account_sessions: async_sessionmaker[AsyncSession]
) -> None:
    deletion_id = await _pending_deletion(account_sessions, str(uuid.uuid4()))

    await sweep_pending_logins(account_sessions, keycloak)

    assert await _login_removed_at(account_sessions, deletion_id) is not None


async def test_a_deletion_records_the_login_removal_and_the_sweep_records_a_missed_one(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
) -> None:
    anne = await register_and_sign_in(servicer, people)
    done = await servicer.DeleteAccount(
        pb.DeleteAccountRequest(confirm_email=anne.email), NO_CONTEXT
    )
    assert await _login_removed_at(account_sessions, uuid.UUID(done.deletion_id)) is not None

    # The record after Keycloak's removal fails for real: the deletion stands, the removal is
    # pending, and the sweep finds the login gone and records it.
    bob = await register_and_sign_in(servicer, people)
    async with account_sessions() as session, session.begin():
        await session.execute(
            text(
                "CREATE FUNCTION refuse_deletion_update() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'account deletions are frozen'; END $$"
            )
        )
        await session.execute(
            text(
                "CREATE TRIGGER refuse_deletion_update BEFORE UPDATE ON account_deletions "
                "FOR EACH ROW EXECUTE FUNCTION refuse_deletion_update()"
            )
        )
    try:
        missed = await servicer.DeleteAccount(
            pb.DeleteAccountRequest(confirm_email=bob.email), NO_CONTEXT
        )
    finally:
        async with account_sessions() as session, session.begin():
            await session.execute(text("DROP TRIGGER refuse_deletion_update ON account_deletions"))
            await session.execute(text("DROP FUNCTION refuse_deletion_update()"))
    missed_id = uuid.UUID(missed.deletion_id)
    assert await keycloak.find_user(bob.subject) is None
    assert await _login_removed_at(account_sessions, missed_id) is None

    await sweep_pending_logins(account_sessions, keycloak)

    assert await _login_removed_at(account_sessions, missed_id) is not None
