"""send_mail delivers through a real (in-process) SMTP server."""

from __future__ import annotations

import smtplib
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from guichet_kit.mail import send_mail
from guichet_kit.testing import free_port


class _Collect:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Any:
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


async def test_mail_arrives_with_its_headers_and_utf8_body(smtp_server: Any) -> None:
    controller, handler = smtp_server
    await send_mail(
        controller.hostname,
        controller.port,
        "OpenGuichet <noreply@openguichet.localhost>",
        "léa@example.org",
        "Confirmez votre adresse électronique",
        "Bonjour Léa,\nüber https://example.org/confirm?token=abc\n",
    )
    [(mail_from, rcpt_tos, content)] = handler.received
    assert mail_from == "noreply@openguichet.localhost"
    assert rcpt_tos == ["léa@example.org"]
    message = message_from_bytes(content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "Confirmez votre adresse électronique"
    assert message["Message-ID"].endswith("@openguichet.localhost>")
    body = message.get_body(("plain",))
    assert body is not None
    assert "über https://example.org/confirm?token=abc" in body.get_content()


async def test_unreachable_server_raises_oserror() -> None:
    with pytest.raises((OSError, smtplib.SMTPException)):
        await send_mail(
            "127.0.0.1", free_port(), "a@example.org", "b@example.org", "s", "t", smtp_timeout=2
        )
