"""The gateway application: `create_app()` wires stubs and clients in its lifespan."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import ORJSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guichet.authentic_data.v1 import authentic_data_pb2_grpc as authentic_data_grpc
from guichet.etracking.v1 import etracking_pb2_grpc as etracking_grpc
from guichet.identity.v1 import identity_pb2_grpc as identity_grpc
from guichet.messaging.v1 import exchanges_pb2_grpc as exchanges_grpc
from guichet.messaging.v1 import messaging_pb2_grpc as messaging_grpc
from guichet.procedures.v1 import procedures_pb2_grpc as procedures_grpc
from guichet.wallet.v1 import wallet_pb2_grpc as wallet_grpc
from guichet_gateway import (
    account,
    altcha,
    dashboard,
    etracking,
    health,
    live,
    me,
    messages,
    my_data,
    notifications,
    procedures,
    procedures_anonymous,
    procedures_appointments,
    relations,
    spaces,
    wallet,
)
from guichet_gateway.deps import ServiceStubs
from guichet_gateway.openapi import install_openapi
from guichet_gateway.ratelimit import (
    ACCOUNT_REQUESTS,
    ANONYMOUS_CREATIONS,
    CHALLENGES,
    LOOKUPS,
    RateLimiter,
)
from guichet_gateway.settings import GatewaySettings
from guichet_gateway.web import (
    account_pages,
    account_space,
    anonymous_pages,
    dashboard_page,
    etracking_pages,
    messages_pages,
    my_data_pages,
    notifications_pages,
    pages,
    procedure_extras_pages,
    procedures_pages,
    relations_space,
    request_messages_pages,
    signin,
    wallet_pages,
)
from guichet_gateway.web.oidc import OidcClient
from guichet_gateway.web.session import (
    CookiePolicy,
    SessionStore,
    TokenVault,
    purge_periodically,
    session_principal,
)
from guichet_kit import correlation, tracing
from guichet_kit.auth import TokenVerifier
from guichet_kit.client_streams import threaded_insecure_channel
from guichet_kit.db import create_engine
from guichet_kit.events import connect
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.i18n import pick_language, set_language
from guichet_kit.logs import configure_logging
from guichet_kit.problems import install_problem_handlers
from guichet_kit.revocation import follow_account_deletions

log = structlog.get_logger(__name__)

HTTP_REQUESTS = Counter(
    "guichet_http_requests_total", "Gateway requests", ["route", "method", "status"]
)
HTTP_SECONDS = Histogram("guichet_http_request_seconds", "Gateway request duration", ["route"])


DESCRIPTION = """The public API of OpenGuichet for the web client and the mobile apps.

**Signing in.** Routes marked *Token: required* need `Authorization: Bearer <access token>` from
the platform's sign-in service; each says the level of assurance it needs (`x-level-of-assurance`:
low, substantial or high). A lower sign-in gets `401` with the RFC 9470 challenge
(`WWW-Authenticate: Bearer error="insufficient_user_authentication", acr_values="…"`): sign in
again at that level.

**Acting for others.** Routes that honour `X-Acting-Context` act in the name of a company
(`company:<space id>`) or a person (`relation:<relation id>`); `GET /api/v1/me` lists the contexts
the caller may use.

**Errors.** Every error is an RFC 9457 problem (`application/problem+json`) with a stable
`reason`, a `title` in the caller's language (`lang`, else `Accept-Language`: fr, de, en) and,
for invalid input, every wrong field in `errors`.
"""


def _operation_id(route: APIRoute) -> str:
    # Stable ids for generated clients: "<tag>-<function name>".
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


class BodyLimit:
    """Refuses a request body beyond `max_bytes` (413) while it is read, before it is parsed:
    every field is bounded, and so is the whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or wallet.streams_its_body(scope)
            or procedures.bounds_its_body(scope)
        ):
            # A file upload (uploads.py) or a proof to check bounds its own body.
            await self.app(scope, receive, send)
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413)
            return message

        await self.app(scope, bounded, send)


