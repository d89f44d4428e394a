"""Gateway settings, from GATEWAY_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from guichet_kit.settings import KitSettings


class GatewaySettings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    authentic_data_address: str = "127.0.0.1:50081"
    etracking_address: str = "127.0.0.1:50061"
    identity_address: str = "127.0.0.1:50071"
    wallet_address: str = "127.0.0.1:50091"
    procedures_address: str = "127.0.0.1:50101"
    messaging_address: str = "127.0.0.1:50111"
    # The wallet's limit per file (WALLET_MAX_FILE_BYTES): an upload announced far beyond it is
    # refused before its body is read; the wallet enforces the exact limit while it streams.
    wallet_max_file_bytes: int = Field(20_000_000, ge=1)
    # Access tokens: Keycloak's issuer for the realm, the audience of this API, the CA of its TLS.
    keycloak_issuer: str
    token_audience: str = "guichet-api"  # noqa: S105 (an audience name, not a secret)
    ca_file: Path | None = None
    # NATS, for identity's deletion events: a deleted account's tokens are refused at once.
    nats_url: str
    # Deadline of one call to a service: the gateway answers 504 rather than hang.
    call_timeout_seconds: float = 5.0
    # The dashboard's deadline for each of its sections: a later service leaves its section
    # "unavailable" and the rest is answered.
    dashboard_section_deadline_seconds: float = Field(1.0, gt=0)
    # Public lookups by number, per client address: a sustained rate and a burst.
    lookup_rate_per_minute: float = 60.0
    lookup_burst: int = 20
    # Account requests (registration, password reset, e-mail change), per client address.
    account_rate_per_minute: float = 10.0
    account_burst: int = 10
    # eTracking creations without a sign-in (each may send an e-mail and an SMS), per address.
    creation_rate_per_minute: float = 10.0
    creation_burst: int = 10
    # Anti-robot challenges issued, per client address (a form needs one per sending).
    challenge_rate_per_minute: float = 30.0
    challenge_burst: int = 10
    # Largest request body accepted; every field is bounded far below it.
    max_body_bytes: int = 64 * 1024
    # The web client. Its sessions live in the gateway's own database (shared by replicas).
    database_url: str
    # Where browsers reach the gateway: the base of its sign-in redirect URI.
    public_url: str = "http://127.0.0.1:8000"
    # The gateway signs people in as a confidential client of Keycloak (code flow + PKCE).
    client_id: str = "guichet-gateway"
    client_secret: SecretStr = SecretStr("development-only-gateway-client-secret")
    # Encrypts the tokens kept for web sessions (a secret; changing it ends every session).
    session_key: SecretStr = SecretStr("development-only-gateway-session-key")
    # How long a person may take at Keycloak's pages before the sign-in must start again.
    sign_in_minutes: int = 15
    # Anti-automation (ALTCHA): the key signing the challenges, and PBKDF2's iterations per
    # try (also the order of the tries a challenge needs: its work grows as the square).
    altcha_hmac_key: SecretStr = SecretStr("development-only-altcha-hmac-key")
    altcha_cost: int = Field(5000, ge=1)
    # Dependencies checked by /healthz over HTTP, besides the gRPC services.
    health_urls: dict[str, str] = Field(default_factory=dict)
