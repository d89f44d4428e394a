"""Services started as their own processes, as in production, for tests that cross processes."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def free_port() -> int:
    """A TCP port free on the loopback right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Processes still running when the test process ends: a fixture that failed half-way through
# starting a stack never reaches its teardown, and its services must not outlive the run.
_RUNNING: set[ServiceProcess] = set()


# util-linux's setpriv sets prctl(PR_SET_PDEATHSIG) and execs the command: the child gets SIGTERM
# when the test process dies, even killed by a timeout before any teardown or atexit hook could
# run. Not a preexec_fn: Python code between fork and exec runs the at-fork handlers of the test
# process's gRPC, which now and then killed the child before its exec (seen in CI: a child whose
# only output was gRPC's "epoll_wait error: Bad file descriptor"). Without preexec_fn, subprocess
# uses vfork and no handler runs.
_DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM", "--"]


@atexit.register
def _stop_leftovers() -> None:
    for process in list(_RUNNING):
        process.stop(timeout=5.0)


class ServiceProcess:
    """One started process; its output goes to `<log_dir>/<name>.log`."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], log_dir: Path):
        self.name = name
        self._args = list(args)
        self._env = {**os.environ, **env}
        self._log_path = log_dir / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("ab") as log_file:  # the child keeps its own descriptor
            self._process = subprocess.Popen(  # noqa: S603 (the test names the command)
                # Started from the event loop's (main) thread: the signal follows that thread.
                [*_DIE_WITH_PARENT, *self._args],
                env=self._env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        _RUNNING.add(self)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if not self._log_path.exists():
            return ""
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Send `sig`, wait up to `timeout`, then SIGKILL; returns the exit code."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        code = self._process.returncode
        self._process = None
        _RUNNING.discard(self)
        return code

    def send(self, sig: signal.Signals) -> None:
        if self._process is not None:
            self._process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when a node dies."""
        self.stop(signal.SIGKILL)


async def grpc_serving(address: str) -> bool:
    """Whether the gRPC server at `address` says SERVING on its health service."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
