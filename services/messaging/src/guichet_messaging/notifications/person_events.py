"""F65 + F9: procedures' and the wallet's events become notifications to the person concerned,
by e-mail, SMS, both or neither as their preferences say, in their language.

The owner of a request or piece `person:<national id>` is looked up in identity (ContactService,
over mutual TLS with messaging's certificate) at each event, so a changed address or preference
counts from the next event on. Identity unreachable (UNAVAILABLE, DEADLINE_EXCEEDED): the kit's
consumer retries the event with back-off however long it lasts (an outage is never dead-lettered),
so nothing is lost. A person without an account any more: nothing sent.

A company's request (`company:<space id>`) is told to the person who filed it (`filed_by`), with
their own preferences: the company has no contact of its own here. A request filed without an
account (`anonymous:<request id>`) is told by e-mail to the checked address its events carry, in
the request's language: its submitted event is the acknowledgement (procedures mails none), with
the personal follow-up link; a status change or a correction asked says to use that link (later
events have no link: the token is not kept in clear). Once claimed, the request is the person's.

Durable consumers `<prefix>-procedures-*` and `<prefix>-wallet-piece-expiring`, each event
recorded with its `processed_events` row (idempotent), starting with the events published after
they were created (DeliverPolicy NEW).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import structlog
from babel.dates import format_date
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js.api import DeliverPolicy
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import procedures_pb2 as procedures_events
from guichet.events.v1 import wallet_pb2 as wallet_events
from guichet_kit.events import EventSubscription, PoisonMessage
from guichet_kit.i18n import Language
from guichet_kit.values import InvalidValue, parse_email
from guichet_messaging.notifications import compose, person_texts, service
from guichet_messaging.notifications.compose import Composed

log = structlog.get_logger(__name__)

SUBMITTED = "procedures.request_submitted"
STATUS_CHANGED = "procedures.request_status_changed"
CORRECTION_ASKED = "procedures.correction_asked"
CANCELLED = "procedures.request_cancelled"
DRAFT_EXPIRING = "procedures.draft_expiring"
PIECE_EXPIRING = "wallet.piece_expiring"


@dataclass(frozen=True)
class Contact:
    """How a person is reached and what they chose (identity's GetContact)."""

    email: str
    # E.164 of a number that takes text messages; None otherwise.
    mobile: str | None
    email_notifications: bool
    sms_notifications: bool
    language: Language

    def recipient(self, owner: str) -> service.Recipient:
        """Where to tell them, as their preferences say (neither channel: nothing is sent)."""
        return service.Recipient(
            self.language,
            email=self.email if self.email_notifications else None,
            phone=self.mobile if self.sms_notifications else None,
            owner=owner,
        )


class ContactBook(Protocol):
    async def contact_of(self, national_id: str) -> Contact | None:
        """The person's contact; None when they have no account. An outage raises (transient)."""
        ...


def _person(owner: str) -> str | None:
    kind, _, key = owner.partition(":")
    return key if kind == "person" and key else None


@dataclass
class PersonNotifications:
    """The handlers of procedures' and the wallet's events for people; the streams and subjects
    are the producers' (tests name scratch ones)."""

    base_url: str
    contacts: ContactBook
    prefix: str = "messaging"
    procedures_stream: str = subjects.PROCEDURES.name
    wallet_stream: str = subjects.WALLET.name
    submitted_subject: str = subjects.REQUEST_SUBMITTED
    status_changed_subject: str = subjects.REQUEST_STATUS_CHANGED
    correction_asked_subject: str = subjects.CORRECTION_ASKED
    cancelled_subject: str = subjects.REQUEST_CANCELLED
    draft_expiring_subject: str = subjects.DRAFT_EXPIRING
    piece_expiring_subject: str = subjects.PIECE_EXPIRING
    backoff: tuple[float, ...] = field(default=(1.0, 5.0, 30.0))
    recorded: Callable[[], None] | None = None

    async def _recipient(
        self, applicant: procedures_events.RequestApplicant | None, owner: str
    ) -> service.Recipient | None:
        """Whom to tell, per their preferences; None when nobody (no account, anonymous)."""
        national_id = _person(owner)
        if national_id is None and applicant is not None and owner.startswith("company:"):
            national_id = _person(applicant.filed_by)
        if national_id is None:
            return None
        contact = await self.contacts.contact_of(national_id)
        if contact is None:
            log.info("messaging.person_without_account")
            return None
        return contact.recipient(f"person:{national_id}")

    async def _record(
        self,
        session: AsyncSession,
        event_id: str,
        kind: str,
        reference: str,
        recipient: service.Recipient | None,
        compose_in: Callable[[Language], Composed],
    ) -> None:
        if recipient is None or not (recipient.email or recipient.phone):
            log.info("messaging.nobody_to_tell", kind=kind)
            return
        try:
            identifier = uuid.UUID(event_id)
        except ValueError as error:
            raise PoisonMessage(f"an event id that is no UUID: {event_id!r}") from error
        added = await service.record(
            session,
            event_id=identifier,
            kind=kind,
            reference=reference[:40],
            recipient=recipient,
            composed=compose_in(recipient.language),
        )
        log.info("messaging.notifications_recorded", kind=kind, count=added)

    def _request_link(self, request_id: str, language: Language) -> str:
        return person_texts.page_link(self.base_url, f"/my/requests/{request_id}", language)

    async def on_submitted(
        self, session: AsyncSession, event: procedures_events.RequestSubmitted
    ) -> None:
        applicant = event.applicant
        reference = compose.request_reference(event.reference)
        if _is_anonymous(applicant):
            await self._record(
                session,
                event.event_id,
                SUBMITTED,
                reference,
                _anonymous(applicant),
                lambda lang: person_texts.anonymous_request_submitted(
                    reference, applicant.follow_up_url, lang
                ),
            )
            return
        await self._record(
            session,
            event.event_id,
            SUBMITTED,
            reference,
            await self._recipient(applicant, applicant.owner),
            lambda lang: person_texts.request_submitted(
                reference,
                event.resubmitted,
                self._request_link(event.request_id, lang),
                lang,
            ),
        )

    async def on_status_changed(
        self, session: AsyncSession, event: procedures_events.RequestStatusChanged
    ) -> None:
        if not event.notify:
            return  # the procedure does not tell people of this status
        reference = compose.request_reference(event.reference)
        status = event.status_text or event.status
        if _is_anonymous(event.applicant):
            await self._record(
                session,
                event.event_id,
                STATUS_CHANGED,
                reference,
                _anonymous(event.applicant),
                lambda lang: person_texts.anonymous_request_status_changed(
                    reference, status, event.comment, lang
                ),
            )
            return
        await self._record(
            session,
            event.event_id,
            STATUS_CHANGED,
            reference,
            await self._recipient(event.applicant, event.applicant.owner),
            lambda lang: person_texts.request_status_changed(
                reference,
                status,
                event.comment,
                self._request_link(event.request_id, lang),
                lang,
            ),
        )

    async def on_correction_asked(
        self, session: AsyncSession, event: procedures_events.CorrectionAsked
    ) -> None:
        reference = compose.request_reference(event.reference)
        if _is_anonymous(event.applicant):
            await self._record(
                session,
                event.event_id,
                CORRECTION_ASKED,
                reference,
                _anonymous(event.applicant),
                lambda lang: person_texts.anonymous_correction_asked(
                    reference, event.message, lang
                ),
            )
            return
        await self._record(
            session,
            event.event_id,
            CORRECTION_ASKED,
            reference,
            await self._recipient(event.applicant, event.applicant.owner),
            lambda lang: person_texts.correction_asked(
                reference, event.message, self._request_link(event.request_id, lang), lang
            ),
        )

    async def on_cancelled(
        self, session: AsyncSession, event: procedures_events.RequestCancelled
    ) -> None:
        reference = compose.request_reference(event.reference)
        recipient = await self._recipient(event.applicant, event.applicant.owner)
        await self._record(
            session,
            event.event_id,
            CANCELLED,
            reference,
            recipient,
            lambda lang: person_texts.request_cancelled(
                reference, self._request_link(event.request_id, lang), lang
            ),
        )

    async def on_draft_expiring(
        self, session: AsyncSession, event: procedures_events.DraftExpiring
    ) -> None:
        recipient = await self._recipient(event.applicant, event.applicant.owner)
        expires = _day_of(event.expires_at)
        await self._record(
            session,
            event.event_id,
            DRAFT_EXPIRING,
            event.title,
            recipient,
            lambda lang: person_texts.draft_expiring(
                event.title,
                _long_date(expires, lang),
                self._request_link(event.request_id, lang),
                lang,
            ),
        )

    async def on_piece_expiring(
        self, session: AsyncSession, event: wallet_events.PieceExpiring
    ) -> None:
        try:
            expires = date.fromisoformat(event.expires_on)
        except ValueError as error:
            raise PoisonMessage(f"an expiry that is no date: {event.expires_on!r}") from error
        # A company's piece: the wallet names no person to tell.
        recipient = await self._recipient(None, event.owner)
        await self._record(
            session,
            event.event_id,
            PIECE_EXPIRING,
            event.title,
            recipient,
            lambda lang: person_texts.piece_expiring(
                event.title,
                _long_date(expires, lang),
                person_texts.page_link(self.base_url, f"/my/wallet/{event.piece_id}", lang),
                lang,
            ),
        )

    def subscriptions(self) -> list[EventSubscription[Any]]:
        procedures: list[tuple[str, str, type[Any], Callable[..., Awaitable[None]]]] = [
            (
                "submitted",
                self.submitted_subject,
                procedures_events.RequestSubmitted,
                self.on_submitted,
            ),
            (
                "status",
                self.status_changed_subject,
                procedures_events.RequestStatusChanged,
                self.on_status_changed,
            ),
            (
                "correction",
                self.correction_asked_subject,
                procedures_events.CorrectionAsked,
                self.on_correction_asked,
            ),
            (
                "cancelled",
                self.cancelled_subject,
                procedures_events.RequestCancelled,
                self.on_cancelled,
            ),
            (
                "draft-expiring",
                self.draft_expiring_subject,
                procedures_events.DraftExpiring,
                self.on_draft_expiring,
            ),
        ]
        chosen = [
            (self.procedures_stream, f"{self.prefix}-procedures-{name}", subject, kind, handler)
            for name, subject, kind, handler in procedures
        ]
        chosen.append(
            (
                self.wallet_stream,
                f"{self.prefix}-wallet-piece-expiring",
                self.piece_expiring_subject,
                wallet_events.PieceExpiring,
                self.on_piece_expiring,
            )
        )
        return [
            EventSubscription(
                stream=stream,
                durable=durable,
                subject=subject,
                event_type=kind,
                handler=handler,
                backoff=self.backoff,
                deliver_policy=DeliverPolicy.NEW,
                on_applied=self.recorded,
            )
            for stream, durable, subject, kind, handler in chosen
        ]


def _is_anonymous(applicant: procedures_events.RequestApplicant) -> bool:
    return applicant.owner.startswith("anonymous:")


def _anonymous(applicant: procedures_events.RequestApplicant) -> service.Recipient | None:
    """The checked address a request filed without an account's event carries; none (nothing
    sent) when it carries none."""
    if not applicant.email:
        return None
    try:
        address = parse_email(applicant.email)
    except InvalidValue as error:
        raise PoisonMessage(f"an address that is none: {error.reason}") from error
    return service.Recipient(compose.language_of(applicant.language), email=address)


def _day_of(stamp: Timestamp) -> date:
    return stamp.ToDatetime().date()


def _long_date(day: date, language: Language) -> str:
    return format_date(day, format="long", locale=language.value)
