"""F61, F63, F65 + F9: messaging's own events become notifications to the person concerned, by
e-mail, SMS, both or neither as their preferences in identity say, in their language.

- `messaging.message.sent.v1`: the acknowledgement of what the person wrote: the first message of
  a conversation, or a document deposited (with its reference). A later message in the same
  conversation is not acknowledged: the person follows it on the page and a mail per reply would
  only repeat what they just saw there.
- `messaging.message.answered.v1`: an administration answered; the answer itself stays on the
  platform (only the conversation's subject line and a link go out by mail or SMS).
- `messaging.edocument.delivered.v1`: an administration's eDocument arrived in the wallet.

The owner `person:<national id>` is looked up in identity at each event (as for procedures'
events, `person_events`): identity unreachable → the event is retried; no account (any more) →
nothing sent. Durable consumers `<prefix>-messages-sent`, `<prefix>-messages-answered` and
`<prefix>-edocuments-delivered` on messaging's own stream, idempotent per event, starting with the
events published after they were created (DeliverPolicy NEW).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from nats.js.api import DeliverPolicy
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import messaging_pb2 as events
from guichet_kit.events import EventSubscription, PoisonMessage
from guichet_kit.i18n import Language
from guichet_messaging.notifications import exchange_texts, person_texts, service
from guichet_messaging.notifications.compose import Composed
from guichet_messaging.notifications.person_events import ContactBook

log = structlog.get_logger(__name__)

MESSAGE_SENT = "messaging.message_sent"
MESSAGE_ANSWERED = "messaging.message_answered"
EDOCUMENT_DELIVERED = "messaging.edocument_delivered"


def _national_id(owner: str) -> str:
    kind, _, key = owner.partition(":")
    if kind != "person" or not key:
        raise PoisonMessage(f"an owner that is no person: {owner[:64]!r}")
    return key


@dataclass
class ExchangeNotifications:
    """The handlers of messaging's own events for people; the stream and subjects are
    messaging's (tests name scratch ones)."""

    base_url: str
    contacts: ContactBook
    prefix: str = "messaging"
    stream: str = subjects.MESSAGING.name
    sent_subject: str = subjects.MESSAGE_SENT
    answered_subject: str = subjects.MESSAGE_ANSWERED
    edocument_subject: str = subjects.EDOCUMENT_DELIVERED
    backoff: tuple[float, ...] = field(default=(1.0, 5.0, 30.0))
    recorded: Callable[[], None] | None = None

    async def _record(
        self,
        session: AsyncSession,
        event_id: str,
        owner: str,
        kind: str,
        reference: str,
        compose_in: Callable[[Language], Composed],
    ) -> None:
        national_id = _national_id(owner)
        contact = await self.contacts.contact_of(national_id)
        if contact is None:
            log.info("messaging.person_without_account", kind=kind)
            return
        recipient = contact.recipient(f"person:{national_id}")
        if not (recipient.email or recipient.phone):
            log.info("messaging.nobody_to_tell", kind=kind)
            return
        added = await service.record(
            session,
            event_id=uuid.UUID(event_id),  # the kit checked it
            kind=kind,
            reference=reference[:40],
            recipient=recipient,
            composed=compose_in(recipient.language),
        )
        log.info("messaging.notifications_recorded", kind=kind, count=added)

    def _thread_link(self, thread_id: str, language: Language) -> str:
        return person_texts.page_link(self.base_url, f"/my/messages/{thread_id}", language)

    async def on_sent(self, session: AsyncSession, event: events.MessageSent) -> None:
        if not event.first:
            return  # a reply in a conversation the person follows: not acknowledged
        administration = exchange_texts.administration_name(event.administration)

        def composed(lang: Language) -> Composed:
            link = self._thread_link(event.thread_id, lang)
            if event.kind == "document" and event.reference:
                return exchange_texts.document_sent(
                    event.title, administration, event.reference, link, lang
                )
            return exchange_texts.message_sent(event.title, administration, link, lang)

        await self._record(
            session,
            event.event_id,
            event.owner,
            MESSAGE_SENT,
            event.reference or event.title,
            composed,
        )

    async def on_answered(self, session: AsyncSession, event: events.MessageAnswered) -> None:
        administration = exchange_texts.administration_name(event.administration)
        await self._record(
            session,
            event.event_id,
            event.owner,
            MESSAGE_ANSWERED,
            event.title,
            lambda lang: exchange_texts.message_answered(
                event.title, administration, self._thread_link(event.thread_id, lang), lang
            ),
        )

    async def on_edocument_delivered(
        self, session: AsyncSession, event: events.EDocumentDelivered
    ) -> None:
        administration = exchange_texts.administration_name(event.administration)
        await self._record(
            session,
            event.event_id,
            event.owner,
            EDOCUMENT_DELIVERED,
            event.title,
            lambda lang: exchange_texts.edocument_delivered(
                event.title,
                administration,
                person_texts.page_link(self.base_url, f"/my/wallet/{event.piece_id}", lang),
                lang,
            ),
        )

    def subscriptions(self) -> list[EventSubscription[Any]]:
        chosen: list[tuple[str, str, type[Any], Callable[..., Any]]] = [
            ("messages-sent", self.sent_subject, events.MessageSent, self.on_sent),
            ("messages-answered", self.answered_subject, events.MessageAnswered, self.on_answered),
            (
                "edocuments-delivered",
                self.edocument_subject,
                events.EDocumentDelivered,
                self.on_edocument_delivered,
            ),
        ]
        return [
            EventSubscription(
                stream=self.stream,
                durable=f"{self.prefix}-{name}",
                subject=subject,
                event_type=kind,
                handler=handler,
                backoff=self.backoff,
                deliver_policy=DeliverPolicy.NEW,
                on_applied=self.recorded,
            )
            for name, subject, kind, handler in chosen
        ]
