"""Profiles and preferences: only one's own, every bad input refused with nothing changed."""

from __future__ import annotations

import grpc
import pytest

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.profile.grpc import ProfileServicer
from guichet_identity.profile.service import create_profile
from guichet_kit.auth import ActingContext, set_caller
from guichet_kit.db import transaction
from guichet_kit.domain import DomainError, Refusal
from guichet_kit.errors import ServiceError

NO_CONTEXT = None
LUXEMBOURG = pb.Address(
    street="rue de la Gare",
    house_number="12",
    postal_code="L-1611",
    locality="Luxembourg",
    country="LU",
)


@pytest.fixture
def profiles(identity_sessions) -> ProfileServicer:
    return ProfileServicer(identity_sessions)


async def test_a_person_reads_and_updates_their_own_profile(profiles, new_person) -> None:
    anne = await new_person("Anne", "Muller")
    set_caller(anne.principal)

    updated = await profiles.UpdateProfile(
        pb.UpdateProfileRequest(
            first_name=" Anne  Marie ", last_name="Muller", phone="621 123 456", address=LUXEMBOURG
        ),
        NO_CONTEXT,
    )
    read = await profiles.GetProfile(pb.GetProfileRequest(), NO_CONTEXT)

    assert read.profile == updated.profile
    assert read.profile.subject == anne.subject
    assert read.profile.national_id == anne.national_id
    assert read.profile.first_name == "Anne Marie"
    assert read.profile.phone == "+352621123456"
    assert read.profile.address.postal_code == "1611"
    assert (
        read.profile.birth_date
        == f"{anne.national_id[:4]}-{anne.national_id[4:6]}-{anne.national_id[6:8]}"
    )


async def test_another_user_only_ever_reaches_their_own_profile(profiles, new_person) -> None:
    anne = await new_person("Anne", "Muller")
    bob = await new_person("Bob", "Schmit")
    set_caller(bob.principal)

    await profiles.UpdateProfile(
        pb.UpdateProfileRequest(first_name="Robert", last_name="Schmit"), NO_CONTEXT
    )
    await profiles.UpdatePreferences(
        pb.UpdatePreferencesRequest(preferences=pb.Preferences(language="en")), NO_CONTEXT
    )

    set_caller(anne.principal)
    mine = await profiles.GetProfile(pb.GetProfileRequest(), NO_CONTEXT)
    my_preferences = await profiles.GetPreferences(pb.GetPreferencesRequest(), NO_CONTEXT)
    assert mine.profile.first_name == "Anne"
    assert my_preferences.preferences.language == "fr"
    assert my_preferences.preferences.email_notifications


async def test_a_caller_without_a_profile_gets_profile_not_found(profiles, new_person) -> None:
    anne = await new_person()
    stranger = anne.__class__("kc-nobody", "1980010100017", "No", "Body")
    set_caller(stranger.principal)

    for call in (
        profiles.GetProfile(pb.GetProfileRequest(), NO_CONTEXT),
        profiles.GetPreferences(pb.GetPreferencesRequest(), NO_CONTEXT),
        profiles.UpdateProfile(pb.UpdateProfileRequest(first_name="A", last_name="B"), NO_CONTEXT),
    ):
        with pytest.raises(ServiceError) as refused:
            await call
        assert refused.value.code == grpc.StatusCode.NOT_FOUND
        assert refused.value.reason == "PROFILE_NOT_FOUND"


