"""Prefill (F24) on the wire: what would be prefilled, and where each prefilled answer came
from (`Request.prefilled`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.i18n import Language
from guichet_procedures.api import wire
from guichet_procedures.definitions.model import Definition
from guichet_procedures.requests.models import Request
from guichet_procedures.requests.prefill import Offer, Provenance, provenance, source_label


def _field(
    field_id: str,
    label: str,
    value_display: str,
    value: object,
    source: str,
    source_name: str,
    read_at: datetime,
    locked: bool,
    available: bool,
) -> pb.PrefilledField:
    message = pb.PrefilledField(
        field_id=field_id,
        label=label,
        value_display=value_display,
        value_json=json.dumps(value, ensure_ascii=False) if available else "",
        source=source,
        source_name=source_name,
        locked=locked,
        available=available,
    )
    message.read_at.FromDatetime(read_at)
    return message


def offers_to_proto(offers: Sequence[Offer], language: Language) -> list[pb.PrefilledField]:
    return [
        _field(
            offer.field.id,
            offer.field.label.text(language),
            wire.display(offer.field, offer.value, language) if offer.available else "",
            offer.value,
            offer.source.kind,
            source_label(offer.source_code, offer.source_name, language),
            offer.read_at,
            offer.field.locked,
            offer.available,
        )
        for offer in offers
    ]


def add_provenance(
    reply: pb.Request, request: Request, definition: Definition, language: Language
) -> None:
    """The request's prefilled answers with their sources, and the decision taken."""
    reply.prefill_decision = (request.prefill or {}).get("decision", "")
    reply.prefilled.extend(
        provenance_to_proto(provenance(request, definition), definition, language)
    )


def provenance_to_proto(
    found: Sequence[Provenance], definition: Definition, language: Language
) -> list[pb.PrefilledField]:
    return [
        _field(
            item.field_id,
            item.label.text(language),
            wire.display(definition.fields[item.field_id], item.value, language),
            item.value,
            item.source,
            item.source_label(language),
            item.read_at,
            item.locked,
            True,
        )
        for item in found
    ]
