"""The rules of eDelivery (F63) and its receipts (F64).

A delivery is filed in the wallet first (streamed through, never held whole), then recorded with
its sealed delivery receipt and its event in one transaction: a stream cut before its end leaves
the wallet with nothing (its pipeline stores only a whole file) and messaging with no row and no
receipt. The wallet's delivery id is derived from the administration's, so a push retried after a
failure between the two lands once in the wallet too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import messaging_pb2 as events
from guichet_kit.domain import Conflict, FieldErrors, NotFound
from guichet_kit.i18n import Catalog
from guichet_kit.outbox import add_event
from guichet_kit.values import InvalidValue, parse_human_text, parse_national_id
from guichet_messaging.edelivery.models import Delivery, Receipt, ReceiptKind
from guichet_messaging.edelivery.receipts import ReceiptClaims, ReceiptSealer

_ = Catalog("guichet_messaging")

# Delivery ids are the administrations' own: uuid5 in this namespace makes the platform's.
_DELIVERIES = uuid.UUID("5b0d6a34-9d0e-4a47-9b8e-0c6a0f1e2d11")
MAX_DELIVERY_ID_LENGTH = 80
MAX_TITLE_LENGTH = 200
MAX_SIGNATURE_SUBJECT_LENGTH = 500
DEFAULT_RECEIPTS = 100
MAX_RECEIPTS = 500


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    administration: str
    national_id: str
    delivery_id: str
    title: str
    file_name: str
    declared_content_type: str
    declared_size: int
    signature_subject: str

    @property
    def platform_id(self) -> uuid.UUID:
        return platform_delivery_id(self.administration, self.delivery_id)


@dataclass(frozen=True, slots=True)
class FiledDocument:
    """What the wallet says it stored."""

    piece_id: uuid.UUID
    file_name: str
    content_type: str
    size: int
    sha256: str


class Addressees(Protocol):
    async def subscribed(self, national_id: str) -> bool:
        """Whether the person has an account and subscribed to eDelivery (F9)."""
        ...


class Wallet(Protocol):
    async def receive(
        self, request: DeliveryRequest, chunks: AsyncIterator[bytes]
    ) -> FiledDocument: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...


def platform_delivery_id(administration: str, delivery_id: str) -> uuid.UUID:
    return uuid.uuid5(_DELIVERIES, f"{administration}\n{delivery_id}")


def delivery_request(
    administration: str,
    national_id: str,
    delivery_id: str,
    title: str,
    file_name: str,
    declared_content_type: str,
    declared_size: int,
    signature_subject: str,
) -> DeliveryRequest:
    """The header checked, every wrong field at once (the file's own checks are the wallet's)."""
    errors = FieldErrors()
    clean: dict[str, str] = {}
    try:
        clean["national_id"] = str(parse_national_id(national_id))
    except InvalidValue as error:
        errors.add("national_id", error.reason, error.message)
    for field, value, limit, required in (
        ("delivery_id", delivery_id, MAX_DELIVERY_ID_LENGTH, True),
        ("title", title, MAX_TITLE_LENGTH, True),
        ("signature_subject", signature_subject, MAX_SIGNATURE_SUBJECT_LENGTH, False),
    ):
        try:
            clean[field] = parse_human_text(value, max_length=limit, required=required)
        except InvalidValue as error:
            errors.add(field, error.reason, error.message)
    if not file_name.strip():
        errors.add("file_name", "required", _("Give the file's name."))
    if declared_size <= 0:
        errors.add("declared_size", "not_positive", _("Give the file's size in bytes."))
    errors.raise_if_any("INVALID_DELIVERY", _("The eDocument's description has errors."))
    return DeliveryRequest(
        administration=administration,
        national_id=clean["national_id"],
        delivery_id=clean["delivery_id"],
        title=clean["title"],
        file_name=file_name,
        declared_content_type=declared_content_type,
        declared_size=declared_size,
        signature_subject=clean["signature_subject"],
    )


def not_subscribed() -> Conflict:
    return Conflict(
        "EDELIVERY_NOT_SUBSCRIBED",
        _(
            "This person does not receive documents electronically (no account, or no "
            "subscription to eDelivery): send the document on paper."
        ),
    )


def delivery_not_found() -> NotFound:
    return NotFound("EDOCUMENT_NOT_FOUND", _("No eDocument delivered to you has this id."))


@dataclass(frozen=True, slots=True)
class Delivered:
    receipt: Receipt
    already_delivered: bool


class EDelivery:
    def __init__(self, sealer: ReceiptSealer, clock: Clock) -> None:
        self._sealer = sealer
        self._clock = clock

    def _receipt(self, delivery: Delivery, kind: ReceiptKind) -> Receipt:
        issued_at = self._clock()
        receipt_id = uuid.uuid4()
        return Receipt(
            id=receipt_id,
            delivery=delivery.id,
            administration=delivery.administration,
            kind=kind.value,
            issued_at=issued_at,
            jws=self._sealer.seal(delivery, ReceiptClaims(receipt_id, kind, issued_at)),
        )

    async def earlier(self, session: AsyncSession, request: DeliveryRequest) -> Delivered | None:
        """The first receipt of a delivery id already delivered."""
        receipt = await session.scalar(
            select(Receipt).where(
                Receipt.delivery == request.platform_id,
                Receipt.kind == ReceiptKind.DELIVERED.value,
            )
        )
        return None if receipt is None else Delivered(receipt, already_delivered=True)

    async def record(
        self, session: AsyncSession, request: DeliveryRequest, filed: FiledDocument
    ) -> Delivered:
        """The delivery, its receipt and its event, once the wallet holds the file."""
        if (earlier := await self.earlier(session, request)) is not None:
            return earlier  # a concurrent push of the same id won
        delivery = Delivery(
            id=request.platform_id,
            administration=request.administration,
            delivery_id=request.delivery_id,
            addressee=request.national_id,
            title=request.title,
            file_name=filed.file_name,
            content_type=filed.content_type,
            size=filed.size,
            sha256=filed.sha256,
            piece_id=filed.piece_id,
            delivered_at=self._clock(),
        )
        session.add(delivery)
        await session.flush()
        receipt = self._receipt(delivery, ReceiptKind.DELIVERED)
        session.add(receipt)
        add_event(
            session,
            subjects.EDOCUMENT_DELIVERED,
            events.EDocumentDelivered(
                owner=f"person:{delivery.addressee}",
                piece_id=str(delivery.piece_id),
                administration=delivery.administration,
                title=delivery.title,
            ),
        )
        await session.flush()
        return Delivered(receipt, already_delivered=False)

    async def mark_read(
        self,
        session: AsyncSession,
        national_id: str,
        piece_id: uuid.UUID,
        read_at: datetime | None = None,
    ) -> None:
        """The person opened the eDocument (at `read_at`, the wallet's time; now when not given):
        a read receipt, the first time only."""
        delivery = await session.scalar(
            select(Delivery)
            .where(Delivery.piece_id == piece_id, Delivery.addressee == national_id)
            .with_for_update()
        )
        if delivery is None:
            raise delivery_not_found()
        if delivery.read_at is not None:
            return
        delivery.read_at = read_at or self._clock()
        session.add(self._receipt(delivery, ReceiptKind.READ))
        await session.flush()

    async def report_unread(self, session: AsyncSession, delay: timedelta, batch: int) -> int:
        """Deliveries still unread after the delay: an `unread` receipt each, once. Returns how
        many were reported (the job calls again while a batch is full)."""
        due = await session.scalars(
            select(Delivery)
            .where(
                Delivery.read_at.is_(None),
                Delivery.unread_reported_at.is_(None),
                Delivery.delivered_at <= self._clock() - delay,
            )
            .order_by(Delivery.delivered_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        return await self._report_unread(session, due)

    async def report_unread_of(self, session: AsyncSession, national_id: str) -> int:
        """F8: the deliveries a deleted person never opened can no longer be opened: their
        `unread` receipt now, without waiting for the delay."""
        due = await session.scalars(
            select(Delivery)
            .where(
                Delivery.addressee == national_id,
                Delivery.read_at.is_(None),
                Delivery.unread_reported_at.is_(None),
            )
            .with_for_update()
        )
        return await self._report_unread(session, due)

    async def _report_unread(self, session: AsyncSession, due: Iterable[Delivery]) -> int:
        reported = 0
        for delivery in due:
            delivery.unread_reported_at = self._clock()
            session.add(self._receipt(delivery, ReceiptKind.UNREAD))
            reported += 1
        await session.flush()
        return reported


async def receipts_of(
    session: AsyncSession,
    administration: str,
    *,
    delivery_id: str = "",
    after: int = 0,
    limit: int = DEFAULT_RECEIPTS,
) -> Sequence[tuple[Receipt, str]]:
    """The administration's own receipts in issue order, each with its delivery id."""
    query = (
        select(Receipt, Delivery.delivery_id)
        .join(Delivery, Delivery.id == Receipt.delivery)
        .where(Receipt.administration == administration, Receipt.number > after)
        .order_by(Receipt.number)
        .limit(limit)
    )
    if delivery_id:
        query = query.where(Delivery.delivery_id == delivery_id)
    rows = await session.execute(query)
    return [(receipt, name) for receipt, name in rows.tuples()]
