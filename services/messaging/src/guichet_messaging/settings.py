"""Messaging settings, from MESSAGING_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from guichet_kit.settings import Environment, KitSettings, TlsFiles


class MessagingSettings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="MESSAGING_", extra="ignore", frozen=True)

    database_url: str
    nats_url: str
    # Internal port: the gateway's calls (the caller's token in the metadata).
    grpc_address: str = "127.0.0.1:50111"
    # Administrations' port (exchanges, eDelivery): mutual TLS, the administrations' CA.
    admin_grpc_address: str = "127.0.0.1:50112"
    tls_certificate: Path
    tls_private_key: Path
    administrations_ca: Path
    # Callers' tokens (a signed-in person reads their notifications).
    keycloak_issuer: str
    token_audience: str = "guichet-api"  # noqa: S105 (an audience name, not a secret)
    ca_file: Path | None = None
    # Links in notifications lead to the web client.
    public_base_url: str = "http://127.0.0.1:8000"

    # E-mail goes to an SMTP relay (TLS and onward delivery are the relay's business).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "OpenGuichet <noreply@openguichet.localhost>"
    # The SMS provider's HTTP API: POST <sms_url>/messages {"to", "text"}.
    sms_url: str = "http://127.0.0.1:51080"
    sms_timeout_seconds: float = Field(default=10.0, gt=0)

    # A notification not delivered is tried again after base * 2^(attempts-1) seconds (at most
    # max), and given up (`failed`) after max_attempts.
    delivery_base_delay_seconds: float = Field(default=5.0, gt=0)
    delivery_max_delay_seconds: float = Field(default=3600.0, gt=0)
    delivery_max_attempts: int = Field(default=10, gt=0)
    # How often the delivery worker looks for retries due (new notifications wake it at once),
    # and how many it hands over at the same time.
    delivery_poll_seconds: float = Field(default=1.0, gt=0)
    delivery_concurrency: int = Field(default=4, gt=0, le=64)
    # Benchmarks only: notifications are marked delivered without being handed to the SMTP relay
    # or the SMS provider (the path's own cost, against which the relay's is measured). Nobody
    # would be told anything: refused in production.
    noop_senders: bool = False
    # identity's services port (mutual TLS, messaging's certificate above, the platform CA): a
    # person's contact and preferences for the notifications of their requests and pieces. Unset
    # platform CA: those notifications are not consumed (eTracking's still are).
    identity_address: str = "127.0.0.1:50073"
    platform_ca: Path | None = None
    identity_timeout_seconds: float = Field(default=5.0, gt=0)
    # eDelivery (F63) and its receipts (F64): the wallet's services port (messaging's certificate,
    # the platform CA) takes the documents; receipts are JWS sealed with the platform's seal (its
    # chain in x5c). Unset seal: eDelivery is not served.
    wallet_address: str = "127.0.0.1:50092"
    seal_certificate: Path | None = None
    seal_private_key: Path | None = None
    seal_key_passphrase: SecretStr | None = None
    # A delivery not opened after this many days gives its sender an `unread` receipt (to send
    # it on paper); the worker looks for them this often.
    edelivery_unread_days: float = Field(default=14.0, gt=0)
    edelivery_unread_check_seconds: float = Field(default=300.0, gt=0)
    # procedures' internal port: a thread per request asks it (with the person's token) whether
    # the request is theirs and which administration receives it.
    procedures_address: str = "127.0.0.1:50101"
    procedures_timeout_seconds: float = Field(default=5.0, gt=0)
    # The durable consumers' names start with this (one set per deployment).
    consumer_prefix: str = "messaging"
    metrics_port: int = 0
    # F92: delivered or failed notifications are purged this many days after (0 keeps them).
    notification_retention_days: int = Field(default=365, ge=0)

    @model_validator(mode="after")
    def _delays_in_order(self) -> MessagingSettings:
        if self.delivery_max_delay_seconds < self.delivery_base_delay_seconds:
            raise ValueError("MESSAGING_DELIVERY_MAX_DELAY_SECONDS is below the base delay")
        return self

    @model_validator(mode="after")
    def _senders_in_production(self) -> MessagingSettings:
        if self.noop_senders and self.environment is Environment.production:
            raise ValueError("MESSAGING_NOOP_SENDERS would tell nobody anything: not in production")
        return self

    @model_validator(mode="after")
    def _edelivery_complete(self) -> MessagingSettings:
        if (self.seal_certificate is None) != (self.seal_private_key is None):
            raise ValueError("MESSAGING_SEAL_CERTIFICATE and _PRIVATE_KEY go together")
        if self.seal_certificate is not None and self.platform_ca is None:
            raise ValueError("eDelivery (MESSAGING_SEAL_*) needs MESSAGING_PLATFORM_CA")
        return self

    def administrations_tls(self) -> TlsFiles:
        return TlsFiles(
            certificate=self.tls_certificate,
            private_key=self.tls_private_key,
            client_ca=self.administrations_ca,
        )