async def test_an_anonymous_call_is_unauthenticated(profiles) -> None:
    set_caller(None)

    with pytest.raises(ServiceError) as refused:
        await profiles.GetProfile(pb.GetProfileRequest(), NO_CONTEXT)

    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_profile_is_not_changed_while_acting_for_someone_else(profiles, new_person) -> None:
    anne = await new_person()
    set_caller(anne.principal, ActingContext("relation", "3b1d7a52-4a55-4c1e-9d1c-0d9d1f3f8f01"))

    with pytest.raises(ServiceError) as refused:
        await profiles.UpdateProfile(
            pb.UpdateProfileRequest(first_name="X", last_name="Y"), NO_CONTEXT
        )

    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert refused.value.reason == "ACTING_CONTEXT_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (pb.UpdateProfileRequest(first_name="", last_name="Muller"), ["first_name"]),
        (pb.UpdateProfileRequest(first_name="A", last_name="x" * 101), ["last_name"]),
        (pb.UpdateProfileRequest(first_name="A", last_name="B", phone="12"), ["phone"]),
        (
            pb.UpdateProfileRequest(
                first_name="A", last_name="B", address=pb.Address(street="rue de la Gare")
            ),
            ["address.postal_code", "address.locality", "address.country"],
        ),
        (
            pb.UpdateProfileRequest(
                first_name="A",
                last_name="B",
                address=pb.Address(
                    street="Hauptstrooss", postal_code="12345", locality="Town", country="LU"
                ),
            ),
            ["address.postal_code"],
        ),
        (
            pb.UpdateProfileRequest(
                first_name="A",
                last_name="B",
                address=pb.Address(
                    street="Hauptstrooss", postal_code="1234", locality="Town", country="ZZ"
                ),
            ),
            ["address.country"],
        ),
    ],
)
async def test_a_bad_profile_is_refused_with_its_fields_and_nothing_changes(
    profiles, new_person, request_, fields
) -> None:
    anne = await new_person()
    set_caller(anne.principal)
    before = await profiles.GetProfile(pb.GetProfileRequest(), NO_CONTEXT)

    with pytest.raises(ServiceError) as refused:
        await profiles.UpdateProfile(request_, NO_CONTEXT)

    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [error.field for error in refused.value.field_errors] == fields
    assert await profiles.GetProfile(pb.GetProfileRequest(), NO_CONTEXT) == before


async def test_preferences_are_updated_and_kept(profiles, new_person) -> None:
    anne = await new_person()
    set_caller(anne.principal)
    await profiles.UpdateProfile(
        pb.UpdateProfileRequest(first_name="Anne", last_name="Muller", phone="+352621123456"),
        NO_CONTEXT,
    )
    chosen = pb.Preferences(
        email_notifications=False, sms_notifications=True, language="de", edelivery_subscribed=True
    )

    await profiles.UpdatePreferences(pb.UpdatePreferencesRequest(preferences=chosen), NO_CONTEXT)

    read = await profiles.GetPreferences(pb.GetPreferencesRequest(), NO_CONTEXT)
    assert read.preferences == chosen


@pytest.mark.parametrize(
    ("preferences", "field"),
    [
        (pb.Preferences(language="lb"), "preferences.language"),
        (pb.Preferences(language=""), "preferences.language"),
        (pb.Preferences(language="fr", sms_notifications=True), "preferences.sms_notifications"),
    ],
)
async def test_bad_preferences_are_refused_and_nothing_changes(
    profiles, new_person, preferences, field
) -> None:
    anne = await new_person()
    set_caller(anne.principal)
    before = await profiles.GetPreferences(pb.GetPreferencesRequest(), NO_CONTEXT)

    with pytest.raises(ServiceError) as refused:
        await profiles.UpdatePreferences(
            pb.UpdatePreferencesRequest(preferences=preferences), NO_CONTEXT
        )

    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [error.field for error in refused.value.field_errors] == [field]
    assert await profiles.GetPreferences(pb.GetPreferencesRequest(), NO_CONTEXT) == before


async def test_removing_the_phone_number_turns_sms_notifications_off(profiles, new_person) -> None:
    anne = await new_person()
    set_caller(anne.principal)
    await profiles.UpdateProfile(
        pb.UpdateProfileRequest(first_name="Anne", last_name="Muller", phone="+352621123456"),
        NO_CONTEXT,
    )
    await profiles.UpdatePreferences(
        pb.UpdatePreferencesRequest(
            preferences=pb.Preferences(language="fr", sms_notifications=True)
        ),
        NO_CONTEXT,
    )

    await profiles.UpdateProfile(
        pb.UpdateProfileRequest(first_name="Anne", last_name="Muller"), NO_CONTEXT
    )

    read = await profiles.GetPreferences(pb.GetPreferencesRequest(), NO_CONTEXT)
    assert not read.preferences.sms_notifications


