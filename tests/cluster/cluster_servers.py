"""The clustered data plane on loopback: three NATS servers in one JetStream cluster and one MinIO
in erasure-coded mode over four drives, each on ports of its own (never `make infra`'s) and with
its data under .data/cluster. The binaries are those `make infra` installed (paths from the
environment, set by scripts/test_cluster.sh)."""

from __future__ import annotations

import base64
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from guichet_kit.events import connect
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port

CLUSTER_NAME = "guichet-cluster"
DRIVES = 4
REPLICAS = 3


def _binary(variable: str) -> str:
    path = os.environ.get(variable, "")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"{variable} must name the server binary `make infra` installs "
            "(run the test with `make test-cluster`)"
        )
    return path


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class NatsNode:
    name: str
    port: int
    monitor_port: int
    route_port: int
    process: ServiceProcess | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"


@dataclass
class NatsCluster:
    """Three JetStream servers routed to each other; every write is fsynced (sync_interval
    always), so a killed node loses nothing it acknowledged."""

    home: Path
    log_dir: Path
    nodes: list[NatsNode] = field(default_factory=list)

    @classmethod
    def on_free_ports(cls, home: Path, log_dir: Path) -> NatsCluster:
        nodes = [NatsNode(f"c{i}", free_port(), free_port(), free_port()) for i in range(1, 4)]
        return cls(home, log_dir, nodes)

    @property
    def url(self) -> str:
        """What services are given: one seed, the others learnt from the cluster's gossip."""
        return self.nodes[0].url

    def _config(self, node: NatsNode) -> Path:
        routes = ", ".join(f"nats-route://127.0.0.1:{n.route_port}" for n in self.nodes)
        store = self.home / node.name
        store.mkdir(parents=True, exist_ok=True)
        path = self.home / f"{node.name}.conf"
        path.write_text(
            f"""# Written by tests/cluster/servers.py
server_name: {node.name}
listen: 127.0.0.1:{node.port}
http: 127.0.0.1:{node.monitor_port}
max_payload: 8MB
jetstream {{
  store_dir: "{store}"
  max_memory_store: 64MB
  max_file_store: 2GB
  sync_interval: always
}}
cluster {{
  name: {CLUSTER_NAME}
  listen: 127.0.0.1:{node.route_port}
  routes: [{routes}]
}}
"""
        )
        return path

    async def start(self) -> None:
        binary = _binary("GUICHET_CLUSTER_NATS_BIN")
        for node in self.nodes:
            node.process = ServiceProcess(
                f"cluster-nats-{node.name}",
                [binary, "-c", str(self._config(node))],
                {},
                self.log_dir,
            )
            node.process.start()
        for node in self.nodes:
            assert node.process is not None
            await wait_until(
                lambda node=node: _answers(node.health_url),  # type: ignore[misc]
                seconds=60,
                what=f"NATS {node.name}",
                process=node.process,
            )

    def kill(self, node: NatsNode) -> None:
        assert node.process is not None
        node.process.kill()

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.running:
                node.process.stop()

    def node_named(self, name: str) -> NatsNode:
        return next(node for node in self.nodes if node.name == name)

    async def client(self, *, avoid: NatsNode | None = None) -> NatsClient:
        node = next(n for n in self.nodes if n is not avoid)
        return await connect(node.url, "cluster-test")


async def make_replicated(js: JetStreamContext, name: str, replicas: int = REPLICAS) -> None:
    """Set an existing stream's replica count (JetStream moves its data to the new peers)."""
    config: StreamConfig = (await js.stream_info(name)).config
    if config.num_replicas != replicas:
        config.num_replicas = replicas
        await js.update_stream(config)


@dataclass
class ErasureMinio:
    """One MinIO server over four drives (directories): erasure coding EC:2, so reads need two
    drives and writes three; one drive may go."""

    home: Path
    log_dir: Path
    access_key: str
    secret_key: str
    kms_key: str
    port: int = field(default_factory=free_port)
    console_port: int = field(default_factory=free_port)
    process: ServiceProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def drive(self, number: int) -> Path:
        return self.home / f"d{number}"

    async def start(self) -> None:
        for number in range(1, DRIVES + 1):
            self.drive(number).mkdir(parents=True, exist_ok=True)
        self.process = ServiceProcess(
            "cluster-minio",
            [
                _binary("GUICHET_CLUSTER_MINIO_BIN"),
                "server",
                str(self.home / f"d{{1...{DRIVES}}}"),
                "--address",
                self.endpoint,
                "--console-address",
                f"127.0.0.1:{self.console_port}",
                "--quiet",
            ],
            {
                "MINIO_ROOT_USER": self.access_key,
                "MINIO_ROOT_PASSWORD": self.secret_key,
                "MINIO_KMS_SECRET_KEY": self.kms_key,
                # Four directories of one disk stand for four drives.
                "MINIO_CI_CD": "1",
                "MINIO_UPDATE": "off",
                "MINIO_CALLHOME_ENABLE": "off",
                "MINIO_BROWSER_REDIRECT": "off",
                # The drive figures below are read from the metrics without a token.
                "MINIO_PROMETHEUS_AUTH_TYPE": "public",
            },
            self.log_dir,
        )
        self.process.start()
        await wait_until(
            lambda: _answers(f"http://{self.endpoint}/minio/health/cluster"),
            seconds=90,
            what="MinIO (erasure set)",
            process=self.process,
        )

    def remove_drive(self, number: int) -> Path:
        """The drive disappears under the running server, as when a disk is pulled: its directory
        moves away and a plain file takes its path, so that MinIO cannot make it again (given an
        empty directory there, it formats it as a replaced drive and heals it at once)."""
        drive = self.drive(number)
        gone = drive.with_name(f"{drive.name}.removed")
        shutil.rmtree(gone, ignore_errors=True)
        drive.rename(gone)
        drive.write_text("pulled by the cluster test\n")
        return gone

    async def drives(self) -> dict[str, float]:
        """Online and offline drive counts, as the server reports them."""
        async with httpx.AsyncClient(timeout=10) as client:
            text = (await client.get(f"http://{self.endpoint}/minio/v2/metrics/cluster")).text
        found: dict[str, float] = {}
        for line in text.splitlines():
            for metric in ("minio_cluster_drive_online_total", "minio_cluster_drive_offline_total"):
                if line.startswith(metric):
                    found[metric.split("_")[3]] = float(line.rsplit(" ", 1)[1])
        return found

    async def writable(self) -> bool:
        """The erasure set still has write quorum (MinIO's own cluster health check)."""
        return await _answers(f"http://{self.endpoint}/minio/health/cluster")

    def stop(self) -> None:
        if self.process is not None and self.process.running:
            self.process.stop()


def reset(home: Path) -> None:
    """A fresh data directory for each run."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)


def kms_key(name: str) -> str:
    """MinIO's single-key KMS for this run: `<name>:<base64 of 32 random bytes>` (test only)."""
    return f"{name}:{base64.b64encode(os.urandom(32)).decode()}"
