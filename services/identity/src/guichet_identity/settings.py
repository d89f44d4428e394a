"""identity settings, from IDENTITY_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from guichet_kit.settings import KitSettings


class IdentitySettings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", frozen=True)

    database_url: str
    nats_url: str
    grpc_address: str = "127.0.0.1:50071"
    # Services port: mutual TLS with the platform CA; platform services (by their certificate's
    # name) read a person's contact there (ContactService).
    services_grpc_address: str = "127.0.0.1:50073"
    metrics_port: int = 0

    # Keycloak: the issuer of the tokens callers present, and the admin API identity drives.
    keycloak_url: str  # e.g. https://localhost:58443
    keycloak_realm: str = "guichet"
    keycloak_client_id: str = "guichet-identity"
    keycloak_client_secret: SecretStr
    # CA bundle for Keycloak's HTTPS certificate (the platform CA in development).
    ca_file: Path | None = None
    token_audience: str = "guichet-api"  # noqa: S105 (an audience name, not a secret)

    # Mail identity sends itself (e-mail change confirmation); Keycloak sends its own mails.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "OpenGuichet <noreply@openguichet.localhost>"
    # Where links in e-mails lead (the web client, served by the gateway).
    public_base_url: str = "http://127.0.0.1:8000"
    email_change_valid_hours: int = 24
    # F92: an e-mail change confirmed or expired is deleted this many days after (0 keeps it).
    email_change_retention_days: int = Field(default=30, ge=0)

    # The registers a declared child and a company space's founder are checked against: the
    # authentic-data service's mutual TLS port, reached with identity's platform certificate.
    authentic_data_address: str = "127.0.0.1:50082"
    tls_certificate: Path
    tls_private_key: Path
    platform_ca: Path
    authentic_data_timeout_seconds: float = Field(default=5.0, gt=0)

    # Services that hold personal data and must confirm each account purge (F8).
    purge_services: list[str] = Field(
        default_factory=lambda: ["etracking", "authentic-data", "wallet", "procedures", "messaging"]
    )
    # How often the worker retries removing the logins of deleted accounts Keycloak has not yet
    # confirmed gone (it also tries at start).
    login_removal_retry_seconds: float = Field(default=60.0, gt=0)

    @property
    def issuer(self) -> str:
        return f"{self.keycloak_url.rstrip('/')}/realms/{self.keycloak_realm}"
