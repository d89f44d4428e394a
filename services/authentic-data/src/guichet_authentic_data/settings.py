"""Authentic-data settings, from AUTHENTIC_DATA_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from guichet_kit.settings import KitSettings


class AuthenticDataSettings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="AUTHENTIC_DATA_", extra="ignore", frozen=True)

    database_url: str
    nats_url: str
    # Internal port: the gateway's calls for citizens and the public verification.
    grpc_address: str = "127.0.0.1:50081"
    # Mutual TLS port: platform services (certificates of the platform CA) and administrations
    # (certificates of the administrations' CA).
    mtls_grpc_address: str = "127.0.0.1:50082"
    tls_certificate: Path
    tls_private_key: Path
    platform_ca: Path
    administrations_ca: Path
    # Callers' tokens.
    keycloak_issuer: str
    token_audience: str = "guichet-api"  # noqa: S105 (an audience name, not a secret)
    ca_file: Path | None = None
    # identity: whether a caller may act for a company or a person, and a space's company number.
    identity_address: str = "127.0.0.1:50071"
    # The platform's seal (PAdES on certificates) and the chain embedded with it.
    seal_certificate: Path
    seal_private_key: Path
    seal_key_passphrase: SecretStr | None = None
    # Where the public verify page lives (printed as a QR code on each certificate).
    public_base_url: str = "http://127.0.0.1:8000"
    # How often the synthetic registers' desk answers the reports it received.
    desk_interval_seconds: float = 2.0
    # The worker's durable consumers: one name per deployment (stacks that share a NATS server,
    # e.g. parallel test runs, each name their own so none takes another's events).
    purge_consumer: str = "authentic-data-account-purge"
    report_consumer: str = "authentic-data-synthetic-source"
    metrics_port: int = 0
    # F92: an access-log entry older than this loses its personal part (0 keeps it).
    access_log_retention_days: int = Field(default=3650, ge=0)


class LogSettings(KitSettings):
    """What `verify-log` and `seed` need: the database only."""

    model_config = SettingsConfigDict(env_prefix="AUTHENTIC_DATA_", extra="ignore", frozen=True)

    database_url: str
