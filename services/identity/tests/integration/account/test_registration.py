"""Register (F1) and RequestPasswordReset (F5) against the real Keycloak, database and mail sink."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.account import service
from guichet_identity.account.grpc import AccountServicer
from guichet_identity.account.keycloak_admin import KeycloakAccounts
from guichet_identity.profile.models import Profile
from guichet_kit.errors import ServiceError
from guichet_testkit.mail import mail_links, newest_mail

from .conftest import People

NO_CONTEXT: Any = None


async def _profile_count(sessions: async_sessionmaker[AsyncSession], **where: str) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Profile)
        for column, value in where.items():
            query = query.where(getattr(Profile, column) == value)
        return int(await session.scalar(query) or 0)


async def test_register_creates_the_login_and_the_profile_and_sends_the_verification_mail(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    request = people.registration(email=people.email().upper())
    since = time.time()

    reply = await servicer.Register(request, NO_CONTEXT)

    user = await keycloak.find_user(reply.subject)
    assert user is not None
    assert user.email == request.email.lower()
    assert user.username == request.email.lower()
    assert (user.first_name, user.last_name) == ("Léa", "Muller")
    assert user.national_id == request.national_id
    assert user.enabled and not user.email_verified
    assert await keycloak.check_password(user.username, request.password)
    async with account_sessions() as session:
        profile = await session.get(Profile, reply.subject)
    assert profile is not None
    assert profile.national_id == request.national_id
    assert profile.email == request.email.lower()
    mail = await newest_mail(mail_dir, request.email.lower(), since=since)
    assert any("action-token" in link for link in mail_links(mail))


async def test_every_bad_field_is_refused_at_once_and_nothing_is_created(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
) -> None:
    # A valid e-mail among bad fields: it must not reach Keycloak either.
    address = people.email()
    request = pb.RegisterRequest(
        national_id="1234567890123",
        email=address,
        password="",
        first_name="   ",
        last_name="x" * 101,
        language="it",
    )
    with pytest.raises(ServiceError) as refused:
        await servicer.Register(request, NO_CONTEXT)

    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.reason == "INVALID_REGISTRATION"
    assert {error.field for error in refused.value.field_errors} == {
        "national_id",
        "password",
        "first_name",
        "last_name",
        "language",
    }
    assert await keycloak.find_user_by_email(address) is None
    assert await _profile_count(account_sessions, email=address) == 0


@pytest.mark.parametrize(
    ("field", "name"), [("first_name", "Anne\u202eeciL"), ("last_name", "Muller\u001b[31m")]
)
async def test_a_name_with_control_or_bidi_characters_is_refused_before_keycloak(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
    field: str,
    name: str,
) -> None:
    request = people.registration(**{field: name})

    with pytest.raises(ServiceError) as refused:
        await servicer.Register(request, NO_CONTEXT)

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_REGISTRATION",
    )
    assert [(e.field, e.reason) for e in refused.value.field_errors] == [
        (field, "control_character")
    ]
    assert await keycloak.find_user_by_email(request.email) is None
    assert await _profile_count(account_sessions, national_id=request.national_id) == 0


async def test_a_malformed_email_is_refused(servicer: AccountServicer, people: People) -> None:
    with pytest.raises(ServiceError) as refused:
        await servicer.Register(people.registration(email="not-an-address"), NO_CONTEXT)
    assert [error.field for error in refused.value.field_errors] == ["email"]


async def test_a_registered_national_id_is_refused_before_keycloak_is_touched(
    servicer: AccountServicer, keycloak: KeycloakAccounts, people: People
) -> None:
    first = people.registration()
    await servicer.Register(first, NO_CONTEXT)
    second = people.registration(national_id=first.national_id)

    with pytest.raises(ServiceError) as refused:
        await servicer.Register(second, NO_CONTEXT)

    assert refused.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert refused.value.reason == "NATIONAL_ID_TAKEN"
    assert [error.field for error in refused.value.field_errors] == ["national_id"]
    assert await keycloak.find_user_by_email(second.email) is None


async def test_an_email_already_used_is_refused_and_no_profile_is_made(
    servicer: AccountServicer,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = people.registration()
    await servicer.Register(first, NO_CONTEXT)
    second = people.registration(email=first.email)

    with pytest.raises(ServiceError) as refused:
        await servicer.Register(second, NO_CONTEXT)

    assert refused.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert refused.value.reason == "EMAIL_TAKEN"
    assert [error.field for error in refused.value.field_errors] == ["email"]
    assert await _profile_count(account_sessions, national_id=second.national_id) == 0


async def test_a_weak_password_is_refused_by_the_policy_and_leaves_no_login(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    account_sessions: async_sessionmaker[AsyncSession],
) -> None:
    request = people.registration(password="short")

    with pytest.raises(ServiceError) as refused:
        await servicer.Register(request, NO_CONTEXT)

    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.reason == "PASSWORD_POLICY"
    [error] = refused.value.field_errors
    assert error.field == "password"
    assert error.message  # Keycloak's own words, e.g. "Invalid password: minimum length 12."
    assert await keycloak.find_user_by_email(request.email) is None
    assert await _profile_count(account_sessions, national_id=request.national_id) == 0


async def test_the_login_is_deleted_again_when_the_profile_cannot_be_stored(
    servicer: AccountServicer,
    keycloak: KeycloakAccounts,
    people: People,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def database_fails(*args: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(service, "create_person", database_fails)
    request = people.registration()

    with pytest.raises(RuntimeError):
        await servicer.Register(request, NO_CONTEXT)

    assert await keycloak.find_user_by_email(request.email) is None


async def test_password_reset_mails_a_link_to_a_known_address_and_answers_the_same_otherwise(
    servicer: AccountServicer, people: People, mail_dir: Path
) -> None:
    request = people.registration()
    await servicer.Register(request, NO_CONTEXT)
    since = time.time() + 0.5  # after the verification mail

    known = await servicer.RequestPasswordReset(
        pb.RequestPasswordResetRequest(email=request.email), NO_CONTEXT
    )
    unknown = await servicer.RequestPasswordReset(
        pb.RequestPasswordResetRequest(email=people.email()), NO_CONTEXT
    )

    assert known == unknown == pb.RequestPasswordResetResponse()
    mail = await newest_mail(mail_dir, request.email, since=since)
    assert any("action-token" in link for link in mail_links(mail))
