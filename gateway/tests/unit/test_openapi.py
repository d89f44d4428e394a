"""The OpenAPI document tells the truth: every error is a documented problem, every route says
what it needs, and every example in it passes the validator of the value it illustrates."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import phonenumbers
import pytest

from guichet_etracking.tracking.catalogue import find_paper_form
from guichet_etracking.tracking.number import parse_tracking_number
from guichet_gateway.app import create_app
from guichet_gateway.deps import ACTING_CONTEXT_PATTERN
from guichet_gateway.settings import GatewaySettings
from guichet_identity.relations.rights import parse_right
from guichet_kit.auth import ActingContext
from guichet_kit.national_id import validate_national_id
from guichet_kit.problems import MEDIA_TYPE
from guichet_kit.values import (
    parse_company_number,
    parse_email,
    parse_human_text,
    parse_phone,
    parse_uuid,
)

SPEC: dict[str, Any] = create_app(
    # Only the document is read: the app is not started, so nothing is reached.
    GatewaySettings(
        keycloak_issuer="https://127.0.0.1:1/realms/guichet",
        nats_url="nats://127.0.0.1:1",
        database_url="postgresql+asyncpg://127.0.0.1:1/gateway",
    )
).openapi()
METHODS = ("get", "put", "post", "delete", "patch")


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _acting_context(text: str) -> None:
    assert jsonschema_rs.is_valid({"pattern": ACTING_CONTEXT_PATTERN}, text)
    ActingContext.parse(text)


def _country(text: str) -> None:
    assert text in phonenumbers.SUPPORTED_REGIONS


def _rights(texts: list[str]) -> None:
    for text in texts:
        parse_right(text)


# The validator each kind of value is checked with where it is used: the kit's value types and the
# services' own rules (check digits, the tracking number's check character, the catalogue…).
VALIDATORS: dict[str, Callable[[Any, dict[str, Any]], object]] = {
    "national-id": lambda value, _: validate_national_id(value),
    "email": lambda value, _: parse_email(value),
    "phone": lambda value, _: parse_phone(value, mobile=True),
    "right": lambda value, _: parse_right(value),
    "rights": lambda value, _: _rights(value),
    "company-number": lambda value, _: parse_company_number(value),
    "paper-form-code": lambda value, _: find_paper_form(value),
    "country": lambda value, _: _country(value),
    "tracking-number": lambda value, _: parse_tracking_number(value),
    "uuid": lambda value, _: parse_uuid(value),
    "acting-context": lambda value, _: _acting_context(value),
    "human-text": lambda value, schema: parse_human_text(value, max_length=schema["maxLength"]),
}


def _pointer(parts: list[str]) -> str:
    escaped = (part.replace("~", "~0").replace("/", "~1") for part in parts)
    return "#/" + "/".join(quote(part, safe="~") for part in escaped)


def examples(node: Any, parts: list[str]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(pointer of the schema, the schema, one example) for every example in the document."""
    if isinstance(node, dict):
        for example in node.get("examples", []) if isinstance(node.get("examples"), list) else []:
            yield _pointer(parts), node, example
        if "example" in node:
            yield _pointer(parts), node, node["example"]
        for key, value in node.items():
            if key not in ("examples", "example"):
                yield from examples(value, [*parts, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from examples(value, [*parts, str(index)])


ALL_EXAMPLES = list(examples(SPEC, []))


def test_the_document_has_examples_of_every_kind_of_value() -> None:
    kinds = {schema.get("x-value-type") for _, schema, _ in ALL_EXAMPLES}
    assert set(VALIDATORS) <= kinds


@pytest.mark.parametrize(
    ("pointer", "schema", "example"),
    ALL_EXAMPLES,
    ids=[f"{pointer}={json.dumps(example)}" for pointer, _, example in ALL_EXAMPLES],
)
def test_every_example_is_valid_for_its_schema_and_its_value_type(
    pointer: str, schema: dict[str, Any], example: Any
) -> None:
    # The example's own schema, resolved in the document (its $refs included).
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": pointer, "components": SPEC["components"], "paths": SPEC["paths"]},
        validate_formats=True,
    )
    validator.validate(example)
    value_type = schema.get("x-value-type")
    if value_type is not None:
        VALIDATORS[value_type](example, schema)


def test_national_id_examples_pass_their_check_digits() -> None:
    national_ids = [
        example
        for _, schema, example in ALL_EXAMPLES
        if schema.get("x-value-type") == "national-id"
    ]
    assert national_ids
    for national_id in national_ids:
        validate_national_id(national_id)


def test_no_route_documents_fastapis_default_validation_body() -> None:
    text = json.dumps(SPEC)
    assert "HTTPValidationError" not in text
    assert "#/components/schemas/ValidationError" not in text


def test_every_error_is_a_documented_problem() -> None:
    problem = {"$ref": "#/components/schemas/ProblemDocument"}
    for path, method, operation in operations():
        for status, response in operation["responses"].items():
            if int(status) < 400 or path == "/healthz":
                continue
            assert response["content"] == {MEDIA_TYPE: {"schema": problem}}, (path, method, status)
            if status == "401":
                assert response["headers"]["WWW-Authenticate"]["required"]
            if status == "429":
                assert response["headers"]["Retry-After"]["required"]


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/v1/etracking/trackings/{number}", "get", {"404", "422", "429", "503"}),
        ("/api/v1/etracking/trackings", "post", {"401", "403", "413", "422", "429"}),
        ("/api/v1/accounts", "post", {"409", "413", "422", "429"}),
        ("/api/v1/me", "get", {"401", "403", "503"}),
        ("/api/v1/spaces/{space_id}/collaborators/{national_id}", "put", {"403", "404", "409"}),
    ],
)
def test_a_route_documents_the_errors_it_can_give(
    path: str, method: str, statuses: set[str]
) -> None:
    assert statuses <= set(SPEC["paths"][path][method]["responses"])


