"""Protobuf → JSON for the public API: field names as in the proto, enums as short words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp


def as_dict(message: Message) -> dict[str, Any]:
    return MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        use_integers_for_enums=False,
    )


def enum_word(name: str, prefix: str) -> str:
    """RELATION_KIND_CHILD → child."""
    return name.removeprefix(prefix).lower()


def timestamp(value: Timestamp) -> datetime | None:
    return value.ToDatetime(tzinfo=UTC) if value.seconds or value.nanos else None


def to_timestamp(value: datetime) -> Timestamp | None:
    """None when the instant cannot be represented (before year 1 or after 9999 in UTC)."""
    stamp = Timestamp()
    try:
        stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    except (ValueError, OverflowError):
        return None
    return stamp
