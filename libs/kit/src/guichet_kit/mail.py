"""Outgoing e-mail a service sends itself, over plain SMTP (the relay handles TLS and delivery)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid


def build_mail(
    sender: str, to: str, subject: str, text: str, html: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    # The sender's domain keeps ids unique per platform without asking the local host name.
    domain = sender.rpartition("@")[2].strip(" >") or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text)  # UTF-8, encoded as needed for accents and umlauts
    if html is not None:
        # multipart/alternative: readers that show HTML take it, the others the plain text.
        message.add_alternative(html, subtype="html")
    return message


def _send(host: str, port: int, message: EmailMessage, timeout: float) -> None:
    with smtplib.SMTP(host, port, timeout=timeout) as client:
        client.send_message(message)


async def send_mail(
    host: str,
    port: int,
    sender: str,
    to: str,
    subject: str,
    text: str,
    *,
    html: str | None = None,
    smtp_timeout: float = 10.0,
) -> None:
    """Send a plain-text mail (with an HTML alternative when `html` is given); smtplib blocks,
    so it runs in a worker thread.

    Raises `OSError` (incl. `smtplib.SMTPException`) when the server is unreachable or refuses.
    """
    message = build_mail(sender, to, subject, text, html)
    await asyncio.to_thread(_send, host, port, message, smtp_timeout)
