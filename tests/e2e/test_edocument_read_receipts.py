"""Read receipts (F64) across the running processes: an administration pushes an eDocument over
messaging's mutual TLS port; the person downloads it through the gateway's wallet API; the wallet
marks it opened and publishes wallet.edocument.opened.v1 through its outbox on the real stream;
messaging's consumer (the worker role's `ReadReceipts`, run here on this module's messaging
database so no second notification worker mails other tests' people) seals the read receipt; the
administration reads it over mutual TLS and verifies it offline. Opened again: no second receipt.
Nobody calls MarkDocumentRead."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from citizens import Citizen, Registry
from launcher import Launcher, Started
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from sqlalchemy.ext.asyncio import AsyncSession
from stack import Stack

# eDelivery's fixtures and helpers (pytest finds imported fixtures).
from test_edelivery import DOCUMENT, administration, edocuments, subscribe, verified, whole
from test_wallet_bad_input import registry, wallet_api

from guichet.events.v1 import wallet_pb2 as wallet_events
from guichet.messaging.v1 import edelivery_pb2 as pb
from guichet_kit.db import create_engine, session_factory
from guichet_kit.events import EventConsumer
from guichet_messaging.edelivery.opened import ReadReceipts
from guichet_messaging.edelivery.receipts import ReceiptSealer
from guichet_messaging.edelivery.service import EDelivery
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database
from guichet_testkit.eventually import wait_until

__all__ = ["registry", "wallet_api"]

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Messaging:
    started: Started
    database_url: str


@pytest.fixture(scope="module")
async def messaging(
    launcher: Launcher, infra: dict[str, str], stack: Stack
) -> AsyncIterator[Messaging]:
    """A messaging of this module's gRPC role, with eDelivery on (the stack's identity and
    wallet, the platform's seal), and its database for the consumer below."""
    database_url = await migrated_database(
        infra, REPO_ROOT / "services" / "messaging", f"messaging_read_e2e_{worker_name()}"
    )
    started = await launcher.messaging(
        database_url, role="grpc", name=f"messaging-read-{uuid.uuid4().hex[:6]}"
    )
    yield Messaging(started, database_url)
    started.process.stop()


@dataclasses.dataclass
class Openers:
    """The national ids whose eDocuments this module opens: the shared stream also carries other
    runs' events, which this consumer leaves alone."""

    ids: set[str] = dataclasses.field(default_factory=set)


@pytest.fixture(scope="module")
async def openers() -> Openers:
    return Openers()


@pytest.fixture(scope="module")
async def read_receipts(
    messaging: Messaging,
    infra: dict[str, str],
    jetstream: JetStreamContext,
    openers: Openers,
) -> AsyncIterator[None]:
    """messaging's consumer of the wallet's real stream, on this module's messaging database."""
    engine = create_engine(messaging.database_url)
    sessions = session_factory(engine)
    sealer = ReceiptSealer(
        Path(infra["GUICHET_SEAL_CERTIFICATE"]), Path(infra["GUICHET_SEAL_PRIVATE_KEY"])
    )
    handlers = ReadReceipts(
        EDelivery(sealer, lambda: datetime.now().astimezone()),
        prefix=f"e2e-read-receipts-{uuid.uuid4().hex[:8]}",
        backoff=(0.5,),
    )

    async def ours_only(session: AsyncSession, event: wallet_events.EDocumentOpened) -> None:
        if event.owner.removeprefix("person:") in openers.ids:
            await handlers.on_opened(session, event)

    # Only what is published from now on: the stream's past belongs to other runs.
    subscription = dataclasses.replace(
        handlers.subscription(), handler=ours_only, deliver_policy=DeliverPolicy.NEW
    )
    stop = asyncio.Event()
    task = asyncio.create_task(EventConsumer(jetstream, sessions, subscription).run(stop))

    async def exists() -> bool:
        await jetstream.consumer_info(subscription.stream, subscription.durable)
        return True

    await wait_until(exists, seconds=30, what="the read receipts' consumer")
    yield
    stop.set()
    await task
    await jetstream.delete_consumer(subscription.stream, subscription.durable)
    await engine.dispose()


async def open_through_the_gateway(api: httpx.AsyncClient, citizen: Citizen, piece: dict) -> None:
    file = piece["files"][0]
    downloaded = await api.get(
        f"/api/v1/wallet/pieces/{piece['piece_id']}/files/{file['file_id']}",
        headers=citizen.bearer(),
    )
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == DOCUMENT


async def receipt_kinds(acd, delivery_id: str) -> list[int]:  # type: ignore[no-untyped-def]
    listed = await acd.ListReceipts(pb.ListReceiptsRequest(delivery_id=delivery_id))
    return [receipt.kind for receipt in listed.receipts]


async def test_opening_an_edocument_through_the_gateway_gives_its_sender_one_read_receipt(
    stack: Stack,
    messaging: Messaging,
    read_receipts: None,
    openers: Openers,
    wallet_api: httpx.AsyncClient,
    registry: Registry,
) -> None:
    anne = await registry.register("Anne")
    openers.ids.add(anne.national_id)
    await subscribe(wallet_api, anne, True)
    acd = administration(stack, messaging.started, "acd")
    first_id, second_id = (f"opened-{uuid.uuid4().hex[:8]}" for _ in range(2))
    await acd.DeliverDocument(whole(anne.national_id, first_id))

    [piece] = await edocuments(wallet_api, anne)
    assert piece["sender"]["received_at"] is not None
    assert piece["sender"]["opened_at"] is None  # unread
    await open_through_the_gateway(wallet_api, anne, piece)

    [piece] = await edocuments(wallet_api, anne)
    assert piece["sender"]["opened_at"] is not None
    read = [pb.RECEIPT_KIND_DELIVERED, pb.RECEIPT_KIND_READ]

    async def receipted(delivery_id: str) -> bool:
        return await receipt_kinds(acd, delivery_id) == read

    await wait_until(lambda: receipted(first_id), seconds=60, what="the read receipt")
    listed = await acd.ListReceipts(pb.ListReceiptsRequest(delivery_id=first_id))
    payload = verified(listed.receipts[1].jws, stack.pki)
    assert payload["receipt"] == "read"
    assert payload["delivery"]["addressee"] == anne.national_id
    assert datetime.fromisoformat(payload["read_at"]) == datetime.fromisoformat(
        piece["sender"]["opened_at"]
    )

    # Opened again, then a second document opened: once the second's receipt is there, the
    # first still has its one read receipt.
    await open_through_the_gateway(wallet_api, anne, piece)
    await acd.DeliverDocument(whole(anne.national_id, second_id))
    second = next(p for p in await edocuments(wallet_api, anne) if p["sender"]["opened_at"] is None)
    await open_through_the_gateway(wallet_api, anne, second)
    await wait_until(lambda: receipted(second_id), seconds=60, what="the second read receipt")
    assert await receipt_kinds(acd, first_id) == read
