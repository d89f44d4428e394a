"""The OpenAPI document, told from what the routes really do.

Most of what a route needs and answers follows from the dependencies it uses (`deps.DECLARED`): a
token (required or optional), the acting context, a rate limit, calls to the services, a body or
parameters. A route adds what only it knows: the refusals of the service it calls (`refusals`) and
the level of assurance the service requires (`needs_level`). Every error is documented as the
problem document it is (`application/problem+json`), never FastAPI's default 422 body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from guichet_gateway.deps import (
    ACTING_CONTEXT_MAX_LENGTH,
    ACTING_CONTEXT_PATTERN,
    DECLARED,
    Declared,
)
from guichet_gateway.fields import UUID_EXAMPLE
from guichet_gateway.ratelimit import LimitFamily
from guichet_kit.auth import ACTING_CONTEXT_HEADER, LevelOfAssurance
from guichet_kit.problems import MEDIA_TYPE, FieldErrorDocument, ProblemDocument

BEARER = "bearer"
LEVEL_EXTENSION = "x-level-of-assurance"
_SCHEMAS = "#/components/schemas/"

_WHY: Mapping[int, str] = {
    400: "The request cannot be read.",
    401: "No token, or a token that is not valid any more (AUTHENTICATION_REQUIRED, "
    "INVALID_TOKEN), or a sign-in below the level this needs (INSUFFICIENT_USER_AUTHENTICATION: "
    "sign in again at the level `WWW-Authenticate` names in `acr_values`, RFC 9470).",
    403: "Not allowed, e.g. no mandate for the acting context (MANDATE_REFUSED).",
    404: "Not found.",
    409: "Not possible in the current state, or it exists already.",
    413: "The body is too large (REQUEST_TOO_LARGE).",
    422: "Invalid input: `errors` lists every wrong field (VALIDATION_FAILED, or the reason of "
    "the service that refused it).",
    429: "Too many requests from this address; try again after `Retry-After` seconds.",
    503: "A service this needs is unavailable; try again shortly.",
    504: "A service this needs did not answer in time; try again shortly.",
}


def refusals(notes: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """The refusals of the service a route calls, by status, each with what it means here."""
    return {
        status: {"description": f"{_WHY.get(status, '')} {note}".strip()}
        for status, note in notes.items()
    }


def needs_level(level: LevelOfAssurance) -> dict[str, Any]:
    """The level of assurance the service requires of the token (for `openapi_extra`); a lower
    sign-in is answered 401 with the RFC 9470 step-up challenge."""
    return {LEVEL_EXTENSION: level.acr}


def install_openapi(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _complete(spec, app)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependencies(sub)


def _facts(route: APIRoute) -> Declared:
    """Every declaration of the route's dependencies, merged."""
    merged: dict[str, Any] = {}
    for call in _dependencies(route.dependant):
        declared = DECLARED.get(call)
        if declared is None:
            continue
        for name in ("bearer", "limit", "calls_services", "acts_in_context"):
            value = getattr(declared, name)
            if value and not (name == "bearer" and merged.get("bearer") == "required"):
                merged[name] = value
    return Declared(**merged)


def _complete(spec: dict[str, Any], app: FastAPI) -> None:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for model in (ProblemDocument, FieldErrorDocument):
        schema = model.model_json_schema(ref_template=_SCHEMAS + "{model}")
        schema.pop("$defs", None)
        schemas[model.__name__] = schema
    spec["components"]["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token of the platform's sign-in service (OpenID Connect). "
            "Its `acr` claim is the level of assurance of the sign-in: low (password), "
            "substantial (password and one-time code), high (eID card or certificate).",
        }
    }
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.include_in_schema:
            continue
        facts = _facts(route)
        for method in context.methods or ():
            operation = spec["paths"][context.path_format][method.lower()]
            _complete_operation(operation, facts)


