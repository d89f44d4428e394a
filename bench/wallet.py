"""The wallet's files through the gateway (issue 8), measured with curl (native, one transfer at a
time: these are single big transfers, not a rate):

1. a 10 MB upload through the gateway → wallet (file pipeline: type, SHA-256, antivirus,
   quarantine then the wallet's bucket) → MinIO, against a direct minio-py put of the same bytes
   into a bucket encrypted the same way: goal at least 0.8 times the direct throughput;
2. a 10 MB download through the gateway against a direct minio-py get: goal at least 0.8 times;
3. a 1 GB upload through the gateway: the growth of the gateway's and the wallet's resident memory
   (peak, VmHWM reset before the upload, and VmRSS sampled meanwhile): goal ≤ 50 MB each.

Each transfer is repeated BENCH_WALLET_RUNS times (5) after a warm-up; the median is kept. The
processes run on databases of the bench's own (identity_bench, wallet_bench) and buckets of their
own (bench-wallet-*); a clamd of the bench's own accepts 1 GB streams (the development one stops
at 64 MB), on the development signature database.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from citizens import Citizen, Registry
from common import OUT_DIR, ROOT, bench_database, bench_launcher, pid_of
from minio import Minio
from minio.sse import SseS3
from minio.sseconfig import Rule, SSEConfig

from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port

MB = 1_000_000
SMALL = 10 * MB
LARGE = 1_000 * MB
GOAL_RATIO = 0.8
GOAL_GROWTH = 50 * MB
RUNS = int(os.environ.get("BENCH_WALLET_RUNS", "5"))
PREFIX = "bench-wallet"
DIRECT_BUCKET = f"{PREFIX}-direct"
CURL = os.environ.get("BENCH_CURL", "curl")


def pdf_file(path: Path, size: int) -> Path:
    """A PDF of `size` bytes (comment lines after the header), written once and kept."""
    if path.exists() and path.stat().st_size == size:
        return path
    line = b"%" + b"x" * 1022 + b"\n"
    with path.open("wb") as out:
        head = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
        out.write(head)
        written = len(head)
        tail = b"%%EOF\n"
        while written + len(line) + len(tail) <= size:
            out.write(line)
            written += len(line)
        out.write(b"%" + b"x" * (size - written - len(tail) - 2) + b"\n" + tail)
    assert path.stat().st_size == size
    return path


# --- a clamd of the bench's own ------------------------------------------------------------------


async def start_clamd(log_dir: Path) -> tuple[ServiceProcess, str]:
    port = free_port()
    work = OUT_DIR / "clamd"
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    config = work / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                f"DatabaseDirectory {ROOT / '.data' / 'clamav' / 'db'}",
                f"TCPSocket {port}",
                "TCPAddr 127.0.0.1",
                "Foreground yes",
                f"TemporaryDirectory {work / 'tmp'}",
                # A 1 GB file is streamed and scanned whole, as any file.
                "StreamMaxLength 1100M",
                "MaxFileSize 1100M",
                "MaxScanSize 1100M",
                "AlertExceedsMax yes",
                "",
            ]
        )
    )
    binary = shutil.which("clamd") or "/usr/sbin/clamd"
    process = ServiceProcess("bench-clamd", [binary, "-c", str(config)], {}, log_dir)
    process.start()

    async def answers() -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.write(b"zPING\0")
        await writer.drain()
        reply = await reader.read(16)
        writer.close()
        return reply.startswith(b"PONG")

    await wait_until(answers, seconds=120, what="the bench's clamd", process=process)
    return process, f"127.0.0.1:{port}"


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Transfers:
    name: str
    size: int
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rate(self) -> float:
        """MB per second at the median."""
        return self.size / MB / self.median


def curl(args: list[str]) -> tuple[int, float, str]:
    """One transfer with curl: its HTTP status, total seconds, and the body it wrote."""
    with tempfile.NamedTemporaryFile() as body:
        done = subprocess.run(
            [CURL, "-sS", "-o", body.name, "-w", "%{http_code} %{time_total}", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        status, seconds = done.stdout.split()
        return int(status), float(seconds), Path(body.name).read_text(errors="replace")


def upload_with_curl(url: str, token: str, path: Path) -> tuple[float, dict[str, Any]]:
    status, seconds, body = curl(
        [
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            "Expect:",
            "-F",
            "type=other",
            "-F",
            f"file=@{path};type=application/pdf",
            f"{url}/api/v1/wallet/pieces",
        ]
    )
    if status != 201:
        raise RuntimeError(f"upload answered {status}: {body[:500]}")
    return seconds, json.loads(body)


def download_with_curl(url: str, token: str, path: str) -> float:
    status, seconds, _ = curl(["-H", f"Authorization: Bearer {token}", f"{url}{path}"])
    if status != 200:
        raise RuntimeError(f"download answered {status}")
    return seconds


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid`, in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


def reset_peak(pid: int) -> bool:
    """Sets VmHWM back to the current RSS (Linux: clear_refs 5); False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Sampler(threading.Thread):
    """VmRSS of each process every 50 ms while the upload runs (a cross-check of VmHWM)."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = {name: 0 for name in pids}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], memory(pid)["VmRSS"])


# --- the run --------------------------------------------------------------------------------------


async def fresh_token(registry: Registry, citizen: Citizen) -> str:
    """A token for the next transfers (a 1 GB upload outlasts a sign-in's few minutes)."""
    tokens = await registry.agent.login(citizen.email, citizen.password)
    return str(tokens.access_token)


def direct_client(infra: dict[str, str]) -> Minio:
    client = Minio(
        infra["GUICHET_MINIO_ENDPOINT"],
        access_key=infra["GUICHET_MINIO_ACCESS_KEY"],
        secret_key=infra["GUICHET_MINIO_SECRET_KEY"],
        secure=False,
    )
    if not client.bucket_exists(DIRECT_BUCKET):
        client.make_bucket(DIRECT_BUCKET)
    # Encrypted at rest as the wallet's buckets are.
    client.set_bucket_encryption(DIRECT_BUCKET, SSEConfig(Rule.new_sse_s3_rule()))
    return client


def direct_put(client: Minio, data: bytes, key: str) -> float:
    started = time.perf_counter()
    client.put_object(DIRECT_BUCKET, key, io.BytesIO(data), len(data), sse=SseS3())
    return time.perf_counter() - started


def direct_get(client: Minio, key: str) -> float:
    started = time.perf_counter()
    response = client.get_object(DIRECT_BUCKET, key)
    try:
        for _ in response.stream(1024 * 1024):
            pass
    finally:
        response.close()
        response.release_conn()
    return time.perf_counter() - started


async def seconds_spent(metrics_url: str, metric: str, label: str) -> tuple[float, float]:
    """(sum, count) of a Prometheus histogram's series whose labels hold `label`."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(metrics_url)).text
    found = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        for part in found:
            if line.startswith(f"{metric}_{part}{{") and label in line:
                found[part] += float(line.rsplit(" ", 1)[1])
    return found["sum"], found["count"]


@dataclass
class Spent:
    """Where a transfer's time went: the gateway's handling and the wallet's, each as its
    process measured it (their own metrics), averaged over the measured transfers."""

    gateway: float = 0.0
    wallet: float = 0.0


async def measure_spent(
    gateway_metrics: str, wallet_metrics: str, route: str, rpc: str, phase: Any
) -> Spent:
    gateway_before = await seconds_spent(gateway_metrics, "guichet_http_request_seconds", route)
    wallet_before = await seconds_spent(wallet_metrics, "guichet_grpc_server_handling_seconds", rpc)
    await phase()
    gateway_after = await seconds_spent(gateway_metrics, "guichet_http_request_seconds", route)
    wallet_after = await seconds_spent(wallet_metrics, "guichet_grpc_server_handling_seconds", rpc)

    def mean(before: tuple[float, float], after: tuple[float, float]) -> float:
        calls = after[1] - before[1]
        return (after[0] - before[0]) / calls if calls else 0.0

    return Spent(mean(gateway_before, gateway_after), mean(wallet_before, wallet_after))


def verdict(ratio: float) -> str:
    return "met" if ratio >= GOAL_RATIO else "NOT met"


async def main() -> None:
    launcher = bench_launcher()
    launcher.extra_env.update(
        {
            "WALLET_LOG_LEVEL": "WARNING",
            # Room for the 1 GB file, at the gateway and at the wallet.
            "GATEWAY_WALLET_MAX_FILE_BYTES": str(LARGE + MB),
        }
    )
    infra = launcher.infra
    log_dir = launcher.log_dir
    identity_db = await bench_database(launcher, "identity_bench")
    wallet_db = await bench_database(launcher, "wallet_bench")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    small = pdf_file(OUT_DIR / "wallet-10mb.pdf", SMALL)
    large = pdf_file(OUT_DIR / "wallet-1gb.pdf", LARGE)
    processes: list[ServiceProcess] = []
    registry: Registry | None = None
    try:
        clamd, clamd_address = await start_clamd(log_dir)
        processes.append(clamd)
        identity = await launcher.identity(identity_db, name="bench-identity")
        processes.append(identity.process)
        launcher.identity_address = identity.address
        wallet = await launcher.wallet(
            wallet_db,
            PREFIX,
            name="bench-wallet",
            clamav_address=clamd_address,
            max_file_bytes=str(LARGE + MB),
            max_pieces="1000",
            metrics_port=str(wallet_metrics_port := free_port()),
        )
        processes.append(wallet.process)
        # The gateway needs an etracking address; nothing here calls it.
        gateway = await launcher.gateway(f"127.0.0.1:{free_port()}", burst=10**9, name="bench-gw")
        processes.append(gateway.process)
        url = gateway.address
        gateway_metrics = f"{url}/metrics"
        wallet_metrics = f"http://127.0.0.1:{wallet_metrics_port}/metrics"
        client = direct_client(infra)
        small_bytes = small.read_bytes()

        async with httpx.AsyncClient(base_url=url, timeout=120) as api:
            registry = Registry(api, infra, Path(tempfile.mkdtemp(prefix="bench-wallet-")))
            citizen = await registry.register("Bench")

            # 1. 10 MB up: the gateway's path against a direct put (warm-up first).
            token = await fresh_token(registry, citizen)
            await asyncio.to_thread(upload_with_curl, url, token, small)
            direct_put(client, small_bytes, "warm-up")
            up_gateway = Transfers("upload via gateway→wallet→MinIO (curl)", SMALL)
            up_direct = Transfers("direct minio-py put", SMALL)
            downloads: list[str] = []

            async def uploads() -> None:
                for _ in range(RUNS):
                    seconds, stored = await asyncio.to_thread(upload_with_curl, url, token, small)
                    up_gateway.seconds.append(seconds)
                    downloads.append(stored["version"]["download_url"])

            up_spent = await measure_spent(
                gateway_metrics, wallet_metrics, '"/api/v1/wallet/pieces"', "UploadFile", uploads
            )
            for run in range(RUNS):
                up_direct.seconds.append(direct_put(client, small_bytes, f"direct-{run}"))

            # 2. 10 MB down: through the gateway against a direct get.
            token = await fresh_token(registry, citizen)
            await asyncio.to_thread(download_with_curl, url, token, downloads[0])
            direct_get(client, "warm-up")
            down_gateway = Transfers("download via gateway (curl)", SMALL)
            down_direct = Transfers("direct minio-py get", SMALL)

            async def downloaded() -> None:
                for run in range(RUNS):
                    down_gateway.seconds.append(
                        await asyncio.to_thread(download_with_curl, url, token, downloads[run])
                    )

            down_spent = await measure_spent(
                gateway_metrics,
                wallet_metrics,
                "/versions/{version_id}",
                "DownloadFile",
                downloaded,
            )
            for run in range(RUNS):
                down_direct.seconds.append(direct_get(client, f"direct-{run}"))

            # 3. 1 GB up: the memory of the gateway and the wallet meanwhile.
            pids = {"gateway": pid_of(gateway.process), "wallet": pid_of(wallet.process)}
            token = await fresh_token(registry, citizen)
            resets = {name: reset_peak(pid) for name, pid in pids.items()}
            before = {name: memory(pid)["VmRSS"] for name, pid in pids.items()}
            sampler = Sampler(pids)
            sampler.start()
            try:
                large_seconds, _ = await asyncio.to_thread(upload_with_curl, url, token, large)
            finally:
                sampler.stop.set()
                sampler.join()
            after = {name: memory(pid) for name, pid in pids.items()}

            # What the bench stored goes again.
            listed = await api.get(
                "/api/v1/wallet/pieces", headers={"Authorization": f"Bearer {token}"}
            )
            for piece in listed.json()["items"]:
                await api.delete(
                    f"/api/v1/wallet/pieces/{piece['piece_id']}",
                    headers={"Authorization": f"Bearer {token}"},
                )
            for item in client.list_objects(DIRECT_BUCKET):
                client.remove_object(DIRECT_BUCKET, item.object_name)

        print(
            f"Wallet files through the gateway: median of {RUNS} transfers each (curl; "
            "direct: minio-py), same run"
        )
        print(f"  {'':48}{'median s':>10}{'MB/s':>9}")
        for figures in (up_gateway, up_direct, down_gateway, down_direct):
            print(
                f"  {figures.name + f' {figures.size // MB} MB':48}"
                f"{figures.median:10.3f}{figures.rate:9.1f}"
            )
        for what, spent, total in (
            ("upload", up_spent, up_gateway.median),
            ("download", down_spent, down_gateway.median),
        ):
            print(
                f"  {what}: as measured by each process (mean): the gateway's handling "
                f"{spent.gateway:.3f} s, of which the wallet's {spent.wallet:.3f} s; curl's "
                f"median {total:.3f} s"
            )
        up_ratio = up_gateway.rate / up_direct.rate
        down_ratio = down_gateway.rate / down_direct.rate
        print(
            f"  upload 10 MB, gateway / direct: {up_ratio:5.2f}   goal >= {GOAL_RATIO}x: "
            f"{verdict(up_ratio)}"
        )
        print(
            f"  download 10 MB, gateway / direct: {down_ratio:5.2f}   goal >= {GOAL_RATIO}x: "
            f"{verdict(down_ratio)}"
        )
        print(
            f"  upload 1 GB via the gateway: {large_seconds:.1f} s "
            f"({LARGE / MB / large_seconds:.1f} MB/s)"
        )
        for name, pid in pids.items():
            peak = max(after[name]["VmHWM"] if resets[name] else 0, sampler.peak[name])
            growth = peak - before[name]
            met = "met" if growth <= GOAL_GROWTH else "NOT met"
            source = "VmHWM reset before, and VmRSS sampled" if resets[name] else "VmRSS sampled"
            print(
                f"  {name} (pid {pid}) resident memory: {before[name] / MB:.1f} MB before, "
                f"peak {peak / MB:.1f} MB ({source}): growth {growth / MB:.1f} MB"
                f"   goal <= {GOAL_GROWTH // MB} MB: {met}"
            )
    finally:
        if registry is not None:
            await asyncio.to_thread(registry.cleanup)
        for process in reversed(processes):
            process.stop()


if __name__ == "__main__":
    asyncio.run(main())
