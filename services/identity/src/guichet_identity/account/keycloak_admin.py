"""The Keycloak admin API as identity needs it: a small typed adapter over python-keycloak.

identity acts with the client credentials of its confidential client (service account with
manage-users, view-users, query-users and view-events); Keycloak's refusals become domain errors
with stable reasons and translated messages, so the rules never see a Keycloak exception.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import KeycloakConnectionError, KeycloakError

from guichet_identity.settings import IdentitySettings
from guichet_kit.domain import (
    AlreadyExists,
    Conflict,
    DomainError,
    FieldError,
    InvalidInput,
    Unavailable,
)
from guichet_kit.i18n import Catalog, Text

log = structlog.get_logger(__name__)
_ = Catalog("guichet_identity")

NATIONAL_ID_ATTRIBUTE = "national_id"
LOCALE_ATTRIBUTE = "locale"
# Keycloak event types that tell the user about access to their account (F12).
SIGN_IN_EVENT_TYPES = (
    "LOGIN",
    "LOGIN_ERROR",
    "LOGOUT",
    "CODE_TO_TOKEN",
    "CODE_TO_TOKEN_ERROR",
    "UPDATE_PASSWORD",
    "UPDATE_CREDENTIAL",
    "UPDATE_TOTP",
    "REMOVE_TOTP",
    "RESET_PASSWORD",
    "VERIFY_EMAIL",
)
# Keycloak answers a password grant for a user with a pending required action (e.g. an
# unverified e-mail) with this, after checking the password: the password was right.
_NOT_FULLY_SET_UP = "Account is not fully set up"
# Keycloak's user-profile attribute names → the fields of our API.
_PROFILE_FIELDS = {
    "email": "email",
    "username": "email",
    "firstName": "first_name",
    "lastName": "last_name",
}


@dataclass(frozen=True)
class KeycloakUser:
    id: str
    username: str
    email: str
    email_verified: bool
    enabled: bool
    first_name: str
    last_name: str
    national_id: str


@dataclass(frozen=True)
class SignInEvent:
    occurred_at: datetime
    type: str
    ip_address: str
    client: str
    error: str


def _password_rule(kind: str, description: str) -> Text:
    """The rule of the realm's password policy (deploy/keycloak/realm-guichet.json) a password
    broke, in the person's language; the number comes from Keycloak's description."""
    found = re.search(r"\d+", description)
    number = found.group() if found else "?"
    if kind == "invalidPasswordMinLengthMessage":
        return _("At least {number} characters.", number=number)
    if kind == "invalidPasswordMaxLengthMessage":
        return _("At most {number} characters.", number=number)
    if kind in ("invalidPasswordNotUsernameMessage", "invalidPasswordNotEmailMessage"):
        return _("The password must not be your e-mail address.")
    if kind == "invalidPasswordHistoryMessage":
        return _("The password must not be one of your last {number}.", number=number)
    return _("This password does not meet the password rules.")


def _profile_rule(key: str) -> Text:
    return {
        "error-person-name-invalid-character": _(
            "This name contains a character that is not allowed."
        ),
        "error-invalid-length": _("This value is too long."),
        "error-invalid-email": _("This is not a valid e-mail address, e.g. anne@example.lu."),
    }.get(key, _("This value is not accepted."))


def unavailable() -> Unavailable:
    return Unavailable(
        "IDENTITY_PROVIDER_UNAVAILABLE",
        _("The sign-in service cannot be reached; try again shortly."),
    )


def email_taken(field: str) -> AlreadyExists:
    return AlreadyExists(
        "EMAIL_TAKEN",
        _("An account already uses this e-mail address."),
        [FieldError(field, "taken", _("An account already uses this e-mail address."))],
    )


def _body(error: KeycloakError) -> dict[str, Any]:
    try:
        body = json.loads(error.response_body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _user(data: dict[str, Any]) -> KeycloakUser:
    attributes: dict[str, list[str]] = data.get("attributes") or {}
    return KeycloakUser(
        id=str(data["id"]),
        username=str(data.get("username", "")),
        email=str(data.get("email", "")),
        email_verified=bool(data.get("emailVerified", False)),
        enabled=bool(data.get("enabled", False)),
        first_name=str(data.get("firstName", "")),
        last_name=str(data.get("lastName", "")),
        national_id=(attributes.get(NATIONAL_ID_ATTRIBUTE) or [""])[0],
    )


def translate(error: KeycloakError, field: str = "password") -> DomainError:
    """A Keycloak refusal as the domain error the caller gets; `field` names the password field."""
    if isinstance(error, KeycloakConnectionError):
        return unavailable()
    body = _body(error)
    code = error.response_code or 0
    kind = str(body.get("error", ""))
    description = str(body.get("error_description") or body.get("errorMessage") or "")
    if code == 400 and kind.startswith("invalidPassword"):
        return InvalidInput(
            "PASSWORD_POLICY",
            _("The password does not meet the password rules."),
            [FieldError(field, "policy", _password_rule(kind, description))],
        )
    if code == 409:
        # "User exists with same email" or "... same username": the username is the e-mail.
        return email_taken("email")
    if code == 400 and ("field" in body or "errors" in body):
        # User-profile validation (e.g. characters not allowed in a name).
        entries = body.get("errors") or [body]
        fields = [
            FieldError(
                _PROFILE_FIELDS.get(str(entry.get("field", "")), "account"),
                "invalid",
                _profile_rule(str(entry.get("errorMessage", ""))),
            )
            for entry in entries
            if isinstance(entry, dict)
        ]
        return InvalidInput(
            "INVALID_ACCOUNT", _("The sign-in service refused the account."), fields
        )
    if code >= 500 or code in (401, 403):
        # 401/403: identity's own client is misconfigured; the caller can only retry later.
        log.error("keycloak.refused", status=code, body=body)
        return unavailable()
    log.error("keycloak.unexpected", status=code, body=body)
    return Conflict("IDENTITY_PROVIDER_ERROR", _("The sign-in service refused the change."))


class KeycloakAccounts:
    """Users of the realm, administered with identity's client credentials.

    Nothing is fetched at construction; the service-account token is obtained on first use and
    refreshed by python-keycloak.
    """

    def __init__(
        self,
        server_url: str,
        realm: str,
        client_id: str,
        client_secret: str,
        *,
        verify: bool | str = True,
        timeout: int = 10,
    ) -> None:
        self._client_id = client_id
        server_url = server_url.rstrip("/") + "/"
        self._admin = KeycloakAdmin(
            server_url=server_url,
            realm_name=realm,
            client_id=client_id,
            client_secret_key=client_secret,
            verify=verify,
            timeout=timeout,
        )
        # Password grants (checking the current password) go through the same client.
        self._openid = KeycloakOpenID(
            server_url=server_url,
            realm_name=realm,
            client_id=client_id,
            client_secret_key=client_secret,
            verify=verify,
            timeout=timeout,
        )

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> KeycloakAccounts:
        return cls(
            settings.keycloak_url,
            settings.keycloak_realm,
            settings.keycloak_client_id,
            settings.keycloak_client_secret.get_secret_value(),
            verify=str(settings.ca_file) if settings.ca_file else True,
        )

    async def aclose(self) -> None:
        await self._admin.connection.aclose()
        await self._openid.connection.aclose()

    async def create_user(
        self,
        *,
        email: str,
        first_name: str,
        last_name: str,
        national_id: str,
        language: str,
        password: str,
    ) -> str:
        """Create the user (e-mail not yet verified) with its password; returns the user id.

        The password is set in a second call so a policy refusal is reported as such; the user
        just created is then deleted again, leaving nothing behind.
        """
        payload = {
            "username": email,
            "email": email,
            "firstName": first_name,
            "lastName": last_name,
            "enabled": True,
            "emailVerified": False,
            "requiredActions": ["VERIFY_EMAIL"],
            "attributes": {NATIONAL_ID_ATTRIBUTE: [national_id], LOCALE_ATTRIBUTE: [language]},
        }
        try:
            user_id = await self._admin.a_create_user(payload)
        except KeycloakError as error:
            raise translate(error) from error
        try:
            await self.set_password(user_id, password)
        except BaseException:
            await self.delete_user(user_id)
            raise
        return user_id

    async def send_verification_email(self, user_id: str) -> None:
        try:
            await self._admin.a_send_verify_email(user_id)
        except KeycloakError as error:
            raise translate(error) from error

    async def send_password_reset(self, user_id: str) -> None:
        try:
            await self._admin.a_send_update_account(user_id, ["UPDATE_PASSWORD"])
        except KeycloakError as error:
            raise translate(error) from error

    async def set_password(self, user_id: str, password: str, *, field: str = "password") -> None:
        try:
            await self._admin.a_set_user_password(user_id, password, temporary=False)
        except KeycloakError as error:
            raise translate(error, field) from error

    async def check_password(self, username: str, password: str) -> bool:
        """True when `password` is the user's password (a password grant, its session ended)."""
        try:
            tokens = await self._openid.a_token(username, password, grant_type="password")
        except KeycloakConnectionError as error:
            raise translate(error) from error
        except KeycloakError as error:
            body = _body(error)
            if error.response_code == 400 and body.get("error_description") == _NOT_FULLY_SET_UP:
                return True
            if error.response_code in (400, 401) and body.get("error") == "invalid_grant":
                return False
            raise translate(error) from error
        refresh_token = tokens.get("refresh_token")
        if refresh_token:
            try:
                await self._openid.a_logout(refresh_token)
            except KeycloakError:
                log.warning("keycloak.logout_failed")  # the check session simply expires
        return True

    async def find_user(self, user_id: str) -> KeycloakUser | None:
        try:
            data = await self._admin.a_get_user(user_id)
        except KeycloakError as error:
            if error.response_code == 404:
                return None
            raise translate(error) from error
        return _user(data)

    async def find_user_by_email(self, email: str) -> KeycloakUser | None:
        try:
            found = await self._admin.a_get_users({"email": email, "exact": "true"})
        except KeycloakError as error:
            raise translate(error) from error
        for data in found:
            if str(data.get("email", "")).lower() == email.lower():
                return _user(data)
        return None

    async def change_email(self, user_id: str, email: str, *, verified: bool = True) -> None:
        """New login e-mail (and username); verified when the user proved they receive mail
        there. Putting a previous address back (`verified` as it was) undoes a change."""
        try:
            # The whole representation goes back: a partial PUT may drop attributes.
            data = await self._admin.a_get_user(user_id)
            data.update({"email": email, "username": email, "emailVerified": verified})
            actions = [a for a in data.get("requiredActions", []) if a != "VERIFY_EMAIL"]
            data["requiredActions"] = actions if verified else [*actions, "VERIFY_EMAIL"]
            await self._admin.a_update_user(user_id, data)
        except KeycloakError as error:
            raise translate(error) from error

    async def set_enabled(self, user_id: str, enabled: bool) -> None:
        """A disabled user cannot sign in; the account and its data stay as they are."""
        try:
            data = await self._admin.a_get_user(user_id)
            data["enabled"] = enabled
            await self._admin.a_update_user(user_id, data)
        except KeycloakError as error:
            raise translate(error) from error

    async def delete_user(self, user_id: str) -> None:
        """Delete the user; one already gone is fine (retries, compensations)."""
        try:
            await self._admin.a_delete_user(user_id)
        except KeycloakError as error:
            if error.response_code == 404:
                return
            raise translate(error) from error

    async def sign_ins(self, user_id: str, limit: int) -> list[SignInEvent]:
        """The user's recent sign-in activity, newest first (Keycloak's order)."""
        try:
            events = await self._admin.a_get_events(
                {"user": user_id, "type": list(SIGN_IN_EVENT_TYPES), "max": limit}
            )
        except KeycloakError as error:
            raise translate(error) from error
        result = [
            SignInEvent(
                occurred_at=datetime.fromtimestamp(int(event.get("time", 0)) / 1000, UTC),
                type=str(event.get("type", "")),
                ip_address=str(event.get("ipAddress", "")),
                client=str(event.get("clientId", "")),
                error=str(event.get("error", "")),
            )
            for event in events
        ]
        result.sort(key=lambda event: event.occurred_at, reverse=True)
        return result[:limit]
