"""What the benchmarks share: the processes (started like the journeys start them) on databases of
their own, the bare and monolith baselines, the native load generators (wrk, ghz) with a check
that they did not saturate a core, the report, and py-spy profiles.

Load: BENCH_DURATION seconds (10) with BENCH_CONNECTIONS connections (16) per target, after a
warm-up; the generators are found in BENCH_WRK and BENCH_GHZ (scripts/bench.sh installs them).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# One definition of how each service is started and configured: the journeys' launcher
# (scripts/bench.sh puts tests/e2e on the path).
from launcher import Launcher

from guichet_kit.infra import find_root, read_infra_env
from guichet_testkit.db import connect_admin, migrated_database
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port

ROOT = find_root(Path(__file__))
OUT_DIR = ROOT / ".data" / "bench"
# A generator using this share of one core or more was the bottleneck: its figure is void.
SATURATED = 0.9
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Load:
    duration: int
    connections: int
    warmup: int

    @classmethod
    def from_env(cls) -> Load:
        duration = int(os.environ.get("BENCH_DURATION", "10"))
        connections = int(os.environ.get("BENCH_CONNECTIONS", "16"))
        if duration < 1 or connections < 1:
            raise SystemExit("BENCH_DURATION and BENCH_CONNECTIONS must be positive integers")
        return cls(duration, connections, warmup=max(1, min(3, duration // 3)))

    def describe(self) -> str:
        return (
            f"{self.connections} connections, {self.duration} s per target after a"
            f" {self.warmup} s warm-up"
        )


def profiling() -> bool:
    return os.environ.get("BENCH_PROFILE", "") not in ("", "0")


def bench_launcher() -> Launcher:
    return Launcher(
        read_infra_env(ROOT),
        ROOT / ".data" / "log" / "bench",
        extra_env={
            "ETRACKING_LOG_LEVEL": "WARNING",
            "IDENTITY_LOG_LEVEL": "WARNING",
            "GATEWAY_LOG_LEVEL": "WARNING",
        },
    )


async def bench_database(launcher: Launcher, name: str) -> str:
    """A fresh database `name` (<service>_bench), migrated to head: nobody's tests share it."""
    service_dir = ROOT / "services" / name.split("_")[0]
    return await migrated_database(launcher.infra, service_dir, name)


def pid_of(process: ServiceProcess) -> int:
    # The kit keeps the Popen private; the bench needs its id to sample CPU use and to profile.
    popen = process._process
    if popen is None:
        raise RuntimeError(f"{process.name} is not running")
    return popen.pid


async def http_up(url: str) -> bool:
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).status_code < 500


async def start_uvicorn(
    name: str, module: str, env: Mapping[str, str], log_dir: Path
) -> tuple[ServiceProcess, str]:
    """`module:app` from bench/ under uvicorn in a process of its own, like the gateway."""
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", f"{module}:app", "--app-dir", str(ROOT / "bench")]
    args += ["--port", str(port), "--log-level", "warning"]
    process = ServiceProcess(name, args, env, log_dir)
    process.start()
    url = f"http://127.0.0.1:{port}"
    await wait_until(lambda: http_up(f"{url}/docs"), seconds=30, what=name, process=process)
    return process, url


async def start_bare_app(body: object, log_dir: Path) -> tuple[ServiceProcess, str]:
    """A bare FastAPI app serving `body` at every path: the cost of HTTP and JSON alone."""
    return await start_uvicorn(
        "bench-bare", "bare_app", {"BARE_APP_BODY": json.dumps(body)}, log_dir
    )


async def start_monolith(env: Mapping[str, str], log_dir: Path) -> tuple[ServiceProcess, str]:
    """FastAPI + asyncpg doing the services' reads in one process (bench/monolith_app.py)."""
    return await start_uvicorn("bench-monolith", "monolith_app", env, log_dir)


