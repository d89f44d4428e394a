"""What the wallet publishes: its stream, its subjects, and the event payloads it builds."""

from __future__ import annotations

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as identity_events_pb2
from guichet.events.v1 import wallet_pb2 as events_pb2
from guichet_wallet.pieces.models import Piece, ReceivedDocument

SERVICE = "wallet"
STREAM = subjects.WALLET
PIECE_EXPIRING = subjects.PIECE_EXPIRING
EDOCUMENT_OPENED = subjects.EDOCUMENT_OPENED
ACCOUNT_PURGED = subjects.account_purged(SERVICE)


def account_purged(deletion_id: str) -> identity_events_pb2.AccountPurged:
    return identity_events_pb2.AccountPurged(deletion_id=deletion_id, service=SERVICE)


def piece_expiring(piece: Piece) -> events_pb2.PieceExpiring:
    return events_pb2.PieceExpiring(
        piece_id=str(piece.id),
        owner=piece.owner,
        type_code=piece.type_code,
        title=piece.title,
        expires_on=piece.expires_on.isoformat() if piece.expires_on else "",
    )


def edocument_opened(
    owner: str, document: ReceivedDocument, opened_by: str
) -> events_pb2.EDocumentOpened:
    event = events_pb2.EDocumentOpened(
        piece_id=str(document.piece_id),
        owner=owner,
        delivery_id=document.delivery_id,
        opened_by=opened_by,
    )
    if document.opened_at is not None:
        event.opened_at.FromDatetime(document.opened_at)
    return event
