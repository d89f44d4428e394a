"""Settings shared by every service: one prefix per service, read from the environment only."""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from pydantic import Field, IPvAnyAddress, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A default secret carries this marker so that it is refused outside development.
DEVELOPMENT_SECRET_PREFIX = "development-only-"  # noqa: S105 (a marker, not a secret)


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class DefaultSecretInProduction(ValueError):
    """A secret still has its development default outside development."""


class KitSettings(BaseSettings):
    """Base of every service's settings; subclasses set `env_prefix` (e.g. `ETRACKING_`)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Environment = Environment.development
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> KitSettings:
        if self.environment is Environment.development:
            return self
        for name in type(self).model_fields:
            value: Any = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value().startswith(
                DEVELOPMENT_SECRET_PREFIX
            ):
                raise DefaultSecretInProduction(
                    f"{name} still has its development default; set it for {self.environment}"
                )
        return self


class PlatformSettings(BaseSettings):
    """What every process of one deployment shares, from GUICHET_* variables (not per service)."""

    model_config = SettingsConfigDict(env_prefix="GUICHET_", extra="ignore", frozen=True)

    # Copies of each JetStream stream the services create: 1 on a single NATS server, 3 on a
    # cluster of 3 (a stream then survives the loss of a node). JetStream allows at most 5.
    stream_replicas: int = Field(default=1, ge=1, le=5)
    # Where /metrics listens (its port is each service's METRICS_PORT): the loopback on a shared
    # host; all interfaces (0.0.0.0) in a pod, for the cluster's scraper.
    metrics_host: IPvAnyAddress = IPv4Address("127.0.0.1")
    # The worker role's gRPC health port (host:port), for Kubernetes' probes; unset, none.
    worker_health_address: str | None = Field(
        default=None, pattern=r"^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):\d{1,5}$"
    )

    @field_validator("worker_health_address")
    @classmethod
    def _port_in_range(cls, address: str | None) -> str | None:
        if address is not None and not 0 < int(address.rpartition(":")[2]) < 65536:
            raise ValueError(f"{address}: the port must be between 1 and 65535")
        return address


class TlsFiles(BaseSettings):
    """PEM files for a TLS endpoint; `client_ca` set means client certificates are required."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    certificate: Path
    private_key: Path
    client_ca: Path | None = None

    def read(self) -> tuple[bytes, bytes, bytes | None]:
        ca = self.client_ca.read_bytes() if self.client_ca else None
        return self.certificate.read_bytes(), self.private_key.read_bytes(), ca
