"""The access log's hash chain: what each entry's hash covers, and why purging keeps it whole.

Each entry has two parts. The *public* part (when, which kind of reader, which service or
administration, the purpose, the fields) is hashed in clear. The *personal* part (whose data,
the reading person when it is a person, the agent, the request it served, the correlation id) is
reduced to a digest, SHA-256 over a random per-entry salt and the part's canonical form. The
entry's hash is SHA-256 over the previous entry's hash and the canonical form of the public part
with that digest; the first entry follows 32 zero bytes.

Purging a deleted person's entries (F8) removes the personal part and its salt but keeps the
digest: every link still verifies, the public part of a purged entry is still checked, and the
digest tells nothing about the person, since without the salt it cannot be matched against
guessed national ids (there are only a few million of them). A live entry's personal part is
checked against its digest, so altering any column of any entry, removing an entry or reordering
entries breaks the chain at that entry.

Canonical form: JSON with sorted keys, no spaces, UTF-8; times in UTC with microseconds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

GENESIS = bytes(32)
SALT_BYTES = 16

AccessorKind = Literal["self", "mandate_holder", "platform_service", "administration"]
# Readers who are people: their national id is personal data of theirs.
PERSON_READERS: frozenset[str] = frozenset({"self", "mandate_holder"})


@dataclass(frozen=True)
class PublicPart:
    access_id: str
    accessed_at: datetime
    accessor_kind: str
    # The service or the administration; empty when the reader is a person.
    accessor: str
    purpose: str
    fields: Sequence[str]


@dataclass(frozen=True)
class PersonalPart:
    subject: str
    # The reader's national id when the reader is a person; else empty.
    reader: str
    agent: str
    request_reference: str
    correlation_id: str


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def moment(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def personal_digest(part: PersonalPart, salt: bytes) -> bytes:
    return hashlib.sha256(
        salt
        + _canonical(
            {
                "subject": part.subject,
                "reader": part.reader,
                "agent": part.agent,
                "request_reference": part.request_reference,
                "correlation_id": part.correlation_id,
            }
        )
    ).digest()


def entry_hash(previous: bytes, part: PublicPart, digest: bytes) -> bytes:
    return hashlib.sha256(
        previous
        + _canonical(
            {
                "access_id": part.access_id,
                "accessed_at": moment(part.accessed_at),
                "accessor_kind": part.accessor_kind,
                "accessor": part.accessor,
                "purpose": part.purpose,
                "fields": list(part.fields),
                "personal": digest.hex(),
            }
        )
    ).digest()
