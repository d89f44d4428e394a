"""Declared RPCs: each servicer method states who may call it; anything undeclared is refused.

    class TrackingServicer(DeclaredServicer, pb_grpc.TrackingServiceServicer):
        @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
        async def ListMyTrackings(self, request, call: Call) -> pb.ListMyTrackingsResponse:
            ...  # validate, call the rules with call.session, build the reply

The declaration admits the caller (public, a citizen at a level and in the acting contexts the RPC
allows, an administration by its client certificate, a platform service by its certificate),
opens the one transaction (or a read-only session, or none), injects the session and the caller as
a `Call`, maps the rules' `DomainError`s to a gRPC status, and wakes the outbox relay after a
commit that wrote events. `add_declared` registers a servicer only when every RPC of its service is
declared, and the kit's interceptor refuses any method that was not registered that way.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, TypeVar

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.auth import (
    ActingContext,
    LevelOfAssurance,
    Principal,
    acting_context,
    caller,
    insufficient_level,
    sign_in_required,
)
from guichet_kit.db import transaction
from guichet_kit.domain import DomainError, FieldError, Forbidden, InvalidInput, Unauthenticated
from guichet_kit.errors import service_error
from guichet_kit.i18n import Catalog, Language, Text, current_language
from guichet_kit.outbox import track_events
from guichet_kit.values import InvalidValue, parse_language_code

_ = Catalog("guichet_kit")

AccessKind = Literal["public", "citizen", "administration", "platform"]
ContextKind = Literal["private", "company", "relation"]

PRIVATE_ONLY: tuple[ContextKind, ...] = ("private",)
ANY_CONTEXT: tuple[ContextKind, ...] = ("private", "company", "relation")


@dataclass(frozen=True)
class Access:
    """Who may call an RPC."""

    kind: AccessKind
    level: LevelOfAssurance = LevelOfAssurance.LOW
    contexts: frozenset[str] = frozenset(PRIVATE_ONLY)
    services: frozenset[str] = frozenset()


def request_language(
    text: str, *, default: Language | None = None, message: Text | None = None
) -> Language:
    """The `language` field of an RPC request: fr, de or en; empty gives `default` (the caller's
    language when None). Anything else is refused (INVALID_LANGUAGE), with `message` if given."""
    if not text:
        return default if default is not None else current_language()
    try:
        return parse_language_code(text)
    except InvalidValue as error:
        why = message if message is not None else _("The language must be fr, de or en.")
        raise InvalidInput(
            "INVALID_LANGUAGE", why, [FieldError("language", error.reason, why)]
        ) from error


def public() -> Access:
    """Anyone; a signed-in caller's verified token is still available as `call.principal`."""
    return Access("public", contexts=frozenset(ANY_CONTEXT))


def citizen(
    level: LevelOfAssurance = LevelOfAssurance.LOW,
    *,
    contexts: Collection[ContextKind] = PRIVATE_ONLY,
) -> Access:
    """A signed-in person at `level` or above, acting in one of `contexts`. Whether a mandate or a
    company role really allows the act is the rules' question (`MandateChecker`): the declaration
    only says which kinds of context the RPC makes sense in."""
    return Access("citizen", level, frozenset(contexts))


def administration() -> Access:
    """An administration's back office, by the client certificate of mutual TLS; its competence
    for the thing it acts on is checked by the rules."""
    return Access("administration")


def platform_service(*names: str) -> Access:
    """Another platform service, by the common name of its certificate."""
    return Access("platform", services=frozenset(names))


class Db(Enum):
    WRITE = "write"  # one transaction, committed when the RPC returns
    READ = "read"  # an autocommit session for reads: no write transaction, no BEGIN/ROLLBACK
    NONE = "none"  # no database, or a protocol module that handles its own transactions


@dataclass
class Call:
    """What a declared RPC body gets besides its request."""

    principal: Principal | None
    acting: ActingContext
    administration: str | None = None
    service: str | None = None
    db_session: AsyncSession | None = None

    @property
    def person(self) -> Principal:
        """The signed-in caller (always there for `citizen` RPCs)."""
        if self.principal is None:
            raise sign_in_required()
        return self.principal

    @property
    def session(self) -> AsyncSession:
        if self.db_session is None:
            raise RuntimeError("this RPC was declared without a database session")
        return self.db_session


