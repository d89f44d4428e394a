"""Waiting for what another task, process or server does: poll a check until it holds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol


class Watched(Protocol):
    """A process the wait gives up on as soon as it dies (see `processes.ServiceProcess`)."""

    name: str

    @property
    def running(self) -> bool: ...

    def log_tail(self, lines: int = 40) -> str: ...


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    *,
    seconds: float,
    what: str,
    process: Watched | None = None,
    interval: float = 0.2,
) -> None:
    """Poll `check` until it returns True; raise TimeoutError after `seconds`.

    A check that raises counts as not yet (a server still starting refuses connections); the
    last error is in the timeout's message. With `process`, stop at once if it exits, and show
    the end of its log.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    last_error: BaseException | None = None
    while True:
        if process is not None and not process.running:
            raise RuntimeError(
                f"{process.name} exited while waiting for {what}:\n{process.log_tail()}"
            )
        try:
            if await check():
                return
        except Exception as error:
            last_error = error
        if loop.time() >= deadline:
            break
        await asyncio.sleep(interval)
    because = f" (last error: {last_error!r})" if last_error is not None else ""
    tail = f":\n{process.log_tail()}" if process is not None else ""
    raise TimeoutError(f"{what} not reached after {seconds}s{because}{tail}")
