"""When the worker's health port says SERVING: every part running and its dependencies up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from guichet_kit.worker_health import WorkerHealth
from guichet_kit.worker_parts import worker_part


async def _up() -> bool:
    return True


async def _down() -> bool:
    return False


async def _broken() -> bool:
    raise OSError("database unreachable")


async def test_no_part_yet_is_not_serving() -> None:
    assert not await WorkerHealth("127.0.0.1:1", _up).serving()


async def test_serving_once_every_part_runs() -> None:
    health = WorkerHealth("127.0.0.1:1", _up)
    health.parts.make_current()
    try:
        relay, consumer = worker_part("outbox relay"), worker_part("consumer a")
        relay.running()
        assert not await health.serving()  # the consumer is still starting
        consumer.running()
        assert await health.serving()
        consumer.stopped()
        assert not await health.serving()
    finally:
        health.parts.forget_current()


@pytest.mark.parametrize("readiness", [_down, _broken])
async def test_a_dependency_down_is_not_serving(
    readiness: Callable[[], Awaitable[bool]],
) -> None:
    health = WorkerHealth("127.0.0.1:1", readiness)
    health.parts.report("outbox relay", running=True)
    assert not await health.serving()


async def test_parts_started_outside_its_runtime_are_not_its_own() -> None:
    health = WorkerHealth("127.0.0.1:1", _up)
    worker_part("consumer elsewhere").running()
    assert health.parts.running() == {}
