"""Settings refuse what cannot work, at start-up, naming the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from guichet_messaging.settings import MessagingSettings

REQUIRED = {
    "database_url": "postgresql+asyncpg://u:p@127.0.0.1/messaging",
    "nats_url": "nats://127.0.0.1:4222",
    "tls_certificate": "service.crt",
    "tls_private_key": "service.key",
    "administrations_ca": "ca.crt",
    "keycloak_issuer": "https://localhost/realms/guichet",
}


def test_the_defaults_are_the_development_ports() -> None:
    settings = MessagingSettings(**REQUIRED)  # type: ignore[arg-type]
    assert (settings.grpc_address, settings.admin_grpc_address) == (
        "127.0.0.1:50111",
        "127.0.0.1:50112",
    )


def test_a_maximum_delay_below_the_first_is_refused() -> None:
    with pytest.raises(ValidationError, match="MESSAGING_DELIVERY_MAX_DELAY_SECONDS"):
        MessagingSettings(
            **REQUIRED,  # type: ignore[arg-type]
            delivery_base_delay_seconds=60,
            delivery_max_delay_seconds=5,
        )


@pytest.mark.parametrize(
    "field", ["delivery_max_attempts", "delivery_base_delay_seconds", "smtp_port"]
)
def test_zero_is_refused_where_it_cannot_work(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        MessagingSettings(**REQUIRED, **{field: 0})  # type: ignore[arg-type]


def test_a_missing_address_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MESSAGING_DATABASE_URL", "MESSAGING_NATS_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match="database_url"):
        MessagingSettings(**{k: v for k, v in REQUIRED.items() if k != "database_url"})  # type: ignore[arg-type]


def test_senders_that_send_nothing_are_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="MESSAGING_NOOP_SENDERS"):
        MessagingSettings(**REQUIRED, environment="production", noop_senders=True)  # type: ignore[arg-type]
    assert MessagingSettings(**REQUIRED, noop_senders=True).noop_senders  # type: ignore[arg-type]
