"""The bytes per row of the capacity model (docs/SCALING.md, bench/capacity.py), read from the real
rows the test suites and benches left on the `make infra` PostgreSQL: for each service's table,
the database (of those named `<service>` or `<service>_*`) where it holds the most rows, its row
count, the average `pg_column_size` of its rows (the first 20,000), its index count, and its heap
and index bytes (meaningful per row only where it holds many rows, like the registers of the
authentic-data benchmark).

    .venv/bin/python bench/row_sizes.py

A database named after a service may hold another's tables (a test's prefix): read each table
under the service whose migrations create it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
from common import ROOT

from guichet_kit.infra import read_infra_env

SERVICES = (
    "authentic_data",
    "etracking",
    "gateway",
    "identity",
    "messaging",
    "procedures",
    "wallet",
)


@dataclass
class Sample:
    database: str
    rows: int
    width: float
    indexes: int
    heap: int
    index_bytes: int


async def connect(database: str) -> asyncpg.Connection:
    infra = read_infra_env(ROOT)
    return await asyncpg.connect(
        host=infra["GUICHET_PG_HOST"],
        port=int(infra["GUICHET_PG_PORT"]),
        user=infra["GUICHET_PG_USER"],
        password=infra["GUICHET_PG_PASSWORD"],
        database=database,
        timeout=10,
    )


async def sample(connection: asyncpg.Connection, database: str, oid: int, name: str) -> Sample:
    # `name` is a table of pg_class, quoted by PostgreSQL's quote_ident: no outside input.
    rows = await connection.fetchval(f"SELECT count(*) FROM {name}")  # noqa: S608
    width = await connection.fetchval(
        f"SELECT avg(pg_column_size(t.*)) FROM (SELECT * FROM {name} LIMIT 20000) t"  # noqa: S608
    )
    return Sample(
        database,
        rows,
        float(width or 0),
        await connection.fetchval("SELECT count(*) FROM pg_index WHERE indrelid = $1::oid", oid),
        await connection.fetchval("SELECT pg_table_size($1::oid)", oid),
        await connection.fetchval("SELECT pg_indexes_size($1::oid)", oid),
    )


async def main() -> None:
    admin = await connect("postgres")
    try:
        names = [r[0] for r in await admin.fetch("SELECT datname FROM pg_database")]
    finally:
        await admin.close()
    best: dict[tuple[str, str], Sample] = {}
    for database in sorted(names):
        service = next((s for s in SERVICES if database == s or database.startswith(f"{s}_")), None)
        if service is None:
            continue
        connection = await connect(database)
        try:
            tables = await connection.fetch(
                "SELECT c.oid::int AS oid, c.relname, quote_ident(c.relname) AS quoted"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'r' AND n.nspname = 'public'"
                " AND c.relname <> 'alembic_version'"
            )
            for table in tables:
                key = (service, table["relname"])
                found = await sample(connection, database, table["oid"], table["quoted"])
                if key not in best or found.rows > best[key].rows:
                    best[key] = found
        finally:
            await connection.close()
    print(f"{'service.table':52}{'rows':>9}{'width B':>9}{'indexes':>8}  B/row whole  database")
    for (service, table), found in sorted(best.items()):
        whole = (found.heap + found.index_bytes) / found.rows if found.rows else 0
        print(
            f"{service + '.' + table:52}{found.rows:9}{found.width:9.0f}{found.indexes:8}"
            f"  {whole:11.0f}  {found.database}"
        )


if __name__ == "__main__":
    asyncio.run(main())
