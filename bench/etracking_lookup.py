"""Public eTracking lookup: the gateway (wrk) and etracking's gRPC LookupTracking (ghz) against a
bare FastAPI app returning the same JSON and a monolith (FastAPI + asyncpg) doing the same reads;
and the web client's server-rendered page of the same lookup against that JSON.

Starts its own etracking and gateway on a database of its own (etracking_bench), creates one
tracking, and loads every target with the same connections for the same time, one after the
other in one run: the figures to watch are the ratios. With BENCH_PROFILE=1 it then loads the
gRPC service and the gateway once more under py-spy and summarises where the time goes.
"""

from __future__ import annotations

import asyncio
import json

import httpx
from common import (
    ROOT,
    Figure,
    Goal,
    Load,
    bench_database,
    bench_launcher,
    ghz,
    pid_of,
    profile_under_load,
    profiling,
    report,
    same_answer,
    start_bare_app,
    start_monolith,
    wrk,
)

from guichet_testkit.altcha import solved_challenge
from guichet_testkit.processes import ServiceProcess

LANGUAGE = "en"
CALL = "guichet.etracking.v1.TrackingService.LookupTracking"
PROTO = ROOT / "proto" / "guichet" / "etracking" / "v1" / "etracking.proto"
GRPC, GATEWAY = "etracking gRPC LookupTracking", "gateway GET /trackings/{number}"
# The web client's page of the same lookup, server-rendered (Jinja2, fr/de/en), against its JSON.
PAGE = "gateway page /etracking/lookup"
DATABASE = "etracking_bench"
GOALS = {GATEWAY: Goal(0.5), GRPC: Goal(0.7)}


def labels_of(body: dict[str, object]) -> dict[str, object]:
    """What the monolith needs to translate like etracking: the labels the gateway answered."""
    history = body["history"]
    assert isinstance(history, list)
    statuses = {change["status"]: change["status_label"] for change in history}
    statuses[str(body["status"])] = body["status_label"]
    paper_form = body["paper_form"]
    assert isinstance(paper_form, dict)
    return {"statuses": statuses, "paper_forms": {paper_form["code"]: paper_form}}


async def main() -> None:
    load = Load.from_env()
    launcher = bench_launcher()
    database = await bench_database(launcher, DATABASE)
    processes: list[ServiceProcess] = []
    try:
        etracking = await launcher.etracking(database, name="bench-etracking")
        processes.append(etracking.process)
        gateway = await launcher.gateway(etracking.address, burst=100_000_000, name="bench-gateway")
        processes.append(gateway.process)
        headers = {"Accept-Language": LANGUAGE}
        async with httpx.AsyncClient(base_url=gateway.address, headers=headers) as client:
            anonymous = {"paper_form_code": "ACD-IR-100", "altcha": await solved_challenge(client)}
            created = await client.post("/api/v1/etracking/trackings", json=anonymous)
            created.raise_for_status()
            number = created.json()["number"]
            path = f"/api/v1/etracking/trackings/{number.replace('-', '')}"
            body = (await client.get(path)).raise_for_status().json()
        bare, bare_url = await start_bare_app(body, launcher.log_dir)
        processes.append(bare)
        monolith, monolith_url = await start_monolith(
            {"MONOLITH_ETRACKING_URL": database, "MONOLITH_LABELS": json.dumps(labels_of(body))},
            launcher.log_dir,
        )
        processes.append(monolith)
        async with httpx.AsyncClient(base_url=monolith_url, headers=headers) as client:
            answer = (await client.get(path)).raise_for_status().json()
        if differences := same_answer(body, answer, ignore=["sheet_url"]):
            print(f"  warning: the monolith's answer differs from the gateway's in {differences}")

        pids = {
            "etracking": pid_of(etracking.process),
            "gateway": pid_of(gateway.process),
            "bare": pid_of(bare),
            "monolith": pid_of(monolith),
        }

        # The profiled runs follow measured ones: no warm-up, no database statistics.
        def via_grpc(profiled: bool = False) -> Figure:
            return ghz(
                GRPC,
                etracking.address,
                CALL,
                {"number": number, "language": LANGUAGE},
                PROTO,
                load,
                servers={"etracking": pids["etracking"]},
                database=None if profiled else DATABASE,
                warmup=not profiled,
            )

        def via_gateway(profiled: bool = False) -> Figure:
            servers = {"gateway": pids["gateway"], "etracking": pids["etracking"]}
            return wrk(
                GATEWAY,
                gateway.address + path,
                load,
                headers=headers,
                servers=servers,
                database=None if profiled else DATABASE,
                warmup=not profiled,
            )

        figures = [
            wrk(
                "bare FastAPI, fixed JSON",
                bare_url + path,
                load,
                headers=headers,
                servers={"bare": pids["bare"]},
            ),
            wrk(
                "monolith FastAPI + asyncpg",
                monolith_url + path,
                load,
                headers=headers,
                servers={"monolith": pids["monolith"]},
                database=DATABASE,
            ),
            via_grpc(),
            via_gateway(),
            wrk(
                PAGE,
                f"{gateway.address}/etracking/lookup?number={number}",
                load,
                headers=headers,
                servers={"gateway": pids["gateway"], "etracking": pids["etracking"]},
                database=DATABASE,
            ),
        ]
        report(
            f"etracking public lookup of one tracking ({number})",
            load,
            figures,
            bare=figures[0],
            monolith=figures[1],
            goals=GOALS,
        )
        page, json_api = figures[4], figures[3]
        print(f"  the page's rate / the same JSON's: {page.rate / json_api.rate:.2f}")
        if profiling():
            profile_under_load(
                "the gRPC lookup load",
                {"etracking-grpc": pids["etracking"]},
                lambda: via_grpc(profiled=True),
                load,
            )
            profile_under_load(
                "the gateway lookup load",
                {"gateway-lookup": pids["gateway"], "etracking-via-gateway": pids["etracking"]},
                lambda: via_gateway(profiled=True),
                load,
            )
    finally:
        for process in reversed(processes):
            process.stop()


if __name__ == "__main__":
    asyncio.run(main())
