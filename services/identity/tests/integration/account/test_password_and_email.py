"""ChangePassword (F4), e-mail change (F6), sign-in activity (F12) and export (F13)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from keycloak import KeycloakAdmin
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.account.grpc import AccountServicer
from guichet_identity.account.keycloak_admin import KeycloakAccounts
from guichet_identity.account.models import EmailChangeRequest
from guichet_identity.profile.models import Profile
from guichet_kit.errors import ServiceError
from guichet_testkit.mail import mail_links, newest_mail

from .conftest import PASSWORD, People, mark_email_verified, register_and_sign_in

NO_CONTEXT: Any = None
NEW_PASSWORD = "Another-Long-Secret-77"


async def test_change_password_with_a_wrong_current_password_is_refused_and_changes_nothing(
    servicer: AccountServicer, keycloak: KeycloakAccounts, people: People
) -> None:
    account = await register_and_sign_in(servicer, people)

    with pytest.raises(ServiceError) as refused:
        await servicer.ChangePassword(
            pb.ChangePasswordRequest(current_password="not-my-password", new_password=NEW_PASSWORD),
            NO_CONTEXT,
        )

    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.reason == "CURRENT_PASSWORD_WRONG"
    assert [error.field for error in refused.value.field_errors] == ["current_password"]
    assert await keycloak.check_password(account.email, PASSWORD)
    assert not await keycloak.check_password(account.email, NEW_PASSWORD)


async def test_change_password_sets_the_new_password(
    servicer: AccountServicer, keycloak: KeycloakAccounts, people: People
) -> None:
    account = await register_and_sign_in(servicer, people)

    await servicer.ChangePassword(
        pb.ChangePasswordRequest(current_password=PASSWORD, new_password=NEW_PASSWORD), NO_CONTEXT
    )

    assert await keycloak.check_password(account.email, NEW_PASSWORD)
    assert not await keycloak.check_password(account.email, PASSWORD)


async def test_a_new_password_against_the_policy_is_refused(
    servicer: AccountServicer, people: People
) -> None:
    await register_and_sign_in(servicer, people)

    with pytest.raises(ServiceError) as refused:
        await servicer.ChangePassword(
            pb.ChangePasswordRequest(current_password=PASSWORD, new_password="short"), NO_CONTEXT
        )

    assert refused.value.reason == "PASSWORD_POLICY"
    assert [error.field for error in refused.value.field_errors] == ["new_password"]


async def test_account_calls_need_a_caller(servicer: AccountServicer) -> None:
    with pytest.raises(ServiceError) as refused:
        await servicer.ChangePassword(
            pb.ChangePasswordRequest(current_password=PASSWORD, new_password=NEW_PASSWORD),
            NO_CONTEXT,
        )
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def test_email_change_is_confirmed_by_the_link_mailed_to_the_new_address(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    account = await register_and_sign_in(servicer, people)
    subject = account.subject
    new_email = people.email()
    since = time.time()

    reply = await servicer.RequestEmailChange(
        pb.RequestEmailChangeRequest(new_email=new_email), NO_CONTEXT
    )

    assert reply.expires_at.ToDatetime(UTC) > datetime.now(UTC) + timedelta(hours=23)
    mail = await newest_mail(mail_dir, new_email, since=since)
    assert mail["Subject"] == "Confirmez votre nouvelle adresse électronique"  # registered in fr
    [link] = [link for link in mail_links(mail) if "/account/confirm-email?token=" in link]
    assert link.startswith("http://127.0.0.1:8000/account/confirm-email?token=")
    # Nothing changes before the confirmation: the old address is still the login.
    before = await keycloak.find_user(subject)
    assert before is not None
    assert before.email == account.email
    assert await keycloak.check_password(account.email, PASSWORD)

    confirmed = await servicer.ConfirmEmailChange(
        pb.ConfirmEmailChangeRequest(token=_token(link)), NO_CONTEXT
    )

    assert confirmed.email == new_email
    after = await keycloak.find_user(subject)
    assert after is not None
    assert (after.email, after.username, after.email_verified) == (new_email, new_email, True)
    assert after.national_id == account.national_id  # the attributes survived the update
    assert await keycloak.check_password(new_email, PASSWORD)
    assert not await keycloak.check_password(account.email, PASSWORD)
    async with account_sessions() as session:
        profile = await session.get(Profile, subject)
    assert profile is not None
    assert profile.email == new_email
    # The link works once.
    with pytest.raises(ServiceError) as reused:
        await servicer.ConfirmEmailChange(
            pb.ConfirmEmailChangeRequest(token=_token(link)), NO_CONTEXT
        )
    assert reused.value.reason == "EMAIL_CHANGE_TOKEN_INVALID"


async def test_an_expired_or_unknown_email_change_token_is_refused_and_changes_nothing(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    account = await register_and_sign_in(servicer, people)
    subject = account.subject
    new_email = people.email()
    since = time.time()
    await servicer.RequestEmailChange(pb.RequestEmailChangeRequest(new_email=new_email), NO_CONTEXT)
    mail = await newest_mail(mail_dir, new_email, since=since)
    [link] = [link for link in mail_links(mail) if "confirm-email" in link]
    async with account_sessions() as session, session.begin():
        await session.execute(
            update(EmailChangeRequest)
            .where(EmailChangeRequest.subject == subject)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    for token in (_token(link), "no-such-token"):
        with pytest.raises(ServiceError) as refused:
            await servicer.ConfirmEmailChange(pb.ConfirmEmailChangeRequest(token=token), NO_CONTEXT)
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.reason == "EMAIL_CHANGE_TOKEN_INVALID"

    user = await keycloak.find_user(subject)
    assert user is not None
    assert user.email == account.email


async def test_an_email_of_another_account_is_refused(
    servicer: AccountServicer, people: People
) -> None:
    other = await register_and_sign_in(servicer, people)
    await register_and_sign_in(servicer, people)

    with pytest.raises(ServiceError) as refused:
        await servicer.RequestEmailChange(
            pb.RequestEmailChangeRequest(new_email=other.email), NO_CONTEXT
        )

    assert refused.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert refused.value.reason == "EMAIL_TAKEN"
    assert [error.field for error in refused.value.field_errors] == ["new_email"]


async def test_sign_ins_list_the_callers_keycloak_events_newest_first(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    keycloak_admin: KeycloakAdmin,
    people: People,
) -> None:
    account = await register_and_sign_in(servicer, people)
    mark_email_verified(keycloak_admin, account.subject)
    assert not await keycloak.check_password(account.email, "wrong-password")
    assert await keycloak.check_password(account.email, PASSWORD)

    reply = await servicer.ListSignIns(pb.ListSignInsRequest(limit=10), NO_CONTEXT)

    types = [sign_in.type for sign_in in reply.sign_ins]
    assert "LOGIN" in types
    assert "LOGIN_ERROR" in types
    assert types.index("LOGIN") < types.index("LOGIN_ERROR")
    times = [sign_in.occurred_at.ToDatetime() for sign_in in reply.sign_ins]
    assert times == sorted(times, reverse=True)
    assert all(sign_in.client == "guichet-identity" for sign_in in reply.sign_ins[:2])


async def test_export_holds_the_account_the_person_and_the_sign_ins(
    servicer: AccountServicer, people: People
) -> None:
    account = await register_and_sign_in(servicer, people)

    reply = await servicer.ExportIdentity(pb.ExportIdentityRequest(), NO_CONTEXT)

    document = json.loads(reply.document)
    assert document["account"]["email"] == account.email
    assert document["account"]["national_id"] == account.national_id
    assert account.national_id in json.dumps(document["person"])
    assert isinstance(document["sign_ins"], list)
