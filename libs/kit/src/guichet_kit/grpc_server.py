"""The `grpc.aio` server every service runs: health, reflection, interceptors, TLS, SIGTERM.

On SIGTERM the health status turns NOT_SERVING first (so load balancers stop sending), then
in-flight calls get `grace` seconds, then the registered shutdown callbacks run.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import grpc
import structlog
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.trace import Span, SpanKind

from guichet_kit import correlation, tracing
from guichet_kit.auth import (
    ACTING_CONTEXT_KEY,
    AUTHORIZATION_KEY,
    ActingContext,
    InvalidToken,
    IssuerUnavailable,
    RevokedToken,
    TokenVerifier,
    bearer_token,
    set_caller,
)
from guichet_kit.domain import DomainError, FieldError, InvalidInput, Unauthenticated, Unavailable
from guichet_kit.errors import ServiceError, service_error
from guichet_kit.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGE_METADATA_KEY,
    Catalog,
    parse_language,
    set_language,
)
from guichet_kit.metrics import GRPC_HANDLED, GRPC_SECONDS
from guichet_kit.servicers import Registry
from guichet_kit.settings import TlsFiles

log = structlog.get_logger(__name__)

_ = Catalog("guichet_kit")

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
# The kit's own services, always admitted; every other method must be a declared RPC.
KIT_SERVICES = (f"/{HEALTH_SERVICE}/", f"/{reflection.SERVICE_NAME}/")
# Bounds on any request, before a servicer's own tighter checks: no unbounded input goes further.
MAX_STRING_LENGTH = 10_000
MAX_LIST_ITEMS = 1_000


class KitInterceptor(grpc.aio.ServerInterceptor):
    """Correlation id, language and caller in; undeclared methods refused; refusals → status with
    details; a log line and metrics per call."""

    def __init__(
        self, verifier: TokenVerifier | None = None, declared: set[str] | None = None
    ) -> None:
        self._verifier = verifier
        # None admits every method (tests of the interceptor alone); the runner always passes a set.
        self._declared = declared
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def _identify(self, metadata: dict[str, str | bytes]) -> None:
        """Verify the forwarded token, if any; the servicer decides whether one is needed."""
        raw_context = metadata.get(ACTING_CONTEXT_KEY)
        try:
            context = ActingContext.parse(raw_context if isinstance(raw_context, str) else None)
        except ValueError as error:
            raise InvalidInput(
                "INVALID_ACTING_CONTEXT",
                _("Give private, company:<space id> or relation:<relation id>."),
            ) from error
        raw_token = metadata.get(AUTHORIZATION_KEY)
        token = bearer_token(raw_token if isinstance(raw_token, str) else None)
        if token is None or self._verifier is None:
            set_caller(None)
            return
        try:
            principal = await self._verifier.verify(token)
        except IssuerUnavailable as error:
            raise Unavailable(
                "IDENTITY_PROVIDER_UNAVAILABLE",
                _("The sign-in service cannot be reached; try again shortly."),
            ) from error
        except RevokedToken as error:
            raise Unauthenticated(
                "TOKEN_REVOKED", _("The account of this sign-in was deleted.")
            ) from error
        except InvalidToken as error:
            raise Unauthenticated(
                "INVALID_TOKEN", _("The access token is not valid: {why}", why=str(error))
            ) from error
        set_caller(principal, context)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = details.method
        if (wrapped := self._wrapped.get(method)) is not None:
            return wrapped  # built once per method, not on every call
        handler = await continuation(details)
        if handler is None or method.startswith(KIT_SERVICES):
            return handler
        if self._declared is not None and method not in self._declared:
            return _refusing(handler, method)
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = wrapped
        return wrapped

    def _enter(self, context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str | bytes]:
        """Correlation id and language of the call, from its metadata."""
        metadata = dict(context.invocation_metadata() or ())
        incoming = metadata.get(correlation.GRPC_METADATA_KEY)
        correlation.ensure(incoming if isinstance(incoming, str) else None)
        language = metadata.get(LANGUAGE_METADATA_KEY)
        set_language(
            parse_language(language if isinstance(language, str) else None) or DEFAULT_LANGUAGE
        )
        return metadata

    @staticmethod
    def _code_of(
        error: BaseException, context: grpc.aio.ServicerContext[Any, Any]
    ) -> grpc.StatusCode:
        if isinstance(error, DomainError):
            return service_error(error).code
        if isinstance(error, ServiceError):
            return error.code
        if isinstance(error, asyncio.CancelledError):
            return grpc.StatusCode.CANCELLED
        if isinstance(error, grpc.aio.AbortError):
            return context.code() or grpc.StatusCode.UNKNOWN
        if isinstance(error, grpc.aio.AioRpcError) and error.code() in DOWNSTREAM_OUTAGES:
            return grpc.StatusCode.UNAVAILABLE
        return grpc.StatusCode.INTERNAL

    @staticmethod
    async def _abort(
        error: BaseException, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        """End a failed call with its status (aborting raises); cancellations and aborts that
        already happened pass through."""
        if isinstance(error, asyncio.CancelledError | grpc.aio.AbortError):
            return
        if isinstance(error, DomainError):
            error = service_error(error)
        if isinstance(error, ServiceError):
            log.info("grpc.refused", method=method, reason=error.reason, code=error.code.name)
            await context.abort_with_status(error.to_status())
        if isinstance(error, grpc.aio.AioRpcError) and error.code() in DOWNSTREAM_OUTAGES:
            # A service this one calls is down: the caller may retry, it is not a bug.
            log.warning("grpc.dependency_unavailable", method=method, error=repr(error))
            status = ServiceError(
                grpc.StatusCode.UNAVAILABLE, "DEPENDENCY_UNAVAILABLE", "a dependency is down"
            )
            await context.abort_with_status(status.to_status())
        log.error("grpc.failed", method=method, exc_info=error)
        await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    def _wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        """The same admission, error mapping, log and metrics for every kind of RPC. Streamed
        requests have each message checked as the servicer reads it."""
        serialization = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }

        async def checked(
            messages: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            async for message in messages:
                check_request(message)
                yield message
            # A client that cancels ends the stream like one that finished; the handler's
            # cancellation lands at its next suspension. Take it here, so no body ever treats a
            # cut-off file as complete.
            await asyncio.sleep(0)
            if context.cancelled():
                raise asyncio.CancelledError

        async def answer(
            request: Any, context: grpc.aio.ServicerContext[Any, Any], inner: Any
        ) -> Any:
            metadata = self._enter(context)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            with _server_span(method, metadata) as span:
                try:
                    await self._identify(metadata)
                    if handler.request_streaming:
                        return await inner(checked(request, context), context)
                    check_request(request)
                    return await inner(request, context)
                except BaseException as error:
                    code = self._code_of(error, context)
                    await self._abort(error, method, context)
                    raise
                finally:
                    _end_server_span(span, code)
                    GRPC_HANDLED.labels(method, code.name).inc()
                    GRPC_SECONDS.labels(method).observe(time.perf_counter() - started)

        replies: Any = handler.unary_stream

        async def stream(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            metadata = self._enter(context)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            with _server_span(method, metadata) as span:
                try:
                    await self._identify(metadata)
                    check_request(request)
                    async for reply in replies(request, context):
                        yield reply
                except BaseException as error:
                    code = self._code_of(error, context)
                    await self._abort(error, method, context)
                    raise
                finally:
                    _end_server_span(span, code)
                    GRPC_HANDLED.labels(method, code.name).inc()
                    GRPC_SECONDS.labels(method).observe(time.perf_counter() - started)

        if handler.unary_unary:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                return await answer(request, context, inner)

            return grpc.unary_unary_rpc_method_handler(unary, **serialization)
        if handler.stream_unary:
            inner_stream = handler.stream_unary

            async def upload(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                return await answer(requests, context, inner_stream)

            return grpc.stream_unary_rpc_method_handler(upload, **serialization)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(stream, **serialization)
        return handler  # bidirectional streams: no service declares one


DOWNSTREAM_OUTAGES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
# Codes that mean the platform failed, not that it refused the caller's request (traces).
_SERVER_FAILURES = (
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.UNIMPLEMENTED,
)


def _server_span(
    method: str, metadata: dict[str, str | bytes]
) -> AbstractContextManager[Span | None]:
    """The call's span, child of the caller's (`traceparent` in the metadata)."""
    service, _slash, name = method.lstrip("/").rpartition("/")
    return tracing.span(
        method.lstrip("/"),
        SpanKind.SERVER,
        parent=metadata,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
        failed_on_exception=False,
    )


def _end_server_span(span: Span | None, code: grpc.StatusCode) -> None:
    if span is not None:
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code in _SERVER_FAILURES:
            tracing.failed(span, code.name)


def _refusing(
    handler: grpc.RpcMethodHandler[Any, Any], method: str
) -> grpc.RpcMethodHandler[Any, Any]:
    """A method registered without a declaration answers nothing but a refusal."""
    status = ServiceError(
        grpc.StatusCode.UNIMPLEMENTED, "RPC_NOT_DECLARED", f"{method} is not a declared RPC"
    ).to_status()

    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        log.error("grpc.undeclared_method", method=method)
        await context.abort_with_status(status)

    if handler.unary_unary or handler.unary_stream:
        build = grpc.unary_unary_rpc_method_handler
    else:
        build = grpc.stream_unary_rpc_method_handler
    return build(
        refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def check_request(message: Message, path: str = "") -> None:
    """Refuse what no field may hold: NUL characters (PostgreSQL cannot store them), strings and
    lists beyond the kit's bounds. The message names the field, never echoes the value."""
    for descriptor, value in message.ListFields():
        name = f"{path}{descriptor.name}"
        items = value if descriptor.is_repeated else [value]
        if descriptor.is_repeated and len(items) > MAX_LIST_ITEMS:
            too_many = _("At most {limit} items.", limit=MAX_LIST_ITEMS)
            raise InvalidInput(
                "REQUEST_TOO_LARGE", too_many, [FieldError(name, "too_many", too_many)]
            )
        if descriptor.type == FieldDescriptor.TYPE_STRING:
            if any("\x00" in item for item in items):
                nul = _("Remove the NUL (\\0) character.")
                raise InvalidInput(
                    "INVALID_CHARACTER", nul, [FieldError(name, "nul_character", nul)]
                )
            if any(len(item) > MAX_STRING_LENGTH for item in items):
                too_long = _("At most {limit} characters.", limit=MAX_STRING_LENGTH)
                raise InvalidInput(
                    "TEXT_TOO_LONG", too_long, [FieldError(name, "too_long", too_long)]
                )
        elif descriptor.type == FieldDescriptor.TYPE_MESSAGE:
            for item in items:
                if isinstance(item, Message):
                    check_request(item, f"{name}.")