def test_routes_say_whether_they_need_a_token_and_at_which_level() -> None:
    scheme = SPEC["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    levels = {}
    for path, method, operation in operations():
        security = operation["security"]
        level = operation.get("x-level-of-assurance")
        if security == [{"bearer": []}]:
            assert level in ("low", "substantial", "high"), (path, method)
            assert f"signed in at level **{level}**" in operation["description"]
            levels[(method, path)] = level
        else:
            assert level is None
            assert security in ([], [{}, {"bearer": []}]), (path, method)
    assert levels[("get", "/api/v1/me/export")] == "substantial"
    assert levels[("post", "/api/v1/me/deletion")] == "substantial"
    assert levels[("post", "/api/v1/me/relations")] == "high"
    assert levels[("post", "/api/v1/me/children")] == "high"
    assert levels[("get", "/api/v1/me")] == "low"
    public = SPEC["paths"]["/api/v1/etracking/trackings/{number}"]["get"]
    assert public["security"] == []
    assert "**Token**: none needed." in public["description"]


MY_DATA_VIEWS = (
    "register-entry",
    "driving-licence",
    "tax-credit",
    "company-entry",
    "vat-balance",
    "accesses",
    "reports",
)


def test_the_acting_context_header_is_documented_where_it_is_honoured() -> None:
    honouring = {
        (method, path)
        for path, method, operation in operations()
        if any(p["name"] == "X-Acting-Context" for p in operation.get("parameters", []))
    }
    assert honouring == {
        ("post", "/api/v1/etracking/trackings"),
        ("get", "/api/v1/etracking/trackings"),
        ("get", "/api/v1/me"),
        ("get", "/api/v1/me/acts-on-my-behalf"),
        ("get", "/api/v1/dashboard"),
        # The wallet's routes act on the acting context's documents.
        ("get", "/api/v1/wallet/piece-types"),
        ("get", "/api/v1/wallet/pieces"),
        ("post", "/api/v1/wallet/pieces"),
        ("get", "/api/v1/wallet/pieces/{piece_id}"),
        ("patch", "/api/v1/wallet/pieces/{piece_id}"),
        ("delete", "/api/v1/wallet/pieces/{piece_id}"),
        ("post", "/api/v1/wallet/pieces/{piece_id}/files"),
        ("get", "/api/v1/wallet/pieces/{piece_id}/files/{file_id}"),
        ("put", "/api/v1/wallet/pieces/{piece_id}/files/{file_id}"),
        ("delete", "/api/v1/wallet/pieces/{piece_id}/files/{file_id}"),
        ("get", "/api/v1/wallet/pieces/{piece_id}/files/{file_id}/versions/{version_id}"),
        *(("get", f"/api/v1/me/data/{view}") for view in MY_DATA_VIEWS),
        ("post", "/api/v1/me/data/certificates"),
        ("post", "/api/v1/me/data/reports"),
        # Procedures: drafts and requests are the acting context's.
        ("post", "/api/v1/procedures/{code}/drafts"),
        ("get", "/api/v1/me/requests"),
        ("get", "/api/v1/me/requests/{request_id}"),
        ("put", "/api/v1/me/requests/{request_id}/steps/{step_id}"),
        *(
            ("post", f"/api/v1/me/requests/{{request_id}}/{action}")
            for action in (
                "extension",
                "submission",
                "correction",
                "signed-correction",
                "cancellation",
            )
        ),
        ("get", "/api/v1/me/requests/{request_id}/proof"),
        # F24: what would be prefilled, and the decision.
        ("get", "/api/v1/me/requests/{request_id}/prefill"),
        ("post", "/api/v1/me/requests/{request_id}/prefill-consent"),
        # F25: a request's files.
        ("post", "/api/v1/me/requests/{request_id}/fields/{field_id}/files"),
        ("post", "/api/v1/me/requests/{request_id}/fields/{field_id}/files/from-wallet"),
        ("delete", "/api/v1/me/requests/{request_id}/files/{attachment_id}"),
        ("get", "/api/v1/me/requests/{request_id}/files/{attachment_id}"),
        ("post", "/api/v1/me/requests/{request_id}/files/{attachment_id}/wallet-copy"),
        # F32: the request's appointment.
        ("get", "/api/v1/me/requests/{request_id}/appointment-slots"),
        ("get", "/api/v1/me/requests/{request_id}/appointment"),
        ("post", "/api/v1/me/requests/{request_id}/appointment/hold"),
        ("put", "/api/v1/me/requests/{request_id}/appointment"),
        ("delete", "/api/v1/me/requests/{request_id}/appointment"),
        ("get", "/api/v1/me/requests/{request_id}/appointment/calendar"),
    }


def test_optional_parameters_are_left_out_rather_than_null() -> None:
    for _, _, operation in operations():
        for parameter in operation.get("parameters", []):
            assert {"type": "null"} not in parameter["schema"].get("anyOf", [])


def test_every_string_and_list_of_a_request_is_bounded() -> None:
    def unbounded(schema: dict[str, Any], where: str) -> Iterator[str]:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            yield from unbounded(SPEC["components"]["schemas"][name], name)
            return
        for option in schema.get("anyOf", []):
            yield from unbounded(option, where)
        kind = schema.get("type")
        bounded = (
            "maxLength" in schema
            or "enum" in schema
            or "const" in schema
            or schema.get("format") == "date-time"
        )
        if kind == "string" and not bounded:
            yield where
        if kind == "array":
            if "maxItems" not in schema:
                yield where
            yield from unbounded(schema["items"], f"{where}[]")
        for name, child in schema.get("properties", {}).items():
            yield from unbounded(child, f"{where}.{name}")

    found = []
    for path, method, operation in operations():
        for parameter in operation.get("parameters", []):
            found += unbounded(parameter["schema"], f"{method} {path} {parameter['name']}")
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            found += unbounded(body["schema"], f"{method} {path} body")
    assert found == []
