"""eTracking settings, from ETRACKING_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from guichet_kit.settings import KitSettings, TlsFiles


class EtrackingSettings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="ETRACKING_", extra="ignore", frozen=True)

    database_url: str
    nats_url: str
    # Internal port: the gateway's calls (TLS optional; loopback in development).
    grpc_address: str = "127.0.0.1:50061"
    # Administration port: mutual TLS, client certificates from the administrations' CA.
    admin_grpc_address: str = "127.0.0.1:50062"
    tls_certificate: Path
    tls_private_key: Path
    administrations_ca: Path
    # Callers' tokens (a signed-in citizen's trackings are listed in their space).
    keycloak_issuer: str
    token_audience: str = "guichet-api"  # noqa: S105 (an audience name, not a secret)
    ca_file: Path | None = None
    # identity answers whether a caller may act in a company's or a relation's context.
    identity_address: str = "127.0.0.1:50071"
    # Where a citizen follows a tracking (printed as a QR code on the sheet).
    public_base_url: str = "http://127.0.0.1:8000"
    metrics_port: int = 0

    def admin_tls(self) -> TlsFiles:
        return TlsFiles(
            certificate=self.tls_certificate,
            private_key=self.tls_private_key,
            client_ca=self.administrations_ca,
        )
