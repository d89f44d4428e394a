"""ProfileService: the caller's own profile and preferences (F7, F9)."""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.profile import service
from guichet_identity.profile.fields import check_address, check_language, check_name, check_phone
from guichet_identity.wire import address_from_proto, preferences_to_proto, profile_to_proto
from guichet_kit.auth import Principal, acting_context, authenticated
from guichet_kit.db import transaction
from guichet_kit.errors import FieldError, invalid_argument, permission_denied

Context = grpc.aio.ServicerContext[Any, Any]


def caller_in_own_name() -> Principal:
    """The signed-in caller, for a change made in their private space.

    Reads always return the caller's own data, whatever the context (the gateway lists one's
    relations to offer the contexts). A change made while acting for someone else is refused
    rather than silently applied to the caller's own profile or mandates: identity never
    applies a mandate to another person's profile, and a mandate never extends to managing
    who may act for the subject.
    """
    principal = authenticated()
    if acting_context().kind != "private":
        raise permission_denied(
            "ACTING_CONTEXT_NOT_ALLOWED", "this is done in one's own name, not for someone else"
        )
    return principal


def _changes(request: pb.UpdateProfileRequest) -> service.ProfileChanges:
    errors: list[FieldError] = []
    changes = service.ProfileChanges(
        first_name=check_name("first_name", request.first_name, errors),
        last_name=check_name("last_name", request.last_name, errors),
        phone=check_phone("phone", request.phone, errors),
        address=check_address("address", address_from_proto(request.address), errors),
    )
    if errors:
        raise invalid_argument("INVALID_PROFILE", "the profile is invalid", errors)
    return changes


def _choice(request: pb.UpdatePreferencesRequest) -> service.PreferenceChoice:
    errors: list[FieldError] = []
    chosen = request.preferences
    language = check_language("preferences.language", chosen.language, errors)
    if errors:
        raise invalid_argument("INVALID_PREFERENCES", "the preferences are invalid", errors)
    return service.PreferenceChoice(
        email_notifications=chosen.email_notifications,
        sms_notifications=chosen.sms_notifications,
        language=language,
        edelivery_subscribed=chosen.edelivery_subscribed,
    )


class ProfileServicer(pb_grpc.ProfileServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def GetProfile(
        self, request: pb.GetProfileRequest, context: Context
    ) -> pb.GetProfileResponse:
        principal = authenticated()
        async with transaction(self._sessions) as session:
            profile = await service.own_profile(session, principal.subject)
            return pb.GetProfileResponse(profile=profile_to_proto(profile))

    async def UpdateProfile(
        self, request: pb.UpdateProfileRequest, context: Context
    ) -> pb.UpdateProfileResponse:
        principal = caller_in_own_name()
        changes = _changes(request)
        async with transaction(self._sessions) as session:
            profile = await service.update_profile(session, principal.subject, changes)
            return pb.UpdateProfileResponse(profile=profile_to_proto(profile))

    async def GetPreferences(
        self, request: pb.GetPreferencesRequest, context: Context
    ) -> pb.GetPreferencesResponse:
        principal = authenticated()
        async with transaction(self._sessions) as session:
            preferences = await service.own_preferences(session, principal.subject)
            return pb.GetPreferencesResponse(preferences=preferences_to_proto(preferences))

    async def UpdatePreferences(
        self, request: pb.UpdatePreferencesRequest, context: Context
    ) -> pb.UpdatePreferencesResponse:
        principal = caller_in_own_name()
        choice = _choice(request)
        async with transaction(self._sessions) as session:
            preferences = await service.update_preferences(session, principal.subject, choice)
            return pb.UpdatePreferencesResponse(preferences=preferences_to_proto(preferences))
