"""ConfirmEmailChange touches Keycloak and identity's database: whichever fails, both keep agreeing
on the login's e-mail, and the link still works once the failure is gone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.account.grpc import AccountServicer
from guichet_identity.account.keycloak_admin import KeycloakAccounts
from guichet_identity.account.models import EmailChangeRequest
from guichet_identity.profile.models import Profile
from guichet_kit.errors import ServiceError
from guichet_testkit.mail import mail_links, newest_mail

from .conftest import PASSWORD, Account, People, register_and_sign_in

NO_CONTEXT: Any = None


async def _change_requested(
    servicer: AccountServicer, people: People, mail_dir: Path
) -> tuple[Account, str, str]:
    """A registered account that asked for a new e-mail: (account, new e-mail, mailed token)."""
    account = await register_and_sign_in(servicer, people)
    new_email = people.email()
    since = time.time()
    await servicer.RequestEmailChange(pb.RequestEmailChangeRequest(new_email=new_email), NO_CONTEXT)
    mail = await newest_mail(mail_dir, new_email, since=since)
    [link] = [link for link in mail_links(mail) if "/account/confirm-email?token=" in link]
    return account, new_email, parse_qs(urlsplit(link).query)["token"][0]


async def _identity_side(
    sessions: async_sessionmaker[AsyncSession], subject: str
) -> tuple[str, bool]:
    """The profile's e-mail, and whether the change was marked confirmed."""
    async with sessions() as session:
        profile = await session.get(Profile, subject)
        confirmed = await session.scalar(
            select(EmailChangeRequest.confirmed_at).where(EmailChangeRequest.subject == subject)
        )
    assert profile is not None
    return profile.email, confirmed is not None


async def test_a_commit_that_fails_after_keycloak_changed_puts_the_old_email_back(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    account, new_email, token = await _change_requested(servicer, people, mail_dir)
    before = await keycloak.find_user(account.subject)
    assert before is not None
    # A real failure at COMMIT, after Keycloak was changed: a deferred constraint trigger on the
    # profile's update fires only when the transaction commits.
    async with account_sessions() as session, session.begin():
        await session.execute(
            text(
                "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'commits are refused'; END $$"
            )
        )
        await session.execute(
            text(
                "CREATE CONSTRAINT TRIGGER refuse_commit AFTER UPDATE ON profiles "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()"
            )
        )
    try:
        with pytest.raises(DBAPIError, match="commits are refused"):
            await servicer.ConfirmEmailChange(pb.ConfirmEmailChangeRequest(token=token), NO_CONTEXT)
    finally:
        async with account_sessions() as session, session.begin():
            await session.execute(text("DROP TRIGGER refuse_commit ON profiles"))
            await session.execute(text("DROP FUNCTION refuse_commit()"))

    after = await keycloak.find_user(account.subject)
    assert after is not None
    assert (after.email, after.username, after.email_verified) == (
        before.email,
        before.username,
        before.email_verified,
    )
    assert await keycloak.check_password(account.email, PASSWORD)
    assert not await keycloak.check_password(new_email, PASSWORD)
    assert await _identity_side(account_sessions, account.subject) == (account.email, False)

    # The failure gone, the same link completes the change on both sides.
    confirmed = await servicer.ConfirmEmailChange(
        pb.ConfirmEmailChangeRequest(token=token), NO_CONTEXT
    )
    assert confirmed.email == new_email
    changed = await keycloak.find_user(account.subject)
    assert changed is not None
    assert (changed.email, changed.email_verified) == (new_email, True)
    assert await _identity_side(account_sessions, account.subject) == (new_email, True)


async def test_keycloak_refusing_the_change_leaves_identity_unchanged_and_the_link_unused(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    account, new_email, token = await _change_requested(servicer, people, mail_dir)
    # Someone registers with the new address before the link is followed: Keycloak refuses.
    await servicer.Register(people.registration(email=new_email), NO_CONTEXT)

    with pytest.raises(ServiceError) as refused:
        await servicer.ConfirmEmailChange(pb.ConfirmEmailChangeRequest(token=token), NO_CONTEXT)

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "EMAIL_TAKEN",
    )
    assert [error.field for error in refused.value.field_errors] == ["token"]
    user = await keycloak.find_user(account.subject)
    assert user is not None
    assert (user.email, user.username) == (account.email, account.email)
    assert await _identity_side(account_sessions, account.subject) == (account.email, False)
