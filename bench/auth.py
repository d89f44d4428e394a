"""Authentication cost: token verification in the gateway's dependency vs a bare PyJWT loop, and
`GET /api/v1/me` through the gateway vs a bare FastAPI endpoint returning the same JSON.

Uses a real Keycloak token: a bench citizen is registered through the gateway, confirmed through
the mail sink and signed in with the headless login agent, then removed from Keycloak at the end.
Everything is measured in one run; the ratios are the figures to watch.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
import jwt
from citizens import Registry
from common import bench_launcher, rate, start_bare_app
from fastapi import FastAPI
from starlette.requests import Request

from guichet_gateway.deps import verify_caller
from guichet_kit.auth import TokenVerifier
from guichet_kit.infra import postgres_url


def _request(app: FastAPI, token: str) -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "app": app})


async def verifications_per_second(token: str, infra: dict[str, str], count: int) -> float:
    app = FastAPI()
    app.state.verifier = TokenVerifier(
        infra["GUICHET_KEYCLOAK_ISSUER"], "guichet-api", ca_file=Path(infra["GUICHET_CA_FILE"])
    )
    await verify_caller(_request(app, token), required=True)  # the one JWKS fetch
    started = time.perf_counter()
    for _ in range(count):
        await verify_caller(_request(app, token), required=True)
    return count / (time.perf_counter() - started)


def bare_pyjwt_per_second(token: str, infra: dict[str, str], count: int) -> float:
    issuer = infra["GUICHET_KEYCLOAK_ISSUER"]
    jwks = httpx.get(f"{issuer}/protocol/openid-connect/certs", verify=infra["GUICHET_CA_FILE"])
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in jwks.json()["keys"] if k["kid"] == kid))
    started = time.perf_counter()
    for _ in range(count):
        jwt.decode(token, key=key, algorithms=["RS256"], audience="guichet-api", issuer=issuer)
    return count / (time.perf_counter() - started)


async def main(verifications: int, requests: int, concurrency: int) -> None:
    launcher = bench_launcher()
    infra = launcher.infra
    identity = await launcher.identity(postgres_url(infra, "identity"), name="bench-identity")
    launcher.identity_address = identity.address
    gateway = await launcher.gateway("127.0.0.1:1", burst=10 * requests, name="bench-gateway")
    processes = [identity.process, gateway.process]
    work_dir = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    async with httpx.AsyncClient(base_url=gateway.address, timeout=30) as api:
        registry = Registry(api, infra, work_dir)
        try:
            citizen = await registry.register("Bench")
            token = citizen.tokens["low"].access_token
            verify_rate = await verifications_per_second(token, infra, verifications)
            pyjwt_rate = await asyncio.to_thread(bare_pyjwt_per_second, token, infra, verifications)

            headers = {"Authorization": f"Bearer {token}"}
            body = (await api.get("/api/v1/me", headers=headers)).json()
            bare, bare_url = await start_bare_app(body, launcher.log_dir)
            processes.append(bare)
            limits = httpx.Limits(max_connections=concurrency)
            async with (
                httpx.AsyncClient(base_url=gateway.address, limits=limits) as via_gateway,
                httpx.AsyncClient(base_url=bare_url, limits=limits) as via_bare,
            ):

                async def me_call() -> None:
                    (await via_gateway.get("/api/v1/me", headers=headers)).raise_for_status()

                async def bare_call() -> None:
                    (await via_bare.get("/api/v1/me", headers=headers)).raise_for_status()

                bare_rate = await rate(bare_call, requests, concurrency)
                me_rate = await rate(me_call, requests, concurrency)
        finally:
            await asyncio.to_thread(registry.cleanup)
            for process in reversed(processes):
                process.stop()

    print(f"token verification, {verifications} times the same Keycloak access token")
    print(f"  bare PyJWT decode (key prepared)       {pyjwt_rate:9.0f} /s")
    print(f"  gateway dependency (verify + context)  {verify_rate:9.0f} /s")
    print(f"  ratio dependency / bare PyJWT          {verify_rate / pyjwt_rate:9.2f}")
    print(f"GET /api/v1/me, {requests} requests, {concurrency} concurrent clients")
    print(f"  bare FastAPI (same JSON)               {bare_rate:9.0f} req/s")
    print(f"  gateway (verify, 2 identity calls)     {me_rate:9.0f} req/s")
    print(f"  ratio gateway / bare FastAPI           {me_rate / bare_rate:9.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--verifications", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.verifications, arguments.requests, arguments.concurrency))
