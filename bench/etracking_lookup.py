"""Public eTracking lookups per second: gateway vs direct gRPC vs a bare FastAPI endpoint.

Starts its own etracking and gateway processes on the database migrated by `make migrate`, and a
bare FastAPI app returning the same JSON as the gateway, then drives each with the same number of
concurrent clients for the same number of requests. Prints the rates and their ratios, measured
in one run on one machine, so that the figure to watch is the ratio, not the absolute rate.
"""

from __future__ import annotations

import argparse
import asyncio

import httpx
from common import bench_launcher, rate, start_bare_app

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.infra import postgres_url


async def main(requests: int, concurrency: int) -> None:
    launcher = bench_launcher()
    etracking = await launcher.etracking(
        postgres_url(launcher.infra, "etracking"), name="bench-etracking"
    )
    gateway = await launcher.gateway(etracking.address, burst=10 * requests, name="bench-gateway")
    processes = [etracking.process, gateway.process]
    try:
        async with httpx.AsyncClient(base_url=gateway.address) as client:
            created = await client.post(
                "/api/v1/etracking/trackings", json={"paper_form_code": "ACD-IR-100"}
            )
            created.raise_for_status()
            number = created.json()["number"]
            body = (await client.get(f"/api/v1/etracking/trackings/{number}")).json()
        bare, bare_url = await start_bare_app(body, launcher.log_dir)
        processes.append(bare)

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with (
            httpx.AsyncClient(base_url=gateway.address, limits=limits) as via_gateway,
            httpx.AsyncClient(base_url=bare_url, limits=limits) as via_bare,
            insecure_channel(etracking.address, timeout=10) as channel,
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.concurrency))
