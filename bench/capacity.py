"""The capacity model of docs/SCALING.md, as arithmetic anyone can re-run and change: the CPU each
process spent per operation in `make bench` runs (`Operation.cpu_ms`, each with its source and
the state of the machine), times the stated usage of a country (`Operation.per_person_year` and
the peak, assumed), gives the peak rates, the cores and replicas per role; the rows per person
(`TABLES`, with the bytes per row read from the real rows by bench/row_sizes.py) give the
databases; the files per person (`FILES`) the object storage; the events per person (`STREAMS`)
the streams.

    .venv/bin/python bench/capacity.py            # the tables of docs/SCALING.md, in Markdown

Nothing here is measured by this script: change an input when a new `make bench` run says
otherwise, and the tables follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

POPULATIONS = (1_000_000, 10_000_000)

# --- peaks (assumed) ---------------------------------------------------------------------------
PEAK_DAY = 3.0  # the busiest day (a tax or school deadline) against an average day
PEAK_HOUR_SHARE = 0.12  # share of that day's traffic in its busiest hour
BURST = 1.5  # the busiest minute against that hour's mean
UTILISATION = 0.7  # the HPAs' target CPU (deploy/k8s/base/*/hpa.yaml, averageUtilization 70)
YEARS = 3  # the databases and buckets are sized after this many years of use
# A peak second's share of a person-year's operations.
PER_SECOND = PEAK_DAY * PEAK_HOUR_SHARE * BURST / 365 / 3600


@dataclass(frozen=True)
class Operation:
    name: str
    per_person_year: float  # assumed
    cpu_ms: dict[str, float]  # measured: CPU milliseconds per operation, per process
    source: str
    # measured: transactions per operation in each database (PostgreSQL's statistics)
    transactions: dict[str, float] = field(default_factory=dict)


# --- usage (assumed, per person and year) and its CPU cost (measured) --------------------------
# CPU ms per operation = the process's share of a core during the bench's load / the rate.
OPERATIONS = (
    Operation(
        "sign-in (password checked by Keycloak)",
        12,  # once a month
        {"keycloak": 168.5},
        "keycloak_login.py, 2026-11-24 23:47, load avg 13: 2.2/s at 37 % of a core (172.2 ms"
        " in a second run, 2026-11-25 00:20)",
        {"keycloak": 2.2},
    ),
    Operation(
        "signed-in page (BFF session, one service call)",
        12 * 8,  # 8 pages per sign-in
        {"gateway": 2.2 + 1.7, "identity grpc": 4.5},
        "auth.py GET /me: 82 req/s, gateway 18 %, identity 37 %; + the page's rendering"
        " (lookup page 3.2 ms - JSON 1.5 ms of gateway)",
        {"identity": 3.2},
    ),
    Operation(
        "dashboard",
        12,  # one per sign-in
        # Four reads at once (gateway/dashboard.py): etracking, identity, wallet, procedures.
        # bench/dashboard.py no longer runs (it starts neither wallet nor procedures, which the
        # dashboard now reads): costed from measured calls instead — the page, 3 more calls at
        # the gateway's 1.5 ms a proxied call, a lookup's cost in etracking and the /me read's
        # in each of the others.
        {
            "gateway": 3.2 + 3 * 1.5,
            "etracking grpc": 1.4,
            "identity grpc": 4.5,
            "wallet grpc": 4.5,
            "procedures grpc": 4.5,
        },
        "stand-in from etracking_lookup.py and auth.py (above)",
    ),
    Operation(
        "eTracking public lookup (page)",
        3,  # 3 lookups of each paper form's tracking, one form a year
        {"gateway": 3.2, "etracking grpc": 2.0},
        "etracking_lookup.py page: 142 req/s, gateway 45 %, etracking 29 %",
        {"etracking": 1.0},
    ),
    Operation(
        "catalogue search",
        2 * 2,  # 2 searches per submission
        {"gateway": 2.98, "procedures grpc": 6.08},
        "procedures.py, 2026-11-25 00:27, load avg 15-21, 1,000 procedures published: 80.6 req/s,"
        " gateway 24 %, procedures 49 %",
    ),
    Operation(
        "step saved",
        2 * 5,  # 5 steps per submission
        {"gateway": 3.31, "procedures grpc": 11.7},
        "procedures.py, same run: 45.3 req/s through the gateway, gateway 15 %, procedures 53 %",
    ),
    Operation(
        "submission (sealed proof)",
        2,  # 2 online procedures a year
        # By ghz on procedures' gRPC port: the gateway's part taken as a step's.
        {"gateway": 3.31, "procedures grpc": 525.0},
        "procedures.py, same run: 60 drafts, 0.4/s sealed at 21 % of a core (525 ms), 1.8/s"
        " unsealed at 20 % (111 ms)",
    ),
    Operation(
        "register lookup (my data)",
        6,  # one sign-in in two
        {"gateway": 3.2, "authentic-data grpc": 7.4},
        "authentic_data.py, 2026-11-25 00:12, load avg 24, 1M persons: 69 req/s, gateway 22 %,"
        " authentic-data 51 %",
    ),
    Operation(
        "certificate issued (sealed PDF)",
        1,
        # Rendering and sealing by the CPU clock, plus the lookup of the person's entry.
        {"gateway": 3.2, "authentic-data grpc": 394.8 + 7.4},
        "seal_cpu.py, 2026-11-25 00:16, load avg 20: 104 ms rendering + 291 ms the seal",
    ),
    Operation(
        "file uploaded, per MB (attachments + wallet)",
        2 * 1.5 * 1.5 + 3 * 1.0,  # 1.5 attachments of 1.5 MB per submission; 3 pieces of 1 MB
        # Upper bounds: each process's own handling time (wall) of one upload at a time, which
        # holds its CPU time; ClamAV's and MinIO's CPU run within it, not counted here.
        {"gateway": 53.1, "wallet grpc": 51.9},
        "wallet.py, 2026-11-25 00:00, load avg 9-15: 10 MB in 0.565 s (17.7 MB/s), handled in"
        " 0.531 s by the gateway, 0.519 s by the wallet",
    ),
    Operation(
        "eDocument delivered (0.2 MB)",
        4,
        # Upper bounds, as above: messaging's own handling of a 5 MB push (wall) and the
        # wallet's per MB.
        {"messaging grpc": 100.0, "wallet grpc": 0.2 * 51.9},
        "messaging.py (OPERATIONS.md, 2026-11-24): messaging's own ~0.1 s per delivery",
    ),
    Operation(
        "paper form's status change → e-mail",
        4,  # a paper form a year, 4 status changes
        {"etracking grpc": 8.5, "messaging worker": 17.0},
        "messaging.py (OPERATIONS.md, 2026-11-24, load avg 17-33): per status change etracking"
        " 7-10 ms, messaging 13-21 ms with SMTP (midpoints)",
    ),
    Operation(
        "request's status change → e-mail",
        2 * 3,  # 3 per submission
        # The administration's call to procedures is not benched: etracking's scan stands for it.
        {"procedures grpc": 8.5, "messaging worker": 17.0},
        "as above; procedures' side taken as etracking's (not measured)",
    ),
)


# --- databases: rows per person (ASSUMED from the usage above) x bytes per row (MEASURED) -------
# Bytes per row: the average pg_column_size of the table's real rows (the e2e and bench databases
# of 2026-11-24, read by SCALING.md's query), + 4 bytes of line pointer, x 1.2 for the free space
# updates and vacuum leave (assumed); + 40 bytes per index entry (a 16-byte key, 8 bytes of index
# tuple header, 4 of line pointer, in pages 70 % full after random inserts: assumed from
# PostgreSQL's page layout).
HEAP_SLACK = 1.2
INDEX_ENTRY = 40


@dataclass(frozen=True)
class Table:
    service: str
    name: str
    width: float  # measured average row width, bytes
    indexes: int  # from the schema
    per_person: float = 0.0  # rows a person has whatever the years (assumed)
    per_year: float = 0.0  # rows a person adds each year (assumed)
    kept_years: float = YEARS  # retention (the service's setting) caps the years kept

    def rows(self, population: int) -> float:
        return population * (self.per_person + self.per_year * min(YEARS, self.kept_years))

    @property
    def row_bytes(self) -> float:
        return (self.width + 4) * HEAP_SLACK + INDEX_ENTRY * self.indexes


OUTBOX_YEARS = 30 / 365  # the kit's outbox retention (30 days)
TABLES = (
    # identity
    Table("identity", "profiles", 156, 2, per_person=1),
    Table("identity", "preferences", 80, 1, per_person=1),
    Table("identity", "relations", 260, 4, per_person=0.5),
    Table("identity", "spaces", 109, 2, per_person=0.05),
    Table("identity", "outbox", 300, 3, per_year=0.2, kept_years=OUTBOX_YEARS),
    # Keycloak (its own database): user, password, national id + locale, default roles;
    # a TOTP credential for a third; a LOGIN event per sign-in kept 90 days (eventsExpiration)
    Table("keycloak", "user_entity", 211, 5, per_person=1),
    Table("keycloak", "credential", 416, 2, per_person=1.3),
    Table("keycloak", "user_attribute", 116, 5, per_person=2),
    Table("keycloak", "user_role_mapping", 98, 2, per_person=1),
    Table("keycloak", "event_entity (LOGIN)", 497, 3, per_year=12, kept_years=90 / 365),
    # etracking: a paper form a year, 4 status changes each
    Table("etracking", "trackings", 144, 5, per_year=1),
    Table("etracking", "tracking_status_changes", 86, 2, per_year=4),
    Table("etracking", "outbox", 318, 3, per_year=5, kept_years=OUTBOX_YEARS),
    # procedures: 2 submissions and 1 abandoned draft a year (expired after 90 days unchanged,
    # deleted 90 days later)
    Table("procedures", "requests", 740, 8, per_year=2),
    Table("procedures", "requests (abandoned drafts)", 740, 8, per_year=1, kept_years=180 / 365),
    Table("procedures", "request_history", 104, 2, per_year=2 * 4),
    Table("procedures", "proofs (sealed PDF, TOASTed)", 11_752 + 150, 2, per_year=2),
    Table("procedures", "request_attachments", 216, 4, per_year=2 * 1.5),
    Table("procedures", "appointments", 72, 2, per_year=0.2),
    Table("procedures", "outbox", 495, 3, per_year=2 * 4, kept_years=OUTBOX_YEARS),
    Table("procedures", "processed_events", 96, 1, per_year=2),
    # wallet: 3 pieces a year up to the limit of 10 a person (WALLET_MAX_PIECES); an immutable
    # copy per submitted attachment and message file; eDocuments received kept 2 years
    Table("wallet", "pieces", 112, 3, per_person=min(10, 3 * YEARS)),
    Table("wallet", "piece_files", 72, 3, per_person=min(10, 3 * YEARS)),
    Table("wallet", "file_versions", 228, 4, per_person=min(10, 3 * YEARS)),
    Table("wallet", "copies", 322, 3, per_year=2 * 1.5 + 1),
    Table("wallet", "received_documents", 97, 2, per_year=4, kept_years=2),
    Table("wallet", "outbox", 316, 3, per_year=10, kept_years=OUTBOX_YEARS),
    Table("wallet", "processed_events", 88, 1, per_year=4),
    # messaging: a notification per status change, eDocument and message, kept 1 year;
    # 4 eDeliveries and 2 conversations (4 messages, 1 file) a year
    Table("messaging", "notifications", 1125, 4, per_year=10 + 4 + 2, kept_years=1),
    Table("messaging", "edeliveries", 272, 4, per_year=4),
    Table("messaging", "edelivery_receipts (sealed)", 3533, 4, per_year=4),
    Table("messaging", "exchange_threads", 167, 5, per_year=2),
    Table("messaging", "exchange_messages", 125, 3, per_year=4),
    Table("messaging", "exchange_attachments", 229, 3, per_year=1),
    Table("messaging", "outbox", 350, 3, per_year=8, kept_years=OUTBOX_YEARS),
    Table("messaging", "processed_events", 118, 1, per_year=10 + 4 + 2),
    # authentic data: the registers (the bench's synthetic registers of 1M persons, bytes per
    # row measured whole: heap and indexes, no slack) and the access log of every lookup
    Table("authentic-data", "data_accesses (access log)", 579, 3, per_year=6 + 1 + 2),
    Table("authentic-data", "issued_certificates", 152, 2, per_year=1),
)
# Registers, measured whole in authentic_data_bench (1,000,003 persons, COPY loader): bytes per
# row including indexes, and rows per person in the synthetic registers.
REGISTERS = (
    ("register_persons", 242, 1.0),
    ("register_driving_licences", 101, 0.596),
    ("register_tax_credits", 102, 0.232),
    ("register_company_directors", 133, 0.060),
    ("register_companies", 145, 0.043),
    ("register_vat_accounts", 124, 0.038),
)

# --- files (ASSUMED sizes) and MinIO's erasure coding ------------------------------------------
MB = 1_000_000
FILES = (  # (what, files a person adds a year, bytes each, years kept, files at most)
    ("wallet pieces (10 at most a person)", 3, 1.0 * MB, YEARS, 10),
    ("attachments of submissions (copies bucket)", 2 * 1.5, 1.5 * MB, YEARS, None),
    ("eDocuments delivered (kept 2 years)", 4, 0.2 * MB, 2, None),
    ("files of messages (copies bucket)", 1, 1.0 * MB, YEARS, None),
)
# deploy/k8s/components/minio: 4 servers of one drive, EC:2 -> 4/2 = 2x raw per byte stored;
# a 16-drive pool at EC:4 would store 16/12 = 1.33x.
ERASURE = {"4 drives, EC:2 (deploy/k8s)": 4 / 2, "16 drives, EC:4": 16 / 12}

# --- streams (MEASURED bytes per stored message; events ASSUMED from the usage) ----------------
# Bytes per message as JetStream stores them (the make infra server's streams, 2026-11-24:
# ETRACKING 352, PROCEDURES 409, WALLET 318, MESSAGING 327, IDENTITY 367, AUTHENTIC-DATA 368).
STREAMS = (
    ("ETRACKING", 352, 1 + 4),
    ("PROCEDURES", 409, 2 * 4 + 1),
    ("WALLET", 318, 10),
    ("MESSAGING", 327, 4 + 4 + 16),
    ("AUTHENTIC-DATA", 368, 1 + 6),
    ("IDENTITY", 367, 0.2),
)
STREAM_REPLICAS = 3


def peak_rate(operation: Operation, population: int) -> float:
    return population * operation.per_person_year * PER_SECOND


def replicas(busy: float, pod_cores: float) -> int:
    return max(2, math.ceil(busy / (pod_cores * UTILISATION)))


def size(number: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if number >= scale:
            return f"{number / scale:.1f} {unit}"
    return f"{number / 1e3:.0f} kB"


# CPU a pod may use (its limit in deploy/k8s): the services' processes are one event loop each.
POD_CORES = {"keycloak": 2.0}


def heads(*labels: str) -> str:
    """`label 1M | label 10M` for each label: one column per population."""
    return " | ".join(f"{label} {p / 1e6:g}M" for label in labels for p in POPULATIONS)


def table(first: str, *labels: str, extra: str = "") -> None:
    columns = len(labels) * len(POPULATIONS) + 1 + (1 if extra else 0)
    print(f"\n| {first} | {heads(*labels)}" + (f" | {extra}" if extra else "") + " |")
    print("|" + "---|" * columns)


def row(first: str, *cells: str) -> None:
    print(f"| {first} | " + " | ".join(cells) + " |")


def main() -> None:
    print(f"Peak second = person-year x {PER_SECOND:.3e}")
    table("operation (per person-year)", "peak/s")
    for operation in OPERATIONS:
        rates = [f"{peak_rate(operation, p):.1f}" for p in POPULATIONS]
        row(f"{operation.name} ({operation.per_person_year:g})", *rates)

    table("role (CPU ms per person-year)", "cores", "replicas")
    for process in sorted({name for op in OPERATIONS for name in op.cpu_ms}):
        ms = sum(op.per_person_year * op.cpu_ms.get(process, 0) for op in OPERATIONS)
        cores = [p * ms * PER_SECOND / 1000 for p in POPULATIONS]
        pods = [replicas(c, POD_CORES.get(process, 1.0)) for c in cores]
        row(f"{process} ({ms:.0f})", *(f"{c:.2f}" for c in cores), *(str(n) for n in pods))

    table("database", "transactions/s")
    for database in sorted({name for op in OPERATIONS for name in op.transactions}):
        per_year = sum(op.per_person_year * op.transactions.get(database, 0) for op in OPERATIONS)
        row(database, *(f"{p * per_year * PER_SECOND:.0f}" for p in POPULATIONS))

    table("database", "rows", "size", extra="biggest table")
    totals = [0.0 for _ in POPULATIONS]
    for service in sorted({t.service for t in TABLES}):
        tables = [t for t in TABLES if t.service == service]
        rows = [sum(t.rows(p) for t in tables) for p in POPULATIONS]
        sizes = [sum(t.rows(p) * t.row_bytes for t in tables) for p in POPULATIONS]
        if service == "authentic-data":
            registers = sum(per for _, _, per in REGISTERS)
            register_bytes = sum(bytes_ * per for _, bytes_, per in REGISTERS)
            rows = [r + p * registers for r, p in zip(rows, POPULATIONS, strict=True)]
            sizes = [b + p * register_bytes for b, p in zip(sizes, POPULATIONS, strict=True)]
        totals = [t + b for t, b in zip(totals, sizes, strict=True)]
        biggest = max(tables, key=lambda t: t.rows(POPULATIONS[0]) * t.row_bytes)
        row(
            service,
            *(f"{r / 1e6:.1f}M" for r in rows),
            *(size(b) for b in sizes),
            biggest.name,
        )
    row("**all**", *("" for _ in POPULATIONS), *(f"**{size(b)}**" for b in totals), "")

    largest = POPULATIONS[-1]
    print(f"\n| table ({largest / 1e6:g}M) | rows | bytes per row | size |\n|---|---|---|---|")
    for t in sorted(TABLES, key=lambda t: -t.rows(largest) * t.row_bytes)[:8]:
        rows_ = t.rows(largest)
        row(
            f"{t.service}.{t.name}",
            f"{rows_ / 1e6:.0f}M",
            f"{t.row_bytes:.0f}",
            size(rows_ * t.row_bytes),
        )

    table("files", "stored")
    stored = [0.0 for _ in POPULATIONS]
    for what, per_year, each, years, cap in FILES:
        count = per_year * years if cap is None else min(cap, per_year * years)
        line = [p * count * each for p in POPULATIONS]
        stored = [s + b for s, b in zip(stored, line, strict=True)]
        row(what, *(size(b) for b in line))
    row("**all files**", *(f"**{size(b)}**" for b in stored))
    for layout, factor in ERASURE.items():
        row(f"raw on the drives, {layout}", *(size(b * factor) for b in stored))
    per_mb = next(o for o in OPERATIONS if "per MB" in o.name)
    row("uploads at the peak, MB/s", *(f"{peak_rate(per_mb, p):.1f}" for p in POPULATIONS))

    table("stream (bytes/message, events per person-year)", "a year, one copy", "peak events/s")
    year_total = [0.0 for _ in POPULATIONS]
    peak_total = [0.0 for _ in POPULATIONS]
    for name, each, per_year in STREAMS:
        year = [p * per_year * each for p in POPULATIONS]
        peak = [p * per_year * PER_SECOND for p in POPULATIONS]
        year_total = [t + y for t, y in zip(year_total, year, strict=True)]
        peak_total = [t + r for t, r in zip(peak_total, peak, strict=True)]
        row(f"{name} ({each}, {per_year:g})", *(size(b) for b in year), *(f"{r:.1f}" for r in peak))
    row(
        f"**all, on each of the {STREAM_REPLICAS} servers**",
        *(f"**{size(b)}**" for b in year_total),
        *(f"**{r:.0f}**" for r in peak_total),
    )


if __name__ == "__main__":
    main()
