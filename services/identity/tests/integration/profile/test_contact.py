"""ContactService on identity's services port, on a started process: messaging reads a person's
contact and preferences with its platform certificate; another platform service, an
administration (another CA) and a caller without a certificate are refused; a person without an
account and a malformed national id are refused with their reason."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.profile import service
from guichet_kit.db import transaction
from guichet_kit.errors import read_rpc_failure
from guichet_kit.grpc_client import insecure_channel, mutual_tls_channel
from guichet_kit.i18n import Language
from guichet_testkit import worker_name
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

from ..conftest import REPO_ROOT, NewPerson, adult_national_id


@dataclass(frozen=True)
class Running:
    address: str
    services_address: str


@pytest.fixture(scope="module")
async def identity(
    infra: dict[str, str], identity_database: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Running]:
    """identity's gRPC role as its own process, on the tests' database."""
    address, services_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    pki = Path(infra["GUICHET_PKI_DIR"])
    url = identity_database.kw["bind"].url.render_as_string(hide_password=False)
    env = {
        "IDENTITY_ENVIRONMENT": "test",
        "IDENTITY_DATABASE_URL": url,
        "IDENTITY_NATS_URL": infra["GUICHET_NATS_URL"],
        "IDENTITY_GRPC_ADDRESS": address,
        "IDENTITY_SERVICES_GRPC_ADDRESS": services_address,
        "IDENTITY_KEYCLOAK_URL": infra["GUICHET_KEYCLOAK_HTTPS_URL"],
        "IDENTITY_KEYCLOAK_CLIENT_ID": infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_ID"],
        "IDENTITY_KEYCLOAK_CLIENT_SECRET": infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_SECRET"],
        "IDENTITY_CA_FILE": infra["GUICHET_CA_FILE"],
        "IDENTITY_TLS_CERTIFICATE": str(pki / "services" / "identity.crt"),
        "IDENTITY_TLS_PRIVATE_KEY": str(pki / "services" / "identity.key"),
        "IDENTITY_PLATFORM_CA": str(pki / "ca.crt"),
        # Contacts never reach the registers.
        "IDENTITY_AUTHENTIC_DATA_ADDRESS": "127.0.0.1:1",
    }
    process = ServiceProcess(
        f"identity-test-contact-{worker_name()}",
        [sys.executable, "-m", "guichet_identity", "grpc"],
        env,
        REPO_ROOT / ".data" / "log" / "tests",
    )
    process.start()
    try:
        await wait_until(
            lambda: grpc_serving(address), seconds=60, what="identity", process=process
        )
        yield Running(address, services_address)
    finally:
        process.stop()


def _channel(running: Running, pki: Path, certificate: Path) -> grpc.aio.Channel:
    """Mutual TLS with `certificate` (its key beside it)."""
    return mutual_tls_channel(
        running.services_address,
        ca=(pki / "ca.crt").read_bytes(),
        certificate=certificate.read_bytes(),
        private_key=certificate.with_suffix(".key").read_bytes(),
        timeout=10,
    )


async def _get_contact(
    running: Running, pki: Path, certificate: Path, national_id: str
) -> pb.GetContactResponse:
    async with _channel(running, pki, certificate) as channel:
        reply: pb.GetContactResponse = await pb_grpc.ContactServiceStub(channel).GetContact(
            pb.GetContactRequest(national_id=national_id)
        )
        return reply


@pytest.fixture
def pki(infra: dict[str, str]) -> Path:
    return Path(infra["GUICHET_PKI_DIR"])


async def test_messaging_reads_a_persons_contact_and_preferences(
    identity: Running,
    pki: Path,
    new_person: NewPerson,
    identity_sessions: async_sessionmaker[AsyncSession],
) -> None:
    anne = await new_person("Anne", "Muller")
    async with transaction(identity_sessions) as session:
        profile = await service.own_profile(session, anne.subject)
        profile.phone = "+352621123456"
    async with transaction(identity_sessions) as session:
        await service.update_preferences(
            session,
            anne.subject,
            service.PreferenceChoice(
                email_notifications=False,
                sms_notifications=True,
                language=Language.DE,
                edelivery_subscribed=True,
            ),
        )

    contact = await _get_contact(
        identity, pki, pki / "services" / "messaging.crt", anne.national_id
    )

    assert contact.email == f"{anne.subject}@example.org"
    assert (contact.phone, contact.phone_receives_sms) == ("+352621123456", True)
    assert contact.preferences == pb.Preferences(
        email_notifications=False,
        sms_notifications=True,
        language="de",
        edelivery_subscribed=True,
    )


async def test_a_person_without_phone_has_none_to_text(
    identity: Running, pki: Path, new_person: NewPerson
) -> None:
    paul = await new_person("Paul", "Weber")

    contact = await _get_contact(
        identity, pki, pki / "services" / "messaging.crt", paul.national_id
    )

    assert (contact.phone, contact.phone_receives_sms) == ("", False)
    # The defaults of a new account: e-mail only, in the language chosen at registration.
    assert (contact.preferences.email_notifications, contact.preferences.sms_notifications) == (
        True,
        False,
    )
    assert contact.preferences.language == "fr"


async def test_another_platform_service_is_refused(
    identity: Running, pki: Path, new_person: NewPerson
) -> None:
    anne = await new_person()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _get_contact(identity, pki, pki / "services" / "procedures.crt", anne.national_id)

    failure = read_rpc_failure(refused.value)
    assert (failure.code, failure.reason) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SERVICE_CERTIFICATE_REQUIRED",
    )


async def test_an_administrations_certificate_fails_the_handshake(
    identity: Running, pki: Path, new_person: NewPerson
) -> None:
    anne = await new_person()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _get_contact(identity, pki, pki / "administrations" / "acd.crt", anne.national_id)

    # The services port trusts the platform CA only: no administration gets a connection.
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_the_internal_port_gives_no_contact(identity: Running, new_person: NewPerson) -> None:
    anne = await new_person()
    async with insecure_channel(identity.address, timeout=10) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.ContactServiceStub(channel).GetContact(
                pb.GetContactRequest(national_id=anne.national_id)
            )

    assert read_rpc_failure(refused.value).reason == "SERVICE_CERTIFICATE_REQUIRED"


async def test_a_person_without_an_account_is_not_found(
    identity: Running, pki: Path, identity_sessions: async_sessionmaker[AsyncSession]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _get_contact(identity, pki, pki / "services" / "messaging.crt", adult_national_id())

    failure = read_rpc_failure(refused.value)
    assert (failure.code, failure.reason) == (grpc.StatusCode.NOT_FOUND, "NO_SUCH_ACCOUNT")
    # Without a caller's language, the platform's first one.
    assert failure.message == "Cette personne n'a pas de compte sur la plateforme."


async def test_a_malformed_national_id_is_refused(
    identity: Running, pki: Path, identity_sessions: async_sessionmaker[AsyncSession]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _get_contact(identity, pki, pki / "services" / "messaging.crt", "1980010112")

    failure = read_rpc_failure(refused.value)
    assert (failure.code, failure.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert [field.field for field in failure.field_errors] == ["national_id"]
