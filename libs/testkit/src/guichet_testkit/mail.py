"""The one reader of the development SMTP sink's mails (`deploy/local/sinks/smtp_sink.py`).

The sink stores every message it accepts as `<UTC timestamp>-<uuid>.eml` in the mail directory
(`GUICHET_MAIL_DIR`, fixture `mail_dir`), the SMTP envelope first as `X-Sink-Mail-From` and
`X-Sink-Rcpt-To` headers. Every test that waits for a mail (Keycloak's or a service's) reads it
here.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import re
import time
from email.message import EmailMessage
from pathlib import Path

__all__ = ["mail_links", "mail_text", "mails_to", "newest_mail", "read_mail"]

_LINK = re.compile(r"https?://[^\s\"'<>]+")
# The sink names its envelope after the headers a mail may lack (Bcc has no To).
_RECIPIENT_HEADERS = ("To", "X-Sink-Rcpt-To")


def read_mail(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _recipients(message: EmailMessage) -> str:
    return " ".join(str(message.get_all(name, [])) for name in _RECIPIENT_HEADERS).lower()


def _paths(
    mail_dir: Path, to: str, subject_contains: str | None, since: float
) -> list[tuple[float, Path]]:
    found: list[tuple[float, Path]] = []
    wanted = to.lower()
    for path in mail_dir.glob("*.eml"):
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:  # removed while listing
            continue
        # A second of slack: the file's clock and time.time() round differently.
        if mtime + 1 < since:
            continue
        message = read_mail(path)
        if wanted not in _recipients(message):
            continue
        subject = str(message.get("Subject", "")).lower()
        if subject_contains and subject_contains.lower() not in subject:
            continue
        found.append((mtime, path))
    return found


def _newest_path(
    mail_dir: Path, to: str, subject_contains: str | None, since: float
) -> Path | None:
    found = _paths(mail_dir, to, subject_contains, since)
    return max(found)[1] if found else None


def mails_to(
    mail_dir: Path, to: str, *, since: float = 0.0, subject_contains: str | None = None
) -> list[EmailMessage]:
    """Every mail to `to` stored after `since` (with `subject_contains`, only those), oldest
    first, without waiting: to check that a mail came once, or not at all."""
    return [
        read_mail(path) for _mtime, path in sorted(_paths(mail_dir, to, subject_contains, since))
    ]


async def newest_mail(
    mail_dir: Path,
    to: str,
    *,
    since: float = 0.0,
    subject_contains: str | None = None,
    wait_seconds: float = 20.0,
) -> EmailMessage:
    """The newest mail to `to` (case-insensitive) stored after `since` (a `time.time()` taken
    before the act that sends it), waiting up to `wait_seconds` for it to arrive; with
    `subject_contains`, only a mail whose subject contains it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        path = await asyncio.to_thread(_newest_path, mail_dir, to, subject_contains, since)
        if path is not None:
            return await asyncio.to_thread(read_mail, path)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no mail to {to} in {mail_dir} after {wait_seconds}s")
        await asyncio.sleep(0.3)


def mail_text(message: EmailMessage) -> str:
    """The mail's body as text: its plain part, else its HTML part."""
    part = message.get_body(("plain", "html"))
    if part is None:
        raise ValueError(f"the mail {message.get('Subject', '')!r} has no text body")
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def mail_links(message: EmailMessage) -> list[str]:
    """The http(s) links of a mail, in order, without duplicates (text part first, then HTML)."""
    links: list[str] = []
    for part in message.walk():
        if part.get_content_maintype() != "text":
            continue
        assert isinstance(part, EmailMessage)
        for raw in _LINK.findall(str(part.get_content())):
            link = html.unescape(raw).rstrip(".,;)")
            if link not in links:
                links.append(link)
    return links
