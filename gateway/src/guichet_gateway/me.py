"""/api/v1/me: who is signed in, their profile and preferences (F2, F7, F9)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from guichet.identity.v1 import identity_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser
from guichet_gateway.wire import enum_word, timestamp
from guichet_kit.auth import acting_context

router = APIRouter(prefix="/api/v1/me", tags=["me"])


class ActingContextOut(BaseModel):
    context: str = Field(examples=["private", "company:6f1c…", "relation:a9e2…"])
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
    street: str = Field("", max_length=200)
    house_number: str = Field("", max_length=20)
    postal_code: str = Field("", max_length=20)
    locality: str = Field("", max_length=100)
    country: str = Field("", max_length=2)


class ProfileOut(BaseModel):
    subject: str
    national_id: str
    first_name: str
    last_name: str
    birth_date: str
    email: str
    phone: str
    address: AddressModel
    updated_at: datetime | None


class ProfileIn(BaseModel):
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    phone: str = Field("", max_length=32)
    address: AddressModel = AddressModel()


class PreferencesModel(BaseModel):
    email_notifications: bool
    sms_notifications: bool
    language: str = Field(max_length=2)
    edelivery_subscribed: bool


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
        address=AddressModel(
            street=address.street,
            house_number=address.house_number,
            postal_code=address.postal_code,
            locality=address.locality,
            country=address.country,
        ),
        updated_at=timestamp(profile.updated_at),
    )


def _preferences_out(preferences: pb.Preferences) -> PreferencesModel:
    return PreferencesModel(
        email_notifications=preferences.email_notifications,
        sms_notifications=preferences.sms_notifications,
        language=preferences.language,
        edelivery_subscribed=preferences.edelivery_subscribed,
    )


@router.get("", response_model=MeOut)
async def get_me(calls: Calls, user: CurrentUser) -> MeOut:
    """The signed-in person, the level of this sign-in, and the contexts they may act in."""
    relations, spaces = await asyncio.gather(
        calls.relations.ListRelations(pb.ListRelationsRequest()),
        calls.spaces.ListSpaces(pb.ListSpacesRequest()),
    )
    contexts = [ActingContextOut(context="private", label=user.name or user.email)]
    contexts += [
        ActingContextOut(context=f"company:{space.id}", label=space.company_name)
        for space in spaces.spaces
    ]
    contexts += [
        ActingContextOut(
            context=f"relation:{relation.id}",
            label=f"{relation.subject_name or relation.subject_national_id} "
            f"({enum_word(pb.RelationKind.Name(relation.kind), 'RELATION_KIND_')})",
        )
        for relation in relations.acting_for
        if not relation.revoked
    ]
    return MeOut(
        subject=user.subject,
        national_id=user.national_id,
        email=user.email,
        name=user.name,
        acr=user.level.acr,
        acting_context=str(acting_context()),
        available_contexts=contexts,
    )


@router.get("/profile", response_model=ProfileOut)
async def get_profile(calls: Calls, user: CurrentUser) -> ProfileOut:
    reply = await calls.profiles.GetProfile(pb.GetProfileRequest())
    return _profile_out(reply.profile)


@router.put("/profile", response_model=ProfileOut)
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


@router.get("/preferences", response_model=PreferencesModel)
async def get_preferences(calls: Calls, user: CurrentUser) -> PreferencesModel:
    reply = await calls.profiles.GetPreferences(pb.GetPreferencesRequest())
    return _preferences_out(reply.preferences)


@router.put("/preferences", response_model=PreferencesModel)
async def update_preferences(
    body: PreferencesModel, calls: Calls, user: CurrentUser
) -> PreferencesModel:
    """F9: notifications by e-mail and SMS, language, eDelivery subscription."""
    reply = await calls.profiles.UpdatePreferences(
        pb.UpdatePreferencesRequest(preferences=pb.Preferences(**body.model_dump()))
    )
    return _preferences_out(reply.preferences)
