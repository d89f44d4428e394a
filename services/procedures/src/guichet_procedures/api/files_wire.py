"""Attachments (F25) on the wire: their message, the ids in requests, an upload's stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.domain import FieldError, InvalidInput
from guichet_kit.i18n import Catalog
from guichet_procedures.requests.models import Attachment

_ = Catalog("guichet_procedures")


def attachment_to_proto(row: Attachment) -> pb.Attachment:
    proto = pb.Attachment(
        id=str(row.id),
        field_id=row.field_id,
        file_name=row.file_name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        source=row.source,
        submitted=row.submitted_at is not None,
    )
    proto.created_at.FromDatetime(row.created_at)
    return proto


def attachment_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as error:
        message = _("Give the id of one of the request's files.")
        raise InvalidInput(
            "INVALID_ATTACHMENT_ID", message, [FieldError("attachment_id", "invalid", message)]
        ) from error


def header_missing() -> InvalidInput:
    return InvalidInput(
        "UPLOAD_HEADER_MISSING",
        _("An upload starts with its header (the request, the question, the file's name)."),
    )


async def chunks_after_header(
    messages: AsyncIterator[pb.UploadAttachmentRequest],
) -> AsyncIterator[bytes]:
    """The data of an upload whose header was read: a second header is refused."""
    async for message in messages:
        if message.WhichOneof("part") == "header":
            raise InvalidInput(
                "UPLOAD_HEADER_REPEATED", _("An upload has one header, before its data.")
            )
        yield message.chunk
