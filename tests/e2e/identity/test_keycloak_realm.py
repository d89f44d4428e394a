"""The realm `guichet` as configured by deploy/keycloak, against the real Keycloak of `make infra`.

Users are created through the admin API (one unique user per test, deleted afterwards) and log in
through the real login pages with guichet_testkit.login, the way a person's browser does.
"""

from __future__ import annotations

import contextlib
import random
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import KeycloakError

from guichet_testkit.login import LoginAgent, LoginRefused
from guichet_testkit.mail import mail_links, newest_mail
from guichet_testkit.pki import issue_citizen_certificate

REALM = "guichet"
PASSWORD = "a long enough passphrase"

_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]
_VERHOEFF_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def _luhn_digit(digits: str) -> int:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def _verhoeff_digit(digits: str) -> int:
    check = 0
    for i, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[(i + 1) % 8][int(char)]]
    return _VERHOEFF_INV[check]


def national_id() -> str:
    """A random, well-formed national identifier (YYYYMMDD + sequence + Luhn + Verhoeff)."""
    rng = random.SystemRandom()
    base = f"{rng.randint(1950, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    base += f"{rng.randint(0, 999):03d}"
    return f"{base}{_luhn_digit(base)}{_verhoeff_digit(base)}"


@dataclass
class User:
    id: str
    email: str
    password: str
    national_id: str
    name: str


def make_admin(infra: dict[str, str]) -> KeycloakAdmin:
    return KeycloakAdmin(
        server_url=infra["GUICHET_KEYCLOAK_URL"],
        username=infra["GUICHET_KEYCLOAK_ADMIN"],
        password=infra["GUICHET_KEYCLOAK_ADMIN_PASSWORD"],
        realm_name=REALM,
        user_realm_name="master",
    )


@pytest.fixture(scope="session")
def kc_admin(infra: dict[str, str]) -> KeycloakAdmin:
    return make_admin(infra)


@pytest.fixture
def agent(infra: dict[str, str]) -> LoginAgent:
    return LoginAgent(infra["GUICHET_KEYCLOAK_ISSUER"], ca_file=Path(infra["GUICHET_CA_FILE"]))


class Users:
    """Creates unique users through the admin API and deletes them at the end of the test."""

    def __init__(self, admin: KeycloakAdmin) -> None:
        self.admin = admin
        self.ids: list[str] = []

    def create(self, *, verified: bool = True, password: str = PASSWORD, **extra: Any) -> User:
        email = f"kc-test-{uuid.uuid4().hex[:12]}@example.lu"
        nid = national_id()
        user_id = self.admin.create_user(
            {
                "username": email,
                "email": email,
                "emailVerified": verified,
                "enabled": True,
                "firstName": "Anne",
                "lastName": "Muller",
                "attributes": {"national_id": [nid]},
                "credentials": [{"type": "password", "value": password, "temporary": False}],
                **extra,
            }
        )
        self.ids.append(user_id)
        return User(user_id, email, password, nid, "Anne Muller")

    def cleanup(self) -> None:
        for user_id in self.ids:
            with contextlib.suppress(KeycloakError):  # already deleted by the test
                self.admin.delete_user(user_id)


@pytest.fixture
def users(kc_admin: KeycloakAdmin) -> Iterator[Users]:
    registry = Users(kc_admin)
    yield registry
    registry.cleanup()


ISSUER = "https://localhost:58443/realms/guichet"


async def test_password_login_gives_low_with_audience_and_national_id(
    agent: LoginAgent, users: Users, infra: dict[str, str]
) -> None:
    user = users.create()
    tokens = await agent.login(user.email, user.password)
    claims = tokens.claims
    assert infra["GUICHET_KEYCLOAK_ISSUER"] == ISSUER
    assert claims["iss"] == ISSUER
    assert claims["acr"] == "low"
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert "guichet-api" in audience
    assert claims["national_id"] == user.national_id
    assert claims["azp"] == "guichet-web"
    assert claims["sub"] == user.id
    assert tokens.refresh_token and tokens.id_token


