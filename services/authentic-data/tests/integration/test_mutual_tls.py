"""The mutual TLS port, on a started process: platform services with the platform CA's
certificates, administrations with the administrations' CA's; another CA's certificate fails the
handshake, and a certificate of the wrong one of the two is refused by its issuer. No refusal
leaves an access-log entry."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet.authentic_data.v1 import authentic_data_pb2_grpc as pb_grpc
from guichet_kit.errors import read_rpc_failure
from guichet_kit.grpc_client import insecure_channel, mutual_tls_channel
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

from .conftest import ANNE, PAUL, log_size


@dataclass(frozen=True)
class Running:
    address: str
    mtls_address: str


@pytest.fixture(scope="module")
async def service(
    infra: dict[str, str],
    pki: Path,
    authentic_database: async_sessionmaker[AsyncSession],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Running]:
    address, mtls = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    url = authentic_database.kw["bind"].url.render_as_string(hide_password=False)
    env = {
        "AUTHENTIC_DATA_ENVIRONMENT": "test",
        "AUTHENTIC_DATA_DATABASE_URL": url,
        "AUTHENTIC_DATA_NATS_URL": infra["GUICHET_NATS_URL"],
        "AUTHENTIC_DATA_GRPC_ADDRESS": address,
        "AUTHENTIC_DATA_MTLS_GRPC_ADDRESS": mtls,
        "AUTHENTIC_DATA_TLS_CERTIFICATE": str(pki / "services" / "authentic-data.crt"),
        "AUTHENTIC_DATA_TLS_PRIVATE_KEY": str(pki / "services" / "authentic-data.key"),
        "AUTHENTIC_DATA_PLATFORM_CA": str(pki / "ca.crt"),
        "AUTHENTIC_DATA_ADMINISTRATIONS_CA": str(pki / "administrations" / "ca.crt"),
        "AUTHENTIC_DATA_SEAL_CERTIFICATE": infra["GUICHET_SEAL_CERTIFICATE"],
        "AUTHENTIC_DATA_SEAL_PRIVATE_KEY": infra["GUICHET_SEAL_PRIVATE_KEY"],
        "AUTHENTIC_DATA_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
        "AUTHENTIC_DATA_CA_FILE": infra["GUICHET_CA_FILE"],
        "AUTHENTIC_DATA_IDENTITY_ADDRESS": "127.0.0.1:1",
    }
    process = ServiceProcess(
        "authentic-data-mtls",
        [sys.executable, "-m", "guichet_authentic_data", "grpc"],
        env,
        tmp_path_factory.mktemp("logs"),
    )
    process.start()
    try:
        await wait_until(
            lambda: grpc_serving(address), seconds=60, what="authentic-data", process=process
        )
        yield Running(address, mtls)
    finally:
        process.stop()


def _channel(running: Running, pki: Path, certificate: Path, key: Path) -> grpc.aio.Channel:
    return mutual_tls_channel(
        running.mtls_address,
        ca=(pki / "ca.crt").read_bytes(),
        certificate=certificate.read_bytes(),
        private_key=key.read_bytes(),
        timeout=10,
    )


def _administration_read(
    purpose: str = "acd:household-taxation",
) -> pb.ReadAdministrationDataRequest:
    return pb.ReadAdministrationDataRequest(
        purpose=purpose,
        subject=pb.DataSubject(national_id=ANNE),
        request_reference="ACD-2025-1",
        agent="agent-1",
    )


def _platform_read() -> pb.ReadDataRequest:
    return pb.ReadDataRequest(
        purpose="identity:declare-child",
        subject=pb.DataSubject(national_id=PAUL),
        request_reference="declaration-1",
    )


def _mint(directory: Path, ca: Path, common_name: str) -> tuple[Path, Path]:
    """A client certificate named `common_name`, issued by the CA in `ca` (crt and key)."""
    issuer = x509.load_pem_x509_certificate((ca / "ca.crt").read_bytes())
    issuer_key = serialization.load_pem_private_key((ca / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    crt, pem_key = directory / f"{common_name}.crt", directory / f"{common_name}.key"
    crt.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    pem_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return crt, pem_key


async def test_an_administration_and_a_platform_service_read_over_mutual_tls(
    service: Running, pki: Path, family: None, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = pki / "administrations"
    async with _channel(service, pki, admin / "acd.crt", admin / "acd.key") as channel:
        reply = await pb_grpc.AdministrationDataServiceStub(channel).ReadAdministrationData(
            _administration_read()
        )
    assert {field.name for field in reply.fields} >= {"person.spouse", "person.children"}

    services = pki / "services"
    async with _channel(service, pki, services / "identity.crt", services / "identity.key") as c:
        children = await pb_grpc.PlatformDataServiceStub(c).ReadData(_platform_read())
    assert [f.name for f in children.fields] == ["person.children"]
    assert await log_size(sessions) == 2


async def test_an_administration_certificate_of_another_ca_fails_the_handshake(
    service: Running, pki: Path, family: None, sessions: async_sessionmaker[AsyncSession]
) -> None:
    rogue = pki / "rogue"
    async with _channel(service, pki, rogue / "acd.crt", rogue / "acd.key") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.AdministrationDataServiceStub(channel).ReadAdministrationData(
                _administration_read()
            )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert await log_size(sessions) == 0


async def test_a_certificate_from_the_other_trusted_ca_is_refused_by_its_issuer(
    service: Running,
    pki: Path,
    family: None,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    # The administrations' CA naming a certificate "identity" makes no identity service...
    crt, key = _mint(tmp_path, pki / "administrations", "identity")
    async with _channel(service, pki, crt, key) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as as_identity:
            await pb_grpc.PlatformDataServiceStub(channel).ReadData(_platform_read())
    # ...and identity's own platform certificate makes no administration.
    services = pki / "services"
    async with _channel(service, pki, services / "identity.crt", services / "identity.key") as c:
        with pytest.raises(grpc.aio.AioRpcError) as as_administration:
            await pb_grpc.AdministrationDataServiceStub(c).ReadAdministrationData(
                _administration_read()
            )

    for refused in (as_identity.value, as_administration.value):
        failure = read_rpc_failure(refused)
        assert (failure.code, failure.reason) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "CERTIFICATE_ISSUER_REFUSED",
        )
    assert await log_size(sessions) == 0


async def test_the_internal_port_has_no_caller_certificate_to_read_with(
    service: Running, family: None, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with insecure_channel(service.address, timeout=10) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.PlatformDataServiceStub(channel).ReadData(_platform_read())

    failure = read_rpc_failure(refused.value)
    assert failure.reason == "SERVICE_CERTIFICATE_REQUIRED"
    assert await log_size(sessions) == 0