class DeclaredServicer:
    """Base of every servicer: what its declared RPCs need to run."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None,
        events_written: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.events_written = events_written
        self._read_sessions: async_sessionmaker[AsyncSession] | None = None

    def read_sessions(self) -> async_sessionmaker[AsyncSession]:
        """Sessions on autocommit connections: a read needs no BEGIN and ROLLBACK round trips."""
        if self._read_sessions is None:
            if self.sessions is None:
                raise RuntimeError(f"{type(self).__name__} has no database sessions")
            engine = self.sessions.kw["bind"]
            self._read_sessions = async_sessionmaker(
                engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
            )
        return self._read_sessions


Context = grpc.aio.ServicerContext[Any, Any]
S = TypeVar("S", bound=DeclaredServicer)
Req = TypeVar("Req")
Resp = TypeVar("Resp")
Body = Callable[[S, Req, Call], Awaitable[Resp]]
Handler = Callable[[S, Req, Context], Awaitable[Resp]]

ACCESS_ATTRIBUTE = "__rpc_access__"


def _certificate_name(context: Context | None) -> str | None:
    if context is None:
        return None
    names = list(context.auth_context().get("x509_common_name") or [])
    return names[0].decode() if names else None


def admit(access: Access, context: Context | None) -> Call:
    """Check the caller against the declaration; the refusal says what is missing."""
    principal, acting = caller(), acting_context()
    call = Call(principal, acting)
    if access.kind == "public":
        return call
    if access.kind == "citizen":
        if principal is None:
            raise sign_in_required()
        if principal.level < access.level:
            raise insufficient_level(access.level)
        if acting.kind not in access.contexts:
            raise Forbidden(
                "ACTING_CONTEXT_NOT_ALLOWED",
                _("This cannot be done while acting for a company or another person."),
            )
        return call
    name = _certificate_name(context)
    if access.kind == "administration":
        if name is None:
            raise Unauthenticated(
                "CLIENT_CERTIFICATE_REQUIRED",
                _("Administrations call this API over mutual TLS with their client certificate."),
            )
        call.administration = name
        return call
    if name is None or name not in access.services:
        raise Unauthenticated(
            "SERVICE_CERTIFICATE_REQUIRED", _("Only a platform service may call this.")
        )
    call.service = name
    return call


def rpc(
    access: Access, *, db: Db = Db.WRITE
) -> Callable[[Body[S, Req, Resp]], Handler[S, Req, Resp]]:
    """Declare an RPC: who may call it and how it uses the database."""

    def declare(body: Body[S, Req, Resp]) -> Handler[S, Req, Resp]:
        @functools.wraps(body)
        async def handler(self: S, request: Req, context: Context) -> Resp:
            events = track_events()
            try:
                call = admit(access, context)
                if db is Db.NONE:
                    reply = await body(self, request, call)
                else:
                    if self.sessions is None:
                        raise RuntimeError(f"{type(self).__name__} has no database sessions")
                    if db is Db.WRITE:
                        async with transaction(self.sessions) as session:
                            call.db_session = session
                            reply = await body(self, request, call)
                    else:
                        async with self.read_sessions()() as session:
                            call.db_session = session
                            reply = await body(self, request, call)
            except DomainError as error:
                raise service_error(error) from error
            if events.written:
                self.events_written()
            return reply

        setattr(handler, ACCESS_ATTRIBUTE, access)
        return handler

    return declare


ReplyStream = Callable[[S, Req, Call], AsyncIterator[Resp]]
StreamHandler = Callable[[S, Req, Context], AsyncIterator[Resp]]


def rpc_stream(
    access: Access, *, db: Literal[Db.READ, Db.NONE] = Db.NONE
) -> Callable[[ReplyStream[S, Req, Resp]], StreamHandler[S, Req, Resp]]:
    """Declare an RPC that streams its reply (a file): the body is an async generator. No write
    transaction is held open while a stream flows; a READ session lives as long as the stream.
    A client-streamed request needs nothing special: `rpc` hands the body the message iterator."""

    def declare(body: ReplyStream[S, Req, Resp]) -> StreamHandler[S, Req, Resp]:
        @functools.wraps(body)
        async def handler(self: S, request: Req, context: Context) -> AsyncIterator[Resp]:
            try:
                call = admit(access, context)
                if db is Db.NONE:
                    async for reply in body(self, request, call):
                        yield reply
                else:
                    async with self.read_sessions()() as session:
                        call.db_session = session
                        async for reply in body(self, request, call):
                            yield reply
            except DomainError as error:
                raise service_error(error) from error

        setattr(handler, ACCESS_ATTRIBUTE, access)
        return handler

    return declare


def declared_access(servicer: object, method: str) -> Access | None:
    access = getattr(getattr(type(servicer), method, None), ACCESS_ATTRIBUTE, None)
    return access if isinstance(access, Access) else None


class UndeclaredRpc(Exception):
    """A servicer left an RPC of its service without a declaration (found at start-up)."""


def undeclared_methods(servicer: object, service: ServiceDescriptor) -> list[str]:
    return [m.name for m in service.methods if declared_access(servicer, m.name) is None]


class Registry:
    """What a service registers on its gRPC server: only servicers whose every RPC is declared.
    The methods it records are the only ones the kit's interceptor lets through."""

    def __init__(self, server: grpc.aio.Server, declared: set[str]) -> None:
        self.server = server
        self.declared = declared
        self.services: list[str] = []

    def add(
        self,
        add_to_server: Callable[[Any, grpc.aio.Server], None],
        servicer: DeclaredServicer,
        service: ServiceDescriptor,
    ) -> None:
        missing = undeclared_methods(servicer, service)
        if missing:
            raise UndeclaredRpc(f"{service.full_name}: no declaration for {', '.join(missing)}")
        add_to_server(servicer, self.server)
        self.declared.update(f"/{service.full_name}/{m.name}" for m in service.methods)
        self.services.append(service.full_name)
