"""Profile rules: a person's own identity, address, contact data and preferences.

Also what the account lifecycle needs of identity's data (`create_profile` at registration,
`change_email`, `export_person` for F13); callers own the transaction. Erasing a person is the
account-deletion protocol's (`guichet_identity.account.deletion`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_identity.profile import repository
from guichet_identity.profile.fields import Address, parse_name
from guichet_identity.profile.models import Preferences, Profile
from guichet_identity.relations import repository as relation_repository
from guichet_identity.relations.models import ActOnBehalf
from guichet_identity.spaces import repository as space_repository
from guichet_kit.domain import AlreadyExists, FieldError, FieldErrors, InvalidInput, NotFound
from guichet_kit.i18n import Catalog, Language
from guichet_kit.values import (
    InvalidValue,
    check,
    parse_email,
    parse_language_code,
    parse_national_id,
    parse_phone,
)

_ = Catalog("guichet_identity")


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


def profile_not_found() -> NotFound:
    return NotFound("PROFILE_NOT_FOUND", _("There is no profile for this account."))


def national_id_taken() -> AlreadyExists:
    return AlreadyExists(
        "NATIONAL_ID_TAKEN",
        _("An account already exists for this national identification number."),
        [
            FieldError(
                "national_id",
                "taken",
                _("An account already exists for this national identification number."),
            )
        ],
    )


def can_receive_sms(phone: str | None) -> bool:
    """Whether text messages can reach `phone` (a mobile number)."""
    if phone is None:
        return False
    try:
        parse_phone(phone, mobile=True)
    except InvalidValue:
        return False
    return True


async def find_profile(session: AsyncSession, subject: str) -> Profile | None:
    return await repository.find_by_subject(session, subject)


async def own_profile(session: AsyncSession, subject: str) -> Profile:
    profile = await repository.find_by_subject(session, subject)
    if profile is None:
        raise profile_not_found()
    return profile


async def contact_of(session: AsyncSession, national_id: str) -> Profile:
    """A person's contact data and preferences, for a platform service that notifies them."""
    errors = FieldErrors()
    identifier = check(errors, "national_id", parse_national_id, national_id)
    if errors or identifier is None:
        raise InvalidInput("VALIDATION_FAILED", _("The national id is not valid."), errors.errors)
    profile = await repository.find_by_national_id(session, identifier.value, with_preferences=True)
    if profile is None:
        raise NotFound("NO_SUCH_ACCOUNT", _("This person has no account on the platform."))
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
    errors = FieldErrors()
    identifier = check(errors, "national_id", parse_national_id, national_id)
    clean_email = check(errors, "email", parse_email, email)
    first = check(errors, "first_name", parse_name, first_name)
    last = check(errors, "last_name", parse_name, last_name)
    chosen = check(errors, "language", parse_language_code, language)
    if errors or not (identifier and clean_email and first and last and chosen):
        raise InvalidInput("INVALID_PROFILE", _("The profile has errors."), errors.errors)
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
    errors = FieldErrors()
    clean = check(errors, "email", parse_email, email)
    if errors or clean is None:
        raise InvalidInput("INVALID_EMAIL", _("The e-mail address is not valid."), errors.errors)
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
    if profile.preferences.sms_notifications and not can_receive_sms(changes.phone):
        # No mobile number, no SMS: the choice would otherwise silently do nothing.
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
    if choice.sms_notifications and not can_receive_sms(profile.phone):
        raise InvalidInput(
            "PHONE_REQUIRED",
            _("SMS notifications need a mobile phone number in the profile."),
            [
                FieldError(
                    "preferences.sms_notifications",
                    "phone_required",
                    _("Add a mobile phone number to your profile first."),
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
