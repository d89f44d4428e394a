"""/api/v1/me: who is signed in, their profile and preferences (F2, F7, F9)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from guichet.identity.v1 import identity_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser, acts_in_context
from guichet_gateway.fields import (
    UUID_EXAMPLE,
    CountryCode,
    FirstName,
    Flag,
    HouseNumber,
    LastName,
    Locality,
    PhoneText,
    PostalCode,
    Street,
)
from guichet_gateway.openapi import refusals
from guichet_gateway.wire import enum_word, timestamp
from guichet_kit.auth import acting_context
from guichet_kit.i18n import Language

# The caller's profile, read by every route here.
NO_PROFILE = refusals({404: "No profile for this account (PROFILE_NOT_FOUND)."})

router = APIRouter(prefix="/api/v1/me", tags=["me"])


class ActingContextOut(BaseModel):
    context: str = Field(
        examples=["private", f"company:{UUID_EXAMPLE}", f"relation:{UUID_EXAMPLE}"],
        description="The value to send as X-Acting-Context",
        json_schema_extra={"x-value-type": "acting-context"},
    )
    label: str


class MeOut(BaseModel):
    subject: str
    national_id: str
    email: str
    name: str
    acr: str = Field(description="Level of assurance of this sign-in: low, substantial, high")
    acting_context: str
    available_contexts: list[ActingContextOut]


class AddressModel(BaseModel):
    street: Street = ""
    house_number: HouseNumber = ""
    postal_code: PostalCode = ""
    locality: Locality = ""
    country: CountryCode = ""


class AddressOut(BaseModel):
    street: str
    house_number: str
    postal_code: str
    locality: str
    country: str


class ProfileOut(BaseModel):
    subject: str
    national_id: str
    first_name: str
    last_name: str
    birth_date: str
    email: str
    phone: str
    address: AddressOut
    updated_at: datetime | None


class ProfileIn(BaseModel):
    first_name: FirstName
    last_name: LastName
    phone: PhoneText = ""
    address: AddressModel = AddressModel()


class PreferencesOut(BaseModel):
    email_notifications: bool
    sms_notifications: bool
    language: str
    edelivery_subscribed: bool


class PreferencesIn(BaseModel):
    email_notifications: Flag
    sms_notifications: Flag = Field(description="Needs a mobile phone number in the profile")
    language: Language
    edelivery_subscribed: Flag


def _profile_out(profile: pb.Profile) -> ProfileOut:
    address = profile.address
    return ProfileOut(
        subject=profile.subject,
        national_id=profile.national_id,
        first_name=profile.first_name,
        last_name=profile.last_name,
        birth_date=profile.birth_date,
        email=profile.email,
        phone=profile.phone,
        address=AddressOut(
            street=address.street,
            house_number=address.house_number,
            postal_code=address.postal_code,
            locality=address.locality,
            country=address.country,
        ),
        updated_at=timestamp(profile.updated_at),
    )


def _preferences_out(preferences: pb.Preferences) -> PreferencesOut:
    return PreferencesOut(
        email_notifications=preferences.email_notifications,
        sms_notifications=preferences.sms_notifications,
        language=preferences.language,
        edelivery_subscribed=preferences.edelivery_subscribed,
    )


def _context_out(context: pb.ActingContext, own_name: str) -> ActingContextOut:
    if context.kind == pb.ACTING_CONTEXT_KIND_RELATION:
        kind = enum_word(pb.RelationKind.Name(context.relation_kind), "RELATION_KIND_")
        return ActingContextOut(context=context.context, label=f"{context.name} ({kind})")
    return ActingContextOut(context=context.context, label=context.name or own_name)


@router.get("", response_model=MeOut, dependencies=[acts_in_context], responses=NO_PROFILE)
async def get_me(calls: Calls, user: CurrentUser) -> MeOut:
    """The signed-in person, the level of this sign-in, and the contexts they may act in now
    (identity decides which: revoked and expired mandates are not offered)."""
    reply = await calls.relations.ListActingContexts(pb.ListActingContextsRequest())
    contexts = [_context_out(context, user.name or user.email) for context in reply.contexts]
    return MeOut(
        subject=user.subject,
        national_id=user.national_id,
        email=user.email,
        name=user.name,
        acr=user.level.acr,
        acting_context=str(acting_context()),
        available_contexts=contexts,
    )


@router.get("/profile", response_model=ProfileOut, responses=NO_PROFILE)
async def get_profile(calls: Calls, user: CurrentUser) -> ProfileOut:
    reply = await calls.profiles.GetProfile(pb.GetProfileRequest())
    return _profile_out(reply.profile)


@router.put("/profile", response_model=ProfileOut, responses=NO_PROFILE)
async def update_profile(body: ProfileIn, calls: Calls, user: CurrentUser) -> ProfileOut:
    """F7: identity, address and contact data."""
    reply = await calls.profiles.UpdateProfile(
        pb.UpdateProfileRequest(
            first_name=body.first_name,
            last_name=body.last_name,
            phone=body.phone,
            address=pb.Address(**body.address.model_dump()),
        )
    )
    return _profile_out(reply.profile)


@router.get("/preferences", response_model=PreferencesOut, responses=NO_PROFILE)
async def get_preferences(calls: Calls, user: CurrentUser) -> PreferencesOut:
    reply = await calls.profiles.GetPreferences(pb.GetPreferencesRequest())
    return _preferences_out(reply.preferences)


@router.put(
    "/preferences",
    response_model=PreferencesOut,
    responses=refusals(
        {
            404: "No profile for this account (PROFILE_NOT_FOUND).",
            422: "Invalid preferences (INVALID_PREFERENCES), or SMS notifications without a "
            "mobile phone number in the profile (PHONE_REQUIRED).",
        }
    ),
)
async def update_preferences(
    body: PreferencesIn, calls: Calls, user: CurrentUser
) -> PreferencesOut:
    """F9: notifications by e-mail and SMS, language, eDelivery subscription."""
    reply = await calls.profiles.UpdatePreferences(
        pb.UpdatePreferencesRequest(preferences=pb.Preferences(**body.model_dump(mode="json")))
    )
    return _preferences_out(reply.preferences)
