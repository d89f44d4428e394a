"""The operators' commands: verifying the access log, seeding the synthetic registers."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence

from guichet_authentic_data.access.verify import verify_log
from guichet_authentic_data.registers.loader import load_registers
from guichet_authentic_data.settings import LogSettings
from guichet_kit.db import create_engine, session_factory


async def _verify(database_url: str) -> int:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session:
            result = await verify_log(session)
    finally:
        await engine.dispose()
    if result.broken is None:
        print(f"access log intact: {result.entries} entries, head {result.head.hex()}")
        return 0
    broken = result.broken
    print(
        f"access log broken at entry {broken.id} (access {broken.access_id}): {broken.why}; "
        f"the {result.entries} entries before it are intact"
    )
    return 1


def verify_log_command(argv: Sequence[str]) -> int:
    argparse.ArgumentParser(
        prog="guichet_authentic_data verify-log",
        description="Check the access log's hash chain and report the first broken link.",
    ).parse_args(argv)
    return asyncio.run(_verify(LogSettings().database_url))


def seed_command(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="guichet_authentic_data seed",
        description="Replace the synthetic registers by generated ones (deterministic per seed).",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--persons", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.persons < 1:
        parser.error("--persons must be at least 1")
    started = time.perf_counter()
    last = [0.0]

    def progress(made: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 5:
            last[0] = now
            print(f"  {made} persons copied ({now - started:.0f} s)", flush=True)

    report = asyncio.run(
        load_registers(
            LogSettings().database_url,
            args.seed,
            args.persons,
            progress=progress,
        )
    )
    total = time.perf_counter() - started
    print(
        f"seed {args.seed}: {report.persons} persons, {report.licences} driving licences, "
        f"{report.tax_credits} tax credits, {report.companies} companies "
        f"({report.directors} directors, {report.vat_accounts} VAT accounts) in {total:.1f} s "
        f"(generate and copy {report.copy_seconds:.1f} s, indexes {report.index_seconds:.1f} s)"
    )
    return 0
