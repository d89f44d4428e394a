"""Profile rules: a person's own identity, address, contact data and preferences.

Also what the account lifecycle needs of identity's data (`create_profile` at registration,
`change_email`, `erase_person` at deletion, `export_person` for F13); callers own the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import grpc
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_identity.profile import repository
from guichet_identity.profile.fields import (
    Address,
    Language,
    check_email,
    check_language,
    check_name,
    check_national_id,
)
from guichet_identity.profile.models import Preferences, Profile
from guichet_identity.relations import repository as relation_repository
from guichet_identity.relations.models import ActOnBehalf
from guichet_identity.spaces import repository as space_repository
from guichet_identity.spaces.roles import CollaboratorRole
from guichet_kit.errors import FieldError, ServiceError, invalid_argument, not_found


@dataclass(frozen=True)
class ProfileChanges:
    """A checked UpdateProfile: it replaces names, phone and address as a whole."""

    first_name: str
    last_name: str
    phone: str | None
    address: Address


@dataclass(frozen=True)
class PreferenceChoice:
    email_notifications: bool
    sms_notifications: bool
    language: Language
    edelivery_subscribed: bool


def profile_not_found() -> ServiceError:
    return not_found("PROFILE_NOT_FOUND", "there is no profile for this account")


def national_id_taken() -> ServiceError:
    return ServiceError(
        grpc.StatusCode.ALREADY_EXISTS,
        "NATIONAL_ID_TAKEN",
        "an account already exists for this national identifier",
        [FieldError("national_id", "taken", "An account already exists for this identifier.")],
    )


async def find_profile(session: AsyncSession, subject: str) -> Profile | None:
    return await repository.find_by_subject(session, subject)


async def own_profile(session: AsyncSession, subject: str) -> Profile:
    profile = await repository.find_by_subject(session, subject)
    if profile is None:
        raise profile_not_found()
    return profile


async def create_profile(
    session: AsyncSession,
    *,
    subject: str,
    national_id: str,
    email: str,
    first_name: str,
    last_name: str,
    language: str,
) -> Profile:
    """The profile of a newly registered account, with default preferences."""
    errors: list[FieldError] = []
    identifier = check_national_id("national_id", national_id, errors)
    clean_email = check_email("email", email, errors)
    first = check_name("first_name", first_name, errors)
    last = check_name("last_name", last_name, errors)
    chosen = check_language("language", language, errors)
    if errors or identifier is None:
        raise invalid_argument("INVALID_PROFILE", "the profile is invalid", errors)
    if await repository.find_by_national_id(session, identifier.value) is not None:
        raise national_id_taken()
    now = datetime.now(UTC)
    profile = Profile(
        subject=subject,
        national_id=identifier.value,
        first_name=first,
        last_name=last,
        birth_date=identifier.birth_date,
        email=clean_email,
        phone=None,
        created_at=now,
        updated_at=now,
        preferences=Preferences(
            email_notifications=True,
            sms_notifications=False,
            language=chosen.value,
            edelivery_subscribed=False,
            updated_at=now,
        ),
    )
    try:
        # A savepoint: a concurrent registration of the same identifier loses cleanly.
        async with session.begin_nested():
            session.add(profile)
    except IntegrityError as error:
        raise national_id_taken() from error
    return profile


async def change_email(session: AsyncSession, subject: str, email: str) -> None:
    """Keep the profile's copy of the login e-mail in step with a confirmed change."""
    errors: list[FieldError] = []
    clean = check_email("email", email, errors)
    if errors:
        raise invalid_argument("INVALID_EMAIL", "the e-mail address is invalid", errors)
    profile = await own_profile(session, subject)
    profile.email = clean
    profile.updated_at = datetime.now(UTC)


async def update_profile(session: AsyncSession, subject: str, changes: ProfileChanges) -> Profile:
    profile = await repository.find_by_subject(session, subject, with_preferences=True)
    if profile is None:
        raise profile_not_found()
    profile.first_name = changes.first_name
    profile.last_name = changes.last_name
    profile.phone = changes.phone
    profile.street = changes.address.street
    profile.house_number = changes.address.house_number
    profile.postal_code = changes.address.postal_code
    profile.locality = changes.address.locality
    profile.country = changes.address.country
    profile.updated_at = datetime.now(UTC)
    if changes.phone is None and profile.preferences.sms_notifications:
        # No number, no SMS: the choice would otherwise silently do nothing.
        profile.preferences.sms_notifications = False
        profile.preferences.updated_at = profile.updated_at
    await session.flush()
    return profile


async def own_preferences(session: AsyncSession, subject: str) -> Preferences:
    preferences = await repository.find_preferences(session, subject)
    if preferences is None:
        raise profile_not_found()
    return preferences


