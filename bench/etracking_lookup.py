"""Public eTracking lookups per second: gateway vs direct gRPC vs a bare FastAPI endpoint.

Starts its own etracking and gateway processes on the database migrated by `make migrate`, and a
bare FastAPI app returning the same JSON as the gateway, then drives each with the same number of
concurrent clients for the same number of requests. Prints the rates and their ratios, measured
in one run on one machine, so that the figure to watch is the ratio, not the absolute rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.infra import find_root, postgres_url, read_infra_env
from guichet_kit.testing import ServiceProcess, free_port, grpc_serving, wait_until


async def rate(call: Callable[[], Awaitable[None]], requests: int, concurrency: int) -> float:
    """Requests per second for `requests` calls spread over `concurrency` loops."""
    per_loop = requests // concurrency

    async def loop() -> None:
        for _ in range(per_loop):
            await call()

    for _ in range(min(50, per_loop)):  # warm up connections and caches
        await call()
    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return per_loop * concurrency / (time.perf_counter() - started)


async def http_up(url: str) -> bool:
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).status_code < 500


async def main(requests: int, concurrency: int) -> None:
    root = find_root(Path(__file__))
    infra = read_infra_env(root)
    logs = root / ".data" / "log" / "bench"
    pki = Path(infra["GUICHET_PKI_DIR"])
    grpc_port, gateway_port, bare_port = free_port(), free_port(), free_port()
    etracking = ServiceProcess(
        "bench-etracking",
        [sys.executable, "-m", "guichet_etracking", "all"],
        {
            "ETRACKING_DATABASE_URL": postgres_url(infra, "etracking"),
            "ETRACKING_NATS_URL": infra["GUICHET_NATS_URL"],
            "ETRACKING_GRPC_ADDRESS": f"127.0.0.1:{grpc_port}",
            "ETRACKING_ADMIN_GRPC_ADDRESS": f"127.0.0.1:{free_port()}",
            "ETRACKING_TLS_CERTIFICATE": str(pki / "services" / "etracking.crt"),
            "ETRACKING_TLS_PRIVATE_KEY": str(pki / "services" / "etracking.key"),
            "ETRACKING_ADMINISTRATIONS_CA": str(pki / "ca.crt"),
            "ETRACKING_LOG_LEVEL": "WARNING",
            "ETRACKING_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
            "ETRACKING_CA_FILE": infra["GUICHET_CA_FILE"],
        },
        logs,
    )
    gateway = ServiceProcess(
        "bench-gateway",
        [sys.executable, "-m", "guichet_gateway"],
        {
            "GATEWAY_PORT": str(gateway_port),
            "GATEWAY_ETRACKING_ADDRESS": f"127.0.0.1:{grpc_port}",
            "GATEWAY_LOOKUP_BURST": str(10 * requests),
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
            "GATEWAY_CA_FILE": infra["GUICHET_CA_FILE"],
        },
        logs,
    )
    processes = [etracking, gateway]
    try:
        etracking.start()
        await wait_until(
            lambda: grpc_serving(f"127.0.0.1:{grpc_port}"),
            seconds=60,
            what="etracking",
            process=etracking,
        )
        gateway.start()
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        await wait_until(
            lambda: http_up(f"{gateway_url}/openapi.json"),
            seconds=60,
            what="gateway",
            process=gateway,
        )
        async with httpx.AsyncClient(base_url=gateway_url) as client:
            created = await client.post(
                "/api/v1/etracking/trackings", json={"paper_form_code": "ACD-IR-100"}
            )
            created.raise_for_status()
            number = created.json()["number"]
            body = (await client.get(f"/api/v1/etracking/trackings/{number}")).json()

        bare = ServiceProcess(
            "bench-bare",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_lookup_app:app",
                "--app-dir",
                str(root / "bench"),
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
            ],
            {"BARE_LOOKUP_BODY": json.dumps(body)},
            logs,
        )
        processes.append(bare)
        bare.start()
        bare_url = f"http://127.0.0.1:{bare_port}"
        await wait_until(
            lambda: http_up(f"{bare_url}/api/v1/etracking/trackings/x"),
            seconds=30,
            what="bare app",
            process=bare,
        )

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with (
            httpx.AsyncClient(base_url=gateway_url, limits=limits) as via_gateway,
            httpx.AsyncClient(base_url=bare_url, limits=limits) as via_bare,
            insecure_channel(f"127.0.0.1:{grpc_port}", timeout=10) as channel,
        ):
            stub = pb_grpc.TrackingServiceStub(channel)
            path = f"/api/v1/etracking/trackings/{number}"

            async def gateway_call() -> None:
                (await via_gateway.get(path)).raise_for_status()

            async def bare_call() -> None:
                (await via_bare.get(path)).raise_for_status()

            async def grpc_call() -> None:
                await stub.LookupTracking(pb.LookupTrackingRequest(number=number))

            bare_rate = await rate(bare_call, requests, concurrency)
            grpc_rate = await rate(grpc_call, requests, concurrency)
            gateway_rate = await rate(gateway_call, requests, concurrency)
    finally:
        for process in reversed(processes):
            process.stop()

    print(f"etracking lookup, {requests} requests, {concurrency} concurrent clients")
    print(f"  bare FastAPI (same JSON, no work)   {bare_rate:8.0f} req/s")
    print(f"  direct gRPC LookupTracking           {grpc_rate:8.0f} req/s")
    print(f"  gateway GET /trackings/{{number}}      {gateway_rate:8.0f} req/s")
    print(f"  ratio gateway / bare FastAPI         {gateway_rate / bare_rate:8.2f}")
    print(f"  ratio gateway / direct gRPC          {gateway_rate / grpc_rate:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.concurrency))
