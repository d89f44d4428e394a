"""The sources of prefill (F24) as procedures calls them: authentic data's purpose-bound read over
mutual TLS with procedures' own service certificate (PlatformDataService.ReadData), and the
caller's profile from identity in the caller's name (ProfileService.GetProfile, the person's token
forwarded as on every call to identity)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from guichet.authentic_data.v1 import authentic_data_pb2 as ad
from guichet.authentic_data.v1 import authentic_data_pb2_grpc as ad_grpc
from guichet.identity.v1 import identity_pb2 as identity
from guichet.identity.v1 import identity_pb2_grpc as identity_grpc
from guichet_kit.auth import in_own_name
from guichet_kit.grpc_client import mutual_tls_channel
from guichet_procedures.requests.prefill import (
    PROFILE_SOURCE,
    SourcedValue,
    profile_unavailable,
    registers_unavailable,
)

# A platform service that cannot answer is an outage for the caller, not a bug here.
_OUTAGES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def authentic_data_channel(
    address: str, certificate: Path, private_key: Path, platform_ca: Path, *, timeout: float
) -> grpc.aio.Channel:
    """Procedures' certificate says who reads; the platform CA says who answers."""
    return mutual_tls_channel(
        address,
        ca=platform_ca.read_bytes(),
        certificate=certificate.read_bytes(),
        private_key=private_key.read_bytes(),
        timeout=timeout,
    )


def _address(street: str, house_number: str, postcode: str, locality: str, country: str) -> Any:
    parts = {
        "street": street,
        "house_number": house_number,
        "postcode": postcode,
        "locality": locality,
        "country": country,
    }
    return {key: value for key, value in parts.items() if value} or None


def register_value(field: ad.DataField) -> Any:
    """A register's value in the answers' JSON form."""
    kind = field.WhichOneof("value")
    if kind == "address":
        a = field.address
        return _address(a.street, a.house_number, a.postal_code, a.locality, a.country)
    if kind in ("text", "date"):
        return getattr(field, kind) or None
    if kind == "integer":
        return field.integer
    return None  # money and people are not form values


class PrefillSources:
    """`requests.prefill.Sources` over gRPC."""

    def __init__(
        self,
        authentic_data: grpc.aio.Channel,
        identity_channel: grpc.aio.Channel,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registers = ad_grpc.PlatformDataServiceStub(authentic_data)
        self._profiles = identity_grpc.ProfileServiceStub(identity_channel)
        self._clock = clock

    async def register(
        self, purpose: str, national_id: str, names: Sequence[str], reference: str
    ) -> Mapping[str, SourcedValue]:
        request = ad.ReadDataRequest(
            purpose=purpose,
            subject=ad.DataSubject(national_id=national_id),
            fields=list(names),
            request_reference=reference,
        )
        try:
            # Procedures' own read (its certificate says who reads): the token stays here.
            with in_own_name():
                reply = await self._registers.ReadData(request)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return {}  # the person has no entry: nothing to prefill from the register
            if error.code() in _OUTAGES:
                raise registers_unavailable() from error
            raise
        return {
            field.name: SourcedValue(
                value=register_value(field),
                read_at=field.source.read_at.ToDatetime(tzinfo=UTC),
                source_code=field.source.code,
                source_name=field.source.name,
            )
            for field in reply.fields
        }

    async def profile(self, names: Sequence[str]) -> Mapping[str, SourcedValue]:
        try:
            reply = await self._profiles.GetProfile(identity.GetProfileRequest())
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                reply = identity.GetProfileResponse()  # no profile yet: nothing to prefill
            elif error.code() in _OUTAGES:
                raise profile_unavailable() from error
            else:
                raise
        profile = reply.profile
        a = profile.address
        values: dict[str, Any] = {
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "email": profile.email,
            "phone": profile.phone,
            "national_id": profile.national_id,
            "birth_date": profile.birth_date,
            "address": _address(a.street, a.house_number, a.postal_code, a.locality, a.country),
        }
        read_at = self._clock()
        return {
            name: SourcedValue(values.get(name) or None, read_at, PROFILE_SOURCE, "")
            for name in names
        }
