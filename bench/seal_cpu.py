"""The CPU a certificate costs (docs/SCALING.md): the residence certificate of the authentic-data
benchmark rendered as a PDF, then rendered and sealed (PAdES with the platform's seal), each
BENCH_SEAL_COUNT times (20) in this one process, timed by the process's CPU clock rather than the
wall clock, so that the figure holds on a loaded machine (bench/authentic_data.py gives the rates,
which the machine's load divides).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from authentic_data import sample_person
from common import ROOT

from guichet_authentic_data.certificates.document import (
    CertificateFacts,
    CertificateKind,
    render_certificate,
)
from guichet_kit.i18n import Language
from guichet_kit.infra import read_infra_env
from guichet_kit.seal import Sealer

COUNT = int(os.environ.get("BENCH_SEAL_COUNT", "20"))


def facts() -> CertificateFacts:
    certificate_id = uuid.uuid4()
    return CertificateFacts(
        str(certificate_id),
        CertificateKind.RESIDENCE,
        Language.EN,
        datetime.now(UTC),
        f"http://127.0.0.1:8000/verify/{certificate_id}",
    )


async def main() -> None:
    if COUNT < 1:
        raise SystemExit("BENCH_SEAL_COUNT must be a positive integer")
    infra = read_infra_env(ROOT)
    sealer = Sealer(
        Path(infra["GUICHET_SEAL_CERTIFICATE"]),
        Path(infra["GUICHET_SEAL_PRIVATE_KEY"]),
        chain=(Path(infra["GUICHET_PKI_DIR"]) / "ca.crt",),
    )
    person = sample_person()
    # Warm-up: fonts, the key, imports.
    await sealer.seal(render_certificate(facts(), person), reason="Residence certificate")

    async def cpu_ms(sealed: bool) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(COUNT):
            pdf = render_certificate(facts(), person)
            if sealed:
                await sealer.seal(pdf, reason="Residence certificate")
        return (
            (time.process_time() - cpu) * 1000 / COUNT,
            (time.perf_counter() - wall) * 1000 / COUNT,
        )

    unsigned, unsigned_wall = await cpu_ms(False)
    sealed, sealed_wall = await cpu_ms(True)
    load = " ".join(f"{number:.2f}" for number in os.getloadavg())
    print(f"Certificates, {COUNT} each in one process (CPU clock); load average {load}")
    print(f"  rendered, unsigned: {unsigned:7.1f} ms CPU ({unsigned_wall:7.1f} ms wall)")
    print(f"  rendered and sealed: {sealed:6.1f} ms CPU ({sealed_wall:7.1f} ms wall)")
    print(f"  the seal: {sealed - unsigned:.1f} ms CPU a certificate")


if __name__ == "__main__":
    asyncio.run(main())
