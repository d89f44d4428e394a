"""AccountServicer in-process against the real PostgreSQL, Keycloak and SMTP sink of `make infra`
(mails read with `guichet_testkit.mail`; `mail_dir` is the test kit's fixture).

Each test registers people with fresh e-mail addresses and national identifiers, and every
Keycloak user made under those addresses is deleted afterwards, whatever the test's outcome.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from keycloak import KeycloakAdmin
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.account.grpc import AccountServicer
from guichet_identity.account.keycloak_admin import KeycloakAccounts
from guichet_identity.settings import IdentitySettings
from guichet_kit.auth import LevelOfAssurance, Principal, set_caller
from guichet_kit.national_id import make_national_id
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_sessions

SERVICE_DIR = Path(__file__).resolve().parents[3]
# A strong enough password for the realm's policy (length 12, not the e-mail).
PASSWORD = "Correct-Horse-Battery-42"


@pytest.fixture(scope="session")
async def account_sessions(
    infra: dict[str, str],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(
        infra, SERVICE_DIR, f"identity_account_test_{worker_name()}"
    ) as sessions:
        yield sessions


@pytest.fixture(scope="session")
def purge_service() -> str:
    """A purging service of its own per worker, so its stream is this test run's alone."""
    return f"purgetest{worker_name()}"


@pytest.fixture(scope="session")
def settings(infra: dict[str, str], purge_service: str) -> IdentitySettings:
    return IdentitySettings(
        database_url="unused://",
        nats_url=infra["GUICHET_NATS_URL"],
        keycloak_url=infra["GUICHET_KEYCLOAK_HTTPS_URL"],
        keycloak_client_id=infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_ID"],
        keycloak_client_secret=SecretStr(infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_SECRET"]),
        ca_file=Path(infra["GUICHET_CA_FILE"]),
        smtp_host=infra["GUICHET_SMTP_HOST"],
        smtp_port=int(infra["GUICHET_SMTP_PORT"]),
        public_base_url="http://127.0.0.1:8000",
        purge_services=[purge_service],
        tls_certificate=Path(infra["GUICHET_PKI_DIR"]) / "services" / "identity.crt",
        tls_private_key=Path(infra["GUICHET_PKI_DIR"]) / "services" / "identity.key",
        platform_ca=Path(infra["GUICHET_CA_FILE"]),
    )


@pytest.fixture(scope="session")
async def keycloak(settings: IdentitySettings) -> AsyncIterator[KeycloakAccounts]:
    accounts = KeycloakAccounts.from_settings(settings)
    yield accounts
    await accounts.aclose()


@pytest.fixture(scope="session")
def keycloak_admin(settings: IdentitySettings) -> KeycloakAdmin:
    """The same service account, for what only a test does (marking an e-mail verified)."""
    return KeycloakAdmin(
        server_url=settings.keycloak_url + "/",
        realm_name=settings.keycloak_realm,
        client_id=settings.keycloak_client_id,
        client_secret_key=settings.keycloak_client_secret.get_secret_value(),
        verify=str(settings.ca_file),
    )


@pytest.fixture
async def servicer(
    account_sessions: async_sessionmaker[AsyncSession],
    settings: IdentitySettings,
) -> AsyncIterator[AccountServicer]:
    servicer = AccountServicer(account_sessions, settings, lambda: None)
    yield servicer
    await servicer.aclose()


@dataclass
class People:
    """Fresh identities for a test; their Keycloak users are deleted at the end."""

    keycloak: KeycloakAccounts
    emails: list[str]

    def email(self) -> str:
        address = f"acct-{uuid.uuid4().hex[:12]}@example.org"
        self.emails.append(address)
        return address

    def national_id(self) -> str:
        # Random birth date and sequence: Keycloak keeps users across test runs.
        born = date(
            1950 + secrets.randbelow(50), 1 + secrets.randbelow(12), 1 + secrets.randbelow(28)
        )
        return make_national_id(born, secrets.randbelow(1000)).value

    def registration(self, **changes: str) -> pb.RegisterRequest:
        fields = {
            "national_id": self.national_id(),
            "email": self.email(),
            "password": PASSWORD,
            "first_name": "Léa",
            "last_name": "Muller",
            "language": "fr",
        }
        fields.update(changes)
        return pb.RegisterRequest(**fields)


@pytest.fixture
async def people(keycloak: KeycloakAccounts) -> AsyncIterator[People]:
    people = People(keycloak, [])
    yield people
    for address in people.emails:
        user = await keycloak.find_user_by_email(address)
        if user is not None:
            await keycloak.delete_user(user.id)


def sign_in_as(subject: str, email_address: str, national_id: str) -> None:
    set_caller(
        Principal(
            subject=subject,
            level=LevelOfAssurance.SUBSTANTIAL,
            national_id=national_id,
            email=email_address,
            name="Léa Muller",
            token="",
        )
    )


@pytest.fixture(autouse=True)
def no_caller() -> Iterator[None]:
    set_caller(None)
    yield
    set_caller(None)


def mark_email_verified(admin: KeycloakAdmin, subject: str) -> None:
    """What following Keycloak's verification link does."""
    user: dict[str, Any] = admin.get_user(subject)
    user["emailVerified"] = True
    user["requiredActions"] = []
    admin.update_user(subject, user)


@dataclass(frozen=True)
class Account:
    subject: str
    email: str
    national_id: str


async def register_and_sign_in(servicer: AccountServicer, people: People) -> Account:
    """A fresh registered account, and its owner as the caller."""
    request = people.registration()
    reply = await servicer.Register(request, None)  # type: ignore[arg-type]
    sign_in_as(reply.subject, request.email, request.national_id)
    return Account(reply.subject, request.email, request.national_id)
