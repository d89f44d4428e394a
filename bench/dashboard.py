"""The dashboard (F80): `GET /api/v1/dashboard` through the gateway (wrk) against the direct gRPC
calls it makes (ghz), measured in the same run: etracking's ListMyTrackings and identity's
ListRelations, with the same bearer token. The goal is the gateway's p50 at most 1.5 times and
its p99 at most twice the slowest direct call's.

Starts identity, etracking and a gateway on databases of the bench's own (identity_bench,
etracking_bench); a bench citizen is registered and signed in (real Keycloak token), holds one
mandate from a second citizen (granted at level high with a certificate) and has six eTrackings.
Each target is loaded twice: with BENCH_CONNECTIONS connections, and with one (latency without
queueing: what the fan-out itself costs).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
from citizens import Registry
from common import ROOT, Figure, Load, bench_database, bench_launcher, ghz, pid_of, wrk

from guichet_testkit.processes import ServiceProcess

GATEWAY = "gateway GET /api/v1/dashboard"
TRACKINGS = "etracking gRPC ListMyTrackings"
RELATIONS = "identity gRPC ListRelations"
PROTOS = {
    TRACKINGS: ROOT / "proto" / "guichet" / "etracking" / "v1" / "etracking.proto",
    RELATIONS: ROOT / "proto" / "guichet" / "identity" / "v1" / "identity.proto",
}
CALLS = {
    TRACKINGS: "guichet.etracking.v1.TrackingService.ListMyTrackings",
    RELATIONS: "guichet.identity.v1.RelationService.ListRelations",
}
GOAL_P50, GOAL_P99 = 1.5, 2.0
LANGUAGE = "en"


def print_figures(title: str, figures: list[Figure]) -> None:
    print(f"  {title}")
    print(f"    {'':40}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'gen CPU':>9}  server CPU")
    for figure in figures:
        servers = ", ".join(f"{name} {share:.0%}" for name, share in figure.server_cpu.items())
        label = f"{figure.name} ({figure.generator})"
        print(
            f"    {label:40}{figure.rate:8.0f}{figure.p50_ms:9.2f}{figure.p99_ms:9.2f}"
            f"{figure.generator_cpu:9.0%}  {servers}"
        )
        if figure.void:
            print(f"      VOID: {figure.generator} saturated a core; this measures the client")
        if figure.errors:
            print(f"      {figure.errors} of {figure.requests} requests failed: figure suspect")


async def unavailable_sections(gateway_url: str) -> float:
    """Sections the gateway answered unavailable so far (its Prometheus counter): a dashboard
    that misses its deadline under the load still answers 200, so wrk alone would not tell."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{gateway_url}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("guichet_dashboard_sections_unavailable_total{")
    )


def print_ratios(gateway: Figure, direct: list[Figure]) -> None:
    slowest_p50 = max(direct, key=lambda figure: figure.p50_ms)
    slowest_p99 = max(direct, key=lambda figure: figure.p99_ms)
    p50 = gateway.p50_ms / slowest_p50.p50_ms
    p99 = gateway.p99_ms / slowest_p99.p99_ms
    print(
        f"    p50 ratio gateway / slowest direct call ({slowest_p50.name}): {p50:5.2f}"
        f"   goal <= {GOAL_P50}x: {'met' if p50 <= GOAL_P50 else 'NOT met'}"
    )
    print(
        f"    p99 ratio gateway / slowest direct call ({slowest_p99.name}): {p99:5.2f}"
        f"   goal <= {GOAL_P99}x: {'met' if p99 <= GOAL_P99 else 'NOT met'}"
    )


