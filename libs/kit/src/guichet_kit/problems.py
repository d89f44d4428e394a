"""RFC 9457 problem details at the gateway, built from gRPC statuses and request validation.

What a problem says comes from the reason a service gave on purpose (its rich status) and from the
gateway's own checks; a failure that carries no reason (a transport limit, a crash, an outage) is
an upstream failure whose text stays in the logs. No problem echoes unbounded input: details,
field names and messages are cut.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from guichet_kit import reasons
from guichet_kit.errors import FieldError, read_rpc_failure
from guichet_kit.i18n import N_, Language, Text, pick_language, render
from guichet_kit.reasons import KIT_CATALOG

log = structlog.get_logger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:openguichet:problem:"
# Bounds on what a problem repeats: a detail or a message, a field's name, the request's path.
MAX_TEXT_LENGTH = 300
MAX_FIELD_LENGTH = 100
MAX_INSTANCE_LENGTH = 500
# A service that says it is exhausted without saying for how long: try again in a minute.
DEFAULT_RETRY_AFTER = "60"

HTTP_STATUS: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

# A reason whose HTTP status says more than its gRPC code's: a file over the limit is a body too
# large (413), whatever invalid input it is for the service.
REASON_STATUS: Mapping[str, int] = {"FILE_TOO_LARGE": 413}


# Titles by HTTP status, for a reason the catalogue does not know (English ids, kit catalogue).
GENERIC_TITLES: Mapping[int, str] = {
    400: N_("Bad request"),
    401: N_("Authentication required"),
    403: N_("Access denied"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    409: N_("Not possible in the current state"),
    422: N_("Invalid data"),
    429: N_("Too many requests, try again later"),
    500: N_("Internal error"),
    503: N_("Service temporarily unavailable"),
    504: N_("The service did not answer in time"),
}


def problem_title(reason: str, status: int, language: Language) -> str:
    """The catalogue's title for the reason, else the status's generic title."""
    known = reasons.title(reason, language)
    if known:
        return known
    return KIT_CATALOG.gettext(GENERIC_TITLES.get(status, GENERIC_TITLES[500]), language)


def problem_type(reason: str) -> str:
    return TYPE_PREFIX + reason.lower().replace("_", "-")


@dataclass
class Problem(Exception):
    status: int
    reason: str
    detail: str = ""
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, language: Language, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": problem_type(self.reason),
            "title": problem_title(self.reason, self.status, language),
            "status": self.status,
            "reason": self.reason,
            "instance": _cut(instance, MAX_INSTANCE_LENGTH),
        }
        if self.detail:
            body["detail"] = _cut(self.detail, MAX_TEXT_LENGTH)
        if self.errors:
            body["errors"] = [
                {
                    "field": _cut(e.field, MAX_FIELD_LENGTH),
                    "reason": _cut(e.reason, MAX_FIELD_LENGTH),
                    "message": _cut(render(e.message, language), MAX_TEXT_LENGTH),
                }
                for e in self.errors
            ]
        return body


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FieldErrorDocument(BaseModel):
    """One wrong field of the request."""

    field: str = Field(description="The field's path, e.g. `address.postal_code`")
    reason: str = Field(description="Why, for programs: format, required, too_long, …")
    message: str = Field(description="Why, for the person, in the answer's language")


class ProblemDocument(BaseModel):
    """An RFC 9457 problem: every error of the API, as `application/problem+json`."""

    type: str = Field(examples=["urn:openguichet:problem:validation-failed"])
    title: str = Field(description="What went wrong, for the person, in the answer's language")
    status: int = Field(description="The HTTP status")
    reason: str = Field(
        description="What went wrong, for programs: stable, e.g. VALIDATION_FAILED",
        examples=["VALIDATION_FAILED"],
    )
    instance: str = Field(description="The path of the request")
    detail: str = Field("", description="More about this occurrence, when there is more to say")
    errors: list[FieldErrorDocument] = Field(
        default_factory=list, description="Every wrong field at once"
    )


def _gives_a_reason(error: grpc.aio.AioRpcError) -> bool:
    """Whether a service refused on purpose: only then does its status carry rich details."""
    return any(key == "grpc-status-details-bin" for key, _ in error.trailing_metadata() or ())


def problem_from_rpc_error(error: grpc.aio.AioRpcError) -> Problem:
    failure = read_rpc_failure(error)
    if not _gives_a_reason(error):
        return _upstream_failure(failure.code, failure.message)
    status = REASON_STATUS.get(failure.reason) or HTTP_STATUS.get(failure.code, 502)
    # Internal details of a failed service are logged, never shown.
    detail = failure.message if status < 500 else ""
    if status >= 500:
        log.error("gateway.upstream_failed", code=failure.code.name, message=failure.message)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = www_authenticate(failure.reason, failure.metadata)
    if status == 429:
        headers["Retry-After"] = failure.metadata.get("retry_after", DEFAULT_RETRY_AFTER)
    return Problem(status, failure.reason, detail, failure.field_errors, headers)


def _upstream_failure(code: grpc.StatusCode, message: str) -> Problem:
    """A call that failed without a reason (e.g. "received metadata size exceeds hard limit",
    which arrives as RESOURCE_EXHAUSTED): the gateway's or a service's fault, never the caller's."""
    log.error("gateway.upstream_failed", code=code.name, message=message)
    if code == grpc.StatusCode.UNAVAILABLE:
        return Problem(503, "DEPENDENCY_UNAVAILABLE")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return Problem(504, "DEPENDENCY_TIMEOUT")
    return Problem(502, "UPSTREAM_FAILED")


