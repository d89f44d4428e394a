"""Gateway settings, from GATEWAY_* environment variables."""

from __future__ import annotations

from guichet_kit.settings import KitSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class GatewaySettings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    etracking_address: str = "127.0.0.1:50061"
    # Deadline of one call to a service: the gateway answers 504 rather than hang.
    call_timeout_seconds: float = 5.0
    # Public lookups by number, per client address: a sustained rate and a burst.
    lookup_rate_per_minute: float = 60.0
    lookup_burst: int = 20
    # Dependencies checked by /healthz over HTTP, besides the gRPC services.
    health_urls: dict[str, str] = Field(default_factory=dict)
