"""Account rules: registration, password, login e-mail change, sign-ins and export (the deletion
protocol is `guichet_identity.account.deletion`).

Keycloak holds the login (e-mail, password, sign-in events); identity's database holds the
person. Where one operation touches both, Keycloak is changed in a way that can be undone, and
undone when the database part fails, so no orphan is left on either side.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_identity.account import repository
from guichet_identity.account.keycloak_admin import (
    KeycloakAccounts,
    KeycloakUser,
    SignInEvent,
    email_taken,
)
from guichet_identity.account.models import EmailChangeRequest
from guichet_identity.profile import repository as profile_repository
from guichet_identity.profile import service as profiles
from guichet_kit.db import transaction
from guichet_kit.domain import DomainError, FieldError, InvalidInput, NotFound
from guichet_kit.i18n import DEFAULT_LANGUAGE, Catalog, Language, parse_language

log = structlog.get_logger(__name__)
_ = Catalog("guichet_identity")

DEFAULT_SIGN_INS = 20
MAX_SIGN_INS = 100
# Sign-ins in an export: Keycloak keeps events only for the realm's retention anyway.
EXPORT_SIGN_INS = 1000


@dataclass(frozen=True)
class Registration:
    national_id: str
    email: str
    password: str
    first_name: str
    last_name: str
    language: str


def email_change_token_invalid() -> InvalidInput:
    """Unknown, expired or already used: the same answer, so tokens cannot be probed."""
    return InvalidInput(
        "EMAIL_CHANGE_TOKEN_INVALID",
        _("This confirmation link is unknown, expired or already used."),
        [FieldError("token", "invalid", _("Ask for the e-mail change again."))],
    )


async def _delete_login(accounts: KeycloakAccounts, subject: str, why: str) -> None:
    # Shielded: a cancelled call (deadline) must still not leave the Keycloak user behind.
    try:
        await asyncio.shield(accounts.delete_user(subject))
    except Exception:
        log.exception("account.orphan_login_left", subject=subject, why=why)


async def check_national_id_free(session: AsyncSession, national_id: str) -> None:
    if await profile_repository.find_by_national_id(session, national_id) is not None:
        raise profiles.national_id_taken()


@asynccontextmanager
async def new_login(accounts: KeycloakAccounts, registration: Registration) -> AsyncIterator[str]:
    """The Keycloak user of a registration, deleted again if the block (the database) fails."""
    subject = await accounts.create_user(
        email=registration.email,
        first_name=registration.first_name,
        last_name=registration.last_name,
        national_id=registration.national_id,
        language=registration.language,
        password=registration.password,
    )
    try:
        yield subject
    except BaseException:
        await _delete_login(accounts, subject, "registration failed after the login was created")
        raise


async def register(
    sessions: async_sessionmaker[AsyncSession],
    accounts: KeycloakAccounts,
    registration: Registration,
) -> str:
    """The login in Keycloak and the person in the database, both or neither; then the
    verification mail. Returns the new account's subject."""
    async with transaction(sessions) as session:
        # Before Keycloak is touched; the unique constraint still guards a race.
        await check_national_id_free(session, registration.national_id)
    async with new_login(accounts, registration) as subject, transaction(sessions) as session:
        await create_person(session, subject, registration)
    try:
        await accounts.send_verification_email(subject)
    except DomainError as error:
        # The account stands; Keycloak's login page offers to send the mail again.
        log.error("account.verification_mail_not_sent", subject=subject, reason=error.reason)
    return subject


async def create_person(session: AsyncSession, subject: str, registration: Registration) -> None:
    await profiles.create_profile(
        session,
        subject=subject,
        national_id=registration.national_id,
        email=registration.email,
        first_name=registration.first_name,
        last_name=registration.last_name,
        language=registration.language,
    )
    # Constraint violations (a race on the national identifier) surface here, inside the block.
    await session.flush()


async def request_password_reset(accounts: KeycloakAccounts, email: str) -> None:
    """Keycloak e-mails a reset link if the account exists; the caller learns nothing either way."""
    try:
        user = await accounts.find_user_by_email(email)
    except DomainError as error:
        # Run after the answer: nobody is waiting for this refusal but the logs.
        log.error("account.password_reset_not_sent", reason=error.reason)
        return
    if user is None or not user.enabled:
        log.info("account.password_reset_unknown")
        return
    try:
        await accounts.send_password_reset(user.id)
    except DomainError as error:
        # Reported to nobody but the logs: an error here would tell that the account exists.
        log.error("account.password_reset_not_sent", subject=user.id, reason=error.reason)


async def login_of(accounts: KeycloakAccounts, subject: str) -> KeycloakUser:
    user = await accounts.find_user(subject)
    if user is None:
        raise NotFound("ACCOUNT_NOT_FOUND", _("There is no such account."))
    return user


