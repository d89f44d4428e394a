"""send_mail refuses loudly when no SMTP server answers (delivery: integration/test_mail.py)."""

from __future__ import annotations

import smtplib

import pytest

from guichet_kit.mail import send_mail
from guichet_testkit.processes import free_port


async def test_unreachable_server_raises_oserror() -> None:
    with pytest.raises((OSError, smtplib.SMTPException)):
        await send_mail(
            "127.0.0.1", free_port(), "a@example.org", "b@example.org", "s", "t", smtp_timeout=2
        )