async def test_issuer_is_the_same_on_both_ports(infra: dict[str, str]) -> None:
    context = ssl.create_default_context(cafile=infra["GUICHET_CA_FILE"])
    async with httpx.AsyncClient(verify=context) as client:
        https = await client.get(f"{ISSUER}/.well-known/openid-configuration")
        http = await client.get(
            f"{infra['GUICHET_KEYCLOAK_URL']}/realms/{REALM}/.well-known/openid-configuration"
        )
    assert https.json()["issuer"] == http.json()["issuer"] == ISSUER
    assert {"low", "substantial", "high"} <= set(https.json()["acr_values_supported"])


async def test_authorization_without_pkce_is_refused(infra: dict[str, str]) -> None:
    context = ssl.create_default_context(cafile=infra["GUICHET_CA_FILE"])
    async with httpx.AsyncClient(verify=context) as client:
        response = await client.get(
            f"{ISSUER}/protocol/openid-connect/auth",
            params={
                "client_id": "guichet-web",
                "redirect_uri": "http://127.0.0.1:8000/callback",
                "response_type": "code",
                "scope": "openid",
            },
        )
    assert response.status_code == 302
    assert "error=invalid_request" in response.headers["location"]
    assert "code_challenge" in response.headers["location"]


async def test_totp_enrolment_then_substantial(agent: LoginAgent, users: Users) -> None:
    user = users.create()
    secret = await agent.enrol_totp(user.email, user.password)
    with pytest.raises(LoginRefused):  # substantial needs the TOTP code
        await agent.login(user.email, user.password, acr_values="substantial")
    tokens = await agent.login(
        user.email, user.password, acr_values="substantial", totp_secret=secret
    )
    assert tokens.acr == "substantial"
    # a wrong code is refused
    with pytest.raises(LoginRefused):
        await agent.login(
            user.email,
            user.password,
            acr_values="substantial",
            totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        )
    # without acr_values the same user still gets low (password only)
    assert (await agent.login(user.email, user.password)).acr == "low"


async def test_substantial_requested_by_essential_claim(agent: LoginAgent, users: Users) -> None:
    user = users.create()
    secret = await agent.enrol_totp(user.email, user.password)
    tokens = await agent.login(
        user.email,
        user.password,
        totp_secret=secret,
        extra_params={"claims": '{"id_token":{"acr":{"essential":true,"values":["substantial"]}}}'},
    )
    assert tokens.acr == "substantial"


async def test_certificate_login_gives_high_without_password(
    agent: LoginAgent, users: Users, infra: dict[str, str], tmp_path: Path
) -> None:
    user = users.create()
    certificate = issue_citizen_certificate(
        Path(infra["GUICHET_NATIONAL_CA_DIR"]), user.national_id, user.name, tmp_path
    )
    tokens = await agent.login_with_certificate(certificate)  # no e-mail, no password
    assert tokens.acr == "high"
    assert tokens.claims["sub"] == user.id
    assert tokens.claims["national_id"] == user.national_id
    # the same certificate asked for substantial gives substantial, for nothing gives low
    assert (await agent.login("", "", client_certificate=certificate)).acr == "low"
    substantial = await agent.login(
        "", "", acr_values="substantial", client_certificate=certificate
    )
    assert substantial.acr == "substantial"


async def test_high_needs_a_certificate(agent: LoginAgent, users: Users) -> None:
    user = users.create()
    secret = await agent.enrol_totp(user.email, user.password)
    with pytest.raises(LoginRefused):
        await agent.login(user.email, user.password, acr_values="high", totp_secret=secret)


async def test_certificate_of_another_ca_does_not_give_high(
    agent: LoginAgent, users: Users, infra: dict[str, str], tmp_path: Path
) -> None:
    user = users.create()
    rogue = issue_citizen_certificate(
        Path(infra["GUICHET_PKI_DIR"]) / "rogue", user.national_id, user.name, tmp_path
    )
    try:
        tokens = await agent.login_with_certificate(rogue, email=user.email, password=user.password)
    except (httpx.TransportError, ssl.SSLError, LoginRefused):
        return  # refused in the TLS handshake or by the flow
    assert tokens.acr != "high"


