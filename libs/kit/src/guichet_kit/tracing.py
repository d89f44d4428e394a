"""Traces: one trace per user action, from the gateway through the services' gRPC calls, the
outbox and the consumers of the events it wrote (W3C trace context in gRPC metadata and in NATS
headers; the outbox row keeps the `traceparent` of the transaction that wrote it).

Off unless `GUICHET_OTLP_ENDPOINT` names an OTLP/gRPC collector (Jaeger in development): then the
process exports its spans there in batches. Off, no span is made and no header is added, so the
calls and events carry exactly what they carried before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

# Only the W3C headers, whatever OTEL_PROPAGATORS says: every hop of the platform speaks them.
_PROPAGATOR = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None


class TracingSettings(BaseSettings):
    """The same for every process of the platform, hence one prefix for all (`GUICHET_`)."""

    model_config = SettingsConfigDict(env_prefix="GUICHET_", extra="ignore", frozen=True)

    # e.g. http://127.0.0.1:54317 (OTLP over gRPC); unset, tracing is off.
    otlp_endpoint: str | None = None
    # Share of the traces started here that are kept; a continued trace follows its parent's choice.
    trace_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator("otlp_endpoint")
    @classmethod
    def _an_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(
                "GUICHET_OTLP_ENDPOINT must be an http:// or https:// URL of an OTLP/gRPC "
                f"collector (e.g. http://127.0.0.1:4317), not {value!r}"
            )
        return value or None


def configure(service: str, settings: TracingSettings | None = None) -> bool:
    """Export this process's spans as `service` when an endpoint is set; True when tracing is on.
    Called once per process (the service runtime, the gateway); later calls change nothing."""
    global _provider
    if _provider is not None:
        return True
    settings = settings or TracingSettings()
    if not settings.otlp_endpoint:
        return False
    # Imported here: the exporter pulls gRPC in, which a process without tracing does not need.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        sampler=ParentBased(TraceIdRatioBased(settings.trace_ratio)),
    )
    exporter = OTLPSpanExporter(
        endpoint=settings.otlp_endpoint, insecure=settings.otlp_endpoint.startswith("http://")
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
    trace.set_tracer_provider(provider)
    _provider = provider
    return True


def enabled() -> bool:
    return _provider is not None


def shutdown() -> None:
    """Send what is still buffered (a stopping process), then stop exporting."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


def inject(carrier: MutableMapping[str, str]) -> None:
    """Write the current span's context (`traceparent`) into outgoing headers or metadata."""
    if _provider is not None:
        _PROPAGATOR.inject(carrier)


def grpc_metadata() -> tuple[tuple[str, str], ...]:
    """The trace context for an outgoing gRPC call (metadata keys are lower case, as W3C's)."""
    if _provider is None:
        return ()
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return tuple(carrier.items())


def _parent(carrier: Mapping[str, Any]) -> Context | None:
    """The remote parent in incoming headers or metadata, or None when they carry none."""
    values = {
        key.lower(): value
        for key, value in carrier.items()
        if key.lower() in (TRACEPARENT, TRACESTATE) and isinstance(value, str)
    }
    if TRACEPARENT not in values:
        return None
    context = _PROPAGATOR.extract(values)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


@contextlib.contextmanager
def span(
    name: str,
    kind: SpanKind,
    *,
    parent: Mapping[str, Any] | None = None,
    attributes: Mapping[str, str | int] | None = None,
    continuing_only: bool = False,
    failed_on_exception: bool = True,
) -> Iterator[Span | None]:
    """A span made current for the block, child of the trace context in `parent` (incoming
    headers or metadata) when it holds one, else of the current span. `continuing_only`: none
    at all when `parent` holds no context (e.g. an outbox row written without tracing).
    `failed_on_exception=False`: the caller sets the status itself (a refusal is no failure).
    Yields None when tracing is off."""
    if _provider is None:
        yield None
        return
    context = _parent(parent) if parent is not None else None
    if context is None and continuing_only:
        yield None
        return
    tracer = _provider.get_tracer("guichet_kit")
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=dict(attributes or {}),
        record_exception=failed_on_exception,
        set_status_on_exception=failed_on_exception,
    ) as current:
        yield current


def failed(current: Span | None, why: str) -> None:
    """Mark a span as failed (an error of the platform, not a refusal of the caller's input)."""
    if current is not None:
        current.set_status(Status(StatusCode.ERROR, why))


def instrument_asgi(app: Any, excluded_paths: str = "") -> None:
    """A server span per HTTP request of a FastAPI app (the gateway), when tracing is on;
    `excluded_paths`: comma-separated regular expressions of paths without one (probes)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # The request's span is enough: one span per body chunk sent or received is noise.
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        excluded_urls=excluded_paths or None,
        exclude_spans=["receive", "send"],
    )
