"""Account rules: registration, password, login e-mail change, deletion and purge confirmations.

Keycloak holds the login (e-mail, password, sign-in events); identity's database holds the
person. Where one operation touches both, Keycloak is changed in a way that can be undone, and
undone when the database part fails, so no orphan is left on either side.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events.v1 import identity_pb2 as events_pb2
from guichet_identity.account import events, repository
from guichet_identity.account.keycloak_admin import KeycloakAccounts, KeycloakUser, SignInEvent
from guichet_identity.account.models import AccountDeletion, EmailChangeRequest
from guichet_identity.profile import repository as profile_repository
from guichet_identity.profile import service as profiles
from guichet_kit.errors import FieldError, ServiceError, invalid_argument
from guichet_kit.events import PoisonMessage
from guichet_kit.outbox import add_event

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Registration:
    national_id: str
    email: str
    password: str
    first_name: str
    last_name: str
    language: str


class EmailChangeTokenInvalid(LookupError):
    """Unknown, expired or already used."""


def email_taken(field: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.ALREADY_EXISTS,
        "EMAIL_TAKEN",
        "an account already uses this e-mail address",
        [FieldError(field, "taken", "An account already uses this e-mail address.")],
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
    user = await accounts.find_user_by_email(email)
    if user is None or not user.enabled:
        log.info("account.password_reset_unknown")
        return
    try:
        await accounts.send_password_reset(user.id)
    except ServiceError as error:
        # Reported to nobody but the logs: an error here would tell that the account exists.
        log.error("account.password_reset_not_sent", subject=user.id, error=str(error))


async def login_of(accounts: KeycloakAccounts, subject: str) -> KeycloakUser:
    user = await accounts.find_user(subject)
    if user is None:
        raise ServiceError(grpc.StatusCode.NOT_FOUND, "ACCOUNT_NOT_FOUND", "no such account")
    return user


async def change_password(
    accounts: KeycloakAccounts, subject: str, current_password: str, new_password: str
) -> None:
    user = await login_of(accounts, subject)
    if not await accounts.check_password(user.username, current_password):
        raise invalid_argument(
            "CURRENT_PASSWORD_WRONG",
            "the current password is wrong",
            [FieldError("current_password", "wrong", "The current password is wrong.")],
        )
    await accounts.set_password(subject, new_password, field="new_password")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class EmailChange:
    request: EmailChangeRequest
    token: str
    language: str | None


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
        raise invalid_argument(
            "EMAIL_UNCHANGED",
            "this is already the account's e-mail address",
            [FieldError("new_email", "unchanged", "This is already your e-mail address.")],
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
    return EmailChange(request, token, preferences.language if preferences else None)


async def confirm_email_change(
    session: AsyncSession, accounts: KeycloakAccounts, token: str
) -> EmailChangeRequest:
    request = await repository.find_email_change(session, _token_hash(token))
    now = datetime.now(UTC)
    if request is None or request.confirmed_at is not None or request.expires_at <= now:
        raise EmailChangeTokenInvalid()
    request.confirmed_at = now
    await profiles.change_email(session, request.subject, request.new_email)
    await session.flush()
    # Last: if Keycloak refuses (the address was taken meanwhile), the transaction rolls back.
    try:
        await accounts.change_email(request.subject, request.new_email)
    except ServiceError as error:
        if error.reason == "EMAIL_TAKEN":
            raise email_taken("token") from error
        raise
    return request


async def sign_ins(accounts: KeycloakAccounts, subject: str, limit: int) -> list[SignInEvent]:
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
    session: AsyncSession, accounts: KeycloakAccounts, subject: str, sign_in_limit: int
) -> dict[str, object]:
    user = await login_of(accounts, subject)
    pending = await repository.pending_email_changes(session, subject, datetime.now(UTC))
    activity = await accounts.sign_ins(subject, sign_in_limit)
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


def check_deletion_confirmation(user: KeycloakUser, confirm_email: str) -> None:
    if not confirm_email.strip() or confirm_email.strip().lower() != user.email.lower():
        raise invalid_argument(
            "CONFIRMATION_MISMATCH",
            "type the account's e-mail address to confirm the deletion",
            [FieldError("confirm_email", "mismatch", "This is not your account's e-mail address.")],
        )


async def delete_account(
    session: AsyncSession, user: KeycloakUser, national_id: str, purge_services: list[str]
) -> AccountDeletion:
    """Erase the person and announce the deletion, in the caller's transaction.

    The Keycloak user is deleted by the caller after the commit: deleting it first would leave a
    person without a login if the transaction then failed.
    """
    profile = await profiles.find_profile(session, user.id)
    national_id = profile.national_id if profile is not None else national_id
    await profiles.erase_person(session, user.id)
    await repository.drop_email_changes(session, user.id)
    now = datetime.now(UTC)
    deletion = AccountDeletion(
        id=uuid.uuid4(),
        subject=user.id,
        requested_at=now,
        awaited_services=list(purge_services),
        completed_at=None if purge_services else now,
        confirmations=[],
    )
    session.add(deletion)
    await session.flush()
    add_event(session, events.ACCOUNT_DELETED, events.account_deleted(deletion, national_id))
    return deletion


async def delete_login(accounts: KeycloakAccounts, deletion: AccountDeletion) -> None:
    """After the commit. A failure is logged for an operator; the person is already erased."""
    try:
        await accounts.delete_user(deletion.subject)
    except ServiceError as error:
        log.error(
            "account.login_not_deleted",
            subject=deletion.subject,
            deletion_id=str(deletion.id),
            error=str(error),
        )


class DeletionNotFound(LookupError):
    pass


async def find_deletion(session: AsyncSession, deletion_id: uuid.UUID) -> AccountDeletion:
    deletion = await repository.find_deletion(session, deletion_id)
    if deletion is None:
        raise DeletionNotFound(str(deletion_id))
    return deletion


async def record_purge_confirmation(
    session: AsyncSession, service: str, event: events_pb2.AccountPurged
) -> None:
    """`service` confirmed it holds nothing more of the deleted account."""
    try:
        deletion_id = uuid.UUID(event.deletion_id)
    except ValueError as error:
        raise PoisonMessage(f"deletion id {event.deletion_id!r} is not a UUID") from error
    deletion = await repository.find_deletion(session, deletion_id, for_update=True)
    if deletion is None:
        raise PoisonMessage(f"no account deletion {deletion_id}")
    if event.service and event.service != service:
        log.warning("account.purge_service_mismatch", stream_of=service, says=event.service)
    if service not in deletion.awaited_services:
        log.info("account.purge_not_awaited", deletion_id=str(deletion_id), service=service)
        return
    added = await repository.add_confirmation(
        session, deletion_id, service, uuid.UUID(event.event_id)
    )
    confirmed = {*deletion.confirmed_services, service}
    if added and deletion.completed_at is None and confirmed >= set(deletion.awaited_services):
        deletion.completed_at = datetime.now(UTC)
        log.info("account.purge_complete", deletion_id=str(deletion_id))


def purge_confirmation_handler(
    service: str,
) -> Callable[[AsyncSession, events_pb2.AccountPurged], Awaitable[None]]:
    async def handle(session: AsyncSession, event: events_pb2.AccountPurged) -> None:
        await record_purge_confirmation(session, service, event)

    return handle
