"""F13: everything messaging keeps about a person, as one JSON-ready document — the notifications
sent to them, their threads with every message (hidden ones too) and its files' descriptions, the
files they uploaded but did not send, and the eDocuments delivered to them with the receipts
their senders got."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_messaging.edelivery.models import Delivery, Receipt
from guichet_messaging.exchanges.models import ExchangeAttachment, ExchangeMessage, ExchangeThread
from guichet_messaging.notifications.models import Notification


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


async def _notifications(session: AsyncSession, national_id: str) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(Notification)
        .where(Notification.owner == f"person:{national_id}")
        .order_by(Notification.created_at, Notification.id)
    )
    return [
        {
            "id": str(n.id),
            "kind": n.kind,
            "channel": n.channel,
            "recipient": n.recipient,
            "language": n.language,
            "reference": n.reference,
            "title": n.title,
            "text": n.body_text,
            "status": n.status,
            "attempts": n.attempts,
            "created_at": _when(n.created_at),
            "delivered_at": _when(n.delivered_at),
        }
        for n in rows
    ]


def _file(attachment: ExchangeAttachment) -> dict[str, Any]:
    return {
        "file_id": attachment.file_id,
        "file_name": attachment.file_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploaded_at": _when(attachment.uploaded_at),
    }


async def _uploads_not_sent(session: AsyncSession, national_id: str) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(ExchangeAttachment)
        .where(ExchangeAttachment.owner == national_id, ExchangeAttachment.message.is_(None))
        .order_by(ExchangeAttachment.uploaded_at, ExchangeAttachment.id)
    )
    return [_file(attachment) for attachment in rows]


async def _threads(session: AsyncSession, national_id: str) -> list[dict[str, Any]]:
    threads = list(
        await session.scalars(
            select(ExchangeThread)
            .where(ExchangeThread.owner == national_id)
            .order_by(ExchangeThread.created_at, ExchangeThread.id)
        )
    )
    ids = [thread.id for thread in threads]
    messages = list(
        await session.scalars(
            select(ExchangeMessage)
            .where(ExchangeMessage.thread.in_(ids))
            .order_by(ExchangeMessage.number)
        )
    )
    attachments: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for attachment in await session.scalars(
        select(ExchangeAttachment)
        .where(ExchangeAttachment.message.in_([m.id for m in messages]))
        .order_by(ExchangeAttachment.file_name, ExchangeAttachment.id)
    ):
        attachments[attachment.message].append(_file(attachment))
    by_thread: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        by_thread[message.thread].append(
            {
                "id": str(message.id),
                "from": message.side,
                "body": message.body,
                "sent_at": _when(message.sent_at),
                "read_at": _when(message.read_at),
                "attachments": attachments[message.id],
            }
        )
    return [
        {
            "id": str(thread.id),
            "administration": thread.administration,
            "kind": thread.kind,
            "theme": thread.theme,
            "subject": thread.subject,
            "reason": thread.reason,
            "request_reference": thread.request_reference,
            # A deposited document's acknowledgement (F66).
            "reference": thread.reference,
            "title": thread.title,
            "hidden": thread.hidden,
            "created_at": _when(thread.created_at),
            "messages": by_thread[thread.id],
        }
        for thread in threads
    ]


async def _edocuments(session: AsyncSession, national_id: str) -> list[dict[str, Any]]:
    deliveries = list(
        await session.scalars(
            select(Delivery)
            .where(Delivery.addressee == national_id)
            .order_by(Delivery.delivered_at, Delivery.id)
        )
    )
    receipts: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for receipt in await session.scalars(
        select(Receipt)
        .where(Receipt.delivery.in_([d.id for d in deliveries]))
        .order_by(Receipt.number)
    ):
        receipts[receipt.delivery].append(
            {
                "id": str(receipt.id),
                "kind": receipt.kind,
                "issued_at": _when(receipt.issued_at),
                # The sealed receipt as its sender got it (verifiable against the platform CA).
                "jws": receipt.jws,
            }
        )
    return [
        {
            "id": str(delivery.id),
            "administration": delivery.administration,
            "delivery_id": delivery.delivery_id,
            "title": delivery.title,
            "file_name": delivery.file_name,
            "content_type": delivery.content_type,
            "size": delivery.size,
            "sha256": delivery.sha256,
            "wallet_piece_id": str(delivery.piece_id),
            "delivered_at": _when(delivery.delivered_at),
            "read_at": _when(delivery.read_at),
            "receipts": receipts[delivery.id],
        }
        for delivery in deliveries
    ]


async def document_of(session: AsyncSession, national_id: str) -> dict[str, Any]:
    return {
        "notifications": await _notifications(session, national_id),
        "threads": await _threads(session, national_id),
        "uploads_not_sent": await _uploads_not_sent(session, national_id),
        "edocuments": await _edocuments(session, national_id),
    }
