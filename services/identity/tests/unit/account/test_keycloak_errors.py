"""Keycloak's refusals become ServiceErrors with stable reasons and field errors."""

from __future__ import annotations

import grpc
from keycloak.exceptions import KeycloakConnectionError, KeycloakPostError, KeycloakPutError

from guichet_identity.account.keycloak_admin import translate


def test_a_password_policy_refusal_names_the_field_with_keycloaks_message() -> None:
    body = (
        b'{"error":"invalidPasswordMinLengthMessage",'
        b'"error_description":"Invalid password: minimum length 12."}'
    )
    error = translate(KeycloakPutError("x", 400, body), "new_password")
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "PASSWORD_POLICY")
    [field] = error.field_errors
    assert (field.field, field.message) == ("new_password", "Invalid password: minimum length 12.")


def test_a_conflict_is_an_email_already_taken() -> None:
    error = translate(
        KeycloakPostError("x", 409, b'{"errorMessage":"User exists with same email"}')
    )
    assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "EMAIL_TAKEN")
    assert [field.field for field in error.field_errors] == ["email"]


def test_a_profile_validation_error_names_our_field() -> None:
    body = b'{"field":"firstName","errorMessage":"error-person-name-invalid-character","params":[]}'
    error = translate(KeycloakPostError("x", 400, body))
    assert error.reason == "INVALID_ACCOUNT"
    assert [field.field for field in error.field_errors] == ["first_name"]


def test_an_unreachable_keycloak_is_unavailable() -> None:
    error = translate(KeycloakConnectionError("Can't connect to server"))
    assert (error.code, error.reason) == (
        grpc.StatusCode.UNAVAILABLE,
        "IDENTITY_PROVIDER_UNAVAILABLE",
    )