async def update_preferences(
    session: AsyncSession, subject: str, choice: PreferenceChoice
) -> Preferences:
    profile = await repository.find_by_subject(session, subject, with_preferences=True)
    if profile is None:
        raise profile_not_found()
    if choice.sms_notifications and profile.phone is None:
        raise invalid_argument(
            "PHONE_REQUIRED",
            "SMS notifications need a phone number in the profile",
            [
                FieldError(
                    "preferences.sms_notifications",
                    "phone_required",
                    "Add a phone number to your profile first.",
                )
            ],
        )
    preferences = profile.preferences
    preferences.email_notifications = choice.email_notifications
    preferences.sms_notifications = choice.sms_notifications
    preferences.language = choice.language.value
    preferences.edelivery_subscribed = choice.edelivery_subscribed
    preferences.updated_at = datetime.now(UTC)
    await session.flush()
    return preferences


async def erase_person(session: AsyncSession, subject: str) -> None:
    """Delete everything identity holds of the person (F8); nothing to do if already gone.

    Relations on either side, their collaborator rows (a space left with nobody goes too; one
    left without an administrator gets its longest-standing member as administrator, never a
    reader),
    the audit of acts on their behalf, the preferences and the profile. Acts they did for others
    stay in the others' audit, unlinked from the deleted login.
    """
    profile = await repository.find_by_subject(session, subject)
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
        elif all(c.role != CollaboratorRole.ADMINISTRATOR for c in space.collaborators):
            # Hand the space to its longest-standing member; a reader was never trusted with
            # changes, so a space of readers waits for an operator instead.
            members = [c for c in space.collaborators if c.role == CollaboratorRole.MEMBER]
            if members:
                members[0].role = CollaboratorRole.ADMINISTRATOR.value
    await session.flush()
    await space_repository.delete_spaces(session, emptied)
    await session.delete(profile)  # preferences go with it (ON DELETE CASCADE)
    await session.flush()


def _instant(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _day(value: date) -> str:
    return value.isoformat()


async def export_person(session: AsyncSession, subject: str) -> dict[str, object]:
    """Everything identity holds of the person, JSON-ready (F13)."""
    profile = await repository.find_by_subject(session, subject, with_preferences=True)
    if profile is None:
        return {"subject": subject, "profile": None}
    national_id = profile.national_id
    preferences = profile.preferences
    relations = await relation_repository.list_involving(session, national_id)
    spaces = await space_repository.list_for(session, national_id)
    acts_for_me = await relation_repository.list_acts(session, profile.person, limit=100_000)
    acts_by_me = await relation_repository.list_acts_by_actor(session, subject)
    return {
        "subject": subject,
        "profile": {
            "national_id": national_id,
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "birth_date": _day(profile.birth_date),
            "email": profile.email,
            "phone": profile.phone,
            "address": {
                "street": profile.street,
                "house_number": profile.house_number,
                "postal_code": profile.postal_code,
                "locality": profile.locality,
                "country": profile.country,
            },
            "created_at": _instant(profile.created_at),
            "updated_at": _instant(profile.updated_at),
        },
        "preferences": {
            "email_notifications": preferences.email_notifications,
            "sms_notifications": preferences.sms_notifications,
            "language": preferences.language,
            "edelivery_subscribed": preferences.edelivery_subscribed,
        },
        "relations": [
            {
                "id": str(relation.id),
                "kind": relation.kind,
                "my_side": "actor" if relation.actor_national_id == national_id else "subject",
                "actor_national_id": relation.actor_national_id,
                "subject_national_id": relation.subject_national_id,
                "subject_name": relation.subject_name,
                "rights": list(relation.rights),
                "expires_at": _instant(relation.expires_at),
                "created_at": _instant(relation.created_at),
                "revoked_at": _instant(relation.revoked_at),
            }
            for relation in relations
        ],
        "spaces": [
            {
                "id": str(space.id),
                "company_name": space.company_name,
                "registry_number": space.registry_number,
                "role": collaborator.role,
                "added_at": _instant(collaborator.added_at),
            }
            for space in spaces
            for collaborator in space.collaborators
            if collaborator.national_id == national_id
        ],
        "acts_on_my_behalf": [_act(act) for act in acts_for_me],
        "acts_for_others": [_act(act) for act in acts_by_me],
    }


def _act(act: ActOnBehalf) -> dict[str, object]:
    return {
        "occurred_at": _instant(act.occurred_at),
        "actor_national_id": act.actor_national_id,
        "actor_name": act.actor_name,
        "acting_context": act.acting_context,
        "owner": act.owner,
        "right": act.right,
        "act": act.act,
    }
