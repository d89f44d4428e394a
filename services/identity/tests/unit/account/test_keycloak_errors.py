"""Keycloak's refusals become domain errors with stable reasons and translated field messages."""

from __future__ import annotations

from keycloak.exceptions import KeycloakConnectionError, KeycloakPostError, KeycloakPutError

from guichet_identity.account.keycloak_admin import translate
from guichet_kit.domain import Refusal
from guichet_kit.i18n import Language, render


def test_a_password_policy_refusal_names_the_field_and_the_rule_in_the_persons_language() -> None:
    body = (
        b'{"error":"invalidPasswordMinLengthMessage",'
        b'"error_description":"Invalid password: minimum length 12."}'
    )
    error = translate(KeycloakPutError("x", 400, body), "new_password")
    assert (error.refusal, error.reason) == (Refusal.INVALID, "PASSWORD_POLICY")
    [field] = error.fields
    assert field.field == "new_password"
    assert render(field.message, Language.EN) == "At least 12 characters."
    assert render(field.message, Language.FR) == "Au moins 12 caractères."
    assert render(field.message, Language.DE) == "Mindestens 12 Zeichen."


def test_an_unknown_password_rule_still_names_the_field() -> None:
    error = translate(KeycloakPutError("x", 400, b'{"error":"invalidPasswordSomethingNew"}'))
    assert error.reason == "PASSWORD_POLICY"
    assert [field.field for field in error.fields] == ["password"]


def test_a_conflict_is_an_email_already_taken() -> None:
    error = translate(
        KeycloakPostError("x", 409, b'{"errorMessage":"User exists with same email"}')
    )
    assert (error.refusal, error.reason) == (Refusal.ALREADY_EXISTS, "EMAIL_TAKEN")
    assert [field.field for field in error.fields] == ["email"]


def test_a_profile_validation_error_names_our_field() -> None:
    body = b'{"field":"firstName","errorMessage":"error-person-name-invalid-character","params":[]}'
    error = translate(KeycloakPostError("x", 400, body))
    assert error.reason == "INVALID_ACCOUNT"
    [field] = error.fields
    assert field.field == "first_name"
    assert render(field.message, Language.EN) == (
        "This name contains a character that is not allowed."
    )


def test_an_unreachable_keycloak_is_unavailable() -> None:
    error = translate(KeycloakConnectionError("Can't connect to server"))
    assert (error.refusal, error.reason) == (Refusal.UNAVAILABLE, "IDENTITY_PROVIDER_UNAVAILABLE")


def test_an_unexpected_answer_is_a_refused_change_not_a_crash() -> None:
    error = translate(KeycloakPutError("x", 418, b"{}"))
    assert (error.refusal, error.reason) == (Refusal.CONFLICT, "IDENTITY_PROVIDER_ERROR")
