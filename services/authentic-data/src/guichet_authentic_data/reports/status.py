"""Where a report stands, and the source's answers a person can read."""

from __future__ import annotations

from enum import StrEnum

from guichet_kit.i18n import Catalog, Language, Text

_ = Catalog("guichet_authentic_data")


class ReportStatus(StrEnum):
    SENT = "sent"
    RECEIVED = "received"
    CORRECTED = "corrected"
    REJECTED = "rejected"

    @property
    def open(self) -> bool:
        return self in (ReportStatus.SENT, ReportStatus.RECEIVED)


_LABELS: dict[ReportStatus, Text] = {
    ReportStatus.SENT: _("Sent to the source"),
    ReportStatus.RECEIVED: _("Received by the source"),
    ReportStatus.CORRECTED: _("Corrected"),
    ReportStatus.REJECTED: _("Rejected"),
}

# The source's answers, by their stable code.
RESOLUTIONS: dict[str, Text] = {
    "CORRECTED_AS_PROPOSED": _("The source corrected its value as you proposed."),
    "VALUE_CONFIRMED": _("The source checked its value against its records and keeps it."),
    "NEEDS_DOCUMENTS": _(
        "This value is changed only on presentation of supporting documents to the "
        "administration keeping the register."
    ),
    "NO_SUCH_ENTRY": _("The register no longer has this entry."),
}


def status_label(status: ReportStatus, language: Language) -> str:
    return _LABELS[status].render(language)


def resolution_text(code: str | None, language: Language) -> str:
    text = RESOLUTIONS.get(code or "")
    return text.render(language) if text else ""