async def change_password(
    accounts: KeycloakAccounts, subject: str, current_password: str, new_password: str
) -> None:
    user = await login_of(accounts, subject)
    if not await accounts.check_password(user.username, current_password):
        raise InvalidInput(
            "CURRENT_PASSWORD_WRONG",
            _("The current password is wrong."),
            [FieldError("current_password", "wrong", _("The current password is wrong."))],
        )
    await accounts.set_password(subject, new_password, field="new_password")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class EmailChange:
    request: EmailChangeRequest
    token: str
    # The person's language, for the confirmation mail.
    language: Language


async def request_email_change(
    session: AsyncSession,
    accounts: KeycloakAccounts,
    subject: str,
    new_email: str,
    valid_for: timedelta,
) -> EmailChange:
    """Store a change waiting for confirmation; nothing changes in Keycloak yet."""
    user = await login_of(accounts, subject)
    if user.email.lower() == new_email.lower():
        raise InvalidInput(
            "EMAIL_UNCHANGED",
            _("This is already the account's e-mail address."),
            [FieldError("new_email", "unchanged", _("This is already your e-mail address."))],
        )
    other = await accounts.find_user_by_email(new_email)
    if other is not None and other.id != subject:
        raise email_taken("new_email")
    await repository.drop_pending_email_changes(session, subject)
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    request = EmailChangeRequest(
        subject=subject,
        new_email=new_email,
        token_sha256=_token_hash(token),
        requested_at=now,
        expires_at=now + valid_for,
    )
    session.add(request)
    await session.flush()
    preferences = await profile_repository.find_preferences(session, subject)
    language = parse_language(preferences.language if preferences else None)
    return EmailChange(request, token, language or DEFAULT_LANGUAGE)


async def confirm_email_change(
    sessions: async_sessionmaker[AsyncSession], accounts: KeycloakAccounts, token: str
) -> EmailChangeRequest:
    """Apply the change in Keycloak, then commit it in identity.

    Keycloak goes first because it may refuse (the address was taken meanwhile): the transaction
    then rolls back and the link still works. If the commit fails after Keycloak changed, the
    login's previous e-mail is put back, so both sides agree either way. (A process killed in
    between leaves Keycloak ahead; following the link again, still valid, completes the change.)
    """
    previous: KeycloakUser | None = None
    try:
        async with transaction(sessions) as session:
            request = await repository.find_email_change(session, _token_hash(token))
            now = datetime.now(UTC)
            if request is None or request.confirmed_at is not None or request.expires_at <= now:
                raise email_change_token_invalid()
            request.confirmed_at = now
            await profiles.change_email(session, request.subject, request.new_email)
            await session.flush()
            previous = await login_of(accounts, request.subject)
            try:
                await accounts.change_email(request.subject, request.new_email)
            except DomainError as error:
                if error.reason == "EMAIL_TAKEN":
                    raise email_taken("token") from error
                raise
    except BaseException:
        if previous is not None:
            # Also after a refusal or a timeout: the change may have been applied all the same.
            await _restore_login_email(accounts, previous)
        raise
    return request


async def _restore_login_email(accounts: KeycloakAccounts, previous: KeycloakUser) -> None:
    # Shielded: a cancelled call (deadline) must still not leave Keycloak ahead of identity.
    try:
        await asyncio.shield(
            accounts.change_email(previous.id, previous.email, verified=previous.email_verified)
        )
    except Exception:
        log.exception("account.login_email_not_restored", subject=previous.id)


async def sign_ins(accounts: KeycloakAccounts, subject: str, asked: int) -> list[SignInEvent]:
    """The newest sign-ins: `asked` of them, the default when 0 or less, never more than the
    maximum (clients show what they get; the gateway does not clamp again)."""
    limit = DEFAULT_SIGN_INS if asked <= 0 else min(asked, MAX_SIGN_INS)
    return await accounts.sign_ins(subject, limit)


def _sign_in_json(event: SignInEvent) -> dict[str, object]:
    return {
        "occurred_at": event.occurred_at.isoformat(),
        "type": event.type,
        "ip_address": event.ip_address,
        "client": event.client,
        "error": event.error,
    }


async def export_identity(
    session: AsyncSession, accounts: KeycloakAccounts, subject: str
) -> dict[str, object]:
    user = await login_of(accounts, subject)
    pending = await repository.pending_email_changes(session, subject, datetime.now(UTC))
    activity = await accounts.sign_ins(subject, EXPORT_SIGN_INS)
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "account": {
            "subject": user.id,
            "username": user.username,
            "email": user.email,
            "email_verified": user.email_verified,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "national_id": user.national_id,
        },
        "person": await profiles.export_person(session, subject),
        "pending_email_changes": [
            {
                "new_email": request.new_email,
                "requested_at": request.requested_at.isoformat(),
                "expires_at": request.expires_at.isoformat(),
            }
            for request in pending
        ],
        "sign_ins": [_sign_in_json(event) for event in activity],
    }