async def test_a_national_id_has_one_profile(identity_sessions, new_person, counts) -> None:
    anne = await new_person()
    before = await counts()

    with pytest.raises(DomainError) as refused:
        async with transaction(identity_sessions) as session:
            await create_profile(
                session,
                subject="kc-someone-else",
                national_id=anne.national_id,
                email="someone@example.org",
                first_name="Some",
                last_name="One",
                language="en",
            )

    assert refused.value.refusal == Refusal.ALREADY_EXISTS
    assert refused.value.reason == "NATIONAL_ID_TAKEN"
    assert [error.field for error in refused.value.fields] == ["national_id"]
    assert await counts() == before


async def test_a_profile_with_bad_registration_data_is_refused(identity_sessions, counts) -> None:
    before = await counts()

    with pytest.raises(DomainError) as refused:
        async with transaction(identity_sessions) as session:
            await create_profile(
                session,
                subject="kc-new",
                national_id="1980010100018",
                email="not-an-address",
                first_name="",
                last_name="One",
                language="it",
            )

    assert refused.value.refusal == Refusal.INVALID
    assert {error.field for error in refused.value.fields} == {
        "national_id",
        "email",
        "first_name",
        "language",
    }
    assert await counts() == before


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.UpdateProfileRequest(first_name="Anne\u202eeciL", last_name="Muller"), "first_name"),
        (pb.UpdateProfileRequest(first_name="Anne\u001b[31m", last_name="Muller"), "first_name"),
        (pb.UpdateProfileRequest(first_name="Anne", last_name="Mul\u2067ler"), "last_name"),
        (
            pb.UpdateProfileRequest(
                first_name="Anne",
                last_name="Muller",
                address=pb.Address(
                    street="rue de la Gare\u202e",
                    postal_code="1611",
                    locality="Luxembourg",
                    country="LU",
                ),
            ),
            "address.street",
        ),
        (
            pb.UpdateProfileRequest(
                first_name="Anne",
                last_name="Muller",
                address=pb.Address(
                    street="rue de la Gare",
                    house_number="1\x07",
                    postal_code="1611",
                    locality="Luxembourg",
                    country="LU",
                ),
            ),
            "address.house_number",
        ),
    ],
)
async def test_control_or_bidi_characters_in_a_name_are_refused_and_nothing_changes(
    profiles, new_person, counts, request_, field
) -> None:
    anne = await new_person("Anne", "Muller")
    set_caller(anne.principal)
    before = await profiles.GetProfile(pb.GetProfileRequest(), NO_CONTEXT)
    rows = await counts()

    with pytest.raises(ServiceError) as refused:
        await profiles.UpdateProfile(request_, NO_CONTEXT)

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_PROFILE",
    )
    assert [(e.field, e.reason) for e in refused.value.field_errors] == [
        (field, "control_character")
    ]
    assert await profiles.GetProfile(pb.GetProfileRequest(), NO_CONTEXT) == before
    assert await counts() == rows


async def test_a_name_is_stored_in_nfc(profiles, new_person) -> None:
    anne = await new_person()
    set_caller(anne.principal)

    updated = await profiles.UpdateProfile(
        pb.UpdateProfileRequest(first_name="Le\u0301a", last_name="Muller"), NO_CONTEXT
    )

    assert updated.profile.first_name == "L\u00e9a"


async def test_sms_notifications_need_a_mobile_number(profiles, new_person) -> None:
    anne = await new_person()
    set_caller(anne.principal)
    # A Luxembourg fixed line: a valid number, but no text message reaches it.
    await profiles.UpdateProfile(
        pb.UpdateProfileRequest(first_name="Anne", last_name="Muller", phone="+352 22 12 34"),
        NO_CONTEXT,
    )
    before = await profiles.GetPreferences(pb.GetPreferencesRequest(), NO_CONTEXT)

    with pytest.raises(ServiceError) as refused:
        await profiles.UpdatePreferences(
            pb.UpdatePreferencesRequest(
                preferences=pb.Preferences(language="fr", sms_notifications=True)
            ),
            NO_CONTEXT,
        )

    assert refused.value.reason == "PHONE_REQUIRED"
    assert await profiles.GetPreferences(pb.GetPreferencesRequest(), NO_CONTEXT) == before
