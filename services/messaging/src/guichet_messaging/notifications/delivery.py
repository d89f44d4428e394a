"""Delivery: the worker hands each pending notification to its channel — the SMTP relay or the
SMS provider's HTTP API — and records the outcome: delivered, tried again later with an
exponential back-off, or given up after the last attempt (`failed`).

A notification is locked (FOR UPDATE SKIP LOCKED) from the moment it is taken until its
outcome is committed, so two workers never send the same one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import transaction
from guichet_kit.mail import send_mail
from guichet_messaging.notifications import service
from guichet_messaging.notifications.models import Channel, Notification

log = structlog.get_logger(__name__)


class Sender(Protocol):
    async def send(self, notification: Notification) -> None:
        """Hand the notification over; raise when it was not accepted."""


class MailSender:
    """E-mail through an SMTP relay: the plain-text part and the HTML part."""

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    async def send(self, notification: Notification) -> None:
        await send_mail(
            self.host,
            self.port,
            self.sender,
            notification.recipient,
            notification.title,
            notification.body_text,
            html=notification.body_html,
            smtp_timeout=self.timeout,
        )


class SmsRefused(Exception):
    """The SMS provider answered, but not with success."""


class SmsSender:
    """SMS through the provider's HTTP API: POST <url>/messages {"to", "text", "reference"}."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/messages"
        self.timeout = timeout

    async def send(self, notification: Notification) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            reply = await client.post(
                self.url,
                json={
                    "to": notification.recipient,
                    "text": notification.body_text,
                    # The provider may drop a repeated reference: our own id, never personal.
                    "reference": str(notification.id),
                },
            )
        if not reply.is_success:
            raise SmsRefused(f"the SMS provider answered {reply.status_code}")


class NoopSender:
    """Benchmarks only (MESSAGING_NOOP_SENDERS): takes every notification and sends nothing."""

    async def send(self, notification: Notification) -> None:
        return None


def _now() -> datetime:
    return datetime.now(UTC)


class DeliveryWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[Channel, Sender],
        backoff: service.Backoff,
        *,
        poll_seconds: float = 1.0,
        concurrency: int = 1,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._sessions = sessions
        self._senders = senders
        self._backoff = backoff
        self._poll_seconds = poll_seconds
        self._concurrency = concurrency
        self._clock = clock
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """New notifications were committed: look now rather than at the next poll."""
        self._woken.set()

    async def deliver_one(self) -> Notification | None:
        """Take the next due notification and try it once; None when nothing is due."""
        async with transaction(self._sessions) as session:
            notification = await service.next_due(session, self._clock())
            if notification is None:
                return None
            sender = self._senders[Channel(notification.channel)]
            try:
                await sender.send(notification)
            except Exception as error:
                service.attempt_failed(notification, repr(error), self._clock(), self._backoff)
                log.warning(
                    "messaging.delivery_failed",
                    notification=str(notification.id),
                    channel=notification.channel,
                    attempts=notification.attempts,
                    status=notification.status,
                    error=repr(error)[:300],
                )
            else:
                service.delivered(notification, self._clock())
                log.info(
                    "messaging.delivered",
                    notification=str(notification.id),
                    channel=notification.channel,
                    attempts=notification.attempts,
                )
            return notification

    async def deliver_due(self) -> int:
        """Try every notification due now once; returns how many were tried."""
        tried = 0
        while await self.deliver_one() is not None:
            tried += 1
        return tried

    async def run(self, stop: asyncio.Event) -> None:
        log.info("messaging.delivery_started", concurrency=self._concurrency)
        # Each loop takes its own notification (SKIP LOCKED): a slow relay delays one of them.
        await asyncio.gather(*(self._loop(stop) for _ in range(self._concurrency)))
        log.info("messaging.delivery_stopped")

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Cleared before looking: a wake-up during this pass makes the next one start at once.
            self._woken.clear()
            try:
                await self.deliver_due()
            except Exception:
                # The database gone: the loop waits and tries again.
                log.exception("messaging.delivery_pass_failed")
            await self._wait(stop)

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until the next poll, a wake-up, or the stop."""
        woken = asyncio.ensure_future(self._woken.wait())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                {woken, stopped}, timeout=self._poll_seconds, return_when="FIRST_COMPLETED"
            )
        finally:
            woken.cancel()
            stopped.cancel()