async def test_certificate_of_an_unknown_national_id_does_not_give_high(
    agent: LoginAgent, users: Users, infra: dict[str, str], tmp_path: Path
) -> None:
    user = users.create()
    stranger = issue_citizen_certificate(
        Path(infra["GUICHET_NATIONAL_CA_DIR"]), "19991231999" + "00", "Nobody", tmp_path
    )
    with pytest.raises(LoginRefused):
        await agent.login_with_certificate(stranger, email=user.email, password=user.password)


async def test_brute_force_lockout_after_five_failures(
    agent: LoginAgent, users: Users, kc_admin: KeycloakAdmin
) -> None:
    user = users.create()

    async def fail(times: int) -> None:
        for _ in range(times):
            with pytest.raises(LoginRefused):
                await agent.login(user.email, "not the right passphrase")

    await fail(4)
    assert (await agent.login(user.email, user.password)).acr == "low"  # 4 < failureFactor
    await fail(5)
    with pytest.raises(LoginRefused):
        await agent.login(user.email, user.password)
    status = kc_admin.get_bruteforce_detection_status(user.id)
    assert status["disabled"] is True
    assert status["numFailures"] >= 5
    events = kc_admin.get_events(query={"user": user.id, "type": "LOGIN_ERROR", "max": 50})
    assert len(events) >= 9


async def test_password_policy(users: Users, kc_admin: KeycloakAdmin) -> None:
    user = users.create()
    for weak in ("short", "elevenchars", user.email):
        with pytest.raises(KeycloakError) as refused:
            kc_admin.set_user_password(user.id, weak, temporary=False)
        assert refused.value.response_code == 400
    with pytest.raises(KeycloakError):  # history: the current passphrase cannot be set again
        kc_admin.set_user_password(user.id, user.password, temporary=False)
    kc_admin.set_user_password(user.id, "twelve chars", temporary=False)
    policy = kc_admin.get_realm(REALM)["passwordPolicy"]
    assert "length(12)" in policy and "notEmail" in policy and "passwordHistory" in policy


async def test_unverified_user_gets_no_tokens_until_the_mail_link_is_followed(
    agent: LoginAgent, users: Users, kc_admin: KeycloakAdmin, infra: dict[str, str]
) -> None:
    user = users.create(verified=False)
    since = time.time()
    with pytest.raises(LoginRefused) as refused:
        await agent.login(user.email, user.password)
    assert "verify" in refused.value.message.lower()
    mail = await newest_mail(Path(infra["GUICHET_MAIL_DIR"]), user.email, since=since)
    assert "noreply@openguichet.localhost" in str(mail["From"])
    link = next(link for link in mail_links(mail) if "key=" in link)
    assert link.startswith(ISSUER.rsplit("/realms", 1)[0])
    await agent.follow_email_link(link)
    assert kc_admin.get_user(user.id)["emailVerified"] is True
    assert (await agent.login(user.email, user.password)).acr == "low"


async def test_admin_sent_verification_mail(
    agent: LoginAgent, users: Users, kc_admin: KeycloakAdmin, infra: dict[str, str]
) -> None:
    user = users.create(verified=False)
    since = time.time()
    kc_admin.send_verify_email(user.id, client_id="guichet-web")
    mail = await newest_mail(Path(infra["GUICHET_MAIL_DIR"]), user.email, since=since)
    link = next(link for link in mail_links(mail) if "key=" in link)
    await agent.follow_email_link(link)
    assert kc_admin.get_user(user.id)["emailVerified"] is True


async def test_reset_password_by_mail(
    agent: LoginAgent, users: Users, kc_admin: KeycloakAdmin, infra: dict[str, str]
) -> None:
    user = users.create()
    since = time.time()
    kc_admin.send_update_account(user.id, ["UPDATE_PASSWORD"], client_id="guichet-web")
    mail = await newest_mail(Path(infra["GUICHET_MAIL_DIR"]), user.email, since=since)
    link = next(link for link in mail_links(mail) if "key=" in link)
    with pytest.raises(LoginRefused):  # the policy applies on the page too
        await agent.follow_email_link(link, new_password="too short")
    mail = await newest_mail(Path(infra["GUICHET_MAIL_DIR"]), user.email, since=since)
    await agent.follow_email_link(
        next(link for link in mail_links(mail) if "key=" in link),
        new_password="a brand new passphrase",
    )
    assert (await agent.login(user.email, "a brand new passphrase")).acr == "low"
    with pytest.raises(LoginRefused):
        await agent.login(user.email, user.password)


