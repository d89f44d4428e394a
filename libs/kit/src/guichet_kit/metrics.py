"""Prometheus metrics shared by every process."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

from guichet_kit.settings import PlatformSettings

GRPC_HANDLED = Counter(
    "guichet_grpc_server_handled_total",
    "gRPC calls handled, by method and status code",
    ["method", "code"],
)
GRPC_SECONDS = Histogram("guichet_grpc_server_handling_seconds", "gRPC call duration", ["method"])
OUTBOX_PUBLISHED = Counter(
    "guichet_outbox_published_total", "Events published from the outbox", ["subject"]
)
OUTBOX_FAILURES = Counter(
    "guichet_outbox_publish_failures_total", "Failed outbox publishes (retried later)"
)
EVENTS_CONSUMED = Counter(
    "guichet_events_consumed_total",
    "Events handled by a consumer, by outcome (applied, duplicate, retried, dead_lettered)",
    ["consumer", "outcome"],
)


def serve_metrics(port: int, host: str | None = None) -> None:
    """Expose /metrics on `port` (0 disables it), on `host` (None: GUICHET_METRICS_HOST)."""
    if port:
        if host is None:
            host = str(PlatformSettings().metrics_host)
        start_http_server(port, addr=host)
