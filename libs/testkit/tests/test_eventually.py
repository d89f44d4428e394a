"""wait_until: returns once the check holds, gives up with what it waited for."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess


async def test_a_check_that_comes_true_after_failing_is_waited_for() -> None:
    answers = iter([ConnectionRefusedError("starting"), False, True])

    async def check() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    await wait_until(check, seconds=10, what="the answer", interval=0.01)
    assert next(answers, None) is None


async def test_a_check_that_never_holds_times_out_with_its_last_error() -> None:
    async def check() -> bool:
        raise ConnectionRefusedError("still down")

    with pytest.raises(TimeoutError, match=r"the server not reached after 0.05s.*still down"):
        await wait_until(check, seconds=0.05, what="the server", interval=0.01)


async def test_a_process_that_dies_ends_the_wait_with_its_log(tmp_path: Path) -> None:
    process = ServiceProcess(
        "dying", [sys.executable, "-c", "print('cannot start'); raise SystemExit(3)"], {}, tmp_path
    )
    process.start()

    async def never() -> bool:
        return False

    try:
        with pytest.raises(RuntimeError, match=r"dying exited while waiting for readiness"):
            await wait_until(never, seconds=30, what="readiness", process=process)
        assert "cannot start" in process.log_tail()
    finally:
        assert process.stop() == 3