def _complete_operation(operation: dict[str, Any], facts: Declared) -> None:
    parameters = operation.get("parameters", [])
    for parameter in parameters:
        _without_null(parameter)
    if facts.acts_in_context:
        parameters.append(_acting_context_parameter())
    if parameters:
        operation["parameters"] = parameters
    level = operation.get(LEVEL_EXTENSION)
    if facts.bearer == "required" and level is None:
        level = operation[LEVEL_EXTENSION] = LevelOfAssurance.LOW.acr
    operation["security"] = {
        "required": [{BEARER: []}],
        "optional": [{}, {BEARER: []}],
        None: [],
    }[facts.bearer]
    operation["description"] = "\n\n".join(
        part for part in (operation.get("description", ""), _access(facts, level)) if part
    )

    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)  # FastAPI's default body; the problem replaces it
    statuses = {int(status) for status in responses if status.isdigit() and int(status) >= 400}
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses.add(413)
    if facts.bearer:
        # The token is verified (401, 503 when the sign-in service is down) and the acting
        # context checked against the caller's mandates (403; 422 when malformed).
        statuses |= {401, 403, 422, 503}
    if facts.limit:
        statuses.add(429)
    if facts.calls_services:
        statuses |= {503, 504}
    for status in sorted(statuses):
        responses[str(status)] = _problem_response(status, responses.get(str(status)), facts.limit)


def _without_null(parameter: dict[str, Any]) -> None:
    """An optional parameter is one left out: its schema need not admit null."""
    schema = parameter.get("schema", {})
    options = schema.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        if len(rest) == 1:
            del schema["anyOf"]
            schema.update(rest[0])


def _acting_context_parameter() -> dict[str, Any]:
    return {
        "name": ACTING_CONTEXT_HEADER,
        "in": "header",
        "required": False,
        "description": "In whose name the call is made: `private` (the caller's own, the "
        "default), `company:<space id>` (a professional space the caller collaborates in) or "
        "`relation:<relation id>` (a person the caller holds a mandate for, or their child); the "
        "ids are in `available_contexts` of GET /api/v1/me. Needs a token; refused with 403 "
        "without the mandate or role.",
        "schema": {
            "type": "string",
            "x-value-type": "acting-context",
            "pattern": ACTING_CONTEXT_PATTERN,
            "maxLength": ACTING_CONTEXT_MAX_LENGTH,
            "examples": ["private", f"company:{UUID_EXAMPLE}", f"relation:{UUID_EXAMPLE}"],
        },
    }


def _access(facts: Declared, level: str | None) -> str:
    """What a mobile developer must know to call the route, in words."""
    lines = []
    if facts.bearer == "required":
        lines.append(f"**Token**: required, signed in at level **{level}** or higher.")
    elif facts.bearer == "optional":
        lines.append(
            "**Token**: optional; signed in, the call is made in the caller's name "
            "(and an invalid token is refused)."
        )
    else:
        lines.append("**Token**: none needed.")
    if facts.acts_in_context:
        lines.append(f"**Acting context**: honours `{ACTING_CONTEXT_HEADER}`.")
    if facts.limit:
        lines.append(f"**Rate limit**: {facts.limit.what}, per client address.")
    return "\n\n".join(lines)


def _problem_response(
    status: int, declared: dict[str, Any] | None, family: LimitFamily | None
) -> dict[str, Any]:
    if declared and "content" in declared:
        return declared  # a route's own document for this status (e.g. the health report)
    description = (declared or {}).get("description") or _WHY.get(status, "")
    if status == 429 and family:
        description = (
            f"Too many {family.what} from this address ({family.reason}); "
            "try again after `Retry-After` seconds."
        )
    response: dict[str, Any] = {
        "description": description,
        "content": {MEDIA_TYPE: {"schema": {"$ref": _SCHEMAS + ProblemDocument.__name__}}},
    }
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = {
            "description": "The Bearer challenge (RFC 6750, RFC 9470)",
            "required": True,
            "schema": {"type": "string"},
        }
    if status == 429:
        headers["Retry-After"] = {
            "description": "Seconds to wait before trying again",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    if headers:
        response["headers"] = headers
    return response
