"""The access log's hashes: what each covers, so that any change shows and a purge does not."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from guichet_authentic_data.access import chain

MOMENT = datetime(2025, 3, 4, 10, 11, 12, 123456, tzinfo=UTC)
PUBLIC = chain.PublicPart(
    access_id="6f1c6f4e-8a1b-4a53-9d1e-0c7c7a9b8e11",
    accessed_at=MOMENT,
    accessor_kind="administration",
    accessor="ccss",
    purpose="ccss:affiliation",
    fields=("person.surname", "person.address"),
)
PERSONAL = chain.PersonalPart(
    subject="person:1980010112345",
    reader="",
    agent="agent-7",
    request_reference="R-1",
    correlation_id="c-1",
)
SALT = bytes(range(16))


def test_the_entry_hash_is_the_same_for_the_same_content_and_predecessor() -> None:
    digest = chain.personal_digest(PERSONAL, SALT)
    assert chain.entry_hash(chain.GENESIS, PUBLIC, digest) == chain.entry_hash(
        bytes(32), dataclasses.replace(PUBLIC, fields=["person.surname", "person.address"]), digest
    )


def test_the_same_instant_in_another_zone_hashes_the_same() -> None:
    digest = chain.personal_digest(PERSONAL, SALT)
    elsewhere = MOMENT.astimezone(timezone(timedelta(hours=2)))
    assert chain.entry_hash(chain.GENESIS, PUBLIC, digest) == chain.entry_hash(
        chain.GENESIS, dataclasses.replace(PUBLIC, accessed_at=elsewhere), digest
    )


@pytest.mark.parametrize(
    "change",
    [
        {"access_id": "6f1c6f4e-8a1b-4a53-9d1e-0c7c7a9b8e12"},
        {"accessed_at": MOMENT + timedelta(microseconds=1)},
        {"accessor_kind": "platform_service"},
        {"accessor": "cae"},
        {"purpose": "cae:family-benefits"},
        {"fields": ("person.address", "person.surname")},
        {"fields": ("person.surname",)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_any_change_of_the_public_part_changes_the_entry_hash(change: dict[str, object]) -> None:
    digest = chain.personal_digest(PERSONAL, SALT)
    changed = dataclasses.replace(PUBLIC, **change)  # type: ignore[arg-type]
    assert chain.entry_hash(chain.GENESIS, changed, digest) != chain.entry_hash(
        chain.GENESIS, PUBLIC, digest
    )


@pytest.mark.parametrize(
    "change",
    [
        {"subject": "person:1975060600018"},
        {"reader": "1980010112345"},
        {"agent": "agent-8"},
        {"request_reference": "R-2"},
        {"correlation_id": "c-2"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_any_change_of_the_personal_part_changes_its_digest(change: dict[str, str]) -> None:
    changed = dataclasses.replace(PERSONAL, **change)
    assert chain.personal_digest(changed, SALT) != chain.personal_digest(PERSONAL, SALT)


def test_the_predecessor_is_part_of_the_hash() -> None:
    digest = chain.personal_digest(PERSONAL, SALT)
    assert chain.entry_hash(b"\x01" * 32, PUBLIC, digest) != chain.entry_hash(
        chain.GENESIS, PUBLIC, digest
    )


def test_without_its_salt_the_digest_cannot_be_matched_against_a_guessed_person() -> None:
    # The purge keeps the digest and drops the salt: a guess with another salt finds nothing.
    assert chain.personal_digest(PERSONAL, SALT) != chain.personal_digest(PERSONAL, bytes(16))