@dataclass(frozen=True)
class Endpoint:
    """A listening address; with `tls` set it is TLS, and mutual TLS when tls.client_ca is set."""

    address: str
    tls: TlsFiles | None = None


def _add_port(server: grpc.aio.Server, endpoint: Endpoint) -> int:
    if endpoint.tls is None:
        return server.add_insecure_port(endpoint.address)
    certificate, key, client_ca = endpoint.tls.read()
    credentials = grpc.ssl_server_credentials(
        [(key, certificate)],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )
    return server.add_secure_port(endpoint.address, credentials)


# After a while a connection is told to go away (GOAWAY): the client resolves the name again for
# its next calls and so spreads them over the pods added since (round_robin, grpc_client.py).
# The calls under way finish on the old connection however long they take (no grace limit): a
# file transfer, an administration's watch of its incoming requests or receipts.
CONNECTION_AGE_SECONDS = 300
SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_connection_age_ms", CONNECTION_AGE_SECONDS * 1000),
)


@dataclass
class GrpcService:
    """What a service hands to the runner: how to register its servicers, and its checks."""

    name: str
    # Adds the service's declared servicers (`registry.add(...)`).
    register: Callable[[Registry], None]
    endpoints: Sequence[Endpoint]
    # Returns False while a dependency (database, NATS) is down: health says NOT_SERVING.
    readiness: Callable[[], Awaitable[bool]] | None = None
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    grace_seconds: float = 10.0
    readiness_interval: float = 5.0
    # Verifies the callers' access tokens; None for a service that takes no user calls.
    token_verifier: TokenVerifier | None = None


