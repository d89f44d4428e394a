"""Event subjects and the streams that carry them, declared once beside the payloads in
`guichet.events.v1` (hand-written: `make proto` regenerates only the *_pb2 modules).

Subjects are `<service>.<entity>.<past_tense_verb>.v<major>`; each producing service has one stream
named after it on `<service>.>`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stream:
    name: str
    subjects: tuple[str, ...]


IDENTITY = Stream("IDENTITY", ("identity.>",))
ETRACKING = Stream("ETRACKING", ("etracking.>",))
# identity reads `<service>.account.purged.v1` on stream `<service>.upper()`, hence the hyphen.
AUTHENTIC_DATA = Stream("AUTHENTIC-DATA", ("authentic-data.>",))
WALLET = Stream("WALLET", ("wallet.>",))
PROCEDURES = Stream("PROCEDURES", ("procedures.>",))
MESSAGING = Stream("MESSAGING", ("messaging.>",))

# identity
ACCOUNT_DELETED = "identity.account.deleted.v1"  # payload identity_pb2.AccountDeleted

# etracking
TRACKING_CREATED = "etracking.tracking.created.v1"  # payload etracking_pb2.TrackingCreated
TRACKING_STATUS_CHANGED = "etracking.tracking.status_changed.v1"  # ...TrackingStatusChanged


# wallet
PIECE_EXPIRING = "wallet.piece.expiring.v1"  # payload wallet_pb2.PieceExpiring
EDOCUMENT_OPENED = "wallet.edocument.opened.v1"  # payload wallet_pb2.EDocumentOpened

# procedures (payloads in procedures_pb2)
REQUEST_SUBMITTED = "procedures.request.submitted.v1"  # RequestSubmitted
REQUEST_STATUS_CHANGED = "procedures.request.status_changed.v1"  # RequestStatusChanged
CORRECTION_ASKED = "procedures.request.correction_asked.v1"  # CorrectionAsked
REQUEST_CANCELLED = "procedures.request.cancelled.v1"  # RequestCancelled
DRAFT_EXPIRING = "procedures.draft.expiring.v1"  # DraftExpiring
APPOINTMENT_CHANGED = "procedures.appointment.changed.v1"  # AppointmentChanged

# messaging (payloads in messaging_pb2)
EDOCUMENT_DELIVERED = "messaging.edocument.delivered.v1"  # EDocumentDelivered
MESSAGE_SENT = "messaging.message.sent.v1"  # MessageSent
MESSAGE_ANSWERED = "messaging.message.answered.v1"  # MessageAnswered

# authentic-data
DATA_REPORT_FILED = "authentic-data.report.filed.v1"  # payload authentic_data_pb2.DataReportFiled
DATA_REPORT_ANSWERED = "authentic-data.report.answered.v1"  # ...DataReportAnswered


def account_purged(service: str) -> str:
    """Where `service` confirms it purged a deleted account (payload identity_pb2.AccountPurged)."""
    return f"{service}.account.purged.v1"
