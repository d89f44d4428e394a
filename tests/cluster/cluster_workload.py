"""The workload driven through the services during the failover: trackings created and looked up
(etracking, whose events go through its outbox and relay to messaging's consumer), files ingested
and read back (the wallet's file pipeline on the erasure-coded MinIO).

A call that fails with UNAVAILABLE or DEADLINE_EXCEEDED (the failover's transient answers) is
retried by this client; every attempt that failed is counted, and an operation that still fails
after its retries counts as failed."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

import grpc

from guichet.etracking.v1 import etracking_pb2 as etracking_pb
from guichet.etracking.v1 import etracking_pb2_grpc as etracking_grpc
from guichet.wallet.v1 import wallet_pb2 as wallet_pb
from guichet.wallet.v1 import wallet_pb2_grpc as wallet_grpc
from guichet_kit.national_id import make_national_id

RETRIED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
ATTEMPTS = 12
CALL_SECONDS = 30.0
# One round of five operations: two trackings created, one looked up, one file in, one read back.
ROUND = ("create", "create", "ingest", "lookup", "read")
OWNER = f"person:{make_national_id(date(1980, 1, 1), 13).value}"
# A lookup or read needs one tracking or file made before it (by another worker).
WAIT_FOR_FIRST = 120.0

T = TypeVar("T")


def pdf(index: int) -> bytes:
    """A small PDF of its own per operation (its hash proves the right bytes come back)."""
    head = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + f"% file {index}\n".encode()
    return head + b"% " + b"x" * 2000 + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def email_of(index: int) -> str:
    return f"cluster-{index}@example.lu"


@dataclass
class Figures:
    operations: int = 0
    failed: int = 0
    # Attempts that failed and were retried, per kind of operation.
    retried: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    # The longest time one operation took, retries included (how long a caller waited).
    slowest_seconds: float = 0.0


@dataclass
class Workload:
    etracking: etracking_grpc.TrackingServiceStub
    files: wallet_grpc.FileServiceStub
    total: int
    concurrency: int
    figures: Figures = field(default_factory=Figures)
    # The client's own record: the trackings it was told about, the copies and their hashes.
    created: dict[str, str] = field(default_factory=dict)
    copies: dict[str, str] = field(default_factory=dict)
    # Called with the number of finished operations after each one (the chaos schedule).
    progress: Callable[[int], None] = lambda done: None
    _next: int = 0
    _first_created: asyncio.Event = field(default_factory=asyncio.Event)
    _first_copy: asyncio.Event = field(default_factory=asyncio.Event)
    _random: random.Random = field(default_factory=lambda: random.Random(13))

    async def run(self) -> float:
        started = time.monotonic()
        await asyncio.gather(*(self._worker() for _ in range(self.concurrency)))
        return time.monotonic() - started

    async def _worker(self) -> None:
        while self._next < self.total:
            index = self._next
            self._next += 1
            started = time.monotonic()
            kind = ROUND[index % len(ROUND)]
            try:
                await self._operation(kind, index)
            except grpc.aio.AioRpcError as error:
                self.figures.failed += 1
                self.figures.errors[f"{kind}: {error.code().name} {error.details()}"] += 1
            except (TimeoutError, AssertionError) as error:
                self.figures.failed += 1
                self.figures.errors[f"{kind}: {error!r}"] += 1
            self.figures.slowest_seconds = max(
                self.figures.slowest_seconds, time.monotonic() - started
            )
            self.figures.operations += 1
            self.progress(self.figures.operations)

    async def _retrying(self, kind: str, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(ATTEMPTS):
            try:
                return await call()
            except grpc.aio.AioRpcError as error:
                if error.code() not in RETRIED or attempt == ATTEMPTS - 1:
                    raise
                self.figures.retried[kind] += 1
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
        raise AssertionError("unreachable")

    async def _operation(self, kind: str, index: int) -> None:
        if kind == "create":
            await self._create(index)
        elif kind == "lookup":
            await asyncio.wait_for(self._first_created.wait(), WAIT_FOR_FIRST)
            number = self._random.choice(list(self.created))
            reply = await self._retrying(
                kind,
                lambda: self.etracking.LookupTracking(
                    etracking_pb.LookupTrackingRequest(number=number, language="en"),
                    timeout=CALL_SECONDS,
                ),
            )
            assert reply.tracking.number.replace("-", "") == number
        elif kind == "ingest":
            await self._ingest(index)
        else:
            await asyncio.wait_for(self._first_copy.wait(), WAIT_FOR_FIRST)
            copy_id = self._random.choice(list(self.copies))
            assert await self.read(copy_id) == self.copies[copy_id]

    async def _create(self, index: int) -> None:
        reply = await self._retrying(
            "create",
            lambda: self.etracking.CreateTracking(
                etracking_pb.CreateTrackingRequest(
                    paper_form_code="SNCA-IMM-01",
                    notify_by_email=True,
                    email=email_of(index),
                    language="en",
                ),
                timeout=CALL_SECONDS,
            ),
        )
        self.created[reply.tracking.number.replace("-", "")] = email_of(index)
        self._first_created.set()

    async def _ingest(self, index: int) -> None:
        content = pdf(index)

        async def chunks() -> AsyncIterator[wallet_pb.IngestFileRequest]:
            yield wallet_pb.IngestFileRequest(
                header=wallet_pb.IngestHeader(
                    owner=OWNER,
                    purpose=f"Cluster test {index}",
                    file_name=f"file-{index}.pdf",
                    declared_content_type="application/pdf",
                    declared_size=len(content),
                    retention_days=1,
                )
            )
            yield wallet_pb.IngestFileRequest(chunk=content)

        reply = await self._retrying(
            "ingest", lambda: self.files.IngestFile(chunks(), timeout=CALL_SECONDS)
        )
        self.copies[reply.copy.copy_id] = hashlib.sha256(content).hexdigest()
        self._first_copy.set()

    async def read(self, copy_id: str) -> str:
        """The copy's bytes as the wallet streams them back, hashed."""

        async def whole() -> str:
            digest = hashlib.sha256()
            call = self.files.ReadCopy(
                wallet_pb.ReadCopyRequest(copy_id=copy_id), timeout=CALL_SECONDS
            )
            async for part in call:
                if part.WhichOneof("part") == "chunk":
                    digest.update(part.chunk)
            return digest.hexdigest()

        return await self._retrying("read", whole)