async def serve(service: GrpcService, stop: asyncio.Event) -> None:
    """Run until `stop` is set (the caller wires SIGTERM to it with `stop_on_signals`)."""
    declared: set[str] = set()
    server = grpc.aio.server(
        interceptors=[KitInterceptor(service.token_verifier, declared)], options=SERVER_OPTIONS
    )
    registry = Registry(server, declared)
    service.register(registry)
    names = list(registry.services)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([*names, HEALTH_SERVICE, reflection.SERVICE_NAME], server)
    for endpoint in service.endpoints:
        port = _add_port(server, endpoint)
        log.info(
            "grpc.listening",
            address=endpoint.address,
            port=port,
            tls="mutual" if endpoint.tls and endpoint.tls.client_ca else bool(endpoint.tls),
        )
    await server.start()

    async def set_status(serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ["", *names]:
            await health_servicer.set(name, status)

    async def watch_readiness() -> None:
        while True:
            ready = True
            if service.readiness is not None:
                try:
                    ready = await asyncio.wait_for(service.readiness(), timeout=3)
                except Exception:
                    ready = False
            await set_status(ready)
            await asyncio.sleep(service.readiness_interval)

    watcher = asyncio.create_task(watch_readiness())
    await stop.wait()
    log.info("grpc.stopping", grace=service.grace_seconds)
    watcher.cancel()
    await health_servicer.enter_graceful_shutdown()
    await server.stop(service.grace_seconds)
    for callback in service.on_shutdown:
        await callback()
    log.info("grpc.stopped")


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
