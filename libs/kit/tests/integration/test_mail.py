"""send_mail delivers through the development SMTP sink, read back with the test kit's reader."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest

from guichet_kit.mail import send_mail
from guichet_testkit.mail import mail_links, mail_text, newest_mail


async def test_mail_arrives_with_its_headers_and_utf8_body(
    infra: dict[str, str], mail_dir: Path
) -> None:
    # An ASCII address: the development sink does not offer SMTPUTF8.
    to = f"lea.{uuid.uuid4().hex[:10]}@example.org"
    since = time.time()
    await send_mail(
        infra["GUICHET_SMTP_HOST"],
        int(infra["GUICHET_SMTP_PORT"]),
        "OpenGuichet <noreply@openguichet.localhost>",
        to,
        "Confirmez votre adresse électronique",
        "Bonjour Léa,\nüber https://example.org/confirm?token=abc.\n",
    )
    message = await newest_mail(mail_dir, to, since=since)
    assert message["X-Sink-Mail-From"] == "noreply@openguichet.localhost"
    assert message["X-Sink-Rcpt-To"] == to
    assert message["Subject"] == "Confirmez votre adresse électronique"
    assert message["Message-ID"].endswith("@openguichet.localhost>")
    assert "über https://example.org/confirm?token=abc" in mail_text(message)
    # The sentence's full stop is not part of the link.
    assert mail_links(message) == ["https://example.org/confirm?token=abc"]


async def test_a_mail_to_someone_else_is_not_taken_for_theirs(
    infra: dict[str, str], mail_dir: Path
) -> None:
    ours, theirs = (f"{who}.{uuid.uuid4().hex[:10]}@example.org" for who in ("ours", "theirs"))
    since = time.time()
    for to, subject in ((ours, "Ours"), (theirs, "Theirs")):
        await send_mail(
            infra["GUICHET_SMTP_HOST"],
            int(infra["GUICHET_SMTP_PORT"]),
            "noreply@openguichet.localhost",
            to,
            subject,
            "text",
        )
    assert (await newest_mail(mail_dir, ours, since=since))["Subject"] == "Ours"
    assert (await newest_mail(mail_dir, theirs, since=since))["Subject"] == "Theirs"
    # Filtered by subject, and nothing found: a clear timeout, not another mail.
    with pytest.raises(TimeoutError, match=re.escape(ours)):
        await newest_mail(mail_dir, ours, since=since, subject_contains="Theirs", wait_seconds=1)


async def test_a_mail_with_an_html_alternative_has_both_parts(
    infra: dict[str, str], mail_dir: Path
) -> None:
    to = f"html.{uuid.uuid4().hex[:10]}@example.org"
    since = time.time()
    await send_mail(
        infra["GUICHET_SMTP_HOST"],
        int(infra["GUICHET_SMTP_PORT"]),
        "OpenGuichet <noreply@openguichet.localhost>",
        to,
        "Statut modifié",
        "Reçu par l'administration.\n",
        html="<p>Reçu par l&#x27;administration.</p>",
    )
    message = await newest_mail(mail_dir, to, since=since)
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and rich is not None
    assert str(plain.get_content()).strip() == "Reçu par l'administration."
    assert "<p>Reçu par l&#x27;administration.</p>" in str(rich.get_content())
