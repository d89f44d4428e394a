"""A started service process ends with the test process, even one killed without any teardown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from guichet_testkit.processes import ServiceProcess


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that died but was not reaped yet is a zombie: gone for this purpose.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def test_the_child_gets_sigterm_when_the_test_process_is_killed(tmp_path: Path) -> None:
    # A stand-in test process starts a service process, prints its pid, then waits to be killed.
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from guichet_testkit.processes import ServiceProcess
        child = ServiceProcess("sleeper", ["sleep", "300"], {{}}, Path({str(tmp_path)!r}))
        child.start()
        print(child._process.pid, flush=True)
        time.sleep(300)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)

    parent.send_signal(signal.SIGKILL)  # no atexit hook, no teardown
    parent.wait()

    deadline = time.monotonic() + 30
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child_pid)


def test_stop_returns_the_exit_code_of_the_command_itself(tmp_path: Path) -> None:
    process = ServiceProcess("exits", ["sh", "-c", "exit 3"], {}, tmp_path)
    process.start()
    deadline = time.monotonic() + 30
    while process.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.stop() == 3
