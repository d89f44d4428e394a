"""Authentication cost: `GET /api/v1/me` through the gateway (wrk) against a bare FastAPI app
returning the same JSON and a monolith (FastAPI + asyncpg + PyJWT) doing the same reads; and token
verification in the gateway's dependency against a bare PyJWT decode (CPU only: a loop in this
process).

Uses a real Keycloak token: a bench citizen is registered through the gateway on an identity
database of the bench's own (identity_bench), confirmed through the mail sink and signed in with
the headless login agent, then removed from Keycloak at the end. Everything is measured in one
run; the ratios are the figures to watch. With BENCH_PROFILE=1 the /me load is run once more
under py-spy (gateway and identity).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx
import jwt
from citizens import Registry
from common import (
    Figure,
    Goal,
    Load,
    bench_database,
    bench_launcher,
    pid_of,
    profile_under_load,
    profiling,
    report,
    same_answer,
    start_bare_app,
    start_monolith,
    wrk,
)
from fastapi import FastAPI
from starlette.requests import Request

from guichet_gateway.deps import verify_caller
from guichet_kit.auth import TokenVerifier
from guichet_testkit.processes import ServiceProcess

ME = "gateway GET /api/v1/me"
VERIFY_GOAL = 1.5
DATABASE = "identity_bench"


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


async def main(verifications: int) -> None:
    load = Load.from_env()
    launcher = bench_launcher()
    infra = launcher.infra
    database = await bench_database(launcher, DATABASE)
    processes: list[ServiceProcess] = []
    work_dir = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    registry: Registry | None = None
    try:
        identity = await launcher.identity(database, name="bench-identity")
        processes.append(identity.process)
        launcher.identity_address = identity.address
        gateway = await launcher.gateway("127.0.0.1:1", burst=100_000, name="bench-gateway")
        processes.append(gateway.process)
        async with httpx.AsyncClient(base_url=gateway.address, timeout=30) as api:
            registry = Registry(api, infra, work_dir)
            citizen = await registry.register("Bench")
            token = citizen.tokens["low"].access_token
            headers = {"Authorization": f"Bearer {token}"}
            body = (await api.get("/api/v1/me", headers=headers)).raise_for_status().json()

        verify_rate = await verifications_per_second(token, infra, verifications)
        pyjwt_rate = await asyncio.to_thread(bare_pyjwt_per_second, token, infra, verifications)

        bare, bare_url = await start_bare_app(body, launcher.log_dir)
        processes.append(bare)
        monolith, monolith_url = await start_monolith(
            {
                "MONOLITH_IDENTITY_URL": database,
                "MONOLITH_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
                "MONOLITH_CA_FILE": infra["GUICHET_CA_FILE"],
            },
            launcher.log_dir,
        )
        processes.append(monolith)
        async with httpx.AsyncClient(base_url=monolith_url) as client:
            answer = (await client.get("/api/v1/me", headers=headers)).raise_for_status().json()
        if differences := same_answer(body, answer):
            print(f"  warning: the monolith's answer differs from the gateway's in {differences}")
        expires_in = jwt.decode(token, options={"verify_signature": False})["exp"] - time.time()
        if expires_in < 4 * (load.duration + load.warmup) + 10:
            print(f"  warning: the token expires in {expires_in:.0f} s, maybe before the end")

        pids = {
            "gateway": pid_of(gateway.process),
            "identity": pid_of(identity.process),
            "bare": pid_of(bare),
            "monolith": pid_of(monolith),
        }

        # The profiled run follows the measured one: no warm-up, no database statistics.
        def via_gateway(profiled: bool = False) -> Figure:
            servers = {"gateway": pids["gateway"], "identity": pids["identity"]}
            url = f"{gateway.address}/api/v1/me"
            database = None if profiled else DATABASE
            return wrk(
                ME,
                url,
                load,
                headers=headers,
                servers=servers,
                database=database,
                warmup=not profiled,
            )

        figures = [
            wrk(
                "bare FastAPI, same JSON",
                f"{bare_url}/api/v1/me",
                load,
                headers=headers,
                servers={"bare": pids["bare"]},
            ),
            wrk(
                "monolith FastAPI + asyncpg + PyJWT",
                f"{monolith_url}/api/v1/me",
                load,
                headers=headers,
                servers={"monolith": pids["monolith"]},
                database=DATABASE,
            ),
            via_gateway(),
        ]
        report(
            "GET /api/v1/me with a real Keycloak token (a fresh citizen: no spaces, no relations)",
            load,
            figures,
            bare=figures[0],
            monolith=figures[1],
            goals={ME: Goal(0.3)},
        )
        ratio = verify_rate / pyjwt_rate
        print(f"token verification, {verifications} times the same token, in one Python process")
        print(f"  bare PyJWT decode (key prepared)          {pyjwt_rate:9.0f} /s")
        print(f"  gateway dependency (verify + context)     {verify_rate:9.0f} /s")
        print(
            f"  ratio dependency / bare PyJWT             {ratio:9.2f}   >= {VERIFY_GOAL}x:"
            f" {'met' if ratio >= VERIFY_GOAL else 'NOT met'}"
        )
        if profiling():
            profile_under_load(
                "the /me load",
                {"gateway-me": pids["gateway"], "identity-me": pids["identity"]},
                lambda: via_gateway(profiled=True),
                load,
            )
    finally:
        if registry is not None:
            await asyncio.to_thread(registry.cleanup)
        for process in reversed(processes):
            process.stop()


if __name__ == "__main__":
    asyncio.run(main(int(os.environ.get("BENCH_VERIFICATIONS", "2000"))))
