"""ProfileService: the caller's own profile and preferences (F7, F9).

Reads return the caller's own data whatever the acting context (a client lists them to offer the
contexts); changes are made in one's own name only: identity never applies a mandate to another
person's profile.
"""

from __future__ import annotations

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.profile import service
from guichet_identity.profile.fields import check_address, parse_name
from guichet_identity.wire import address_from_proto, preferences_to_proto, profile_to_proto
from guichet_kit.domain import FieldErrors, InvalidInput
from guichet_kit.i18n import Catalog
from guichet_kit.servicers import ANY_CONTEXT, Call, Db, DeclaredServicer, citizen, rpc
from guichet_kit.values import check, parse_language_code, parse_phone

_ = Catalog("guichet_identity")


def _phone(text: str) -> str | None:
    """E.164, or None when the person gave no number."""
    return parse_phone(text) if text.strip() else None


def _changes(request: pb.UpdateProfileRequest) -> service.ProfileChanges:
    errors = FieldErrors()
    first_name = check(errors, "first_name", parse_name, request.first_name)
    last_name = check(errors, "last_name", parse_name, request.last_name)
    phone = check(errors, "phone", _phone, request.phone)
    address = check_address(errors, "address", address_from_proto(request.address))
    if errors or first_name is None or last_name is None:
        raise InvalidInput("INVALID_PROFILE", _("The profile has errors."), errors.errors)
    return service.ProfileChanges(first_name, last_name, phone, address)


def _choice(request: pb.UpdatePreferencesRequest) -> service.PreferenceChoice:
    errors = FieldErrors()
    chosen = request.preferences
    language = check(errors, "preferences.language", parse_language_code, chosen.language)
    if errors or language is None:
        raise InvalidInput("INVALID_PREFERENCES", _("The preferences have errors."), errors.errors)
    return service.PreferenceChoice(
        email_notifications=chosen.email_notifications,
        sms_notifications=chosen.sms_notifications,
        language=language,
        edelivery_subscribed=chosen.edelivery_subscribed,
    )


class ProfileServicer(DeclaredServicer, pb_grpc.ProfileServiceServicer):
    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def GetProfile(self, request: pb.GetProfileRequest, call: Call) -> pb.GetProfileResponse:
        profile = await service.own_profile(call.session, call.person.subject)
        return pb.GetProfileResponse(profile=profile_to_proto(profile))

    @rpc(citizen())
    async def UpdateProfile(
        self, request: pb.UpdateProfileRequest, call: Call
    ) -> pb.UpdateProfileResponse:
        changes = _changes(request)
        profile = await service.update_profile(call.session, call.person.subject, changes)
        return pb.UpdateProfileResponse(profile=profile_to_proto(profile))

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def GetPreferences(
        self, request: pb.GetPreferencesRequest, call: Call
    ) -> pb.GetPreferencesResponse:
        preferences = await service.own_preferences(call.session, call.person.subject)
        return pb.GetPreferencesResponse(preferences=preferences_to_proto(preferences))

    @rpc(citizen())
    async def UpdatePreferences(
        self, request: pb.UpdatePreferencesRequest, call: Call
    ) -> pb.UpdatePreferencesResponse:
        choice = _choice(request)
        preferences = await service.update_preferences(call.session, call.person.subject, choice)
        return pb.UpdatePreferencesResponse(preferences=preferences_to_proto(preferences))
