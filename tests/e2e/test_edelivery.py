"""eDelivery (F63, F44) and receipts (F64) across the running processes: an administration pushes
an eDocument over messaging's mutual TLS port; the person finds it in their wallet through the
gateway's wallet API; the administration verifies its sealed receipts offline against the platform
CA. Here the read receipt comes from messaging's EDeliveryService.MarkDocumentRead called with the
person's token; the one a download through the gateway gives (the wallet's opened event) is
tests/e2e/test_edocument_read_receipts.py's."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from citizens import Citizen, Registry
from cryptography import x509
from jwcrypto import jwk, jws
from launcher import Launcher, Started
from stack import Stack

# The wallet's fixtures (pytest finds imported fixtures).
from test_wallet_bad_input import WalletProbe, pdf, probe, registry, wallet_api

from guichet.messaging.v1 import edelivery_pb2 as pb
from guichet.messaging.v1 import edelivery_pb2_grpc as pb_grpc
from guichet_kit.errors import read_rpc_failure
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database

__all__ = ["probe", "registry", "wallet_api"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = pdf(filler=5000)


@pytest.fixture(scope="module")
async def messaging(
    launcher: Launcher, infra: dict[str, str], stack: Stack
) -> AsyncIterator[Started]:
    """A messaging of this module's (its administrations' port is what the test needs), with
    eDelivery on: the stack's identity and wallet, the platform's seal."""
    database_url = await migrated_database(
        infra, REPO_ROOT / "services" / "messaging", f"messaging_edel_e2e_{worker_name()}"
    )
    started = await launcher.messaging(
        database_url, role="grpc", name=f"messaging-edel-{uuid.uuid4().hex[:6]}"
    )
    yield started
    started.process.stop()


def administration(
    stack: Stack, messaging: Started, code: str
) -> pb_grpc.AdministrationDeliveryServiceStub:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(stack.pki / "ca.crt").read_bytes(),
        private_key=(stack.pki / "administrations" / f"{code}.key").read_bytes(),
        certificate_chain=(stack.pki / "administrations" / f"{code}.crt").read_bytes(),
    )
    channel = grpc.aio.secure_channel(messaging.admin_address, credentials)
    return pb_grpc.AdministrationDeliveryServiceStub(channel)


def header(national_id: str, delivery_id: str, size: int) -> pb.DeliverDocumentRequest:
    return pb.DeliverDocumentRequest(
        header=pb.DeliveryHeader(
            national_id=national_id,
            delivery_id=delivery_id,
            title="Bulletin d'impôt 2025",
            file_name="bulletin.pdf",
            declared_content_type="application/pdf",
            declared_size=size,
        )
    )


async def whole(national_id: str, delivery_id: str) -> AsyncIterator[pb.DeliverDocumentRequest]:
    yield header(national_id, delivery_id, len(DOCUMENT))
    for start in range(0, len(DOCUMENT), 2048):
        yield pb.DeliverDocumentRequest(chunk=DOCUMENT[start : start + 2048])


def verified(token: str, pki: Path) -> dict:
    """What the administration does offline: the x5c chain to the platform CA, then the JWS."""
    head = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    seal = x509.load_der_x509_certificate(base64.b64decode(head["x5c"][0]))
    seal.verify_directly_issued_by(x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes()))
    signed = jws.JWS()
    signed.deserialize(token)
    signed.verify(jwk.JWK.from_pyca(seal.public_key()), alg=head["alg"])
    return json.loads(signed.payload)


async def subscribe(api: httpx.AsyncClient, citizen: Citizen, subscribed: bool) -> None:
    answer = await api.put(
        "/api/v1/me/preferences",
        headers=citizen.bearer(),
        json={
            "email_notifications": True,
            "sms_notifications": False,
            "language": "fr",
            "edelivery_subscribed": subscribed,
        },
    )
    assert answer.status_code == 200, answer.text


async def edocuments(api: httpx.AsyncClient, citizen: Citizen) -> list[dict]:
    answer = await api.get("/api/v1/wallet/pieces", headers=citizen.bearer())
    assert answer.status_code == 200, answer.text
    return [piece for piece in answer.json()["items"] if piece["sender"]]


async def test_an_administration_delivers_and_reads_its_sealed_receipts(
    stack: Stack,
    messaging: Started,
    wallet_api: httpx.AsyncClient,
    registry: Registry,
    probe: WalletProbe,
) -> None:
    anne = await registry.register("Anne")
    await subscribe(wallet_api, anne, True)
    acd = administration(stack, messaging, "acd")
    delivery_id = f"bulletin-{uuid.uuid4().hex[:8]}"

    reply = await acd.DeliverDocument(whole(anne.national_id, delivery_id))

    delivered = verified(reply.receipt.jws, stack.pki)
    assert delivered["receipt"] == "delivered"
    assert delivered["delivery"]["addressee"] == anne.national_id
    [piece] = await edocuments(wallet_api, anne)
    assert piece["title"] == "Bulletin d'impôt 2025"
    assert piece["sender"]["administration"] == "acd"
    file = piece["files"][0]
    downloaded = await wallet_api.get(
        f"/api/v1/wallet/pieces/{piece['piece_id']}/files/{file['file_id']}",
        headers=anne.bearer(),
    )
    assert downloaded.content == DOCUMENT

    # Opened: the read receipt, as the gateway asks for it with the person's token.
    async with grpc.aio.insecure_channel(messaging.address) as channel:
        person = pb_grpc.EDeliveryServiceStub(channel)
        await person.MarkDocumentRead(
            pb.MarkDocumentReadRequest(piece_id=piece["piece_id"]),
            metadata=(("authorization", anne.bearer()["Authorization"]),),
        )
        # Another person cannot mark it.
        bert = await registry.register("Bert")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await person.MarkDocumentRead(
                pb.MarkDocumentReadRequest(piece_id=piece["piece_id"]),
                metadata=(("authorization", bert.bearer()["Authorization"]),),
            )
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND

    listed = await acd.ListReceipts(pb.ListReceiptsRequest(delivery_id=delivery_id))
    assert [r.kind for r in listed.receipts] == [pb.RECEIPT_KIND_DELIVERED, pb.RECEIPT_KIND_READ]
    assert verified(listed.receipts[1].jws, stack.pki)["receipt"] == "read"
    # Another administration sees none of them.
    ccss = administration(stack, messaging, "ccss")
    assert (
        list((await ccss.ListReceipts(pb.ListReceiptsRequest(delivery_id=delivery_id))).receipts)
        == []
    )
    await probe.remove_every_piece(anne)


async def test_an_unsubscribed_person_is_refused_and_a_cut_stream_stores_nothing(
    stack: Stack,
    messaging: Started,
    wallet_api: httpx.AsyncClient,
    registry: Registry,
) -> None:
    carl = await registry.register("Carl")
    await subscribe(wallet_api, carl, False)
    acd = administration(stack, messaging, "acd")

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await acd.DeliverDocument(whole(carl.national_id, "refused-1"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # The reason the administration acts on (send it on paper), in the caller's language.
    assert read_rpc_failure(refused.value).reason == "EDELIVERY_NOT_SUBSCRIBED"
    assert "papier" in (refused.value.details() or "")
    assert await edocuments(wallet_api, carl) == []

    await subscribe(wallet_api, carl, True)

    sent, never = asyncio.Event(), asyncio.Event()

    async def cut() -> AsyncIterator[pb.DeliverDocumentRequest]:
        yield header(carl.national_id, "cut-1", 2 * len(DOCUMENT))
        yield pb.DeliverDocumentRequest(chunk=DOCUMENT)
        sent.set()
        await never.wait()

    call = acd.DeliverDocument(cut())
    await sent.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await edocuments(wallet_api, carl) == []
    listed = await acd.ListReceipts(pb.ListReceiptsRequest(delivery_id="cut-1"))
    assert list(listed.receipts) == []
