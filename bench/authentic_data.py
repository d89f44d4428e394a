"""Authentic data (issue 9), two ratios measured in one run.

1. A register lookup through the gateway: `GET /api/v1/me/data/register-entry` (wrk, a signed-in
   bench citizen's real token; each lookup is purpose-bound and appended to the hash-chained access
   log, as in production) with the synthetic registers holding 10 000 persons, then 1 000 000
   (BENCH_REGISTER_PERSONS), loaded with the service's own COPY loader. A lookup must not grow
   with the register (DESIGN P6): goal p50 at 1M / p50 at 10k <= 1.3.
2. What the seal costs: the same residence certificate rendered as a PDF, unsigned and sealed
   (PAdES with pyhanko), per second in one process, one after the other; and, for the whole path,
   certificates issued through the gateway (`POST /api/v1/me/data/certificates`, wrk).

Starts authentic data, identity and a gateway on databases of the bench's own
(authentic_data_bench, identity_bench).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from citizens import Citizen, Registry
from common import ROOT, Figure, Load, bench_database, bench_launcher, pid_of, wrk

from guichet_authentic_data.certificates.document import (
    CertificateFacts,
    CertificateKind,
    render_certificate,
)
from guichet_authentic_data.registers.loader import load_registers
from guichet_authentic_data.registers.records import AddressRecord, PersonRecord, PersonRef
from guichet_kit.i18n import Language
from guichet_kit.seal import Sealer
from guichet_testkit.db import migrated_database
from guichet_testkit.processes import ServiceProcess, free_port

LOOKUP = "gateway GET /api/v1/me/data/register-entry"
ISSUE = "gateway POST /api/v1/me/data/certificates"
SMALL = 10_000
GOAL_P50 = 1.3
SEED = 20250101
CERTIFICATE = '{"kind": "residence", "language": "en"}'


def print_figures(title: str, figures: list[Figure]) -> None:
    print(f"  {title}")
    print(f"    {'':66}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'gen CPU':>9}  server CPU")
    for figure in figures:
        servers = ", ".join(f"{name} {share:.0%}" for name, share in figure.server_cpu.items())
        label = f"{figure.name} ({figure.generator})"
        print(
            f"    {label:66}{figure.rate:8.0f}{figure.p50_ms:9.2f}{figure.p99_ms:9.2f}"
            f"{figure.generator_cpu:9.0%}  {servers}"
        )
        if figure.void:
            print(f"      VOID: {figure.generator} saturated a core; this measures the client")
        if figure.errors:
            print(f"      {figure.errors} of {figure.requests} requests failed: figure suspect")


async def load(database_url: str, persons: int) -> None:
    started = time.perf_counter()
    report = await load_registers(database_url, SEED, persons)
    print(
        f"  registers loaded: {report.persons} persons, {report.companies} companies, "
        f"{report.licences} licences in {time.perf_counter() - started:.0f} s "
        f"(copy {report.copy_seconds:.0f} s, indexes {report.index_seconds:.0f} s)"
    )


async def enter_citizen(registry: Registry, citizen: Citizen) -> None:
    """The bench citizen in the registers just loaded: a household of two, like most."""
    registry.in_registers.clear()  # the load emptied the registers
    await registry.enter_in_registers(citizen, licence_points=12, tax_credit_used_cents=0)
    await registry.child_of(citizen)


async def lookups(
    api: httpx.AsyncClient,
    registry: Registry,
    citizen: Citizen,
    gateway_url: str,
    load_figure: Load,
    pids: dict[str, int],
    persons: int,
) -> Figure:
    # A fresh token: loading a million persons outlasts one.
    citizen.tokens["low"] = await registry.agent.login(citizen.email, citizen.password)
    headers = {**citizen.bearer(), "Accept-Language": "en"}
    answer = await api.get("/api/v1/me/data/register-entry", headers=headers)
    answer.raise_for_status()
    household = next(f for f in answer.json()["fields"] if f["name"] == "person.household")
    if len(household["value"]) != 2:
        raise SystemExit(f"the bench citizen's household is not as entered: {household}")
    return wrk(
        f"{LOOKUP} ({persons:,} persons)",
        f"{gateway_url}/api/v1/me/data/register-entry",
        load_figure,
        headers=headers,
        servers=pids,
        database="authentic_data_bench",
    )


def sample_person() -> PersonRecord:
    return PersonRecord(
        national_id="1980010112345",
        given_names="Anne",
        surname="Muller",
        birth_date=date(1980, 1, 1),
        birth_place="Esch-sur-Alzette",
        sex="F",
        nationality="LU",
        address=AddressRecord("rue de la Gare", "12", "1611", "Luxembourg", "Luxembourg"),
        marital_status="married",
        household=(
            PersonRef("1980010112345", "Anne", "Muller", date(1980, 1, 1), "self"),
            PersonRef("2015090300712", "Léa", "Schmit", date(2015, 9, 3), "child"),
        ),
    )


async def certificates_per_second(infra: dict[str, str], seconds: float) -> tuple[float, float]:
    """The same residence certificate, rendered unsigned and rendered and sealed, in this one
    process, each for `seconds`: (unsigned per second, sealed per second)."""
    pki = Path(infra["GUICHET_PKI_DIR"])
    sealer = Sealer(
        Path(infra["GUICHET_SEAL_CERTIFICATE"]),
        Path(infra["GUICHET_SEAL_PRIVATE_KEY"]),
        chain=(pki / "ca.crt",),
    )
    person = sample_person()

    def facts() -> CertificateFacts:
        certificate_id = uuid.uuid4()
        return CertificateFacts(
            str(certificate_id),
            CertificateKind.RESIDENCE,
            Language.EN,
            datetime.now(UTC),
            f"http://127.0.0.1:8000/verify/{certificate_id}",
        )

    async def rate(sealed: bool) -> float:
        done, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            pdf = render_certificate(facts(), person)
            if sealed:
                pdf = await sealer.seal(pdf, reason="Residence certificate")
            done += 1
        return done / elapsed

    await rate(True)  # warm-up: fonts, key, imports
    return await rate(False), await rate(True)


async def main() -> None:
    load_figure = Load.from_env()
    persons = int(os.environ.get("BENCH_REGISTER_PERSONS", "1000000"))
    launcher = bench_launcher()
    launcher.extra_env["AUTHENTIC_DATA_LOG_LEVEL"] = "WARNING"
    infra = launcher.infra
    data_db = await migrated_database(
        infra, ROOT / "services" / "authentic-data", "authentic_data_bench"
    )
    identity_db = await bench_database(launcher, "identity_bench")
    processes: list[ServiceProcess] = []
    registry: Registry | None = None
    try:
        launcher.identity_address = f"127.0.0.1:{free_port()}"
        data = await launcher.authentic_data(data_db, name="bench-authentic-data")
        processes.append(data.process)
        identity = await launcher.identity(
            identity_db, name="bench-identity", address=launcher.identity_address
        )
        processes.append(identity.process)
        # The lookups never reach etracking: the gateway is given none.
        gateway = await launcher.gateway("127.0.0.1:1", burst=100_000_000, name="bench-gateway")
        processes.append(gateway.process)
        pids = {
            "gateway": pid_of(gateway.process),
            "authentic-data": pid_of(data.process),
        }
        async with httpx.AsyncClient(base_url=gateway.address, timeout=60) as api:
            registry = Registry(
                api,
                infra,
                Path(tempfile.mkdtemp(prefix="bench-data-")),
                registers_url=data_db,
            )
            citizen = await registry.register("Bench")
            print(
                f"Register lookups through the gateway, {SMALL:,} then {persons:,} persons in "
                f"the registers; same citizen, same household; {load_figure.describe()}"
            )
            figures = []
            for size in (SMALL, persons):
                await load(data_db, size)
                await enter_citizen(registry, citizen)
                figures.append(
                    await lookups(api, registry, citizen, gateway.address, load_figure, pids, size)
                )
            print_figures("lookups", figures)
            small, large = figures
            ratio = large.p50_ms / small.p50_ms
            print(
                f"    p50 ratio {persons:,} / {SMALL:,} persons: {ratio:5.2f}"
                f"   goal <= {GOAL_P50}: {'met' if ratio <= GOAL_P50 else 'NOT met'}"
            )
            print(f"    p99 ratio: {large.p99_ms / small.p99_ms:5.2f}")

            unsigned, sealed = await certificates_per_second(infra, load_figure.duration)
            print("Certificates: the same residence certificate, one process, one at a time")
            print(f"    rendered, unsigned:  {unsigned:8.1f} PDF/s")
            print(f"    rendered and sealed: {sealed:8.1f} PDF/s")
            print(
                f"    sealed / unsigned: {sealed / unsigned:5.2f}"
                f" (the seal costs {1000 / sealed - 1000 / unsigned:.1f} ms a certificate)"
            )
            citizen.tokens["low"] = await registry.agent.login(citizen.email, citizen.password)
            # One connection: sealing is CPU-bound in the service's one process, so more callers
            # only queue (16 of them outwait the gateway's 5 s deadline).
            one = Load(load_figure.duration, 1, load_figure.warmup)
            issued = wrk(
                ISSUE,
                f"{gateway.address}/api/v1/me/data/certificates",
                one,
                headers={**citizen.bearer(), "Accept-Language": "en"},
                servers=pids,
                json_body=CERTIFICATE,
            )
            print_figures("certificates issued through the gateway (read, seal, log)", [issued])
    finally:
        if registry is not None:
            await asyncio.to_thread(registry.cleanup)
        for process in reversed(processes):
            process.stop()


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
