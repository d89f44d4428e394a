"""An event committed with its change survives the death of the process before it is published."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from launcher import Launcher
from nats.js import JetStreamContext
from stack import Stack, events_since, stream_position

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet_kit.grpc_client import insecure_channel
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database


async def test_sigkill_after_commit_before_publish_loses_no_event_and_sends_it_once(
    launcher: Launcher, infra: dict[str, str], repo_root: Path, jetstream: JetStreamContext
) -> None:
    # A database of its own: no other relay may publish the row while this process is down.
    database_url = await migrated_database(
        infra, repo_root / "services" / "etracking", f"etracking_outage_{worker_name()}"
    )
    position = await stream_position(jetstream)
    # The gRPC role alone commits trackings and their outbox rows but never publishes them.
    started = await launcher.etracking(database_url, "grpc", "etracking-killed")
    server = started.process
    try:
        async with insecure_channel(started.address, timeout=10) as channel:
            reply = await pb_grpc.TrackingServiceStub(channel).CreateTracking(
                pb.CreateTrackingRequest(paper_form_code="SNCA-IMM-01", language="en")
            )
    finally:
        server.kill()
    number = reply.tracking.number.replace("-", "")
    assert await events_since(jetstream, position, number) == []

    # A fresh worker (as after a restart) finds the unsent row and publishes it.
    worker = (await launcher.etracking(database_url, "worker", "etracking-restart")).process
    try:
        for _ in range(100):
            found = await events_since(jetstream, position, number)
            if found:
                break
            await asyncio.sleep(0.1)
    finally:
        worker.stop()
    found = await events_since(jetstream, position, number)
    assert [subject for subject, _ in found] == ["etracking.tracking.created.v1"]


async def test_sigterm_reports_not_serving_then_stops_cleanly(
    launcher: Launcher, stack: Stack
) -> None:
    started = await launcher.etracking(stack.database_url, "all", "etracking-sigterm")
    server = started.process
    async with grpc.aio.insecure_channel(started.address) as channel:
        health: Any = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING

        server.send(signal.SIGTERM)

        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert server.stop() == 0, server.log_tail()
    assert '"grpc.stopped"' in server.log_tail()
