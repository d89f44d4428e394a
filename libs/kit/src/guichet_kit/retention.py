"""Retention (F92): what the platform keeps only for a while, purged by policy.

A policy is a kind of data, the age past which it goes and the batch size. A purge works through
what is past its age in batches, each batch its own short transaction (rows locked and skipped by
a concurrent purge), so a large backlog never holds a long transaction and two workers share it.
A purge only ever removes what is past its age: running it again changes nothing. The clock is
passed in (`now`), so tests move it forward instead of waiting.

Each service lists its rules (`<service>/retention.py`); its worker role runs them periodically
and `python -m guichet_<service> retention` runs them once (a Kubernetes CronJob). The kinds
every service has are here: its outbox's sent rows and the dead-letter stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
import uvloop
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from prometheus_client import Counter
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import create_engine, session_factory, transaction
from guichet_kit.events import DEAD_LETTER_PREFIX, DEAD_LETTER_STREAM, connect
from guichet_kit.logs import configure_logging
from guichet_kit.outbox import OutboxMessage

log = structlog.get_logger(__name__)

RETENTION_PURGED = Counter(
    "guichet_retention_purged_total", "Items purged by a retention policy", ["kind"]
)
RETENTION_FAILURES = Counter(
    "guichet_retention_failures_total", "Retention passes of a kind that failed", ["kind"]
)


class RetentionSettings(BaseSettings):
    """The retention shared by every service, from GUICHET_RETENTION_* (one value per deployment).
    A number of days 0 keeps that kind for ever."""

    model_config = SettingsConfigDict(env_prefix="GUICHET_RETENTION_", extra="ignore", frozen=True)

    # Sent outbox rows: JetStream de-duplicates for an hour; past that a row is history only.
    outbox_days: int = Field(default=30, ge=0)
    # Dead letters wait this long for someone to look at them (the `events.dead_lettered` log).
    dead_letter_days: int = Field(default=90, ge=0)
    batch_size: int = Field(default=500, gt=0)
    # How often a worker role runs its service's policies.
    interval_seconds: float = Field(default=3600.0, gt=0)


@dataclass(frozen=True)
class Policy:
    kind: str
    age: timedelta
    batch: int = 500

    def __post_init__(self) -> None:
        if self.age <= timedelta(0):
            raise ValueError(f"retention of {self.kind}: the age must be positive")
        if self.batch < 1:
            raise ValueError(f"retention of {self.kind}: the batch must hold at least one item")

    def cutoff(self, now: datetime) -> datetime:
        """What is older than this goes."""
        if now.tzinfo is None:
            raise ValueError("retention needs an aware time (UTC)")
        return now - self.age


def days(kind: str, number: int, batch: int) -> Policy | None:
    """A policy from a setting in days; None (keep for ever) for 0."""
    return Policy(kind, timedelta(days=number), batch) if number else None


@dataclass(frozen=True)
class Batch:
    """What one batch purged, and what to do once its transaction committed (e.g. remove the
    objects its rows named: never before the commit, or a rollback would keep rows without
    their objects)."""

    count: int
    after_commit: Callable[[], Awaitable[object]] | None = None


# One batch in the caller's transaction: purge at most `limit` items older than `cutoff`.
BatchPurge = Callable[[AsyncSession, datetime, int], Awaitable[int | Batch]]


@dataclass(frozen=True)
class Rule:
    """A policy and how its kind is purged: `purge(policy, now)` gives how many items went."""

    policy: Policy
    purge: Callable[[Policy, datetime], Awaitable[int]]


def in_batches(
    sessions: async_sessionmaker[AsyncSession], purge: BatchPurge
) -> Callable[[Policy, datetime], Awaitable[int]]:
    """A database purge run batch after batch, each its own transaction, until a batch is not
    full."""

    async def run(policy: Policy, now: datetime) -> int:
        cutoff = policy.cutoff(now)
        total = 0
        while True:
            async with transaction(sessions) as session:
                done = await purge(session, cutoff, policy.batch)
            batch = done if isinstance(done, Batch) else Batch(done)
            if batch.after_commit is not None:
                await batch.after_commit()
            total += batch.count
            if batch.count < policy.batch:
                return total

    return run


def database_rule(
    policy: Policy | None, sessions: async_sessionmaker[AsyncSession], purge: BatchPurge
) -> list[Rule]:
    """Zero or one rule: none when the policy keeps that kind for ever."""
    return [Rule(policy, in_batches(sessions, purge))] if policy else []


@dataclass
class Report:
    purged: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


class Retention:
    """A service's rules, run once or periodically."""

    def __init__(self, service: str, rules: Sequence[Rule]) -> None:
        kinds = [rule.policy.kind for rule in rules]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"{service}: a kind has two retention rules: {kinds}")
        self.service = service
        self.rules = list(rules)

    async def run_once(self, now: datetime) -> Report:
        """Every rule, each on its own: one failing kind does not stop the others."""
        report = Report()
        for rule in self.rules:
            kind = rule.policy.kind
            try:
                count = await rule.purge(rule.policy, now)
            except Exception:
                RETENTION_FAILURES.labels(kind).inc()
                log.exception("retention.failed", service=self.service, kind=kind)
                report.failed.append(kind)
                continue
            RETENTION_PURGED.labels(kind).inc(count)
            report.purged[kind] = count
            log.info(
                "retention.purged",
                service=self.service,
                kind=kind,
                count=count,
                cutoff=rule.policy.cutoff(now).isoformat(),
            )
        return report

    async def run_every(
        self,
        seconds: float,
        stop: asyncio.Event,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """At start, then every `seconds` until `stop` (the worker role)."""
        while not stop.is_set():
            await self.run_once(clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds)


# ---- the kinds every service has ----


async def purge_sent_outbox(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Outbox rows published before `cutoff`; an unsent row is never touched."""
    oldest = (
        select(OutboxMessage.id)
        .where(OutboxMessage.sent_at.is_not(None), OutboxMessage.sent_at < cutoff)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(oldest)))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_stream_by_age(
    nats: NatsClient, stream: str, subjects: str, policy: Policy, now: datetime
) -> int:
    """Messages of `stream` stored before the cutoff, in one purge up to the first younger
    message (a stream is in time order); how many went. A stream not made yet holds nothing."""
    js = nats.jetstream()
    cutoff = policy.cutoff(now)
    try:
        state = (await js.stream_info(stream)).state
    except NotFoundError:
        return 0
    if not state.messages:
        return 0

    async def first_from(sequence: int) -> tuple[int, datetime] | None:
        """The first message at or after `sequence` (purged or deleted ones are skipped)."""
        try:
            message = await js.get_msg(stream, seq=sequence, subject=subjects, next=True)
        except NotFoundError:
            return None
        if message.seq is None or message.time is None:
            raise RuntimeError(f"{stream}: a message without sequence or time")
        return message.seq, message.time

    # Binary search for the first sequence not past its age: every message before `low` is.
    low, high = state.first_seq, state.last_seq + 1
    while low < high:
        middle = (low + high) // 2
        found = await first_from(middle)
        if found is not None and found[1] < cutoff:
            low = found[0] + 1
        else:
            high = middle
    if low <= state.first_seq:
        return 0
    return await _purge_before(nats, stream, low)


async def _purge_before(nats: NatsClient, stream: str, sequence: int) -> int:
    # The API's own answer counts what went (the client's purge_stream only says it succeeded).
    answer = await nats.request(
        f"$JS.API.STREAM.PURGE.{stream}", json.dumps({"seq": sequence}).encode(), timeout=5.0
    )
    reply: dict[str, Any] = json.loads(answer.data)
    if "error" in reply:
        raise RuntimeError(f"purge of {stream} refused: {reply['error']}")
    return int(reply.get("purged", 0))


def kit_rules(
    settings: RetentionSettings,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
) -> list[Rule]:
    """The outbox's sent rows and the dead-letter stream (shared: every service purging it by
    the same policy is harmless, what is gone stays gone)."""
    rules = database_rule(
        days("outbox", settings.outbox_days, settings.batch_size), sessions, purge_sent_outbox
    )
    if dead_letters := days("dead_letters", settings.dead_letter_days, settings.batch_size):

        async def purge_dead_letters(policy: Policy, now: datetime) -> int:
            return await purge_stream_by_age(
                nats, DEAD_LETTER_STREAM, f"{DEAD_LETTER_PREFIX}.>", policy, now
            )

        rules.append(Rule(dead_letters, purge_dead_letters))
    return rules


# ---- the command a CronJob runs ----


@dataclass
class Resources:
    sessions: async_sessionmaker[AsyncSession]
    nats: NatsClient


@asynccontextmanager
async def resources(service: str, database_url: str, nats_url: str) -> AsyncIterator[Resources]:
    """The database and NATS for one run of the command (no roles, no streams made)."""
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    nats_client = await connect(nats_url, f"{service}-retention")
    try:
        yield Resources(session_factory(engine), nats_client)
    finally:
        await nats_client.drain()
        await engine.dispose()


def run_command(
    service: str,
    once: Callable[[datetime], Coroutine[Any, Any, Report]],
    *,
    log_level: str = "INFO",
    log_json: bool = True,
) -> int:
    """`python -m guichet_<service> retention`: every policy once; exit status 1 when a kind
    failed (the CronJob shows it), 0 otherwise."""
    configure_logging(service, log_level, json=log_json)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        report = runner.run(once(datetime.now(UTC)))
    return 1 if report.failed else 0


RulesOf = Callable[[async_sessionmaker[AsyncSession], NatsClient], Sequence[Rule]]


def once_with(
    service: str, database_url: str, nats_url: str, rules_of: RulesOf
) -> Callable[[datetime], Coroutine[Any, Any, Report]]:
    """For `run_command`: one run of a service whose rules need only its database and NATS."""

    async def once(now: datetime) -> Report:
        async with resources(service, database_url, nats_url) as held:
            return await Retention(service, rules_of(held.sessions, held.nats)).run_once(now)

    return once


# ---- a service's rules, in the worker role and as the command ----

# A service's rules from its database, NATS and the shared settings.
ServiceRules = Callable[
    [async_sessionmaker[AsyncSession], NatsClient, RetentionSettings], Sequence[Rule]
]


async def run_periodically(
    service: str,
    rules_of: ServiceRules,
    sessions: async_sessionmaker[AsyncSession],
    nats: NatsClient,
    stop: asyncio.Event,
) -> None:
    """The worker role's job: every policy at start, then every interval."""
    shared = RetentionSettings()
    job = Retention(service, rules_of(sessions, nats, shared))
    await job.run_every(shared.interval_seconds, stop)


class CommandSettings(Protocol):
    @property
    def database_url(self) -> str: ...
    @property
    def nats_url(self) -> str: ...
    @property
    def log_level(self) -> str: ...
    @property
    def log_json(self) -> bool: ...


def run_once_command(service: str, settings: CommandSettings, rules_of: ServiceRules) -> int:
    """`python -m guichet_<service> retention` of a service whose rules need only its database
    and NATS: every policy once (a CronJob)."""
    once = once_with(
        service,
        settings.database_url,
        settings.nats_url,
        lambda sessions, nats: rules_of(sessions, nats, RetentionSettings()),
    )
    return run_command(service, once, log_level=settings.log_level, log_json=settings.log_json)
