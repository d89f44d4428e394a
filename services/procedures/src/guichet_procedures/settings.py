"""Procedures settings, from PROCEDURES_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from guichet_kit.settings import Environment, KitSettings, TlsFiles

# The definitions shipped with the service (procedures as code).
CATALOGUE_DIR = Path(__file__).resolve().parents[2] / "catalogue"


class PublishSettings(KitSettings):
    """What `publish` needs: the database and the definitions' directory."""

    model_config = SettingsConfigDict(env_prefix="PROCEDURES_", extra="ignore", frozen=True)

    database_url: str
    catalogue_dir: Path = CATALOGUE_DIR


class ProceduresSettings(PublishSettings):
    database_url: str
    nats_url: str
    # Internal port: the gateway's calls (the caller's token in the metadata).
    grpc_address: str = "127.0.0.1:50101"
    # Administrations' port: mutual TLS, client certificates of the administrations' CA.
    admin_grpc_address: str = "127.0.0.1:50102"
    tls_certificate: Path
    tls_private_key: Path
    administrations_ca: Path
    # Callers' tokens, and identity for the mandates of a company's or a relation's context.
    keycloak_issuer: str
    token_audience: str = "guichet-api"  # noqa: S105 (an audience name, not a secret)
    ca_file: Path | None = None
    identity_address: str = "127.0.0.1:50071"
    # F24: the registers prefill reads, on authentic data's mutual TLS port, with procedures'
    # service certificate (tls_certificate, tls_private_key) and the platform CA.
    authentic_data_address: str = "127.0.0.1:50082"
    authentic_data_timeout_seconds: float = Field(default=5.0, gt=0)
    # F25: the wallet's file pipeline (FileService) on its services port, mutual TLS with
    # procedures' service certificate; a file transfer's deadline is the kit's stream timeout.
    wallet_address: str = "127.0.0.1:50092"
    wallet_timeout_seconds: float = Field(default=10.0, gt=0)
    # The platform's seal on proofs of deposit, and the CA a proof is verified against.
    seal_certificate: Path
    seal_private_key: Path
    seal_key_passphrase: SecretStr | None = None
    platform_ca: Path
    # F26: the national CA that issues citizens' certificates, which applicants sign with; unset,
    # a procedure requiring a signature cannot be submitted (SIGNATURE_UNAVAILABLE).
    national_ca: Path | None = None
    # Only `make bench` turns this off, to measure what the seal costs a submission: a proof
    # without the seal is still stored but never verifies (refused outside development/test).
    seal_proofs: bool = True
    # Printed on each proof: where anyone checks it.
    public_base_url: str = "http://127.0.0.1:8000"

    # F21: the mails procedures sends itself for requests filed without an account (the codes
    # checking the address and the claim codes; the acknowledgement is messaging's notification
    # of the submitted event); a code is valid this many minutes.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "OpenGuichet <noreply@openguichet.localhost>"
    anonymous_code_minutes: int = Field(default=15, gt=0)

    # Drafts expire after this many days without a change; DraftExpiring goes out before.
    draft_days: int = Field(default=90, gt=0)
    draft_warning_days: int = Field(default=14, ge=0)
    upkeep_interval_seconds: float = Field(default=3600.0, gt=0)
    # A submitted request of a deleted account is kept for its administration this long after
    # it closed (or after its last change if it never closes), then purged.
    administration_retention_days: int = Field(default=3650, gt=0)
    # F92: an expired draft's tombstone, or a draft cancelled before submission, is deleted this
    # many days after its last change (0 keeps them).
    abandoned_draft_retention_days: int = Field(default=90, ge=0)
    # How often a stream of incoming requests looks for new ones.
    stream_poll_seconds: float = Field(default=1.0, gt=0)
    # The durable consumer of account deletions: one per deployment.
    purge_consumer: str = "procedures-account-purge"
    metrics_port: int = 0

    @model_validator(mode="after")
    def _seal_outside_production(self) -> ProceduresSettings:
        if not self.seal_proofs and self.environment not in (
            Environment.development,
            Environment.test,
        ):
            raise ValueError("PROCEDURES_SEAL_PROOFS=false is for benchmarks, never in production")
        return self

    def administrations_tls(self) -> TlsFiles:
        return TlsFiles(
            certificate=self.tls_certificate,
            private_key=self.tls_private_key,
            client_ca=self.administrations_ca,
        )