def same_answer(expected: object, got: object, ignore: Sequence[str] = ()) -> list[str]:
    """The top-level keys where two JSON answers differ (a baseline must answer like the API)."""
    if not isinstance(expected, dict) or not isinstance(got, dict):
        return [] if expected == got else ["<body>"]
    keys = (set(expected) | set(got)) - set(ignore)
    return sorted(key for key in keys if expected.get(key) != got.get(key))


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Figure:
    """One target under load: throughput, latency, and who used the CPU meanwhile."""

    name: str
    generator: str
    rate: float = 0.0  # successful requests per second
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    errors: int = 0
    generator_cpu: float = 0.0  # share of one core
    server_cpu: dict[str, float] = field(default_factory=dict)
    machine_cpu: float = 0.0  # cores busy on the whole machine, ours and everybody else's
    # In the server's database meanwhile (PostgreSQL's statistics): connections opened and
    # transactions run, to tell a connection pool that churns or round trips that add up.
    db_sessions: int | None = None
    db_transactions: int | None = None

    @property
    def void(self) -> bool:
        return self.generator_cpu >= SATURATED


def _cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _machine_busy_seconds() -> float:
    """CPU time every core of the machine spent on anything but idling, so far."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS  # less idle and iowait


def _database_counters(database: str) -> tuple[int, int]:
    """Sessions opened and transactions run in `database` so far, from PostgreSQL's statistics
    (which a backend flushes about once a second: wait a little before reading)."""

    async def read() -> tuple[int, int]:
        connection = await connect_admin(read_infra_env(ROOT))
        try:
            row = await connection.fetchrow(
                "SELECT sessions, xact_commit + xact_rollback AS transactions"
                " FROM pg_stat_database WHERE datname = $1",
                database,
            )
        finally:
            await connection.close()
        return (int(row["sessions"]), int(row["transactions"])) if row else (0, 0)

    # The benchmarks call this from inside their event loop: read in a loop of its own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


@contextmanager
def _sampled(servers: Mapping[str, int], figure: Figure, database: str | None) -> Iterator[None]:
    if database:
        time.sleep(1.5)
        sessions, transactions = _database_counters(database)
    started_at = time.monotonic()
    machine = _machine_busy_seconds()
    before = {name: _cpu_seconds(pid) for name, pid in servers.items()}
    yield
    wall = time.monotonic() - started_at
    figure.server_cpu = {
        name: (_cpu_seconds(pid) - before[name]) / wall for name, pid in servers.items()
    }
    figure.machine_cpu = (_machine_busy_seconds() - machine) / wall
    if database:
        time.sleep(1.5)
        sessions_after, transactions_after = _database_counters(database)
        figure.db_sessions = sessions_after - sessions
        figure.db_transactions = transactions_after - transactions


def _run_generator(
    args: Sequence[str],
    figure: Figure,
    servers: Mapping[str, int],
    database: str | None = None,
) -> str:
    """Runs a load generator; its own CPU use comes from the kernel's account of the child."""
    with tempfile.TemporaryFile() as out, _sampled(servers, figure, database):
        started_at = time.monotonic()
        generator = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(generator.pid, 0)
        generator.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started_at
        out.seek(0)
        output = out.read().decode(errors="replace")
    if generator.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({generator.returncode}):\n{output[-2000:]}")
    figure.generator_cpu = (usage.ru_utime + usage.ru_stime) / wall
    return output


# Prints the figures as one JSON line when wrk is done; non-2xx/3xx answers count as errors.
_WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {\\"requests\\":%d,\\"duration_us\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,"
    .. "\\"socket_errors\\":%d,\\"bad_status\\":%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def wrk(
    name: str,
    url: str,
    load: Load,
    *,
    headers: Mapping[str, str] | None = None,
    servers: Mapping[str, int] | None = None,
    database: str | None = None,
    warmup: bool = True,
    json_body: str | None = None,
    method: str = "POST",
) -> Figure:
    """`url` under wrk: one generator thread holding `load.connections` keep-alive connections;
    with `json_body`, each request sends it with `method` (POST unless told)."""
    script = OUT_DIR / (f"wrk-{method.lower()}-report.lua" if json_body else "wrk-report.lua")
    script.parent.mkdir(parents=True, exist_ok=True)
    post = (
        f'wrk.method = "{method}"\nwrk.body = {json.dumps(json_body)}\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        if json_body
        else ""
    )
    script.write_text(post + _WRK_REPORT)
    base = [os.environ.get("BENCH_WRK", "wrk"), "-t1", f"-c{load.connections}", "--timeout", "10s"]
    for key, value in (headers or {}).items():
        base += ["-H", f"{key}: {value}"]
    figure = Figure(name, "wrk")
    if warmup:
        _run_generator(
            [*base, f"-d{load.warmup}s", "-s", str(script), url], Figure(name, "wrk"), {}
        )
    output = _run_generator(
        [*base, f"-d{load.duration}s", "-s", str(script), url], figure, servers or {}, database
    )
    match = re.search(r"^BENCH (\{.*\})$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no figures:\n{output[-2000:]}")
    numbers = json.loads(match.group(1))
    figure.errors = numbers["socket_errors"] + numbers["bad_status"]
    figure.requests = numbers["requests"]
    figure.rate = (numbers["requests"] - numbers["bad_status"]) / (numbers["duration_us"] / 1e6)
    figure.p50_ms, figure.p99_ms = numbers["p50_us"] / 1000, numbers["p99_us"] / 1000
    return figure


