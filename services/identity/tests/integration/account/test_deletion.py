"""DeleteAccount (F8): erase, announce through the outbox, delete the login, record the purges."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import pytest
from nats.js import JetStreamContext
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import identity_pb2 as events_pb2
from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.account import events
from guichet_identity.account.grpc import AccountServicer
from guichet_identity.account.keycloak_admin import KeycloakAccounts
from guichet_identity.profile.models import Profile
from guichet_kit.auth import set_caller
from guichet_kit.errors import ServiceError
from guichet_kit.events import EventConsumer, ensure_stream
from guichet_kit.outbox import MSG_ID_HEADER, OutboxMessage, stamp
from guichet_testkit.streams import purge_streams

from .conftest import People, register_and_sign_in, sign_in_as

NO_CONTEXT: Any = None


async def test_a_mistyped_confirmation_refuses_the_deletion_and_changes_nothing(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await register_and_sign_in(servicer, people)

    with pytest.raises(ServiceError) as refused:
        await servicer.DeleteAccount(
            pb.DeleteAccountRequest(confirm_email="someone@example.org"), NO_CONTEXT
        )

    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.reason == "CONFIRMATION_MISMATCH"
    assert [error.field for error in refused.value.field_errors] == ["confirm_email"]
    assert await keycloak.find_user(account.subject) is not None
    async with account_sessions() as session:
        assert await session.get(Profile, account.subject) is not None


async def test_deleting_the_account_erases_it_announces_it_and_removes_the_login(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
    purge_service: str,
) -> None:
    account = await register_and_sign_in(servicer, people)

    reply = await servicer.DeleteAccount(
        pb.DeleteAccountRequest(confirm_email=account.email.upper()), NO_CONTEXT
    )

    assert await keycloak.find_user(account.subject) is None
    async with account_sessions() as session:
        assert await session.get(Profile, account.subject) is None
        rows = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.subject == events.ACCOUNT_DELETED)
            )
        ).all()
    published = [events_pb2.AccountDeleted.FromString(row.payload) for row in rows]
    [event] = [event for event in published if event.deletion_id == reply.deletion_id]
    assert (event.subject, event.national_id) == (account.subject, account.national_id)
    state = await servicer.GetAccountDeletion(
        pb.GetAccountDeletionRequest(deletion_id=reply.deletion_id), NO_CONTEXT
    )
    assert list(state.awaiting) == [purge_service]
    assert list(state.confirmed) == []
    assert not state.complete


async def test_a_deletion_whose_database_part_fails_leaves_the_account_usable(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await register_and_sign_in(servicer, people)
    # A real failure inside the transaction: PostgreSQL refuses to delete this profile.
    async with account_sessions() as session, session.begin():
        await session.execute(
            text(
                "CREATE FUNCTION refuse_profile_deletion() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'profiles are frozen'; END $$"
            )
        )
        await session.execute(
            text(
                "CREATE TRIGGER refuse_profile_deletion BEFORE DELETE ON profiles "
                "FOR EACH ROW EXECUTE FUNCTION refuse_profile_deletion()"
            )
        )
    try:
        with pytest.raises(DBAPIError):
            await servicer.DeleteAccount(
                pb.DeleteAccountRequest(confirm_email=account.email), NO_CONTEXT
            )
    finally:
        async with account_sessions() as session, session.begin():
            await session.execute(text("DROP TRIGGER refuse_profile_deletion ON profiles"))
            await session.execute(text("DROP FUNCTION refuse_profile_deletion()"))

    user = await keycloak.find_user(account.subject)
    assert user is not None
    assert user.enabled, "the login disabled for the deletion is enabled again"
    async with account_sessions() as session:
        assert await session.get(Profile, account.subject) is not None


async def test_an_unknown_or_malformed_deletion_id_is_refused(servicer: AccountServicer) -> None:
    sign_in_as("kc-someone", "someone@example.org", "1980010100017")
    with pytest.raises(ServiceError) as unknown:
        await servicer.GetAccountDeletion(
            pb.GetAccountDeletionRequest(deletion_id=str(uuid.uuid4())), NO_CONTEXT
        )
    assert unknown.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(ServiceError) as malformed:
        await servicer.GetAccountDeletion(
            pb.GetAccountDeletionRequest(deletion_id="12"), NO_CONTEXT
        )
    assert malformed.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_deletion_is_only_shown_to_the_account_it_deleted(
    servicer: AccountServicer, people: People
) -> None:
    anne = await register_and_sign_in(servicer, people)
    reply = await servicer.DeleteAccount(
        pb.DeleteAccountRequest(confirm_email=anne.email), NO_CONTEXT
    )
    request = pb.GetAccountDeletionRequest(deletion_id=reply.deletion_id)
    assert (await servicer.GetAccountDeletion(request, NO_CONTEXT)).deletion_id == reply.deletion_id

    await register_and_sign_in(servicer, people)
    with pytest.raises(ServiceError) as someone_else:
        await servicer.GetAccountDeletion(request, NO_CONTEXT)
    set_caller(None)
    with pytest.raises(ServiceError) as anonymous:
        await servicer.GetAccountDeletion(request, NO_CONTEXT)

    # Another's deletion is not found, exactly as one that does not exist.
    assert (someone_else.value.code, someone_else.value.reason) == (
        grpc.StatusCode.NOT_FOUND,
        "DELETION_NOT_FOUND",
    )
    assert anonymous.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_purge_subscriptions_follow_the_configured_services() -> None:
    subscriptions = events.purge_confirmation_subscriptions(["etracking", "wallet"])
    assert [(s.stream, s.durable, s.subject) for s in subscriptions] == [
        ("ETRACKING", "identity-purge-confirmations", "etracking.account.purged.v1"),
        ("WALLET", "identity-purge-confirmations", "wallet.account.purged.v1"),
    ]
    assert all(s.event_type is events_pb2.AccountPurged for s in subscriptions)


async def test_a_purge_confirmation_from_jetstream_completes_the_deletion_once(
    servicer: AccountServicer,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
    jetstream: JetStreamContext,
    purge_service: str,
) -> None:
    account = await register_and_sign_in(servicer, people)
    reply = await servicer.DeleteAccount(
        pb.DeleteAccountRequest(confirm_email=account.email), NO_CONTEXT
    )
    [subscription] = events.purge_confirmation_subscriptions([purge_service])
    await ensure_stream(jetstream, subscription.stream, [f"{purge_service}.>"])
    await purge_streams(jetstream, [subscription.stream])
    purged = events_pb2.AccountPurged(deletion_id=reply.deletion_id, service=purge_service)
    stamp(purged)
    stop = asyncio.Event()
    consumer = asyncio.create_task(
        EventConsumer(jetstream, account_sessions, subscription).run(stop)
    )
    try:
        # The same event twice (a producer's retry after the duplicate window): applied once.
        for _ in range(2):
            await jetstream.publish(
                subscription.subject,
                purged.SerializeToString(),
                headers={MSG_ID_HEADER: str(uuid.uuid4())},
            )
        request = pb.GetAccountDeletionRequest(deletion_id=reply.deletion_id)
        for _ in range(100):
            state = await servicer.GetAccountDeletion(request, NO_CONTEXT)
            if state.complete:
                break
            await asyncio.sleep(0.1)
        assert state.complete
        assert list(state.confirmed) == [purge_service]
        assert list(state.awaiting) == []
        info = await jetstream.consumer_info(subscription.stream, subscription.durable)
        for _ in range(50):
            info = await jetstream.consumer_info(subscription.stream, subscription.durable)
            if info.num_ack_pending == 0 and info.num_pending == 0:
                break
            await asyncio.sleep(0.1)
        assert (info.num_ack_pending, info.num_pending) == (0, 0)
    finally:
        stop.set()
        await consumer
        await jetstream.delete_stream(subscription.stream)
