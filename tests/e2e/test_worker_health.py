"""A worker role process (eTracking's, as `python -m guichet_etracking worker`) answers gRPC health
on GUICHET_WORKER_HEALTH_ADDRESS, SERVING once its outbox relay and its consumer of account
deletions run, NOT_SERVING when told to stop; then it exits cleanly."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from launcher import Launcher
from nats.js import JetStreamContext

from guichet.events import subjects
from guichet_kit.events import ensure_stream
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import free_port, grpc_serving


async def test_a_worker_process_is_probed_on_its_health_port(
    infra: dict[str, str], log_dir: Path, repo_root: Path, jetstream: JetStreamContext
) -> None:
    database_url = await migrated_database(
        infra, repo_root / "services" / "etracking", f"etracking_worker_health_{worker_name()}"
    )
    # The stream its consumer reads (identity's), as identity makes it when it first starts.
    await ensure_stream(jetstream, subjects.IDENTITY.name, subjects.IDENTITY.subjects)
    health_address = f"127.0.0.1:{free_port()}"
    launcher = Launcher(infra, log_dir, extra_env={"GUICHET_WORKER_HEALTH_ADDRESS": health_address})
    worker = (await launcher.etracking(database_url, "worker", "etracking-worker-health")).process
    try:
        await wait_until(
            lambda: grpc_serving(health_address),
            seconds=60,
            what="the worker's health port",
            process=worker,
        )
        async with grpc.aio.insecure_channel(health_address) as channel:
            health: Any = health_pb2_grpc.HealthStub(channel)
            relay = await health.Check(health_pb2.HealthCheckRequest(service="outbox relay"))
            assert relay.status == health_pb2.HealthCheckResponse.SERVING
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING

            worker.send(signal.SIGTERM)

            assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert worker.stop() == 0, worker.log_tail()
        assert '"service.stopped"' in worker.log_tail()
    finally:
        worker.stop()
