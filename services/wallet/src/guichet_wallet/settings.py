"""Wallet settings, from WALLET_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from guichet_kit.settings import KitSettings, TlsFiles


class WalletSettings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="WALLET_", extra="ignore", frozen=True)

    database_url: str
    nats_url: str
    # Internal port: the gateway's calls for people (loopback in development).
    grpc_address: str = "127.0.0.1:50091"
    # Services port: mutual TLS, client certificates of platform services (FileService).
    services_grpc_address: str = "127.0.0.1:50092"
    tls_certificate: Path
    tls_private_key: Path
    services_ca: Path
    # Callers' tokens, and identity for the mandates of a company's or a relation's context.
    keycloak_issuer: str
    token_audience: str = "guichet-api"  # noqa: S105 (an audience name, not a secret)
    ca_file: Path | None = None
    identity_address: str = "127.0.0.1:50071"

    # Object storage (MinIO) and the virus scanner the file pipeline uses.
    minio_endpoint: str
    minio_access_key: str
    minio_secret_key: SecretStr
    minio_secure: bool = False
    # Buckets are `<prefix>-quarantine`, `<prefix>-files`, `<prefix>-copies`: a test sets its own.
    bucket_prefix: str = "guichet-wallet"
    clamav_address: str

    max_file_bytes: int = Field(default=20_000_000, gt=0)
    max_pieces: int = Field(default=10, gt=0)
    max_files_per_piece: int = Field(default=4, gt=0, le=4)
    # PieceExpiring is published this many days before a piece's expiry date.
    expiry_notice_days: int = Field(default=30, ge=0)
    expiry_interval_seconds: float = Field(default=3600.0, gt=0)
    # Immutable copies for requests are retained (object lock) this long unless the caller asks.
    copy_retention_days: int = Field(default=365, gt=0)
    # The sweep leaves objects younger than this alone: an upload may still be committing them.
    sweep_grace_seconds: float = Field(default=3600.0, ge=0)
    sweep_interval_seconds: float = Field(default=600.0, gt=0)
    # The durable consumer of account deletions: one per deployment (journeys' stacks sharing a
    # NATS server each take their own, or one stack's wallet would purge another's deletions).
    purge_consumer: str = "wallet-account-purge"
    metrics_port: int = 0
    # F92: an eDocument opened this many days ago is deleted with its objects (0 keeps them).
    edocument_retention_days: int = Field(default=730, ge=0)

    def services_tls(self) -> TlsFiles:
        return TlsFiles(
            certificate=self.tls_certificate,
            private_key=self.tls_private_key,
            client_ca=self.services_ca,
        )