def ghz(
    name: str,
    address: str,
    call: str,
    request: Mapping[str, object],
    proto: Path,
    load: Load,
    *,
    servers: Mapping[str, int] | None = None,
    database: str | None = None,
    warmup: bool = True,
    metadata: Mapping[str, str] | None = None,
) -> Figure:
    """A unary gRPC call under ghz: `load.connections` connections, one caller on each;
    `metadata` is sent with every call (e.g. the caller's token)."""
    base = [os.environ.get("BENCH_GHZ", "ghz"), "--insecure", "--proto", str(proto)]
    base += ["--import-paths", str(ROOT / "proto"), "--call", call, "-d", json.dumps(request)]
    if metadata:
        base += ["-m", json.dumps(dict(metadata))]
    base += ["-c", str(load.connections), "--connections", str(load.connections)]
    # Calls still in flight when the time is up are left out, not counted as failures.
    base += ["--duration-stop", "ignore", "--format", "json"]
    figure = Figure(name, "ghz")
    if warmup:
        _run_generator([*base, "-z", f"{load.warmup}s", address], Figure(name, "ghz"), {})
    output = _run_generator(
        [*base, "-z", f"{load.duration}s", address], figure, servers or {}, database
    )
    report = json.loads(output[output.index("{") :])
    statuses: dict[str, int] = report.get("statusCodeDistribution") or {}
    percentiles = {p["percentage"]: p["latency"] for p in report.get("latencyDistribution") or []}
    figure.requests = int(report["count"])
    figure.errors = sum(count for status, count in statuses.items() if status != "OK")
    figure.rate = statuses.get("OK", 0) / (report["total"] / 1e9)
    figure.p50_ms, figure.p99_ms = percentiles.get(50, 0) / 1e6, percentiles.get(99, 0) / 1e6
    return figure


# --- reporting --------------------------------------------------------------------------------


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass(frozen=True)
class Goal:
    """What the issue asks of a figure: `share` times its monolith baseline (or `against`)."""

    share: float
    against: str = "monolith"


def report(
    title: str,
    load: Load,
    figures: Sequence[Figure],
    *,
    bare: Figure,
    monolith: Figure,
    goals: Mapping[str, Goal],
) -> None:
    cores = os.cpu_count() or 1
    print(f"{title}\n  {load.describe()}; CPU in shares of one core")
    print(f"  machine: {cores} cores shared with whoever else runs; load average {_load()}")
    print(
        f"  {'':44}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'gen CPU':>9}{'machine':>9}  server CPU"
    )
    for figure in figures:
        servers = ", ".join(f"{name} {share:.0%}" for name, share in figure.server_cpu.items())
        label = f"{figure.name} ({figure.generator})"
        print(
            f"  {label:44}{figure.rate:8.0f}{figure.p50_ms:9.2f}{figure.p99_ms:9.2f}"
            f"{figure.generator_cpu:9.0%}{figure.machine_cpu:6.2f}/{cores}  {servers}"
        )
        if figure.void:
            print(f"    VOID: {figure.generator} saturated a core; this figure measures the client")
        if figure.db_sessions is not None and figure.db_transactions is not None:
            per_request = figure.db_transactions / max(1, figure.requests)
            print(
                f"    its database meanwhile: {figure.db_sessions} connections opened,"
                f" {per_request:.1f} transactions per request"
            )
        if figure.errors:
            print(f"    {figure.errors} of {figure.requests} requests failed: figure suspect")
    print(f"  {'ratios':44}{'/ bare':>8}{'/ monolith':>11}   goal")
    for figure in figures:
        if figure is bare or figure is monolith:
            continue
        line = (
            f"  {figure.name:44}{figure.rate / bare.rate:8.2f}{figure.rate / monolith.rate:11.2f}"
        )
        if (goal := goals.get(figure.name)) is not None:
            base = monolith if goal.against == "monolith" else bare
            met = figure.rate >= goal.share * base.rate and not (figure.void or base.void)
            line += f"   >= {goal.share}x {goal.against}: {'met' if met else 'NOT met'}"
        print(line)


