"""What the benchmarks share: the processes (started like the journeys start them), a bare
FastAPI baseline, and a request-rate loop."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

# One definition of how each service is started and configured: the journeys' launcher
# (scripts/bench.sh puts tests/e2e on the path).
from launcher import Launcher

from guichet_kit.infra import find_root, read_infra_env
from guichet_kit.testing import ServiceProcess, free_port, wait_until

ROOT = find_root(Path(__file__))


def bench_launcher() -> Launcher:
    return Launcher(
        read_infra_env(ROOT),
        ROOT / ".data" / "log" / "bench",
        extra_env={
            "ETRACKING_LOG_LEVEL": "WARNING",
            "IDENTITY_LOG_LEVEL": "WARNING",
            "GATEWAY_LOG_LEVEL": "WARNING",
        },
    )


async def http_up(url: str) -> bool:
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).status_code < 500


async def start_bare_app(body: object, log_dir: Path) -> tuple[ServiceProcess, str]:
    """A bare FastAPI app serving `body` at every path, in its own process like the gateway."""
    port = free_port()
    process = ServiceProcess(
        "bench-bare",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--app-dir",
            str(ROOT / "bench"),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        {"BARE_APP_BODY": json.dumps(body)},
        log_dir,
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    await wait_until(lambda: http_up(url), seconds=30, what="bare app", process=process)
    return process, url


async def rate(call: Callable[[], Awaitable[None]], requests: int, concurrency: int) -> float:
    """Calls per second for `requests` calls spread over `concurrency` loops, after a warm-up."""
    per_loop = max(1, requests // concurrency)

    async def loop() -> None:
        for _ in range(per_loop):
            await call()

    for _ in range(min(50, per_loop)):
        await call()
    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return per_loop * concurrency / (time.perf_counter() - started)
