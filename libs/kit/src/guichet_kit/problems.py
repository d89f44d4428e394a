"""RFC 9457 problem details at the gateway, built from gRPC statuses and request validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from guichet_kit.errors import FieldError, read_rpc_failure
from guichet_kit.i18n import Language, pick_language

log = structlog.get_logger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:openguichet:problem:"

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

# Titles by reason, in each language; a reason without an entry falls back to its HTTP status.
Titles = Mapping[str, Mapping[Language, str]]

GENERIC_TITLES: Mapping[int, Mapping[Language, str]] = {
    400: {"fr": "Requête invalide", "de": "Ungültige Anfrage", "en": "Bad request"},
    401: {
        "fr": "Authentification requise",
        "de": "Anmeldung erforderlich",
        "en": "Authentication required",
    },
    403: {"fr": "Accès refusé", "de": "Zugriff verweigert", "en": "Access denied"},
    404: {"fr": "Introuvable", "de": "Nicht gefunden", "en": "Not found"},
    405: {"fr": "Méthode non autorisée", "de": "Methode nicht erlaubt", "en": "Method not allowed"},
    409: {
        "fr": "Opération impossible dans l'état actuel",
        "de": "Im aktuellen Zustand nicht möglich",
        "en": "Not possible in the current state",
    },
    422: {"fr": "Données invalides", "de": "Ungültige Angaben", "en": "Invalid data"},
    429: {
        "fr": "Trop de requêtes, réessayez plus tard",
        "de": "Zu viele Anfragen, bitte später erneut versuchen",
        "en": "Too many requests, try again later",
    },
    500: {"fr": "Erreur interne", "de": "Interner Fehler", "en": "Internal error"},
    503: {
        "fr": "Service momentanément indisponible",
        "de": "Dienst vorübergehend nicht verfügbar",
        "en": "Service temporarily unavailable",
    },
    504: {
        "fr": "Le service n'a pas répondu à temps",
        "de": "Der Dienst hat nicht rechtzeitig geantwortet",
        "en": "The service did not answer in time",
    },
}


def problem_type(reason: str) -> str:
    return TYPE_PREFIX + reason.lower().replace("_", "-")


@dataclass
class Problem(Exception):
    status: int
    reason: str
    detail: str = ""
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, language: Language, titles: Titles, instance: str) -> dict[str, Any]:
        title = (
            titles.get(self.reason, {}).get(language)
            or GENERIC_TITLES.get(self.status, GENERIC_TITLES[500])[language]
        )
        body: dict[str, Any] = {
            "type": problem_type(self.reason),
            "title": title,
            "status": self.status,
            "reason": self.reason,
            "instance": instance,
        }
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = [
                {"field": e.field, "reason": e.reason, "message": e.message} for e in self.errors
            ]
        return body


def problem_from_rpc_error(error: grpc.aio.AioRpcError) -> Problem:
    failure = read_rpc_failure(error)
    status = HTTP_STATUS.get(failure.code, 500 if failure.code != grpc.StatusCode.UNKNOWN else 502)
    # Internal details of a failed service are logged, never shown.
    detail = failure.message if status < 500 else ""
    if status >= 500:
        log.error("gateway.upstream_failed", code=failure.code.name, message=failure.message)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = www_authenticate(failure.reason, failure.metadata)
    return Problem(status, failure.reason, detail, failure.field_errors, headers)


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


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(location[-1])


def install_problem_handlers(app: FastAPI, titles: Titles) -> None:
    """Every error leaves the gateway as `application/problem+json`, in the caller's language."""

    def respond(request: Request, problem: Problem) -> JSONResponse:
        language = pick_language(
            request.headers.get("accept-language"), request.query_params.get("lang")
        )
        return JSONResponse(
            problem.body(language, titles, request.url.path),
            status_code=problem.status,
            media_type=MEDIA_TYPE,
            headers={**problem.headers, "Content-Language": language},
        )

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return respond(request, exc)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        return respond(request, problem_from_rpc_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(_field_name(tuple(e["loc"])), str(e["type"]), str(e["msg"]))
            for e in exc.errors()
        ]
        return respond(request, Problem(422, "VALIDATION_FAILED", "", errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        detail = exc.detail if isinstance(exc.detail, str) else ""
        return respond(request, Problem(exc.status_code, reason, detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("gateway.unexpected_error")
        return respond(request, Problem(500, "INTERNAL"))