# --- profiling --------------------------------------------------------------------------------

# Packages whose share of the samples (any frame of theirs on the stack) the summary gives.
PACKAGES = (
    "sqlalchemy",
    "asyncpg",
    "grpc",
    "google/protobuf",
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "httptools",
    "jwt",
    "opentelemetry",
    "prometheus_client",
    "guichet_kit",
    "guichet_etracking",
    "guichet_identity",
    "guichet_gateway",
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


def _split(frame: str) -> tuple[str, str]:
    """`function (file:line)` as py-spy writes it (file from the package on) -> (function, file)."""
    match = _FRAME.match(frame)
    return (match["function"], match["file"]) if match else (frame, "")


def summarise_profile(raw: Path, top: int = 10) -> str:
    """Top self-time frames, package shares and the project's heaviest frames (inclusive) of a
    py-spy raw (collapsed stacks) file."""
    self_time: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_split(frame) for frame in stack.split(";")]
        function, file = frames[-1]
        self_time[f"{function} ({file})"] += count
        files = {file for _, file in frames}
        for package in PACKAGES:
            if any(file.startswith(f"{package}/") for file in files):
                packages[package] += count
        # The project's frames below the entry point (which is under every sample of its thread).
        project = ["guichet" in file for _, file in frames]
        entry = project.index(True) if True in project else 0
        inner = frames[next((i for i in range(entry, len(frames)) if not project[i]), entry) :]
        for frame in {f"{function} ({file})" for function, file in inner if "guichet" in file}:
            ours[frame] += count
    if total == 0:
        return "  no samples (the process was idle or py-spy could not attach)"
    lines = [f"  {total} samples; top {top} frames by self time:"]
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in self_time.most_common(top)]
    shares = ", ".join(
        f"{p} {n / total:.0%}" for p, n in packages.most_common() if n / total > 0.01
    )
    lines.append(f"  samples with a frame of (inclusive): {shares}")
    lines.append("  the project's own frames by inclusive time:")
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in ours.most_common(8)]
    return "\n".join(lines)


@contextmanager
def py_spy(targets: Mapping[str, int], seconds: int) -> Iterator[dict[str, Path]]:
    """py-spy recording each process of `targets` for `seconds` (run the load meanwhile)."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    outputs = {name: OUT_DIR / f"{name}.raw.txt" for name in targets}
    recorders = [
        subprocess.Popen(
            [
                *(str(spy), "record", "--pid", str(pid), "--duration", str(seconds)),
                *("--rate", "100", "--nonblocking", "--format", "raw", "-o", str(outputs[name])),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in targets.items()
    ]
    try:
        yield outputs
    finally:
        for recorder in recorders:
            recorder.wait(timeout=seconds + 30)


def profile_under_load(
    title: str, targets: Mapping[str, int], run: Callable[[], Figure], load: Load
) -> None:
    """Runs the load once more with py-spy on `targets`; its figure is not compared (py-spy
    takes CPU from the same 2 cores), only where the time goes."""
    with py_spy(targets, load.duration) as outputs:
        figure = run()
    print(f"profile under {title} ({figure.rate:.0f} req/s while profiled, not comparable):")
    for name, raw in outputs.items():
        summary = summarise_profile(raw) if raw.exists() else "  py-spy wrote nothing"
        (OUT_DIR / f"{name}.summary.txt").write_text(summary + "\n")
        print(f" {name} (py-spy, {raw.relative_to(ROOT)}):\n{summary}")
