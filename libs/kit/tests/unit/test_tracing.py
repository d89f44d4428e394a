"""Tracing is off unless GUICHET_OTLP_ENDPOINT is set; a bad setting is refused, clearly."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from guichet_kit import tracing


@pytest.fixture(autouse=True)
def untraced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUICHET_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("GUICHET_TRACE_RATIO", raising=False)
    tracing.shutdown()


def test_without_an_endpoint_nothing_is_traced_and_nothing_is_added() -> None:
    assert tracing.configure("etracking") is False
    assert not tracing.enabled()
    headers = {"Event-Type": "guichet.events.v1.TrackingCreated"}
    tracing.inject(headers)
    assert headers == {"Event-Type": "guichet.events.v1.TrackingCreated"}
    assert tracing.grpc_metadata() == ()
    incoming = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with tracing.span("guichet.x.v1.S/M", SpanKind.SERVER, parent=incoming) as span:
        assert span is None
        assert tracing.grpc_metadata() == ()


@pytest.mark.parametrize("value", ["127.0.0.1:4317", "grpc://collector:4317", "jaeger"])
def test_an_endpoint_that_is_no_url_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("GUICHET_OTLP_ENDPOINT", value)
    with pytest.raises(ValidationError, match="GUICHET_OTLP_ENDPOINT must be an http"):
        tracing.configure("etracking")
    assert not tracing.enabled()


@pytest.mark.parametrize("value", ["-0.1", "1.5", "half"])
def test_a_ratio_outside_zero_to_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GUICHET_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("GUICHET_TRACE_RATIO", value)
    with pytest.raises(ValidationError, match="trace_ratio"):
        tracing.configure("etracking")
    assert not tracing.enabled()
