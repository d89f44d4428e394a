"""Translation between the wallet's domain and its protobuf messages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet_kit.i18n import Language
from guichet_wallet.pieces.catalogue import PieceType, find_piece_type
from guichet_wallet.pieces.models import Copy, FileVersion, Piece, PieceFile
from guichet_wallet.pieces.service import Sender


def piece_type_to_proto(piece_type: PieceType, language: Language) -> pb.PieceType:
    return pb.PieceType(
        code=piece_type.code,
        name=piece_type.name(language),
        allowed_content_types=sorted(piece_type.allowed_content_types),
        expires=piece_type.expires,
    )


def version_to_proto(version: FileVersion) -> pb.FileVersion:
    message = pb.FileVersion(
        version_id=str(version.id),
        number=version.number,
        file_name=version.display_name,
        content_type=version.content_type,
        size=version.size,
        sha256=version.sha256,
    )
    message.created_at.FromDatetime(version.created_at)
    return message


def file_to_proto(file: PieceFile, *, every_version: bool) -> pb.PieceFile:
    # Versions are loaded newest first (models.PieceFile.versions).
    message = pb.PieceFile(file_id=str(file.id), position=file.position)
    if file.versions:
        message.current.CopyFrom(version_to_proto(file.versions[0]))
    if every_version:
        message.versions.extend(version_to_proto(version) for version in file.versions)
    return message


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def sender_to_proto(sender: Sender) -> pb.DocumentSender:
    message = pb.DocumentSender(
        administration=sender.administration,
        administration_name=sender.administration_name,
        signature_subject=sender.signature_subject,
        delivery_id=sender.delivery_id,
    )
    if sender.signed_at is not None:
        message.signed_at.FromDatetime(sender.signed_at)
    if sender.received_at is not None:
        message.received_at.FromDatetime(sender.received_at)
    if sender.opened_at is not None:
        message.opened_at.FromDatetime(sender.opened_at)
    return message


def piece_to_proto(
    piece: Piece,
    language: Language,
    senders: Mapping[uuid.UUID, Sender],
    *,
    every_version: bool = False,
) -> pb.Piece:
    message = pb.Piece(
        piece_id=str(piece.id),
        type=piece_type_to_proto(find_piece_type(piece.type_code), language),
        title=piece.title,
        issued_on=_iso(piece.issued_on),
        expires_on=_iso(piece.expires_on),
        files=[file_to_proto(file, every_version=every_version) for file in piece.files],
    )
    message.created_at.FromDatetime(piece.created_at)
    message.updated_at.FromDatetime(piece.updated_at)
    sender = senders.get(piece.id)
    if sender is not None:
        message.sender.CopyFrom(sender_to_proto(sender))
    return message


def copy_to_proto(copy: Copy) -> pb.CopyRef:
    message = pb.CopyRef(
        copy_id=str(copy.id),
        owner=copy.owner,
        purpose=copy.purpose,
        file_name=copy.display_name,
        content_type=copy.content_type,
        size=copy.size,
        sha256=copy.sha256,
    )
    message.retained_until.FromDatetime(copy.retained_until)
    return message
