"""eDelivery (F63, F44) and receipts (F64) on the real servers: messaging's gRPC role, identity
(its services port: is the person subscribed?) and the wallet (MinIO, ClamAV) each run as their own
process; an administration pushes over mutual TLS with its certificate of the administrations' CA.
A read is marked by the rules on messaging's database (as MarkDocumentRead and the consumer of the
wallet's opened event do, test_read_receipts.py); the unread job runs with the clock moved forward.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from jwcrypto import jwk, jws
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.messaging.v1 import edelivery_pb2 as pb
from guichet.messaging.v1 import edelivery_pb2_grpc as pb_grpc
from guichet_identity.profile import service as profiles
from guichet_kit.db import create_engine, session_factory, transaction
from guichet_kit.i18n import Language
from guichet_kit.national_id import make_national_id
from guichet_kit.outbox import OutboxMessage
from guichet_messaging.edelivery.models import Delivery, Receipt
from guichet_messaging.edelivery.receipts import ReceiptSealer
from guichet_messaging.edelivery.service import EDelivery
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database, service_metadata, truncate_tables
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

from .test_person_notifications import _start_identity

REPO_ROOT = Path(__file__).resolve().parents[4]
SERVICE_DIR = REPO_ROOT / "services" / "messaging"
MESSAGING_TABLES = service_metadata("guichet_messaging")
IDENTITY_TABLES = service_metadata("guichet_identity")
WALLET_TABLES = service_metadata("guichet_wallet")
# A small PDF the wallet's pipeline types as application/pdf.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"%" * 4000


@dataclass
class Servers:
    messaging_address: str
    pki: Path
    messaging: async_sessionmaker[AsyncSession]
    identity: async_sessionmaker[AsyncSession]
    wallet: async_sessionmaker[AsyncSession]


def _process(name: str, module: str, env: dict[str, str]) -> ServiceProcess:
    process = ServiceProcess(
        f"{name}-{uuid.uuid4().hex[:6]}",
        [sys.executable, "-m", module, "grpc"],
        env,
        REPO_ROOT / ".data" / "log" / "tests",
    )
    process.start()
    return process


@pytest.fixture(scope="module")
async def servers(infra: dict[str, str]) -> AsyncIterator[Servers]:
    pki = Path(infra["GUICHET_PKI_DIR"])
    name = worker_name()
    identity_url = await migrated_database(
        infra, REPO_ROOT / "services" / "identity", f"edel_test_identity_{name}"
    )
    wallet_url = await migrated_database(
        infra, REPO_ROOT / "services" / "wallet", f"edel_test_wallet_{name}"
    )
    messaging_url = await migrated_database(infra, SERVICE_DIR, f"edel_test_messaging_{name}")
    identity_services = f"127.0.0.1:{free_port()}"
    identity, identity_address = _start_identity(infra, identity_url, identity_services)
    wallet_address, wallet_services = (f"127.0.0.1:{free_port()}" for _ in range(2))
    wallet = _process(
        "edel-test-wallet",
        "guichet_wallet",
        {
            "WALLET_ENVIRONMENT": "test",
            "WALLET_DATABASE_URL": wallet_url,
            "WALLET_NATS_URL": infra["GUICHET_NATS_URL"],
            "WALLET_GRPC_ADDRESS": wallet_address,
            "WALLET_SERVICES_GRPC_ADDRESS": wallet_services,
            "WALLET_TLS_CERTIFICATE": str(pki / "services" / "wallet.crt"),
            "WALLET_TLS_PRIVATE_KEY": str(pki / "services" / "wallet.key"),
            "WALLET_SERVICES_CA": str(pki / "ca.crt"),
            "WALLET_MINIO_ENDPOINT": infra["GUICHET_MINIO_ENDPOINT"],
            "WALLET_MINIO_ACCESS_KEY": infra["GUICHET_MINIO_ACCESS_KEY"],
            "WALLET_MINIO_SECRET_KEY": infra["GUICHET_MINIO_SECRET_KEY"],
            "WALLET_BUCKET_PREFIX": f"edel-{name}".lower().replace("_", "-"),
            "WALLET_CLAMAV_ADDRESS": infra["GUICHET_CLAMAV_ADDRESS"],
            "WALLET_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
            "WALLET_CA_FILE": infra["GUICHET_CA_FILE"],
            "WALLET_IDENTITY_ADDRESS": "127.0.0.1:1",
            "WALLET_PURGE_CONSUMER": f"wallet-account-purge-edel-test-{name}",
        },
    )
    messaging_address, admin_address = (f"127.0.0.1:{free_port()}" for _ in range(2))
    messaging = _process(
        "edel-test-messaging",
        "guichet_messaging",
        {
            "MESSAGING_ENVIRONMENT": "test",
            "MESSAGING_DATABASE_URL": messaging_url,
            "MESSAGING_NATS_URL": infra["GUICHET_NATS_URL"],
            "MESSAGING_GRPC_ADDRESS": messaging_address,
            "MESSAGING_ADMIN_GRPC_ADDRESS": admin_address,
            "MESSAGING_TLS_CERTIFICATE": str(pki / "services" / "messaging.crt"),
            "MESSAGING_TLS_PRIVATE_KEY": str(pki / "services" / "messaging.key"),
            "MESSAGING_ADMINISTRATIONS_CA": str(pki / "administrations" / "ca.crt"),
            "MESSAGING_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
            "MESSAGING_CA_FILE": infra["GUICHET_CA_FILE"],
            "MESSAGING_PLATFORM_CA": str(pki / "ca.crt"),
            "MESSAGING_IDENTITY_ADDRESS": identity_services,
            "MESSAGING_WALLET_ADDRESS": wallet_services,
            "MESSAGING_SEAL_CERTIFICATE": str(pki / "seal" / "platform-seal.crt"),
            "MESSAGING_SEAL_PRIVATE_KEY": str(pki / "seal" / "platform-seal.key"),
        },
    )
    engines = [create_engine(url) for url in (messaging_url, identity_url, wallet_url)]
    try:
        for address, process, what in (
            (identity_address, identity, "identity"),
            (wallet_address, wallet, "wallet"),
            (messaging_address, messaging, "messaging"),
        ):
            await wait_until(
                lambda a=address: grpc_serving(a), seconds=60, what=what, process=process
            )  # type: ignore[misc]
        yield Servers(admin_address, pki, *(session_factory(engine) for engine in engines))
    finally:
        for process in (messaging, wallet, identity):
            process.stop()
        for engine in engines:
            await engine.dispose()


@pytest.fixture
async def fresh(servers: Servers) -> Servers:
    await truncate_tables(servers.messaging, MESSAGING_TABLES)
    await truncate_tables(servers.identity, IDENTITY_TABLES)
    await truncate_tables(servers.wallet, WALLET_TABLES)
    return servers


_sequence = iter(range(1, 1000))


async def person(servers: Servers, *, subscribed: bool) -> str:
    subject = f"kc-{uuid.uuid4().hex[:12]}"
    national_id = make_national_id(date(1979, 5, 6), next(_sequence)).value
    async with transaction(servers.identity) as session:
        await profiles.create_profile(
            session,
            subject=subject,
            national_id=national_id,
            email=f"edel.{uuid.uuid4().hex[:8]}@example.org",
            first_name="Anne",
            last_name="Muller",
            language="fr",
        )
    async with transaction(servers.identity) as session:
        await profiles.update_preferences(
            session,
            subject,
            profiles.PreferenceChoice(
                email_notifications=True,
                sms_notifications=False,
                language=Language.FR,
                edelivery_subscribed=subscribed,
            ),
        )
    return national_id


def administration(servers: Servers, code: str) -> pb_grpc.AdministrationDeliveryServiceStub:
    pki = servers.pki
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.crt").read_bytes(),
        private_key=(pki / "administrations" / f"{code}.key").read_bytes(),
        certificate_chain=(pki / "administrations" / f"{code}.crt").read_bytes(),
    )
    channel = grpc.aio.secure_channel(servers.messaging_address, credentials)
    return pb_grpc.AdministrationDeliveryServiceStub(channel)


def header(national_id: str, delivery_id: str, size: int = len(PDF)) -> pb.DeliverDocumentRequest:
    return pb.DeliverDocumentRequest(
        header=pb.DeliveryHeader(
            national_id=national_id,
            delivery_id=delivery_id,
            title="Décision d'affiliation",
            file_name="decision.pdf",
            declared_content_type="application/pdf",
            declared_size=size,
        )
    )


async def whole(national_id: str, delivery_id: str) -> AsyncIterator[pb.DeliverDocumentRequest]:
    yield header(national_id, delivery_id)
    for start in range(0, len(PDF), 1000):
        yield pb.DeliverDocumentRequest(chunk=PDF[start : start + 1000])


def payload_of(token: str, pki: Path) -> dict[str, object]:
    """Offline, as the administration does: the x5c chain up to the platform CA, then the JWS."""
    from cryptography import x509

    head = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    seal = x509.load_der_x509_certificate(base64.b64decode(head["x5c"][0]))
    seal.verify_directly_issued_by(x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes()))
    signed = jws.JWS()
    signed.deserialize(token)
    signed.verify(jwk.JWK.from_pyca(seal.public_key()), alg=head["alg"])
    payload: dict[str, object] = json.loads(signed.payload)
    return payload


async def count(sessions: async_sessionmaker[AsyncSession], sql: str, **values: object) -> int:
    async with sessions() as session:
        return int((await session.execute(text(sql), values)).scalar_one())


async def test_a_pushed_document_lands_in_the_wallet_with_a_sealed_delivery_receipt(
    fresh: Servers,
) -> None:
    national_id = await person(fresh, subscribed=True)
    ccss = administration(fresh, "ccss")

    reply = await ccss.DeliverDocument(whole(national_id, "affiliation-42"))

    receipt = reply.receipt
    assert (receipt.kind, receipt.delivery_id, reply.already_delivered) == (
        pb.RECEIPT_KIND_DELIVERED,
        "affiliation-42",
        False,
    )
    payload = payload_of(receipt.jws, fresh.pki)
    delivered = payload["delivery"]
    assert isinstance(delivered, dict)
    assert delivered["addressee"] == national_id
    assert delivered["administration"] == "ccss"
    assert delivered["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert delivered["size"] == len(PDF)
    # In the wallet, as an eDocument of the person, sent by the administration.
    async with fresh.wallet() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT p.id, p.received, r.administration FROM pieces p "
                    "JOIN received_documents r ON r.piece_id = p.id WHERE p.owner = :owner"
                ),
                {"owner": f"person:{national_id}"},
            )
        ).all()
    assert [(row.received, row.administration) for row in rows] == [(True, "ccss")]
    # The event that tells the person.
    async with fresh.messaging() as session:
        subjects_written = list(await session.scalars(select(OutboxMessage.subject)))
    assert subjects_written == ["messaging.edocument.delivered.v1"]

    again = await ccss.DeliverDocument(whole(national_id, "affiliation-42"))
    assert again.already_delivered
    assert again.receipt.receipt_id == receipt.receipt_id
    assert await count(fresh.wallet, "SELECT count(*) FROM pieces") == 1


async def test_a_person_not_subscribed_is_refused_and_nothing_is_stored(fresh: Servers) -> None:
    national_id = await person(fresh, subscribed=False)
    never_registered = make_national_id(date(1990, 1, 1), 777).value

    for addressee in (national_id, never_registered):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await administration(fresh, "ccss").DeliverDocument(whole(addressee, "d-1"))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        # The advice is in the caller's language (French when none is asked): paper, papier, Papier.
        advice = (refused.value.details() or "").lower()
        assert "paper" in advice or "papier" in advice, advice

    assert await count(fresh.wallet, "SELECT count(*) FROM pieces") == 0
    assert await count(fresh.messaging, "SELECT count(*) FROM edelivery_receipts") == 0


async def test_a_stream_cut_in_the_middle_stores_nothing_and_gives_no_receipt(
    fresh: Servers,
) -> None:
    national_id = await person(fresh, subscribed=True)
    sent = asyncio.Event()
    never = asyncio.Event()

    async def cut() -> AsyncIterator[pb.DeliverDocumentRequest]:
        # Announces twice the bytes it sends: the file is not whole when the stream stops.
        yield header(national_id, "cut-1", size=2 * len(PDF))
        yield pb.DeliverDocumentRequest(chunk=PDF)
        sent.set()
        await never.wait()

    call = administration(fresh, "ccss").DeliverDocument(cut())
    await sent.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    # The same delivery sent whole afterwards is the only one stored (nothing was left behind).
    reply = await administration(fresh, "ccss").DeliverDocument(whole(national_id, "cut-1"))
    assert not reply.already_delivered
    assert await count(fresh.wallet, "SELECT count(*) FROM pieces") == 1
    assert await count(fresh.messaging, "SELECT count(*) FROM edelivery_receipts") == 1


async def test_read_and_unread_receipts_reach_only_the_sender(fresh: Servers) -> None:
    anne = await person(fresh, subscribed=True)
    marc = await person(fresh, subscribed=True)
    ccss, acd = administration(fresh, "ccss"), administration(fresh, "acd")
    first = await ccss.DeliverDocument(whole(anne, "read-me"))
    await ccss.DeliverDocument(whole(marc, "never-read"))
    sealer = ReceiptSealer(
        fresh.pki / "seal" / "platform-seal.crt", fresh.pki / "seal" / "platform-seal.key"
    )
    async with fresh.messaging() as session:
        piece_of_anne = await session.scalar(
            select(Delivery.piece_id).where(Delivery.addressee == anne)
        )
    assert piece_of_anne is not None

    # Anne opens hers (twice: one read receipt).
    now = EDelivery(sealer, lambda: datetime.now(UTC))
    for _ in range(2):
        async with transaction(fresh.messaging) as session:
            await now.mark_read(session, anne, piece_of_anne)
    # Nothing is unread yet; fifteen days later, Marc's is.
    async with transaction(fresh.messaging) as session:
        assert await now.report_unread(session, timedelta(days=14), batch=100) == 0
    later = EDelivery(sealer, lambda: datetime.now(UTC) + timedelta(days=15))
    for expected in (1, 0):
        async with transaction(fresh.messaging) as session:
            assert await later.report_unread(session, timedelta(days=14), batch=100) == expected

    listed = await ccss.ListReceipts(pb.ListReceiptsRequest())
    assert [(r.delivery_id, r.kind) for r in listed.receipts] == [
        ("read-me", pb.RECEIPT_KIND_DELIVERED),
        ("never-read", pb.RECEIPT_KIND_DELIVERED),
        ("read-me", pb.RECEIPT_KIND_READ),
        ("never-read", pb.RECEIPT_KIND_UNREAD),
    ]
    for receipt in listed.receipts:
        assert (
            payload_of(receipt.jws, fresh.pki)["receipt"]
            == {
                pb.RECEIPT_KIND_DELIVERED: "delivered",
                pb.RECEIPT_KIND_READ: "read",
                pb.RECEIPT_KIND_UNREAD: "unread",
            }[receipt.kind]
        )
    only = await ccss.ListReceipts(pb.ListReceiptsRequest(delivery_id="read-me"))
    assert [r.kind for r in only.receipts] == [pb.RECEIPT_KIND_DELIVERED, pb.RECEIPT_KIND_READ]
    # The stream gives the same, from a cursor.
    watch = ccss.WatchReceipts(pb.WatchReceiptsRequest(after_sequence=first.receipt.sequence))
    streamed = [(await watch.read()).receipt.delivery_id for _ in range(3)]
    watch.cancel()
    assert streamed == ["never-read", "read-me", "never-read"]

    # Another administration sees none of them.
    assert list((await acd.ListReceipts(pb.ListReceiptsRequest())).receipts) == []
    assert (
        list((await acd.ListReceipts(pb.ListReceiptsRequest(delivery_id="read-me"))).receipts) == []
    )
    async with fresh.messaging() as session:
        assert await session.scalar(select(func.count()).select_from(Receipt)) == 4


async def test_bad_requests_are_refused_with_nothing_stored(fresh: Servers) -> None:
    national_id = await person(fresh, subscribed=True)
    ccss = administration(fresh, "ccss")

    async def no_header() -> AsyncIterator[pb.DeliverDocumentRequest]:
        yield pb.DeliverDocumentRequest(chunk=PDF)

    async def bad_header() -> AsyncIterator[pb.DeliverDocumentRequest]:
        yield pb.DeliverDocumentRequest(
            header=pb.DeliveryHeader(national_id="123", delivery_id="", title="")
        )

    for stream in (no_header(), bad_header()):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ccss.DeliverDocument(stream)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for request in (pb.ListReceiptsRequest(limit=501), pb.ListReceiptsRequest(after_sequence=-1)):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ccss.ListReceipts(request)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await count(fresh.wallet, "SELECT count(*) FROM pieces") == 0
    assert national_id