async def test_sign_in_activity_is_recorded(
    agent: LoginAgent, users: Users, kc_admin: KeycloakAdmin
) -> None:
    user = users.create()
    await agent.login(user.email, user.password)
    with pytest.raises(LoginRefused):
        await agent.login(user.email, "not the right passphrase")
    events = kc_admin.get_events(query={"user": user.id, "max": 50})
    types = {event["type"] for event in events}
    assert {"LOGIN", "LOGIN_ERROR"} <= types
    realm = kc_admin.get_realm(REALM)
    assert realm["eventsEnabled"] is True and realm["eventsExpiration"] >= 30 * 86400


def identity_admin(infra: dict[str, str]) -> KeycloakAdmin:
    return KeycloakAdmin(
        server_url=infra["GUICHET_KEYCLOAK_URL"],
        client_id=infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_ID"],
        client_secret_key=infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_SECRET"],
        realm_name=REALM,
    )


async def test_identity_service_account_manages_users_only(
    infra: dict[str, str], users: Users, agent: LoginAgent
) -> None:
    service = identity_admin(infra)
    email = f"kc-test-sa-{time.time_ns()}@example.lu"
    user_id = service.create_user(
        {
            "username": email,
            "email": email,
            "emailVerified": True,
            "enabled": True,
            "firstName": "Paul",
            "lastName": "Schmit",
            "attributes": {"national_id": ["1985030212345"]},
        }
    )
    users.ids.append(user_id)
    service.set_user_password(user_id, "a long enough passphrase", temporary=False)
    assert service.get_user(user_id)["attributes"]["national_id"] == ["1985030212345"]
    await agent.login(email, "a long enough passphrase")
    assert any(event["type"] == "LOGIN" for event in service.get_events(query={"user": user_id}))
    with pytest.raises(KeycloakError) as refused:
        service.get_clients()
    assert refused.value.response_code == 403
    with pytest.raises(KeycloakError) as refused:
        service.update_realm(REALM, {"bruteForceProtected": False})
    assert refused.value.response_code == 403
    with pytest.raises(KeycloakError) as refused:
        service.create_client({"clientId": f"intruder-{time.time_ns()}"})
    assert refused.value.response_code == 403
    with pytest.raises(KeycloakError) as refused:
        service.get_authentication_flows()
    assert refused.value.response_code == 403


async def test_identity_checks_a_password_with_a_direct_grant(
    infra: dict[str, str], users: Users, agent: LoginAgent
) -> None:
    user = users.create()
    await agent.enrol_totp(
        user.email, user.password
    )  # a TOTP user too: only the password is checked
    identity = KeycloakOpenID(
        server_url=infra["GUICHET_KEYCLOAK_URL"],
        realm_name=REALM,
        client_id=infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_ID"],
        client_secret_key=infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_SECRET"],
    )
    assert identity.token(user.email, user.password)["access_token"]
    with pytest.raises(KeycloakError):
        identity.token(user.email, "not the right passphrase")
    public = KeycloakOpenID(
        server_url=infra["GUICHET_KEYCLOAK_URL"], realm_name=REALM, client_id="guichet-web"
    )
    with pytest.raises(KeycloakError):  # the public clients have no password grant
        public.token(user.email, user.password)


async def test_national_id_is_not_editable_by_the_user(
    users: Users, kc_admin: KeycloakAdmin
) -> None:
    profile = (
        kc_admin.get_realm_users_profile() if hasattr(kc_admin, "get_realm_users_profile") else None
    )
    if profile is None:
        profile = kc_admin.connection.raw_get(f"admin/realms/{REALM}/users/profile").json()
    attribute = next(a for a in profile["attributes"] if a["name"] == "national_id")
    assert attribute["permissions"]["edit"] == ["admin"]
    assert "user" in attribute["permissions"]["view"]