async def main() -> None:
    load = Load.from_env()
    launcher = bench_launcher()
    infra = launcher.infra
    identity_db = await bench_database(launcher, "identity_bench")
    etracking_db = await bench_database(launcher, "etracking_bench")
    processes: list[ServiceProcess] = []
    registry: Registry | None = None
    try:
        identity = await launcher.identity(identity_db, name="bench-identity")
        processes.append(identity.process)
        launcher.identity_address = identity.address
        etracking = await launcher.etracking(etracking_db, name="bench-etracking")
        processes.append(etracking.process)
        gateway = await launcher.gateway(etracking.address, burst=100_000_000, name="bench-gateway")
        processes.append(gateway.process)
        async with httpx.AsyncClient(base_url=gateway.address, timeout=60) as api:
            registry = Registry(api, infra, Path(tempfile.mkdtemp(prefix="bench-dashboard-")))
            citizen = await registry.register("Bench")
            giver = await registry.register("Giver")
            await registry.step_up_to_high(giver)
            granted = await api.post(
                "/api/v1/me/relations",
                headers=giver.bearer("high"),
                json={
                    "actor_national_id": citizen.national_id,
                    "kind": "spouse",
                    "rights": ["etracking:read"],
                    "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
                },
            )
            granted.raise_for_status()
            for _ in range(6):
                created = await api.post(
                    "/api/v1/etracking/trackings",
                    headers=citizen.bearer(),
                    json={"paper_form_code": "ACD-IR-100"},
                )
                created.raise_for_status()
            token = citizen.tokens["low"].access_token
            headers = {"Authorization": f"Bearer {token}", "Accept-Language": LANGUAGE}
            body = (await api.get("/api/v1/dashboard", headers=headers)).raise_for_status().json()
        statuses = {
            name: section["status"] for name, section in body.items() if name != "acting_context"
        }
        if set(statuses.values()) != {"available"} or body["etrackings"]["total"] != 6:
            raise SystemExit(f"the dashboard is not complete before the load: {statuses}")
        expires_in = jwt.decode(token, options={"verify_signature": False})["exp"] - time.time()
        needed = 6 * (load.duration + load.warmup) + 10
        if expires_in < needed:
            print(f"  warning: the token expires in {expires_in:.0f} s, the run takes ~{needed} s")

        pids = {
            "gateway": pid_of(gateway.process),
            "etracking": pid_of(etracking.process),
            "identity": pid_of(identity.process),
        }
        metadata = {"authorization": f"Bearer {token}", "x-language": LANGUAGE}
        requests = {TRACKINGS: {"language": LANGUAGE}, RELATIONS: {}}
        owner = {TRACKINGS: "etracking", RELATIONS: "identity"}
        address = {TRACKINGS: etracking.address, RELATIONS: identity.address}

        print(
            f"GET /api/v1/dashboard ({len(body['etrackings']['items'])} eTrackings of 6, "
            f"{body['mandates']['total']} mandate, {len(body['news']['items'])} news items) "
            "against its direct gRPC calls, same token, same run"
        )
        for connections in (load.connections, 1):
            this_load = Load(load.duration, connections, load.warmup)
            direct = [
                ghz(
                    name,
                    address[name],
                    CALLS[name],
                    requests[name],
                    PROTOS[name],
                    this_load,
                    servers={owner[name]: pids[owner[name]]},
                    metadata=metadata,
                )
                for name in (TRACKINGS, RELATIONS)
            ]
            degraded_before = await unavailable_sections(gateway.address)
            via_gateway = wrk(
                GATEWAY,
                f"{gateway.address}/api/v1/dashboard",
                this_load,
                headers=headers,
                servers=pids,
            )
            degraded = await unavailable_sections(gateway.address) - degraded_before
            print_figures(this_load.describe(), [*direct, via_gateway])
            print(
                f"    sections answered unavailable (past the deadline) during the gateway's load"
                f" and warm-up: {degraded:.0f}" + (" - its figures flatter it" if degraded else "")
            )
            print_ratios(via_gateway, direct)
    finally:
        if registry is not None:
            await asyncio.to_thread(registry.cleanup)
        for process in reversed(processes):
            process.stop()


if __name__ == "__main__":
    asyncio.run(main())
