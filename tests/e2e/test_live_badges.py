"""Live badges (F85) on the real stack: an administration moves a person's eTracking over gRPC,
the change goes through NATS to the gateway, and only that person's open streams hear of it; the
gateway follows the events with one subscription however many streams are open."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest
from citizens import Citizen, Registry
from nats.js import JetStreamContext
from stack import Stack

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet.events import subjects

if TYPE_CHECKING:  # the async stub type exists only in the generated .pyi
    AdminStub = pb_grpc.AdministrationTrackingServiceAsyncStub

# Only against a hang: every wait below ends as soon as the awaited event is there.
HANG_GUARD_SECONDS = 30


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


class BadgeStream:
    """One open `GET /api/v1/events`, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next_badges(self) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            kind, data = "", ""
            async for line in self._lines:
                if line.startswith("event:"):
                    kind = line.partition(":")[2].strip()
                elif line.startswith("data:"):
                    data += line.partition(":")[2].strip()
                elif line == "" and data:
                    if kind == "badges":
                        return dict(json.loads(data))
                    kind, data = "", ""
            raise AssertionError("the stream ended")

        return await asyncio.wait_for(read(), HANG_GUARD_SECONDS)


@asynccontextmanager
async def badge_stream(
    api: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> AsyncIterator[BadgeStream]:
    async with api.stream("GET", "/api/v1/events", headers=headers, params=params) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield BadgeStream(response)


async def new_tracking(api: httpx.AsyncClient, citizen: Citizen) -> str:
    response = await api.post(
        "/api/v1/etracking/trackings",
        json={"paper_form_code": "ACD-IR-100", "language": "en"},
        headers=citizen.bearer(),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["number"])


async def test_only_the_owner_hears_of_a_status_change(
    api: httpx.AsyncClient, registry: Registry, acd: AdminStub
) -> None:
    anne, ben = await registry.register("Anne"), await registry.register("Ben")
    annes, bens = await new_tracking(api, anne), await new_tracking(api, ben)

    async with (
        badge_stream(api, anne.bearer(), lang="fr") as anne_stream,
        badge_stream(api, anne.bearer()) as annes_second_tab,
        badge_stream(api, ben.bearer()) as ben_stream,
    ):
        for stream in (anne_stream, annes_second_tab, ben_stream):
            first = await stream.next_badges()
            assert first["etrackings"] == {"open": 1, "changed": 0}
            assert "announcement" not in first, "opening a page announces nothing"

        await acd.ScanTracking(pb.ScanTrackingRequest(number=annes))
        update = await anne_stream.next_badges()
        assert update["etrackings"] == {"open": 1, "changed": 1}
        assert update["announcement"] == "Un de vos eTrackings a du nouveau."
        assert (await annes_second_tab.next_badges())["etrackings"]["changed"] == 1

        await acd.ScanTracking(pb.ScanTrackingRequest(number=bens))
        # Published after Anne's change on the same stream: had Ben been told of hers, his first
        # update would count two trackings.
        assert (await ben_stream.next_badges())["etrackings"] == {"open": 1, "changed": 1}

        await acd.UpdateTrackingStatus(
            pb.UpdateTrackingStatusRequest(number=annes, status=pb.TRACKING_STATUS_REJECTED)
        )
        # The same for Anne after Ben's change: still one tracking with news, now closed.
        assert (await anne_stream.next_badges())["etrackings"] == {"open": 0, "changed": 1}


async def test_news_since_the_person_last_looked_is_counted_when_the_stream_opens(
    api: httpx.AsyncClient, registry: Registry, acd: AdminStub
) -> None:
    anne = await registry.register("Anne")
    number = await new_tracking(api, anne)
    await acd.ScanTracking(pb.ScanTrackingRequest(number=number))

    async with badge_stream(api, anne.bearer(), seen_since="2000-01-01T00:00:00Z") as stream:
        assert (await stream.next_badges())["etrackings"] == {"open": 1, "changed": 1}
    async with badge_stream(api, anne.bearer()) as stream:
        assert (await stream.next_badges())["etrackings"] == {"open": 1, "changed": 0}


async def test_without_a_valid_token_the_stream_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/events")
    assert response.status_code == 401
    assert response.json()["reason"] == "AUTHENTICATION_REQUIRED"
    assert response.headers["www-authenticate"].startswith("Bearer")

    response = await api.get("/api/v1/events", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401
    assert response.json()["reason"] == "INVALID_TOKEN"


# --- one subscription per replica, seen from the NATS server --------------------------------


def _sockets(table: str) -> list[tuple[int, int, int, str]]:
    """(local port, remote port, inode, state) of every TCP socket of this host."""
    rows = []
    for name in (table, f"{table}6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            rows.append(
                (
                    int(local.rsplit(":", 1)[1], 16),
                    int(remote.rsplit(":", 1)[1], 16),
                    int(inode),
                    state,
                )
            )
    return rows


def _process_listening_on(port: int) -> int:
    listening = {
        inode for local, _, inode, state in _sockets("tcp") if local == port and state == "0A"
    }
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if any(link == f"socket:[{inode}]" for inode in listening for link in links):
            return int(pid)
    raise AssertionError(f"no process listens on {port}")


def gateway_pid(gateway_url: str) -> int:
    return _process_listening_on(urlsplit(gateway_url).port or 80)


def gateway_nats_ports(gateway_url: str, nats_url: str) -> set[int]:
    """The local ports of the gateway process's connections to NATS, as the server lists them."""
    pid = gateway_pid(gateway_url)
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    nats_port = urlsplit(nats_url).port
    return {
        local
        for local, remote, inode, state in _sockets("tcp")
        if inode in inodes and remote == nats_port and state == "01"
    }


async def gateway_subscriptions(infra: dict[str, str], ports: set[int]) -> list[str]:
    async with httpx.AsyncClient(base_url=infra["GUICHET_NATS_MONITOR_URL"]) as monitor:
        connz = (await monitor.get("/connz", params={"subs": "detail", "limit": 10_000})).json()
    connections = [c for c in connz["connections"] if c["port"] in ports]
    assert connections, "the gateway's NATS connection is listed by the server"
    return sorted(s["subject"] for c in connections for s in c.get("subscriptions_list_detail", []))


async def status_change_consumers(js: JetStreamContext, pid: int) -> list[str]:
    """The stream's consumers of status changes made by this process (their description says
    whose they are)."""
    return [
        consumer.name
        for consumer in await js.consumers_info(subjects.ETRACKING.name)
        if consumer.config.filter_subject == subjects.TRACKING_STATUS_CHANGED
        and f" pid {pid}: " in (consumer.config.description or "")
    ]


async def test_the_gateway_follows_the_changes_once_whatever_the_number_of_streams(
    api: httpx.AsyncClient,
    registry: Registry,
    stack: Stack,
    infra: dict[str, str],
    jetstream: JetStreamContext,
) -> None:
    anne, ben = await registry.register("Anne"), await registry.register("Ben")
    ports = gateway_nats_ports(stack.gateway_url, infra["GUICHET_NATS_URL"])

    async with badge_stream(api, anne.bearer()) as first:
        await first.next_badges()
        with_one = await gateway_subscriptions(infra, ports)
        consumers = await status_change_consumers(jetstream, gateway_pid(stack.gateway_url))
        assert len(consumers) == 1, consumers
        async with (
            badge_stream(api, anne.bearer()) as second,
            badge_stream(api, ben.bearer()) as third,
            badge_stream(api, ben.bearer()) as fourth,
        ):
            for stream in (second, third, fourth):
                await stream.next_badges()
            with_four = await gateway_subscriptions(infra, ports)
            assert with_four == with_one, "no subscription per stream"
            assert (
                await status_change_consumers(jetstream, gateway_pid(stack.gateway_url))
                == consumers
            )