def www_authenticate(reason: str, metadata: Mapping[str, str]) -> str:
    """The Bearer challenge; RFC 9470 names the level the client must step up to."""
    if reason == "INSUFFICIENT_USER_AUTHENTICATION":
        return (
            'Bearer error="insufficient_user_authentication", '
            'error_description="A higher level of authentication is required", '
            f'acr_values="{metadata.get("acr_values", "")}"'
        )
    if reason == "INVALID_TOKEN":
        return 'Bearer error="invalid_token"'
    return "Bearer"


def _field_name(location: tuple[Any, ...], kind: str) -> str:
    if kind == "json_invalid":
        return "body"  # the location is a position in the text, not a field
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(location[-1])


def _field_error(error: Mapping[str, Any]) -> FieldError:
    # A gateway field type may give its message as a translatable text (`ctx["text"]`).
    text = (error.get("ctx") or {}).get("text")
    kind = str(error["type"])
    message = text if isinstance(text, Text) else str(error["msg"])
    return FieldError(_field_name(tuple(error["loc"]), kind), kind, message)


def validation_problem(errors: list[Mapping[str, Any]]) -> Problem:
    """One problem for every wrong field; its reason is VALIDATION_FAILED unless every error
    names the same reason of its own (e.g. a malformed eTracking number in the path)."""
    own = {(error.get("ctx") or {}).get("problem") for error in errors}
    reason = own.pop() if len(own) == 1 and None not in own else "VALIDATION_FAILED"
    return Problem(422, str(reason), "", [_field_error(error) for error in errors])


def allowed_methods(request: Request) -> list[str]:
    """RFC 9110 `Allow`: the methods of every route whose path matches this request's."""
    methods: set[str] = set()
    # Each route has one method: a path's methods are spread over several routes.
    for route in iter_route_contexts(request.app.router.routes):
        if route.methods:
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= route.methods
    return sorted(methods)


_UNREADABLE_BODY = Problem(
    422,
    "VALIDATION_FAILED",
    errors=[FieldError("body", "json_invalid", "The body is not JSON in UTF-8.")],
)
_HTTP_REASONS = {
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
}


# Renders a problem as a page for a person's browser, or None to answer it as JSON.
PageHook = Callable[[Request, Problem], Response | None]


def install_problem_handlers(app: FastAPI, page: PageHook | None = None) -> None:
    """Every error leaves the gateway as `application/problem+json`, in the caller's language;
    `page` may answer one as a page instead (the web client's routes). Deciding here, where every
    refusal already passes, keeps one place per failure: a route never catches its own."""

    def respond(request: Request, problem: Problem) -> Response:
        shown = page(request, problem) if page else None
        if shown is not None:
            return shown
        language = pick_language(
            request.headers.get("accept-language"), request.query_params.get("lang")
        )
        return JSONResponse(
            problem.body(language, request.url.path),
            status_code=problem.status,
            media_type=MEDIA_TYPE,
            headers={**problem.headers, "Content-Language": language},
        )

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return respond(request, exc)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc(request: Request, exc: grpc.aio.AioRpcError) -> Response:
        return respond(request, problem_from_rpc_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return respond(request, validation_problem(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8): invalid JSON, as a body
            # that fails to parse is.
            return respond(request, _UNREADABLE_BODY)
        reason = _HTTP_REASONS.get(exc.status_code, "HTTP_ERROR")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return respond(request, Problem(exc.status_code, reason, headers=headers))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("gateway.unexpected_error")
        return respond(request, Problem(500, "INTERNAL"))
