"""Notifications put in the stack's messaging database as its consumers record them (the stack's
messaging runs its gRPC role only: it never reads the shared streams)."""

from __future__ import annotations

import uuid

from guichet_kit.db import create_engine, session_factory, transaction
from guichet_kit.i18n import Language
from guichet_messaging.notifications import service
from guichet_messaging.notifications.compose import Composed, Mail, Sms


async def record_for(
    database_url: str, national_id: str, reference: str, *, email: str, phone: str = ""
) -> None:
    """One event's notifications to a person: an e-mail, and an SMS when `phone` is given."""
    engine = create_engine(database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            await service.record(
                session,
                event_id=uuid.uuid4(),
                kind="procedures.request_submitted",
                reference=reference,
                recipient=service.Recipient(
                    Language.EN, email=email, phone=phone or None, owner=f"person:{national_id}"
                ),
                composed=Composed(
                    Mail(f"Your request {reference} was sent", "text", "<p>html</p>"),
                    Sms(f"OpenGuichet: your request {reference} was sent."),
                ),
            )
    finally:
        await engine.dispose()
