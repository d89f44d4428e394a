"""Deleting an account (F8): the whole protocol, its compensation, and the purge confirmations.

1. The caller confirms by typing the account's e-mail address again.
2. The login is disabled in Keycloak: no sign-in from here on, whatever happens next.
3. One transaction erases everything identity holds of the person (relations on both sides, the
   audit of acts on their behalf, their collaborations with each space's succession, pending
   e-mail changes, preferences, profile), records the deletion with the services whose purge it
   awaits, and writes `identity.account.deleted.v1` to the outbox.
   If it fails, the login is enabled again (compensation) and the account is as it was.
4. After the commit the login is deleted, and the deletion records when Keycloak confirmed it
   (a login already gone counts). If that fails, the login stays disabled and the person is
   already erased; the worker's sweep (`remove_pending_logins`) retries, on start and then
   periodically, until Keycloak confirms.
5. Each awaited service confirms its purge with `<service>.account.purged.v1`; the deletion is
   complete when all have.

Every process that verifies tokens follows `identity.account.deleted.v1` and from then on refuses
the account's still-unexpired tokens (`guichet_kit.revocation`), so the person cannot follow the
purge themselves: DeleteAccount's answer is final for them, the purge's progress is operators'.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import identity_pb2 as events_pb2
from guichet_identity.account import events, repository
from guichet_identity.account.keycloak_admin import KeycloakAccounts, KeycloakUser
from guichet_identity.account.models import AccountDeletion
from guichet_identity.account.service import login_of
from guichet_identity.profile import repository as profile_repository
from guichet_identity.relations import repository as relation_repository
from guichet_identity.spaces import repository as space_repository
from guichet_identity.spaces.models import Space
from guichet_identity.spaces.roles import CollaboratorRole
from guichet_kit.db import transaction
from guichet_kit.domain import DomainError, FieldError, InvalidInput, NotFound, Unavailable
from guichet_kit.events import PoisonMessage
from guichet_kit.i18n import Catalog
from guichet_kit.outbox import add_event

log = structlog.get_logger(__name__)
_ = Catalog("guichet_identity")


def check_confirmation(user: KeycloakUser, confirm_email: str) -> None:
    typed = confirm_email.strip()
    if not typed or typed.lower() != user.email.lower():
        raise InvalidInput(
            "CONFIRMATION_MISMATCH",
            _("Type the account's e-mail address to confirm the deletion."),
            [
                FieldError(
                    "confirm_email", "mismatch", _("This is not your account's e-mail address.")
                )
            ],
        )


async def delete_account(
    sessions: async_sessionmaker[AsyncSession],
    accounts: KeycloakAccounts,
    subject: str,
    confirm_email: str,
    purge_services: list[str],
    *,
    token_national_id: str = "",
) -> AccountDeletion:
    """The whole deletion of the account `subject` (steps 1 to 4 above)."""
    user = await login_of(accounts, subject)
    check_confirmation(user, confirm_email)
    await accounts.set_enabled(user.id, False)
    try:
        async with transaction(sessions) as session:
            deletion = await _erase_and_announce(
                session, user, user.national_id or token_national_id, purge_services
            )
    except BaseException:
        await _enable_again(accounts, user.id)
        raise
    with contextlib.suppress(DomainError):  # logged; the worker's sweep retries
        await remove_login(sessions, accounts, deletion.id, deletion.subject)
    return deletion


async def _enable_again(accounts: KeycloakAccounts, user_id: str) -> None:
    try:
        await accounts.set_enabled(user_id, True)
    except DomainError as error:
        # The deletion failed and so did its compensation: the account is intact but cannot
        # sign in until an operator enables it.
        log.error("account.login_left_disabled", subject=user_id, reason=error.reason)


async def _erase_and_announce(
    session: AsyncSession, user: KeycloakUser, national_id: str, purge_services: list[str]
) -> AccountDeletion:
    profile = await profile_repository.find_by_subject(session, user.id)
    national_id = profile.national_id if profile is not None else national_id
    await erase_person(session, user.id)
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


async def remove_login(
    sessions: async_sessionmaker[AsyncSession],
    accounts: KeycloakAccounts,
    deletion_id: uuid.UUID,
    subject: str,
) -> bool:
    """Delete the deleted account's login and record that Keycloak confirmed it. Keycloak's
    refusal is logged and raised; True once recorded, False (logged) when only the record failed.
    Idempotent: a login already gone counts as removed."""
    try:
        await accounts.delete_user(subject)
    except DomainError as error:
        log.error(
            "account.login_not_removed",
            subject=subject,
            deletion_id=str(deletion_id),
            reason=error.reason,
        )
        raise
    try:
        async with transaction(sessions) as session:
            await repository.mark_login_removed(session, deletion_id, datetime.now(UTC))
    except Exception:
        # The login is gone; the next sweep finds it gone and records it then.
        log.exception("account.login_removal_not_recorded", deletion_id=str(deletion_id))
        return False
    return True


async def sweep_pending_logins(
    sessions: async_sessionmaker[AsyncSession], accounts: KeycloakAccounts, *, batch: int = 100
) -> int:
    """One pass over the deletions whose login removal is pending; returns how many it removed.
    Stops at an outage (the next pass retries); a login refused for another reason is skipped."""
    async with sessions() as session:
        pending = await repository.pending_login_removals(session, batch)
    removed = 0
    for deletion_id, subject in pending:
        try:
            removed += await remove_login(sessions, accounts, deletion_id, subject)
        except Unavailable:
            break
        except DomainError:
            continue
    if pending:
        log.info("account.login_removals_swept", pending=len(pending), removed=removed)
    return removed


async def remove_pending_logins(
    sessions: async_sessionmaker[AsyncSession],
    accounts: KeycloakAccounts,
    stop: asyncio.Event,
    *,
    every: float,
) -> None:
    """The worker's sweep: on start, then every `every` seconds, until `stop`."""
    while not stop.is_set():
        try:
            await sweep_pending_logins(sessions, accounts)
        except Exception:
            # The database is unreachable, say: the next pass tries again.
            log.exception("account.login_sweep_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def erase_person(session: AsyncSession, subject: str) -> None:
    """Delete everything identity holds of the person; nothing to do if already gone.

    Relations on either side, their collaborations (see `_succession`), the audit of acts on
    their behalf, the preferences and the profile. Acts they did for others stay in the others'
    audit, unlinked from the deleted login.
    """
    profile = await profile_repository.find_by_subject(session, subject)
    if profile is None:
        return
    national_id = profile.national_id
    await relation_repository.delete_involving(session, national_id)
    await relation_repository.forget_acts_of(session, profile.person, subject)
    emptied = []
    for space in await space_repository.list_for(session, national_id):
        space.collaborators = [c for c in space.collaborators if c.national_id != national_id]
        if not space.collaborators:
            emptied.append(space.id)
        else:
            _succession(space)
    await session.flush()
    await space_repository.delete_spaces(session, emptied)
    await session.delete(profile)  # preferences go with it (ON DELETE CASCADE)
    await session.flush()


def _succession(space: Space) -> None:
    """A space left without an administrator goes to its longest-standing member; a reader was
    never trusted with changes, so a space of readers waits for an operator instead."""
    if any(c.role == CollaboratorRole.ADMINISTRATOR for c in space.collaborators):
        return
    members = [c for c in space.collaborators if c.role == CollaboratorRole.MEMBER]
    if members:
        members[0].role = CollaboratorRole.ADMINISTRATOR.value


def deletion_not_found() -> NotFound:
    return NotFound("DELETION_NOT_FOUND", _("There is no such account deletion of yours."))


async def deletion_of(
    session: AsyncSession, deletion_id: uuid.UUID, subject: str
) -> AccountDeletion:
    """The deletion, only for the account it deleted; another's is not found, as a missing one."""
    deletion = await repository.find_deletion(session, deletion_id)
    if deletion is None or deletion.subject != subject:
        raise deletion_not_found()
    return deletion


async def record_purge_confirmation(
    session: AsyncSession, service: str, event: events_pb2.AccountPurged
) -> None:
    """`service` confirmed it holds nothing more of the deleted account (step 5)."""
    try:
        deletion_id = uuid.UUID(event.deletion_id)
    except ValueError as error:
        raise PoisonMessage(f"deletion id {event.deletion_id[:64]!r} is not a UUID") from error
    deletion = await repository.find_deletion(session, deletion_id, for_update=True)
    if deletion is None:
        raise PoisonMessage(f"no account deletion {deletion_id}")
    if event.service and event.service != service:
        log.warning("account.purge_service_mismatch", stream_of=service, says=event.service[:64])
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
