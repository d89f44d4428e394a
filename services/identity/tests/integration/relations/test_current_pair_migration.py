"""Migration 0003 on data made before it: revoked and expired relations end, and of two current
relations of one pair (both grants passed the old check) the first stays and the later is revoked,
so the unique index can be built."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from guichet_kit.infra import postgres_url
from guichet_testkit import worker_name
from guichet_testkit.db import recreate_database

SERVICE_DIR = Path(__file__).resolve().parents[3]


async def _alembic(url: str, target: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alembic",
        "-c",
        str(SERVICE_DIR / "alembic.ini"),
        "-x",
        f"url={url}",
        "upgrade",
        target,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()


async def test_existing_relations_are_ended_and_duplicates_revoked(infra: dict[str, str]) -> None:
    name = f"identity_migration_test_{worker_name()}"
    await recreate_database(infra, name)
    url = postgres_url(infra, name)
    await _alembic(url, "0002")
    now = datetime.now(UTC)
    first, later, revoked, expired = (uuid.uuid4() for _ in range(4))
    rows = [
        # id, actor, subject, expires_at, revoked_at, created_at
        (first, "A", "S", now + timedelta(days=1), None, now - timedelta(hours=2)),
        (later, "A", "S", now + timedelta(days=2), None, now - timedelta(hours=1)),
        (revoked, "B", "S", now + timedelta(days=1), now - timedelta(hours=3), now - timedelta(1)),
        (expired, "C", "S", now - timedelta(hours=5), None, now - timedelta(days=2)),
    ]
    connection = await asyncpg.connect(
        host=infra["GUICHET_PG_HOST"],
        port=int(infra["GUICHET_PG_PORT"]),
        user=infra["GUICHET_PG_USER"],
        password=infra["GUICHET_PG_PASSWORD"],
        database=name,
    )
    try:
        await connection.executemany(
            "INSERT INTO relations (id, kind, actor_national_id, subject_national_id, "
            "subject_name, rights, expires_at, revoked_at, created_at, created_by) "
            "VALUES ($1, 'spouse', $2, $3, '', ARRAY['etracking:read'], $4, $5, $6, 'kc')",
            rows,
        )

        await _alembic(url, "head")

        found = {
            row["id"]: (row["revoked_at"], row["ended_at"])
            for row in await connection.fetch("SELECT id, revoked_at, ended_at FROM relations")
        }
    finally:
        await connection.close()
    assert found[first] == (None, None)
    later_revoked, later_ended = found[later]
    assert later_revoked is not None and later_ended == later_revoked
    assert found[revoked] == (rows[2][4], rows[2][4])
    assert found[expired] == (None, rows[3][3])