class RequestContext:
    """Per request: the correlation id (taken or made, and returned), the language the services
    answer in, and the request metrics. A plain ASGI middleware: Starlette's `BaseHTTPMiddleware`
    runs each request through extra tasks and streams, a large cost on every call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        cid = correlation.ensure(request.headers.get(correlation.HTTP_HEADER))
        # The services render their messages in this language (forwarded as `x-language`).
        set_language(
            pick_language(request.headers.get("accept-language"), request.query_params.get("lang"))
        )
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[correlation.HTTP_HEADER] = cid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = route.path if isinstance(route, APIRoute) else "unmatched"
            HTTP_REQUESTS.labels(path, scope["method"], str(status)).inc()
            HTTP_SECONDS.labels(path).observe(time.perf_counter() - started)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    configure_logging("gateway", settings.log_level, json=settings.log_json)
    tracing.configure("gateway")  # on when GUICHET_OTLP_ENDPOINT is set

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = settings.call_timeout_seconds
        data_channel = insecure_channel(settings.authentic_data_address, timeout=timeout)
        etracking_channel = insecure_channel(settings.etracking_address, timeout=timeout)
        identity_channel = insecure_channel(settings.identity_address, timeout=timeout)
        wallet_channel = insecure_channel(settings.wallet_address, timeout=timeout)
        wallet_uploads_channel = threaded_insecure_channel(settings.wallet_address)
        procedures_uploads_channel = threaded_insecure_channel(settings.procedures_address)
        procedures_channel = insecure_channel(settings.procedures_address, timeout=timeout)
        messaging_channel = insecure_channel(settings.messaging_address, timeout=timeout)
        messaging_uploads_channel = threaded_insecure_channel(settings.messaging_address)
        app.state.channels = {
            "etracking": etracking_channel,
            "identity": identity_channel,
            "wallet": wallet_channel,
            "procedures": procedures_channel,
        }
        app.state.stubs = ServiceStubs(
            data=authentic_data_grpc.MyDataServiceStub(data_channel),
            certificates=authentic_data_grpc.CertificateVerificationServiceStub(data_channel),
            etracking=etracking_grpc.TrackingServiceStub(etracking_channel),
            accounts=identity_grpc.AccountServiceStub(identity_channel),
            profiles=identity_grpc.ProfileServiceStub(identity_channel),
            relations=identity_grpc.RelationServiceStub(identity_channel),
            spaces=identity_grpc.SpaceServiceStub(identity_channel),
            procedures=procedures_grpc.ProceduresServiceStub(procedures_channel),
            procedures_anonymous=procedures_grpc.AnonymousProceduresServiceStub(procedures_channel),
            wallet=wallet_grpc.WalletServiceStub(wallet_channel),
            wallet_uploads=wallet_grpc.WalletServiceStub(wallet_uploads_channel),
            procedures_uploads=procedures_grpc.ProceduresServiceStub(procedures_uploads_channel),
            messaging=messaging_grpc.MessagingServiceStub(messaging_channel),
            exchanges=exchanges_grpc.ExchangeServiceStub(messaging_channel),
            exchanges_uploads=exchanges_grpc.ExchangeServiceStub(messaging_uploads_channel),
        )
        app.state.channels["authentic-data"] = data_channel
        app.state.verifier = TokenVerifier(
            settings.keycloak_issuer, settings.token_audience, ca_file=settings.ca_file
        )
        # Tokens of deleted accounts are refused here too, as soon as the deletion is published.
        nats_client = await connect(settings.nats_url, "gateway")
        stop_following = asyncio.Event()
        following = asyncio.create_task(
            follow_account_deletions(
                nats_client.jetstream(), app.state.verifier.revoked, stop_following
            )
        )
        # Live badges: one subscription per replica, fanned out to the open streams.
        app.state.live = live.LiveHub()
        app.state.verifier.revoked.on_revoke(app.state.live.drop_subject)
        live_following = asyncio.create_task(
            live.follow_status_changes(nats_client.jetstream(), app.state.live, stop_following)
        )
        # The web client's sessions: tokens kept here, a cookie in the browser.
        engine = create_engine(settings.database_url, pool_size=8, max_overflow=8)
        oidc = OidcClient(
            settings.keycloak_issuer,
            settings.client_id,
            settings.client_secret.get_secret_value(),
            f"{settings.public_url.rstrip('/')}/auth/callback",
            app.state.verifier,
            ca_file=settings.ca_file,
        )
        app.state.sessions = SessionStore(
            engine,
            oidc,
            app.state.verifier,
            CookiePolicy.for_url(settings.public_url),
            TokenVault(settings.session_key.get_secret_value()),
        )
        purging = asyncio.create_task(purge_periodically(app.state.sessions, stop_following))
        app.state.challenges = altcha.Challenges(
            settings.altcha_hmac_key.get_secret_value(), settings.altcha_cost, engine
        )
        app.state.settings = settings
        app.state.http = httpx.AsyncClient(timeout=2.0)
        app.state.limiters = {
            LOOKUPS.name: RateLimiter(settings.lookup_rate_per_minute, settings.lookup_burst),
            ACCOUNT_REQUESTS.name: RateLimiter(
                settings.account_rate_per_minute, settings.account_burst
            ),
            ANONYMOUS_CREATIONS.name: RateLimiter(
                settings.creation_rate_per_minute, settings.creation_burst
            ),
            CHALLENGES.name: RateLimiter(
                settings.challenge_rate_per_minute, settings.challenge_burst
            ),
        }
        app.state.health_urls = settings.health_urls
        log.info("gateway.started", etracking=settings.etracking_address)
        yield
        stop_following.set()
        app.state.live.close_all()
        await following
        await live_following
        await purging
        await nats_client.drain()
        await oidc.close()
        await engine.dispose()
        await app.state.http.aclose()
        await data_channel.close()
        await etracking_channel.close()
        await identity_channel.close()
        await wallet_channel.close()
        wallet_uploads_channel.close()
        procedures_uploads_channel.close()
        await procedures_channel.close()
        await messaging_channel.close()
        messaging_uploads_channel.close()
        log.info("gateway.stopped")

    app = FastAPI(
        title="OpenGuichet API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        default_response_class=ORJSONResponse,
    )
    parts = urlsplit(settings.keycloak_issuer)
    app.state.content_security_policy = pages.content_security_policy(
        f"{parts.scheme}://{parts.netloc}"
    )
    # A browser asking for a page gets its refusal as a page; programs keep their problems.
    install_problem_handlers(app, page=pages.error_page)
    for module in (etracking, me, account, relations, spaces, live, dashboard, altcha, wallet):
        app.include_router(module.router)
    app.include_router(my_data.router)
    app.include_router(procedures.router)
    app.include_router(procedures_appointments.router)
    app.include_router(procedures_anonymous.router)
    app.include_router(notifications.router)
    app.include_router(messages.router)
    app.include_router(health.router)
    # The web client: pages outside /api and the API document, their assets under /static.
    app.include_router(pages.router)
    app.include_router(signin.router)
    # The badges' stream also serves the web client's pages, signed in by their cookie.
    live.accept_sign_in(session_principal)
    app.include_router(account_pages.router)
    app.include_router(account_space.router)
    app.include_router(etracking_pages.router)
    app.include_router(relations_space.router)
    app.include_router(my_data_pages.router)
    app.include_router(dashboard_page.router)
    app.include_router(wallet_pages.router)
    # Before the procedures' pages: /procedures/follow is not a procedure's code.
    app.include_router(anonymous_pages.router)
    app.include_router(procedures_pages.router)
    app.include_router(procedure_extras_pages.router)
    app.include_router(notifications_pages.router)
    app.include_router(request_messages_pages.router)
    app.include_router(messages_pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR, check_dir=False), name="static")
    install_openapi(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    app.add_middleware(RequestContext)
    # Outermost: a span per request, parent of the services' spans (probes have none).
    tracing.instrument_asgi(app, excluded_paths="/healthz,/metrics,/static/")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
