"""Another person's or a company's data is reached only through a mandate identity confirms: a
real identity process answers for a real Keycloak user's token; without a mandate every route is
refused, reads nothing and logs nothing."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet_authentic_data.api.citizen import MyDataServicer, SpaceDirectory
from guichet_kit.auth import ActingContext, Principal, TokenVerifier, set_caller
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.mandates import MandateChecker
from guichet_kit.seal import Sealer
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database
from guichet_testkit.eventually import wait_until
from guichet_testkit.login import LoginAgent
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

from .conftest import ANNE, NO_CONTEXT, PUBLIC_BASE_URL, Wakes, refusal

IDENTITY_DIR = Path(__file__).resolve().parents[3] / "identity"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
async def identity_address(
    infra: dict[str, str], pki: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """identity as its own process, on a database of its own (it knows nobody's mandates)."""
    url = await migrated_database(infra, IDENTITY_DIR, f"identity_adtest_{worker_name()}")
    address = f"127.0.0.1:{free_port()}"
    env = {
        "IDENTITY_ENVIRONMENT": "test",
        "IDENTITY_DATABASE_URL": url,
        "IDENTITY_NATS_URL": infra["GUICHET_NATS_URL"],
        "IDENTITY_GRPC_ADDRESS": address,
        "IDENTITY_KEYCLOAK_URL": infra["GUICHET_KEYCLOAK_HTTPS_URL"],
        "IDENTITY_KEYCLOAK_CLIENT_ID": infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_ID"],
        "IDENTITY_KEYCLOAK_CLIENT_SECRET": infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_SECRET"],
        "IDENTITY_CA_FILE": infra["GUICHET_CA_FILE"],
        "IDENTITY_SMTP_HOST": infra["GUICHET_SMTP_HOST"],
        "IDENTITY_SMTP_PORT": infra["GUICHET_SMTP_PORT"],
        "IDENTITY_TLS_CERTIFICATE": str(pki / "services" / "identity.crt"),
        "IDENTITY_TLS_PRIVATE_KEY": str(pki / "services" / "identity.key"),
        "IDENTITY_PLATFORM_CA": str(pki / "ca.crt"),
        "IDENTITY_AUTHENTIC_DATA_ADDRESS": "127.0.0.1:1",
    }
    process = ServiceProcess(
        "identity-for-authentic-data",
        [sys.executable, "-m", "guichet_identity", "grpc"],
        env,
        tmp_path_factory.mktemp("logs"),
    )
    process.start()
    try:
        await wait_until(
            lambda: grpc_serving(address), seconds=60, what="identity", process=process
        )
        yield address
    finally:
        process.stop()


@pytest.fixture(scope="module")
def keycloak_user(infra: dict[str, str]) -> Iterator[tuple[str, str]]:
    """A real account (e-mail, password) with Anne's national id; removed afterwards."""
    admin = KeycloakAdmin(
        server_url=infra["GUICHET_KEYCLOAK_URL"],
        username=infra["GUICHET_KEYCLOAK_ADMIN"],
        password=infra["GUICHET_KEYCLOAK_ADMIN_PASSWORD"],
        realm_name="guichet",
        user_realm_name="master",
    )
    email = f"authentic-data-{uuid.uuid4().hex[:12]}@example.lu"
    user_id = admin.create_user(
        {
            "username": email,
            "email": email,
            "emailVerified": True,
            "enabled": True,
            "firstName": "Anne",
            "lastName": "Muller",
            "attributes": {"national_id": [ANNE]},
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
        }
    )
    try:
        yield email, PASSWORD
    finally:
        with contextlib.suppress(KeycloakError):
            admin.delete_user(user_id)


@pytest.fixture(scope="module")
async def anne(infra: dict[str, str], keycloak_user: tuple[str, str]) -> Principal:
    """Anne signed in for real: her token, verified as the kit's interceptor does."""
    agent = LoginAgent(infra["GUICHET_KEYCLOAK_ISSUER"], ca_file=Path(infra["GUICHET_CA_FILE"]))
    tokens = await agent.login(*keycloak_user)
    verifier = TokenVerifier(
        infra["GUICHET_KEYCLOAK_ISSUER"], "guichet-api", ca_file=Path(infra["GUICHET_CA_FILE"])
    )
    return await verifier.verify(tokens.access_token)


@pytest.fixture
async def through_identity(
    sessions: async_sessionmaker[AsyncSession],
    sealer: Sealer,
    wakes: Wakes,
    identity_address: str,
) -> AsyncIterator[MyDataServicer]:
    async with insecure_channel(identity_address, timeout=10) as identity:
        yield MyDataServicer(
            sessions,
            wakes,
            mandates=MandateChecker(identity),
            spaces=SpaceDirectory(identity),
            sealer=sealer,
            public_base_url=PUBLIC_BASE_URL,
        )


def _calls() -> list[tuple[str, object]]:
    return [
        ("GetMyCompanyEntry", pb.GetMyCompanyEntryRequest()),
        ("GetMyVatBalance", pb.GetMyVatBalanceRequest()),
        ("ListMyDataAccesses", pb.ListMyDataAccessesRequest()),
        ("ListMyDataReports", pb.ListMyDataReportsRequest()),
        (
            "ReportWrongData",
            pb.ReportWrongDataRequest(field="company.name", comment="Not our name at all."),
        ),
    ]


@pytest.mark.parametrize(("method", "request_"), _calls(), ids=[c[0] for c in _calls()])
async def test_a_company_context_without_a_mandate_is_refused_and_nothing_is_read(
    through_identity: MyDataServicer,
    family: None,
    anne: Principal,
    counts,
    method: str,
    request_: object,
) -> None:
    set_caller(anne, ActingContext("company", str(uuid.uuid4())))
    before = await counts()

    refused = await refusal(getattr(through_identity, method)(request_, NO_CONTEXT))

    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "MANDATE_REFUSED")
    assert await counts() == before


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("GetMyRegisterEntry", pb.GetMyRegisterEntryRequest()),
        ("GetMyDrivingLicencePoints", pb.GetMyDrivingLicencePointsRequest()),
        ("GetMyTaxCredit", pb.GetMyTaxCreditRequest()),
        ("IssueCertificate", pb.IssueCertificateRequest(kind=pb.CERTIFICATE_KIND_RESIDENCE)),
        ("ListMyDataAccesses", pb.ListMyDataAccessesRequest()),
        (
            "ReportWrongData",
            pb.ReportWrongDataRequest(field="person.surname", comment="Not her name at all."),
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_another_persons_data_without_a_mandate_is_refused_and_nothing_is_read(
    through_identity: MyDataServicer,
    family: None,
    anne: Principal,
    counts,
    method: str,
    request_: object,
) -> None:
    set_caller(anne, ActingContext("relation", str(uuid.uuid4())))
    before = await counts()

    refused = await refusal(getattr(through_identity, method)(request_, NO_CONTEXT))

    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "MANDATE_REFUSED")
    assert await counts() == before
