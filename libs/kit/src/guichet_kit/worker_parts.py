"""What a worker process runs — its outbox relay and event consumers — and whether each runs yet,
for its health port (worker_health.py). No gRPC here: the rules modules use the outbox and events.

The runtime of a worker process makes its `WorkerParts` the current one of the process's tasks
when it opens the health port; a relay or a consumer started there reports itself as one of its
parts (`worker_part`). Outside such a runtime (tests, one-off commands) the reports go nowhere.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

_CURRENT: ContextVar[WorkerParts | None] = ContextVar("worker_parts", default=None)


class WorkerParts:
    def __init__(self) -> None:
        self._running: dict[str, bool] = {}
        # Set on every report, so that the health port answers again at once.
        self.changed = asyncio.Event()

    def report(self, name: str, *, running: bool) -> None:
        self._running[name] = running
        self.changed.set()

    def running(self) -> dict[str, bool]:
        return dict(self._running)

    def all_running(self) -> bool:
        """At least one part, and every part running (one still starting or stopped: not)."""
        return bool(self._running) and all(self._running.values())

    def make_current(self) -> None:
        """Parts started from this task, and the tasks it creates from now on, report here."""
        _CURRENT.set(self)

    @staticmethod
    def forget_current() -> None:
        _CURRENT.set(None)


class WorkerPart:
    """A relay or a consumer of the worker: not running until it says so."""

    def __init__(self, name: str, parts: WorkerParts | None) -> None:
        self.name = name
        self._parts = parts

    def running(self) -> None:
        if self._parts is not None:
            self._parts.report(self.name, running=True)

    def stopped(self) -> None:
        if self._parts is not None:
            self._parts.report(self.name, running=False)


def worker_part(name: str) -> WorkerPart:
    """Register a part of the current worker (none: a part that reports nowhere)."""
    parts = _CURRENT.get()
    if parts is not None:
        parts.report(name, running=False)
    return WorkerPart(name, parts)
