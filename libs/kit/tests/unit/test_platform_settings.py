"""The deployment's own settings (GUICHET_*): where /metrics listens, the worker's health port."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from pydantic import ValidationError

from guichet_kit.metrics import serve_metrics
from guichet_kit.settings import PlatformSettings
from guichet_testkit.processes import free_port


def test_metrics_listen_on_the_loopback_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUICHET_METRICS_HOST", raising=False)
    assert str(PlatformSettings().metrics_host) == "127.0.0.1"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3"])  # noqa: S104 (what a pod uses)
def test_metrics_may_listen_on_all_interfaces(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("GUICHET_METRICS_HOST", host)
    assert str(PlatformSettings().metrics_host) == host


@pytest.mark.parametrize("host", ["all", "0.0.0.0:9000", "", "localhost"])
def test_a_metrics_host_that_is_no_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("GUICHET_METRICS_HOST", host)
    with pytest.raises(ValidationError, match="metrics_host"):
        PlatformSettings()


def test_metrics_are_served_on_the_configured_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUICHET_METRICS_HOST", "127.0.0.2")
    port = free_port()
    serve_metrics(port)
    with urllib.request.urlopen(f"http://127.0.0.2:{port}/metrics", timeout=5) as reply:
        assert b"guichet_outbox_published_total" in reply.read()
    # Not on the other loopback address: bound to the one it was given.
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 5):
        pass


@pytest.mark.parametrize("address", ["0.0.0.0:50090", "[::]:50090", "worker:50090"])
def test_a_worker_health_address_is_host_and_port(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    monkeypatch.setenv("GUICHET_WORKER_HEALTH_ADDRESS", address)
    assert PlatformSettings().worker_health_address == address


def test_no_worker_health_port_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUICHET_WORKER_HEALTH_ADDRESS", raising=False)
    assert PlatformSettings().worker_health_address is None
